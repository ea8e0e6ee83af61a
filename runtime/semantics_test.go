package runtime

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAtMostOnceLosesOnlyTheFailedBatch: at-most-once stores a batch's
// offsets before its handler, so a failed batch is neither retried nor
// read again: the job logs and counts it and goes on, and a restart
// resumes after it. No record is handled twice.
func TestAtMostOnceLosesOnlyTheFailedBatch(t *testing.T) {
	addrs := newCluster(t, 1, testTopic)
	produce(t, addrs, testTopic, 1, 30)
	tp := TopicPartition{testTopic, 0}
	var (
		mu       sync.Mutex
		handled  []int64
		attempts int
		failed   OffsetRange
	)
	handler := func(s *Stream[[]byte, string]) Handler {
		return func(ctx context.Context, bs *JobBatch) error {
			return s.Batch(bs).ForeachPartition(ctx, func(_ context.Context, p Partition[[]byte, string]) error {
				mu.Lock()
				defer mu.Unlock()
				if r := p.OffsetRange(); r.FromOffset <= 12 && 12 < r.UntilOffset {
					attempts++
					failed = r
					return errors.New("the sink is down")
				}
				for r := range p.Records() {
					handled = append(handled, r.Offset)
				}
				return nil
			})
		}
	}
	run := func(until int64) *Engine {
		e, err := New(Group("amo"), WithSemantics(AtMostOnce), Brokers(addrs...), BatchInterval(50*time.Millisecond), MaxRatePerPartition(200))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
		if err != nil {
			t.Fatal(err)
		}
		r := start(t, e, handler(s))
		waitFor(t, "the offsets around the failed batch", 20*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return slices.Contains(handled, until)
		})
		r.stop(t) // Run returned nil: the failed batch did not end the job
		return e
	}
	e := run(29)
	if attempts != 1 {
		t.Errorf("the failing task ran %d times, want 1: at-most-once retries nothing", attempts)
	}
	snap := e.Snapshot()
	if snap.LostBatches != 1 || snap.LostRecords != failed.Count() {
		t.Errorf("lost %d batches, %d records; want 1 and the failed range's %d", snap.LostBatches, snap.LostRecords, failed.Count())
	}
	if got := committedOffsets(t, addrs, "amo", testTopic, 1)[tp]; got != 30 {
		t.Errorf("stored offset %d, want 30", got)
	}

	produce(t, addrs, testTopic, 1, 5) // offsets 30..34
	run(34)
	mu.Lock()
	defer mu.Unlock()
	seen := make(map[int64]int)
	for _, o := range handled {
		seen[o]++
	}
	for o := range int64(35) {
		inFailed := o >= failed.FromOffset && o < failed.UntilOffset
		switch {
		case inFailed && seen[o] != 0:
			t.Errorf("offset %d of the failed batch %v was handled %d times after it failed", o, failed, seen[o])
		case !inFailed && seen[o] != 1:
			t.Errorf("offset %d handled %d times, want once", o, seen[o])
		}
	}
}

// callLog is a TransactionalStore that records the calls the engine makes.
type callLog struct {
	txnStore
	mu    sync.Mutex
	calls []string
	// abortErr is what Abort returns.
	abortErr error
}

func (c *callLog) note(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, s)
}

func (c *callLog) Begin(context.Context, StoredBatch) error { c.note("begin"); return nil }
func (c *callLog) Abort(context.Context, StoredBatch) error { c.note("abort"); return c.abortErr }

var _ TransactionalStore = (*callLog)(nil)

func (c *callLog) Store(ctx context.Context, b StoredBatch) error {
	c.note("store")
	return c.txnStore.Store(ctx, b)
}

// TestExactlyOnceStepsAroundTheHandler: exactly-once, each batch begins
// its output before the handler, and the store commits output and offsets
// after it; a failed handler aborts the batch and stores nothing. An
// Abort that fails is counted.
func TestExactlyOnceStepsAroundTheHandler(t *testing.T) {
	addrs := newCluster(t, 1, testTopic)
	produce(t, addrs, testTopic, 1, 20)
	store := &callLog{abortErr: errors.New("the rollback failed")}
	e, err := New(Group("eo"), WithSemantics(ExactlyOnce), WithOffsetStore(store), Brokers(addrs...), BatchInterval(50*time.Millisecond), MaxRatePerPartition(200))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	err = e.Run(context.Background(), func(_ context.Context, bs *JobBatch) error {
		store.note("handle")
		for r := range s.Batch(bs).Records() {
			if r.Offset == 15 {
				return errors.New("the transform failed")
			}
		}
		return nil
	})
	if err == nil {
		t.Fatal("Run returned nil, want the handler's failure")
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	calls := strings.Join(store.calls, " ")
	if !strings.HasPrefix(calls, "begin handle store") || !strings.HasSuffix(calls, "begin handle abort") {
		t.Errorf("calls %q: want begin, handle, store per batch and begin, handle, abort for the failed one", calls)
	}
	if got := store.offs[TopicPartition{testTopic, 0}]; got != 10 {
		t.Errorf("stored %d, want 10: the failed batch (10..20) stores nothing", got)
	}
	if got := e.Snapshot().AbortFailures; got != 1 {
		t.Errorf("Snapshot.AbortFailures = %d, want 1: the failed batch's Abort failed", got)
	}
}

// TestPanicsFailTasksAndBatches: a panicking task is a failed task,
// retried like any other, and one that panics on every try fails the
// batch with the panic and its stack; a panicking handler fails its
// batch. Neither takes the process down.
func TestPanicsFailTasksAndBatches(t *testing.T) {
	addrs := newCluster(t, 1, testTopic)
	produce(t, addrs, testTopic, 1, 10)
	run := func(h func(s *Stream[[]byte, string]) Handler) error {
		e, err := New(Group("panics"), Brokers(addrs...), BatchInterval(20*time.Millisecond), TaskRetryBackoff(time.Millisecond), StartFrom(StartEarliest()))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return e.Run(ctx, h(s))
	}

	var tries int
	err := run(func(s *Stream[[]byte, string]) Handler {
		return func(ctx context.Context, bs *JobBatch) error {
			return s.Batch(bs).ForeachPartition(ctx, func(context.Context, Partition[[]byte, string]) error {
				tries++
				var m map[string]int
				m["boom"]++ // a nil map: panics on every try
				return nil
			})
		}
	})
	var pe *PanicError
	var te *TaskError
	if !errors.As(err, &pe) || !errors.As(err, &te) || te.Attempts != 4 || tries != 4 {
		t.Fatalf("Run = %v (tries %d); want a *TaskError after 4 attempts wrapping a *PanicError", err, tries)
	}
	if !strings.Contains(err.Error(), "assignment to entry in nil map") || !strings.Contains(string(pe.Stack), "semantics_test.go") {
		t.Errorf("the panic's error lacks its value or stack: %v", err)
	}

	err = run(func(*Stream[[]byte, string]) Handler {
		return func(context.Context, *JobBatch) error { panic("the handler gave up") }
	})
	if !errors.As(err, &pe) || pe.Where != "the handler" || !strings.Contains(err.Error(), "the handler gave up") {
		t.Errorf("Run = %v, want the handler's panic as the batch's failure", err)
	}
}
