package runtime

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// This file owns the health of the job's offset store or sink when it is
// a service of its own (PostgreSQL): a database restart, a failover or
// connections cut for a while are ridden out like a broker outage. The
// store retries its own operations and reports here; the engine logs one
// warning when the outage begins and one line with how long it lasted
// when it ends, /readyz is unready meanwhile (Snapshot.Store), and the
// store gives up past OutageLimit.

// StoreHealth is how the job's offset store (or sink) fares, for
// readiness.
type StoreHealth struct {
	// FailingSince is when its operations started failing without a
	// success since; zero while they succeed.
	FailingSince time.Time
	// LastError is the latest failure while FailingSince is set.
	LastError string
}

// storeHealth is the engine's OutageReporter.
type storeHealth struct {
	group string
	limit time.Duration // OutageLimit, 0 for none
	log   func() *slog.Logger

	mu          sync.Mutex
	h           StoreHealth
	first       string
	lastFailure time.Time
}

func (s *storeHealth) snapshot() StoreHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.h
}

func (s *storeHealth) Failing(what string, err error) error {
	now := time.Now()
	msg := what + ": " + err.Error()
	s.mu.Lock()
	began := s.h.FailingSince.IsZero()
	if began {
		s.h.FailingSince, s.first = now, msg
	}
	s.h.LastError, s.lastFailure = msg, now
	since, first := s.h.FailingSince, s.first
	s.mu.Unlock()
	lim := s.limit
	if began {
		args := []any{"operation", what, "err", err.Error()}
		if lim > 0 {
			args = append(args, "outage_limit", lim.String())
		}
		s.log().Warn("the offset store is failing; retrying until it answers", args...)
	}
	if lim > 0 && now.Sub(since) > lim {
		return &OutageError{Group: s.group, Since: since, For: now.Sub(since), Limit: lim, First: first, Last: msg}
	}
	return nil
}

// Answered ends the outage once operations have succeeded, with no
// failure, for recoverQuiet, as a broker outage ends (health.go): a
// database whose connections keep being cut is one outage, not one a
// connection.
func (s *storeHealth) Answered() {
	s.mu.Lock()
	h := s.h
	over := !h.FailingSince.IsZero() && time.Since(s.lastFailure) >= recoverQuiet
	if over {
		s.h = StoreHealth{}
	}
	s.mu.Unlock()
	if over {
		s.log().Info("the offset store answers again", "lasted", s.lastFailure.Sub(h.FailingSince).Round(time.Millisecond).String(), "last_error", h.LastError)
	}
}

func (h StoreHealth) String() string {
	return fmt.Sprintf("offset store failing since %s: %s", h.FailingSince.UTC().Format(time.RFC3339), h.LastError)
}
