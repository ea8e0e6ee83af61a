package side

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/streamgen/streamgen/internal/backoff"
	"github.com/streamgen/streamgen/runtime"
)

// ValueOpt configures a Value.
type ValueOpt func(*valueCfg)

type valueCfg struct {
	interval, maxAge, retryWait time.Duration
	failStale                   bool
	retries                     int
}

// Interval is how often the value is loaded again. Default 5m, which
// zero or less also means. A reload that fails is tried again with
// backoff (from RetryWait up to Interval) until one succeeds; the value
// handlers see meanwhile is the last good one.
func Interval(d time.Duration) ValueOpt {
	return func(c *valueCfg) {
		if d > 0 {
			c.interval = d
		}
	}
}

// MaxAge is how old the last good value may grow while reloads fail:
// past it the job is unready (/readyz), and OnStale says whether it goes
// on. Zero, the default, is no bound.
func MaxAge(d time.Duration) ValueOpt { return func(c *valueCfg) { c.maxAge = d } }

// Stale is what a job does with a value past its MaxAge.
type Stale int

const (
	// StaleFail ends the job, between batches, with an error naming the
	// value and its last load error: a restarted job loads it first or
	// does not start. The default.
	StaleFail Stale = iota
	// StaleContinue goes on with the last good value; the job stays
	// unready until a reload succeeds.
	StaleContinue
)

// OnStale sets what the job does with a value past its MaxAge.
func OnStale(s Stale) ValueOpt { return func(c *valueCfg) { c.failStale = s == StaleFail } }

// FirstLoadRetries is how many times the first load is tried again,
// waits from RetryWait doubling, before the start fails with the loader's
// error. Default 3.
func FirstLoadRetries(n int) ValueOpt { return func(c *valueCfg) { c.retries = n } }

// RetryWait is the first wait before a failed load is tried again.
// Default 1s, which zero or less also means.
func RetryWait(d time.Duration) ValueOpt {
	return func(c *valueCfg) {
		if d > 0 {
			c.retryWait = d
		}
	}
}

// Value is a value loaded before the first batch and again every
// Interval (the anomaly detector's model), swapped between batches: a
// handler sees one version of it for its whole batch.
type Value[T any] struct {
	name string
	load func(context.Context) (T, error)
	cfg  valueCfg
	log  *slog.Logger

	cur    atomic.Pointer[loaded[T]] // what handlers see
	next   atomic.Pointer[loaded[T]] // loaded since the last Swap
	lastOK atomic.Int64              // unix nanoseconds of the last good load
	reload chan struct{}

	version, failures atomic.Int64
	mu                sync.Mutex
	failing           time.Time
	lastErr           string
}

type loaded[T any] struct {
	v  T
	at time.Time
}

// NewValue is the value name (for logs, the status page and metrics)
// that load loads.
func NewValue[T any](name string, load func(context.Context) (T, error), opts ...ValueOpt) *Value[T] {
	v := &Value[T]{name: name, load: load, reload: make(chan struct{}, 1),
		cfg: valueCfg{interval: 5 * time.Minute, retryWait: time.Second, retries: 3, failStale: true}}
	for _, o := range opts {
		o(&v.cfg)
	}
	return v
}

// Get is the value as of the batch. Call it from handlers, once the
// engine has loaded it.
func (v *Value[T]) Get() T { return v.cur.Load().v }

// SideName implements runtime.SideInput.
func (v *Value[T]) SideName() string { return v.name }

// Reload asks for a load now, without waiting for it: what it loads is
// what the batch after it completes sees. The status server's
// POST /side/{name}/reload calls it.
func (v *Value[T]) Reload() {
	select {
	case v.reload <- struct{}{}:
	default: // one is asked for already
	}
}

