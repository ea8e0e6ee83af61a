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

// Retry is one retry loop: what it waits between tries, how long it may
// go on, which failures end it, and what it says when the operation
// answers again. Every retry loop of the runtime is one Retry, so they
// all end with their context, back off the same way and cannot spin.
type Retry struct {
	// First and Max are the waits: First after the first failure,
	// doubling up to Max. Max defaults to First.
	First, Max time.Duration
	// For, if positive, bounds the loop from its first try: a failure
	// once it has passed is returned.
	For time.Duration
	// Failed is told each failure (failures counts them from 1) and
	// returns nil to try again, or the error Do is to return: err itself
	// for one that waiting will not fix, or an error that says why the
	// loop gives up (an outage past its limit). Nil retries every
	// failure.
	Failed func(err error, failures int) error
	// Recovered, if set, is told when the operation succeeds after
	// failures, so a loop that warned of them can say they passed.
	Recovered func(failures int)
}

// Do runs op until it succeeds, Failed returns an error, For passes or
// ctx ends; it returns nil, Failed's error, or op's last error.
func (r Retry) Do(ctx context.Context, op func() error) error {
	wait := New(r.First, max(r.Max, r.First))
	var deadline time.Time
	if r.For > 0 {
		deadline = time.Now().Add(r.For)
	}
	for failures := 1; ; failures++ {
		err := op()
		if err == nil {
			if failures > 1 && r.Recovered != nil {
				r.Recovered(failures - 1)
			}
			return nil
		}
		if ctx.Err() != nil || (!deadline.IsZero() && !time.Now().Before(deadline)) {
			return err
		}
		if r.Failed != nil {
			if stop := r.Failed(err, failures); stop != nil {
				return stop
			}
		}
		if !wait.Wait(ctx) {
			return err
		}
	}
}
