package runtime

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceSmallBatches writes n records of size bytes to each partition in
// producer batches of a few records, so a fetch capped by
// kgo.FetchMaxPartitionBytes brings few records and the buffer bound is
// visible at the scale of a test.
func produceSmallBatches(t *testing.T, addrs []string, topic string, parts int32, n, size int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(2048), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	val := []byte(strings.Repeat("v", size))
	rs := make([]*kgo.Record, 0, int(parts)*n)
	for range n {
		for p := range parts {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: val})
		}
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// bufferWatch samples every partition's buffered records (fetched, not yet
// cut into a batch) until stopped, keeping the largest count seen and
// whether any partition was paused.
type bufferWatch struct {
	max    atomic.Int64
	paused atomic.Bool
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func watchBuffers(e *Engine) *bufferWatch {
	w := &bufferWatch{stop: make(chan struct{})}
	w.wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			for _, st := range e.Snapshot().Partitions {
				if n := int64(st.Buffered); n > w.max.Load() {
					w.max.Store(n)
				}
				if st.Paused {
					w.paused.Store(true)
				}
			}
		}
	})
	return w
}

func (w *bufferWatch) done() {
	w.once.Do(func() { close(w.stop) })
	w.wg.Wait()
}

// TestBufferBoundSlowHandler: with MaxRatePerPartition r and interval i, a
// handler slower than the interval and a backlog far larger than the
// bound, no partition ever buffers more than pauseAt = 2·r·i records plus
// what one fetch brings past it (fetching is paused, not buffered without
// end), and every batch still takes its full r·i.
func TestBufferBoundSlowHandler(t *testing.T) {
	const (
		parts    = 4
		backlog  = 1500 // records per partition
		size     = 100  // bytes per record: 2048-byte producer batches hold ~15
		rate     = 200  // records/s per partition
		interval = 100 * time.Millisecond
		perBatch = rate * 100 / 1000 // r·i
		bound    = 2 * perBatch      // pauseAt
		// A fetch is capped at 1024 bytes per partition, which kfake
		// exceeds by at most one producer batch: ~30 records. The
		// records already in flight when the pause is asked for, and a
		// response kgo had buffered, can add about as many twice more.
		slack = 100
	)
	addrs := newCluster(t, parts, testTopic)
	produceSmallBatches(t, addrs, testTopic, parts, backlog, size)

	e, err := New(Brokers(addrs...), BatchInterval(interval), MaxRatePerPartition(rate),
		KgoOpts(kgo.FetchMaxPartitionBytes(1024), kgo.FetchMaxBytes(64<<10)))
	if err != nil {
		t.Fatal(err)
	}
	tps := make([]TopicPartition, parts)
	for p := range tps {
		tps[p] = TopicPartition{testTopic, int32(p)}
	}
	s, err := NewStream[[]byte, string](e, "s", Assign(tps...), nil, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.pauseAt(); got != bound {
		t.Fatalf("pauseAt = %d, want 2·r·i = %d", got, bound)
	}
	w := watchBuffers(e)
	defer w.done()

	const batches = 12
	var n atomic.Int64
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- e.Run(context.Background(), func(ctx context.Context, bs *JobBatch) error {
			b := s.Batch(bs)
			if b.Len() > 0 {
				time.Sleep(interval * 3 / 2) // slower than the interval
			}
			if n.Add(1) == batches {
				close(done)
			}
			return nil
		})
	}()
	select {
	case <-done:
	case err := <-errc:
		t.Fatalf("Run: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("no progress")
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	w.done()

	if !w.paused.Load() {
		t.Error("no partition was ever paused, though the backlog is far over the bound")
	}
	if m := w.max.Load(); m > bound+slack {
		t.Errorf("a partition buffered %d records; bound is pauseAt %d + one fetch (slack %d)", m, bound, slack)
	} else {
		t.Logf("largest buffer %d records (pauseAt %d, backlog %d)", m, bound, backlog)
	}
	// Once fetching has caught up, a batch takes r·i of every partition:
	// pausing never starves a batch.
	full := 0
	for _, info := range e.History() {
		for _, r := range info.Ranges["s"] {
			if r.Count() > perBatch {
				t.Errorf("batch %d: %v takes more than r·i = %d", info.ID, r, perBatch)
			}
		}
		if info.Records == parts*perBatch {
			full++
		}
	}
	if full < batches/2 {
		t.Errorf("only %d of %d batches were full (%d records); pausing starved batches", full, batches, parts*perBatch)
	}
}

// TestBackpressureConvergesSlowHandler: a handler that takes a fixed time
// per record (a sink slower than the backlog can be read) and the PID
// estimator. The rate converges to about what the handler processes, and
// the scheduling delay stops growing: the batches after convergence are
// processed within about one interval.
func TestBackpressureConvergesSlowHandler(t *testing.T) {
	const (
		parts     = 4
		perRecord = 200 * time.Microsecond // a 5,000 records/s sink
		interval  = 100 * time.Millisecond
		batches   = 30
	)
	addrs := newCluster(t, parts, testTopic)
	// Far more than 30 batches can take at 5,000/s, so the backlog lasts.
	produceSmallBatches(t, addrs, testTopic, parts, 10_000, 20)

	e, err := New(Brokers(addrs...), BatchInterval(interval), Backpressure(1_000), RetainedBatches(batches+10),
		KgoOpts(kgo.FetchMaxPartitionBytes(1024), kgo.FetchMaxBytes(64<<10)))
	if err != nil {
		t.Fatal(err)
	}
	tps := make([]TopicPartition, parts)
	for p := range tps {
		tps[p] = TopicPartition{testTopic, int32(p)}
	}
	s, err := NewStream[[]byte, string](e, "s", Assign(tps...), nil, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	w := watchBuffers(e)
	defer w.done()
	var n atomic.Int64
	var maxBound atomic.Int64 // the largest pauseAt the estimates allowed
	maxBound.Store(e.pauseAt())
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- e.Run(context.Background(), func(ctx context.Context, bs *JobBatch) error {
			b := s.Batch(bs)
			time.Sleep(time.Duration(b.Len()) * perRecord)
			if p := e.pauseAt(); p > maxBound.Load() {
				maxBound.Store(p)
			}
			if n.Add(1) == batches {
				close(done)
			}
			return nil
		})
	}()
	select {
	case <-done:
	case err := <-errc:
		t.Fatalf("Run: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("no progress")
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	w.done()

	hist := e.History()
	if len(hist) < batches {
		t.Fatalf("%d batches retained, want %d", len(hist), batches)
	}
	for _, h := range hist {
		t.Logf("%s", h)
	}
	rate := e.limitRate()
	// What the handler actually did over the last third: the rate it
	// sustains, slower than 1/perRecord on a loaded machine.
	tail := hist[len(hist)-batches/3:]
	var recs int
	var proc time.Duration
	for _, h := range tail {
		recs += h.Records
		proc += h.ProcessingTime
	}
	if recs == 0 || proc <= 0 {
		t.Fatalf("no records in the last %d batches", len(tail))
	}
	sustained := float64(recs) / proc.Seconds()
	t.Logf("estimated rate %.0f records/s, handler sustained %.0f records/s", rate, sustained)
	if rate < sustained/3 || rate > sustained*3 {
		t.Errorf("estimated rate %.0f records/s did not converge to the handler's %.0f records/s", rate, sustained)
	}
	// The scheduling delay stops growing: after convergence no batch waits
	// more than a few intervals (without backpressure, the first batch
	// would take the whole 40,000-record backlog, 8 s of work).
	var worst time.Duration
	for _, h := range tail {
		worst = max(worst, h.SchedulingDelay)
	}
	if worst > 5*interval {
		t.Errorf("scheduling delay still %s in the last batches; want it bounded", worst)
	}
	// Buffers stayed within pauseAt, 2·rate·interval at the largest rate
	// estimated, plus what a fetch brings past it (1024 bytes per
	// partition, ~60 of these records, and one buffered response more).
	if m, b := w.max.Load(), maxBound.Load(); m > b+200 {
		t.Errorf("a partition buffered %d records; pauseAt was at most %d", m, b)
	} else {
		t.Logf("largest buffer %d records, largest pauseAt %d", m, b)
	}
	if !w.paused.Load() {
		t.Error("fetching never paused under backpressure")
	}
}
