package runtime

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSide counts its swaps and notes any that came while a handler ran.
type fakeSide struct {
	loadErr     error
	loaded      atomic.Bool
	swaps       atomic.Int64
	inHandler   *atomic.Bool
	swapsInside atomic.Int64
}

func (f *fakeSide) SideName() string { return "campaigns" }
func (f *fakeSide) Load(ctx context.Context, env SideEnv) error {
	if len(env.ClientOpts) == 0 || env.Group == "" {
		return errors.New("no client options or group in SideEnv")
	}
	f.loaded.Store(f.loadErr == nil)
	return f.loadErr
}
func (f *fakeSide) Swap() {
	f.swaps.Add(1)
	if f.inHandler.Load() {
		f.swapsInside.Add(1)
	}
}
func (f *fakeSide) SideHealth() SideHealth {
	return SideHealth{Name: "campaigns", Kind: "table", Entries: 3}
}

// TestSideInputsLoadFirstAndSwapBetweenBatches: side inputs are loaded
// before the first batch and swapped before each batch, never while a
// handler runs; a side input that cannot load fails the start, naming
// it.
func TestSideInputsLoadFirstAndSwapBetweenBatches(t *testing.T) {
	addrs := newCluster(t, 1, testTopic)
	produce(t, addrs, testTopic, 1, 10)
	var inHandler atomic.Bool
	side := &fakeSide{inHandler: &inHandler}
	e, err := New(Group("sides"), Brokers(addrs...), BatchInterval(20*time.Millisecond), StartFrom(StartEarliest()), WithSideInputs(side))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	batches := 0
	err = e.Run(runCtx, func(context.Context, *JobBatch) error {
		inHandler.Store(true)
		defer inHandler.Store(false)
		if !side.loaded.Load() {
			t.Error("a batch ran before the side input was loaded")
		}
		if batches++; batches == 5 {
			stop() // a graceful stop: Run returns nil after this batch
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if side.swaps.Load() < 5 || side.swapsInside.Load() != 0 {
		t.Errorf("%d swaps, %d of them under a handler; want one per batch and none under a handler", side.swaps.Load(), side.swapsInside.Load())
	}
	if got := e.Snapshot().SideInputs; len(got) != 1 || got[0].Entries != 3 {
		t.Errorf("Snapshot.SideInputs = %+v, want the table's health", got)
	}

	failing := &fakeSide{inHandler: &inHandler, loadErr: errors.New("topic campaigns does not exist")}
	e, err = New(Group("sides-fail"), Brokers(addrs...), BatchInterval(20*time.Millisecond), WithSideInputs(failing))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder); err != nil {
		t.Fatal(err)
	}
	err = e.Run(ctx, func(context.Context, *JobBatch) error {
		t.Error("a batch ran though the side input failed to load")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "side input campaigns: topic campaigns does not exist") {
		t.Errorf("Run = %v, want the side input's load error naming it", err)
	}
}

// TestUseSideInputsFromMain: side inputs registered with UseSideInputs
// from inside Main's run function, before it makes the engine, are the
// engine's; outside Main, or once the engine is made, registering fails.
func TestUseSideInputsFromMain(t *testing.T) {
	if err := UseSideInputs(context.Background(), &fakeSide{}); err == nil {
		t.Error("UseSideInputs outside Main succeeded")
	}
	addrs := newCluster(t, 1, testTopic)
	produce(t, addrs, testTopic, 1, 3)
	var inHandler atomic.Bool
	side := &fakeSide{inHandler: &inHandler}
	cfg := DefaultJobConfig()
	cfg.Brokers, cfg.Group, cfg.StatusAddr = addrs, "main-sides", ""
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out syncBuffer
	var late error
	code := runMain(ctx, "anomaly-detector", &cfg, []string{"--batch-interval", "20ms", "--start-from", "earliest"}, envOf(nil), &out, false, func(ctx context.Context) error {
		if err := UseSideInputs(ctx, side); err != nil {
			return err
		}
		opts, err := cfg.EngineOpts()
		if err != nil {
			return err
		}
		e, err := New(opts...)
		if err != nil {
			return err
		}
		late = UseSideInputs(ctx, &fakeSide{})
		if _, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder); err != nil {
			return err
		}
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		return e.Run(ctx, func(context.Context, *JobBatch) error {
			stop()
			return nil
		})
	})
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	if !side.loaded.Load() || side.swaps.Load() == 0 {
		t.Error("the side input registered from Main's run function was not loaded and swapped")
	}
	if late == nil {
		t.Error("UseSideInputs after the engine was made succeeded")
	}
}
