package runtime

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceOneByOne writes each record in its own batch, so a small
// FetchMaxPartitionBytes returns few records per fetch.
func produceOneByOne(t *testing.T, addrs []string, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for range n {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Value: []byte("0123456789")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFetchPausesAtBufferBound(t *testing.T) {
	addrs := newCluster(t, 1, testTopic)
	const n = 300
	produceOneByOne(t, addrs, testTopic, n)
	// 100 records/s × 50ms = 5 per batch; pausing starts at 2 batches'
	// worth, 10, and one fetch of at most 1 KiB (about a dozen of these
	// one-record batches) may land on top.
	e, err := New(Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond),
		MaxRatePerPartition(100), KgoOpts(kgo.FetchMaxPartitionBytes(1024)))
	if err != nil {
		t.Fatal(err)
	}
	tp := TopicPartition{testTopic, 0}
	s, err := NewStream[[]byte, []byte](e, "s", Assign(tp), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		maxBuf, total atomic.Int64
		sawPause      atomic.Bool
	)
	r := start(t, e, func(_ context.Context, bs *JobBatch) error {
		for _, st := range e.Snapshot().Partitions {
			if l := int64(st.Buffered); st.TopicPartition == tp && l > maxBuf.Load() {
				maxBuf.Store(l)
			}
			if st.Paused {
				sawPause.Store(true)
			}
		}
		total.Add(int64(s.Batch(bs).Len()))
		return nil
	})
	waitFor(t, "a third of the records", 20*time.Second, func() bool { return total.Load() >= n/3 })
	r.stop(t)
	if !sawPause.Load() {
		t.Error("fetching was never paused")
	}
	if got := maxBuf.Load(); got > 40 {
		t.Errorf("buffered up to %d records, bound is about 10 + one 1 KiB fetch", got)
	}
}

func TestBackpressureInitialRateAndEstimate(t *testing.T) {
	addrs := newCluster(t, 2, testTopic)
	produce(t, addrs, testTopic, 2, 500)
	// 200 records/s × 100ms = 20 records per batch across both
	// partitions until the estimator has its first estimate.
	e, err := New(Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(100*time.Millisecond), Backpressure(200), MinRatePerPartition(0))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream[[]byte, []byte](e, "s", Assign(TopicPartition{testTopic, 0}, TopicPartition{testTopic, 1}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		sizes []int
	)
	r := start(t, e, func(_ context.Context, bs *JobBatch) error {
		b := s.Batch(bs)
		if b.Len() > 0 {
			time.Sleep(time.Duration(b.Len()) * 100 * time.Microsecond) // a slow sink
		}
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, b.Len())
		return nil
	})
	waitFor(t, "an estimate", 20*time.Second, func() bool {
		return e.rec.currentRate() > 0
	})
	r.stop(t)
	mu.Lock()
	defer mu.Unlock()
	var first int
	for first < len(sizes) && sizes[first] == 0 {
		first++
	}
	if first == len(sizes) || sizes[first] > 20 {
		t.Errorf("batch sizes %v: the first non-empty batch must hold at most initialRate × interval = 20", sizes)
	}
}
