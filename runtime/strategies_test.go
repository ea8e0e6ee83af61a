package runtime

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func commitOffsets(t *testing.T, addrs []string, group string, offs map[TopicPartition]int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	os := make(kadm.Offsets)
	for tp, off := range offs {
		os.Add(kadm.Offset{Topic: tp.Topic, Partition: tp.Partition, At: off, LeaderEpoch: -1})
	}
	resp, err := kadm.NewClient(cl).CommitOffsets(context.Background(), group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestAssignStartsAtGivenOffsets(t *testing.T) {
	addrs := newCluster(t, 4, testTopic)
	produced := produce(t, addrs, testTopic, 4, 50)
	tps := []TopicPartition{{testTopic, 0}, {testTopic, 1}, {testTopic, 2}, {testTopic, 3}}
	from := map[TopicPartition]int64{tps[0]: 10, tps[2]: 25}
	e, err := New(Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Assign(tps...).WithOffsets(from), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	r := start(t, e, c.handle(s))
	waitFor(t, "records", 10*time.Second, func() bool { return c.count() >= 4*50-10-25 })
	r.stop(t)
	c.checkExact(t, produced, from)
}

func TestStartLatestIgnoresCommitted(t *testing.T) {
	addrs := newCluster(t, 3, testTopic)
	produce(t, addrs, testTopic, 3, 50)
	committed := map[TopicPartition]int64{{testTopic, 0}: 10, {testTopic, 1}: 10, {testTopic, 2}: 10}
	commitOffsets(t, addrs, "anomaly", committed)

	e, err := New(Group("anomaly"), StartFrom(StartLatest()), Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	r := start(t, e, c.handle(s))
	waitFor(t, "assignment", 10*time.Second, func() bool {
		h := e.History()
		return len(h) > 0 && len(h[len(h)-1].Ranges["s"]) == 3
	})
	produced := produce(t, addrs, testTopic, 3, 20)
	waitFor(t, "new records", 10*time.Second, func() bool { return c.count() >= 3*20 })
	r.stop(t)
	from := make(map[TopicPartition]int64)
	for tp := range committed {
		from[tp] = 50
	}
	c.checkExact(t, produced, from)
}

func TestResetErrorNamesPartitions(t *testing.T) {
	addrs := newCluster(t, 2, testTopic)
	for _, cs := range []ConsumerStrategy{
		Assign(TopicPartition{testTopic, 0}, TopicPartition{testTopic, 1}),
		Subscribe(testTopic),
	} {
		t.Run(cs.String(), func(t *testing.T) {
			e, err := New(Group("strict"), ResetTo(ResetError), Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := NewStream[[]byte, []byte](e, "s", cs, nil, nil); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			err = e.Run(ctx, func(context.Context, *JobBatch) error { return nil })
			var noOff *NoOffsetError
			if !errors.As(err, &noOff) {
				t.Fatalf("Run = %v, want a *NoOffsetError", err)
			}
			if len(noOff.Partitions) != 2 || noOff.Group != "strict" {
				t.Errorf("error names %v in group %q, want both partitions of group strict", noOff.Partitions, noOff.Group)
			}
		})
	}
}

func TestTaskRetryRereadsSameRange(t *testing.T) {
	addrs := newCluster(t, 2, testTopic)
	produce(t, addrs, testTopic, 2, 30)
	e, err := New(Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond), MaxTaskFailures(3), TaskRetryBackoff(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	tps := []TopicPartition{{testTopic, 0}, {testTopic, 1}}
	s, err := NewStream[[]byte](e, "s", Assign(tps...), nil, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	type attempt struct {
		rng    OffsetRange
		values []string
	}
	var (
		mu       sync.Mutex
		attempts = make(map[TopicPartition][]attempt)
		failed   = make(map[TopicPartition]bool)
		total    atomic.Int64
	)
	h := func(ctx context.Context, bs *JobBatch) error {
		return s.Batch(bs).ForeachPartition(ctx, func(_ context.Context, p Partition[[]byte, string]) error {
			var vals []string
			for r := range p.Records() {
				vals = append(vals, r.Value)
				r.Value = "mutated by a failed attempt"
			}
			mu.Lock()
			defer mu.Unlock()
			tp := p.TopicPartition()
			attempts[tp] = append(attempts[tp], attempt{p.OffsetRange(), vals})
			// The first attempt with records fails: batches cut before
			// the first fetch was decoded are empty.
			if len(vals) > 0 && !failed[tp] {
				failed[tp] = true
				return errors.New("injected failure")
			}
			total.Add(int64(len(vals)))
			return nil
		})
	}
	r := start(t, e, h)
	waitFor(t, "records", 10*time.Second, func() bool { return total.Load() >= 60 })
	r.stop(t)
	mu.Lock()
	defer mu.Unlock()
	for _, tp := range tps {
		var first int
		for first < len(attempts[tp]) && len(attempts[tp][first].values) == 0 {
			first++
		}
		if first+1 >= len(attempts[tp]) {
			t.Fatalf("%s: no retry recorded", tp)
		}
		a, b := attempts[tp][first], attempts[tp][first+1]
		if a.rng != b.rng {
			t.Errorf("%s: retry read %s, first attempt %s", tp, b.rng, a.rng)
		}
		if len(a.values) != len(b.values) {
			t.Fatalf("%s: retry saw %d records, first attempt %d", tp, len(b.values), len(a.values))
		}
		for i := range a.values {
			if a.values[i] != b.values[i] {
				t.Errorf("%s: retry record %d = %q, first attempt %q", tp, i, b.values[i], a.values[i])
			}
		}
	}
}

func TestTaskFailureFailsBatchWithoutCommit(t *testing.T) {
	addrs := newCluster(t, 1, testTopic)
	produce(t, addrs, testTopic, 1, 10)
	e, err := New(Group("failing"), Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond), MaxTaskFailures(2), TaskRetryBackoff(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream[[]byte](e, "s", Subscribe(testTopic), nil, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var tries atomic.Int64
	err = e.Run(context.Background(), func(ctx context.Context, bs *JobBatch) error {
		return s.Batch(bs).ForeachPartition(ctx, func(_ context.Context, p Partition[[]byte, string]) error {
			if p.Len() == 0 {
				return nil
			}
			tries.Add(1)
			return errors.New("sink down")
		})
	})
	var te *TaskError
	if !errors.As(err, &te) {
		t.Fatalf("Run = %v, want a *TaskError", err)
	}
	if te.Attempts != 2 || tries.Load() != 2 || te.Range.Topic != testTopic || te.Range.FromOffset != 0 || te.Range.UntilOffset == 0 {
		t.Errorf("TaskError %+v after %d tries", te, tries.Load())
	}
	if got := committedOffsets(t, addrs, "failing", testTopic, 1); len(got) != 0 {
		t.Errorf("failed batch committed %v", got)
	}
}

func TestTwoInstancesSplitAndHandOver(t *testing.T) {
	addrs := newCluster(t, 18, testTopic)
	first := produce(t, addrs, testTopic, 18, 50)
	var c collector
	owned := func(e *Engine) map[TopicPartition]bool {
		h := e.History()
		out := make(map[TopicPartition]bool)
		if len(h) > 0 {
			for _, r := range h[len(h)-1].Ranges["s"] {
				out[r.TopicPartition()] = true
			}
		}
		return out
	}
	mk := func() (*Engine, *runner) {
		e, err := New(Group("cache"), Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond), MaxRatePerPartition(200),
			KgoOpts(kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(100*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
		if err != nil {
			t.Fatal(err)
		}
		return e, start(t, e, c.handle(s))
	}
	ea, ra := mk()
	eb, rb := mk()
	waitFor(t, "a split of 18 partitions", 20*time.Second, func() bool {
		a, b := owned(ea), owned(eb)
		if len(a) == 0 || len(b) == 0 || len(a)+len(b) != 18 {
			return false
		}
		for tp := range a {
			if b[tp] {
				return false
			}
		}
		return true
	})
	ra.stop(t)
	second := produce(t, addrs, testTopic, 18, 50)
	deadline := time.Now().Add(20 * time.Second)
	for c.count() < 18*100 {
		if time.Now().After(deadline) {
			h := eb.History()
			t.Fatalf("after the handover: %d of %d records; remaining instance owns %d partitions; last batch %+v", c.count(), 18*100, len(owned(eb)), h[len(h)-1])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := len(owned(eb)); got != 18 {
		t.Errorf("remaining instance owns %d partitions, want 18", got)
	}
	rb.stop(t)
	for tp, offs := range second {
		first[tp] = append(first[tp], offs...)
	}
	c.checkExact(t, first, nil)
}

// TestStartAtATime: StartFrom(StartAt(t)) starts a partition with nothing
// stored at its first record at or after t.
func TestStartAtATime(t *testing.T) {
	addrs := newCluster(t, 1, testTopic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	t0 := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	for i := range 10 {
		r := &kgo.Record{Topic: testTopic, Value: []byte(strconv.Itoa(i)), Timestamp: t0.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	e, err := New(Group("start-at"), Brokers(addrs...), BatchInterval(20*time.Millisecond), StartFrom(StartAt(t0.Add(5*time.Minute))))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var offsets []int64
	err = e.Run(ctx, func(_ context.Context, bs *JobBatch) error {
		for r := range s.Batch(bs).Records() {
			offsets = append(offsets, r.Offset)
		}
		if len(offsets) >= 5 {
			cancel() // a graceful stop after this batch
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{5, 6, 7, 8, 9}; !slices.Equal(offsets, want) {
		t.Errorf("read offsets %v, want %v: the records from 06:05 on", offsets, want)
	}
}
