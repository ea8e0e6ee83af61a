package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file owns the side inputs' place in the batch loop: data a job
// reads beside its streams (a lookup table from a compacted topic, a
// model reloaded on a schedule). The engine loads every side input after
// connecting and before the first batch, and swaps in what they loaded
// since only between batches, so a handler sees one state of each for its
// whole batch.

// SideInput is data a job reads beside its streams. Package side has the
// lookup tables and the values reloaded on a schedule.
type SideInput interface {
	// SideName names it in logs, on the status page and in metrics.
	SideName() string
	// Load loads its first state and keeps loading in the background
	// until ctx ends. It returns once the first state is complete (a
	// table caught up with the high watermarks it saw at start; a value's
	// first load succeeded), or with the error that keeps it from being
	// so. The engine calls it once, before the first batch.
	Load(ctx context.Context, env SideEnv) error
	// Swap makes what was loaded since the last Swap what handlers see.
	// The engine calls it between batches, never while a handler runs.
	Swap()
	// SideHealth is its state now, for the status page, /readyz and
	// metrics.
	SideHealth() SideHealth
}

// SideEnv is what the engine gives a side input to load with.
type SideEnv struct {
	// ClientOpts are the options of every Kafka client the engine makes
	// (brokers, TLS, SASL, KgoOpts), for a side input that reads a topic.
	ClientOpts []kgo.Opt
	Logger     *slog.Logger
	// Group is the job's consumer group, which a side input reading a
	// topic must not join: each replica holds the whole table.
	Group string
}

// SideHealth is a side input's state.
type SideHealth struct {
	Name string
	// Kind is "table" or "value".
	Kind string
	// Entries and Bytes are what it holds now (a table's entries and
	// their approximate size; 1 and an estimate for a value).
	Entries, Bytes int64
	// Version counts the swaps that changed what handlers see.
	Version int64
	// LoadedAt is when the state handlers see was loaded (a value's
	// last successful load; a table's last applied update).
	LoadedAt time.Time
	// FailingSince is when loading started failing without a success
	// since; zero while it succeeds. LastError is the latest failure.
	FailingSince time.Time
	LastError    string
	// Failures counts failed loads.
	Failures int64
	// Skipped counts records a table's decode policy left out.
	Skipped int64
	// Unready says why the job is not ready because of it ("" when it
	// is): still loading, or stale past its maxAge.
	Unready string
}

// WithSideInputs adds side inputs the engine loads before its first
// batch and swaps between batches.
func WithSideInputs(s ...SideInput) Opt {
	return optFunc(func(c *engineCfg) { c.sides = append(c.sides, s...) })
}

// AddSideInputs adds side inputs as WithSideInputs does, for those made
// after the engine, whose decoders need what is made with it (its schema
// registry, which logs through it): a generated Run adds its tables so.
// Call it before Run, as NewStream.
func (e *Engine) AddSideInputs(s ...SideInput) {
	e.mu.Lock() // Snapshot may read them meanwhile (a status server up before Run)
	defer e.mu.Unlock()
	e.cfg.sides = append(e.cfg.sides, s...)
}

// UseSideInputs gives side inputs to the engine that Main (or RunMain)
// runs, from inside the function Main runs, before that function makes
// the engine: the generated MainFunc's newHandler, which Main's ctx is
// given to, makes the anomaly detector's model (a side.Value) and
// registers it so. It fails for a ctx that is not Main's, or once the
// engine has been made.
func UseSideInputs(ctx context.Context, s ...SideInput) error {
	m, ok := ctx.Value(mainSidesKey{}).(*mainSides)
	if !ok {
		return errors.New("UseSideInputs: ctx is not the one Main gives; pass side inputs to the engine with WithSideInputs")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.taken {
		return errors.New("UseSideInputs: the engine has been made; register side inputs before")
	}
	m.list = append(m.list, s...)
	return nil
}

// mainSides are the side inputs registered with UseSideInputs, which
// Main's engine option hands to the engine when it is made.
type mainSides struct {
	mu    sync.Mutex
	list  []SideInput
	taken bool
}

type mainSidesKey struct{}

// opt is the engine option that adds the registered side inputs.
func (m *mainSides) opt() Opt {
	return optFunc(func(c *engineCfg) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.taken = true
		c.sides = append(c.sides, m.list...)
	})
}

// loadSides loads every side input before the first batch, logging each
// with how long it took.
func (e *Engine) loadSides(ctx context.Context) error {
	env := SideEnv{ClientOpts: append(e.kgoBase(), e.cfg.kgoOpts...), Logger: e.Logger(), Group: e.cfg.group}
	for _, s := range e.cfg.sides {
		began := time.Now()
		if err := s.Load(ctx, env); err != nil {
			return fmt.Errorf("side input %s: %w", s.SideName(), err)
		}
		s.Swap()
		h := s.SideHealth()
		e.Logger().Info("side input loaded", "side_input", s.SideName(), "kind", h.Kind, "entries", h.Entries, "took", time.Since(began).Round(time.Millisecond).String())
	}
	return nil
}

// SideFailer is a side input that can end the job after it loaded: a
// table that read an update it cannot decode, a value past its maxAge.
// The engine checks Err after each Swap, between batches, and ends Run
// with the error, naming the side input.
type SideFailer interface {
	Err() error
}

// swapSides makes what the side inputs loaded since the last batch what
// the next batch sees, or is the error of one that ends the job.
func (e *Engine) swapSides() error {
	for _, s := range e.cfg.sides {
		s.Swap()
		if f, ok := s.(SideFailer); ok {
			if err := f.Err(); err != nil {
				return fmt.Errorf("side input %s: %w", s.SideName(), err)
			}
		}
	}
	return nil
}

// sideHealth is every side input's state, for Snapshot.
func (e *Engine) sideHealth() []SideHealth {
	e.mu.Lock()
	sides := e.cfg.sides
	e.mu.Unlock()
	var out []SideHealth
	for _, s := range sides {
		out = append(out, s.SideHealth())
	}
	return out
}
