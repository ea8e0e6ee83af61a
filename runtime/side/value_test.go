package side

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamgen/streamgen/internal/logbuf"
	"github.com/streamgen/streamgen/runtime"
)

// model is what the anomaly detector loads: its loader fails while fail
// is set, and otherwise returns the next version.
type model struct {
	fail  atomic.Bool
	calls atomic.Int64
}

func (m *model) load(context.Context) (int64, error) {
	n := m.calls.Add(1)
	if m.fail.Load() {
		return 0, errors.New("model store answers 503")
	}
	return n, nil
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestValueFirstLoadFails: a value whose first load fails after its
// retries fails the start with the loader's error.
func TestValueFirstLoadFails(t *testing.T) {
	m := &model{}
	m.fail.Store(true)
	v := NewValue("model", m.load, FirstLoadRetries(2), RetryWait(time.Millisecond))
	err := v.Load(context.Background(), runtime.SideEnv{})
	if err == nil || err.Error() != "first load: model store answers 503" {
		t.Errorf("Load = %v, want the loader's error", err)
	}
	if n := m.calls.Load(); n != 3 {
		t.Errorf("the loader was called %d times, want 1 + 2 retries", n)
	}
	if h := v.SideHealth(); h.Unready == "" || h.Failures != 3 {
		t.Errorf("health %+v, want unready with 3 failures", h)
	}
}

// TestValueReloads: the value is loaded again every interval; a reload
// that fails keeps the last good value, is logged once per streak of
// failures and once when loads succeed again; what was loaded shows only
// after Swap.
func TestValueReloads(t *testing.T) {
	m := &model{}
	var log logbuf.Buffer
	v := NewValue("model", m.load, Interval(5*time.Millisecond), RetryWait(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := v.Load(ctx, runtime.SideEnv{Logger: log.Logger()}); err != nil {
		t.Fatal(err)
	}
	v.Swap()
	if v.Get() != 1 {
		t.Fatalf("Get = %d after the first load", v.Get())
	}
	waitFor(t, "a reload", func() bool { return m.calls.Load() >= 3 })
	if v.Get() != 1 {
		t.Errorf("Get = %d: a reload showed before Swap", v.Get())
	}
	v.Swap()
	if v.Get() < 2 {
		t.Errorf("Get = %d after a reload and Swap", v.Get())
	}
	for streak := 1; streak <= 2; streak++ {
		m.fail.Store(true)
		failures := v.SideHealth().Failures
		waitFor(t, "failed reloads", func() bool { return v.SideHealth().Failures >= failures+3 })
		v.Swap()
		good := v.Get()
		v.Swap()
		if v.Get() != good {
			t.Errorf("Get changed from %d to %d while reloads failed", good, v.Get())
		}
		h := v.SideHealth()
		if h.FailingSince.IsZero() || h.LastError != "model store answers 503" || h.Unready != "" {
			t.Errorf("health %+v, want failing with the loader's error, ready (no MaxAge)", h)
		}
		if n := strings.Count(log.String(), "level=WARN"); n != streak {
			t.Errorf("%d warnings after %d streaks of failures, want one per streak:\n%s", n, streak, log.String())
		}
		m.fail.Store(false)
		waitFor(t, "a good reload", func() bool { return v.SideHealth().FailingSince.IsZero() })
		v.Swap()
		if v.Get() <= good {
			t.Errorf("Get = %d after loads succeeded again, want past %d", v.Get(), good)
		}
		if n := strings.Count(log.String(), "side input value loads again"); n != streak {
			t.Errorf("%d recoveries logged after %d streaks, want one per streak", n, streak)
		}
	}
}

// TestValueMaxAge: a value whose reloads have failed past MaxAge makes
// the job unready and, under StaleFail, fails it (Err); under
// StaleContinue the job goes on with the last good value.
func TestValueMaxAge(t *testing.T) {
	for _, stale := range []Stale{StaleFail, StaleContinue} {
		m := &model{}
		v := NewValue("model", m.load, Interval(5*time.Millisecond), RetryWait(time.Millisecond), MaxAge(50*time.Millisecond), OnStale(stale))
		ctx, cancel := context.WithCancel(context.Background())
		if err := v.Load(ctx, runtime.SideEnv{}); err != nil {
			t.Fatal(err)
		}
		v.Swap()
		if h := v.SideHealth(); h.Unready != "" || v.Err() != nil {
			t.Errorf("fresh value: Unready %q, Err %v", h.Unready, v.Err())
		}
		m.fail.Store(true)
		waitFor(t, "the value to go stale", func() bool { return v.SideHealth().Unready != "" })
		h := v.SideHealth()
		if !strings.HasPrefix(h.Unready, "is stale: last loaded ") || !strings.HasSuffix(h.Unready, "max age 50ms; last error: model store answers 503") {
			t.Errorf("Unready = %q", h.Unready)
		}
		err := v.Err()
		if stale == StaleFail && (err == nil || !strings.HasPrefix(err.Error(), "value model is stale")) {
			t.Errorf("StaleFail: Err = %v, want the staleness", err)
		}
		if stale == StaleContinue && err != nil {
			t.Errorf("StaleContinue: Err = %v", err)
		}
		m.fail.Store(false)
		waitFor(t, "the value to be fresh again", func() bool { return v.SideHealth().Unready == "" })
		if v.Err() != nil {
			t.Errorf("fresh again: Err = %v", v.Err())
		}
		cancel()
	}
}

// TestValueReloadOnRequest: Reload loads the value without waiting for
// the interval.
func TestValueReloadOnRequest(t *testing.T) {
	m := &model{}
	v := NewValue("model", m.load, Interval(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := v.Load(ctx, runtime.SideEnv{}); err != nil {
		t.Fatal(err)
	}
	v.Swap()
	v.Reload()
	waitFor(t, "the requested reload", func() bool { return m.calls.Load() == 2 })
	v.Swap()
	if v.Get() != 2 || v.SideHealth().Version != 2 {
		t.Errorf("Get = %d, version %d after a requested reload", v.Get(), v.SideHealth().Version)
	}
}