// Load implements runtime.SideInput: the first load, tried again up to
// FirstLoadRetries times, then a reload every Interval until ctx ends.
func (v *Value[T]) Load(ctx context.Context, env runtime.SideEnv) error {
	v.log = env.Logger
	if v.log == nil {
		v.log = slog.Default()
	}
	v.log = v.log.With("side_input", v.name)
	err := backoff.Retry{First: v.cfg.retryWait, Max: max(v.cfg.interval, v.cfg.retryWait), Failed: func(err error, n int) error {
		v.failed(err)
		if n > v.cfg.retries {
			return err
		}
		return nil
	}}.Do(ctx, func() error { return v.loadOnce(ctx) })
	if err != nil {
		return fmt.Errorf("first load: %w", err)
	}
	go v.reloads(ctx)
	return nil
}

// reloads loads the value every Interval, or when Reload asks, until ctx
// ends; a failed load is tried again until one succeeds.
func (v *Value[T]) reloads(ctx context.Context) {
	t := time.NewTicker(v.cfg.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-v.reload:
		}
		backoff.Retry{First: v.cfg.retryWait, Max: max(v.cfg.interval, v.cfg.retryWait),
			Failed: func(err error, _ int) error { v.failed(err); return nil },
		}.Do(ctx, func() error { return v.loadOnce(ctx) })
	}
}

func (v *Value[T]) loadOnce(ctx context.Context) error {
	x, err := v.load(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	v.next.Store(&loaded[T]{v: x, at: now})
	v.lastOK.Store(now.UnixNano())
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.failing.IsZero() {
		v.log.Info("side input value loads again", "failing_for", now.Sub(v.failing).Round(time.Millisecond).String())
		v.failing, v.lastErr = time.Time{}, ""
	}
	return nil
}

// failed counts a failed load, logging the first of a streak.
func (v *Value[T]) failed(err error) {
	if ctx(err) {
		return
	}
	v.failures.Add(1)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastErr = err.Error()
	if v.failing.IsZero() {
		v.failing = time.Now()
		v.log.Warn("side input value failed to load; keeping the last good one and retrying", "err", err)
	}
}

// Swap implements runtime.SideInput.
func (v *Value[T]) Swap() {
	if l := v.next.Swap(nil); l != nil {
		v.cur.Store(l)
		v.version.Add(1)
	}
}

// Err is the error of a value past its MaxAge under StaleFail; the
// engine checks it between batches.
func (v *Value[T]) Err() error {
	if s := v.stale(); s != "" && v.cfg.failStale {
		return fmt.Errorf("value %s %s", v.name, s)
	}
	return nil
}

// stale says how the value is past its MaxAge, "" if it is not.
func (v *Value[T]) stale() string {
	at := v.lastOK.Load()
	if v.cfg.maxAge <= 0 || at == 0 {
		return ""
	}
	age := time.Since(time.Unix(0, at))
	if age <= v.cfg.maxAge {
		return ""
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return fmt.Sprintf("is stale: last loaded %s ago, max age %s; last error: %s", age.Round(time.Millisecond), v.cfg.maxAge, v.lastErr)
}

// SideHealth implements runtime.SideInput.
func (v *Value[T]) SideHealth() runtime.SideHealth {
	h := runtime.SideHealth{Name: v.name, Kind: "value", Version: v.version.Load(), Failures: v.failures.Load()}
	if l := v.cur.Load(); l != nil {
		h.Entries, h.Bytes, h.LoadedAt = 1, size(l.v), l.at
	}
	switch s := v.stale(); {
	case v.cur.Load() == nil:
		h.Unready = "not loaded yet"
	case s != "":
		h.Unready = s
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	h.FailingSince, h.LastError = v.failing, v.lastErr
	return h
}

// size estimates what x takes: its length for bytes and strings, a value
// that says (a model, say) with a SizeBytes method, otherwise its own
// size without what it points to.
func size[T any](x T) int64 {
	switch x := any(x).(type) {
	case []byte:
		return int64(len(x))
	case string:
		return int64(len(x))
	case interface{ SizeBytes() int64 }:
		return x.SizeBytes()
	}
	return int64(unsafe.Sizeof(x))
}
