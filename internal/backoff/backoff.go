// Package backoff is how the runtime waits between the retries of an
// operation that failed for a cause that may pass (brokers, the schema
// registry or PostgreSQL not answering): exponential, capped, and ended
// by the caller's context.
package backoff

import (
	"context"
	"time"
)

// Backoff is the waits of one retry loop: first, twice that, and so on up
// to max. Not safe for concurrent use; make one per loop.
type Backoff struct {
	next, max time.Duration
}

// New returns a Backoff whose first wait is first and whose waits never
// exceed max.
func New(first, max time.Duration) *Backoff { return &Backoff{next: first, max: max} }

// Wait sleeps the next wait, or until ctx is done, and reports whether
// the whole wait passed: false means ctx ended it, and the loop should
// give up.
func (b *Backoff) Wait(ctx context.Context) bool {
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(2*b.next, b.max)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
