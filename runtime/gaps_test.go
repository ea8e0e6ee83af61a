package runtime

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// gapCollector remembers ranges and delivered records of one partition.
type gapCollector struct {
	mu     sync.Mutex
	ranges []OffsetRange
	vals   []string
	offs   []int64
}

func (g *gapCollector) handle(s *Stream[[]byte, string]) Handler {
	return func(_ context.Context, bs *JobBatch) error {
		b := s.Batch(bs)
		g.mu.Lock()
		defer g.mu.Unlock()
		g.ranges = append(g.ranges, b.OffsetRanges()...)
		for r := range b.Records() {
			g.vals = append(g.vals, r.Value)
			g.offs = append(g.offs, r.Offset)
		}
		return nil
	}
}

// reached reports whether the ranges tile [start, end) without gap or overlap.
func (g *gapCollector) reached(start, end int64) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	next := start
	for _, r := range g.ranges {
		if r.FromOffset != next {
			return false, fmt.Errorf("range %s does not start at %d", r, next)
		}
		next = r.UntilOffset
	}
	return next == end, nil
}

func TestTransactionMarkersAndAbortsDoNotStall(t *testing.T) {
	addrs := newCluster(t, 1, testTopic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.TransactionalID("tx"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	txn := func(prefix string, n int, commit kgo.TransactionEndTry) {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: testTopic, Value: fmt.Appendf(nil, "%s%d", prefix, i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	txn("a", 3, kgo.TryCommit)
	txn("x", 2, kgo.TryAbort)
	txn("b", 3, kgo.TryCommit)
	const end = 3 + 1 + 2 + 1 + 3 + 1 // records and one marker per transaction

	e, err := New(Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(30*time.Millisecond), ReadCommitted())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Assign(TopicPartition{testTopic, 0}), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var g gapCollector
	r := start(t, e, g.handle(s))
	waitFor(t, "ranges to reach the last marker", 10*time.Second, func() bool {
		ok, err := g.reached(0, end)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
	r.stop(t)
	if got := fmt.Sprint(g.vals); got != "[a0 a1 a2 b0 b1 b2]" {
		t.Errorf("delivered %s, want the committed records only", got)
	}
}

func TestCompactedTopicGaps(t *testing.T) {
	c, addrs := newTestCluster(t, 1, "seed")
	if err := c.CreateTopic("entities", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Offsets 1 and 2 are overwritten by 3: compaction leaves a gap
	// inside the log, not only at its start.
	for _, kv := range [][2]string{{"k1", "a"}, {"k0", "b"}, {"k0", "c"}, {"k0", "d"}, {"k2", "e"}} {
		r := &kgo.Record{Topic: "entities", Key: []byte(kv[0]), Value: []byte(kv[1])}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c.Compact()
	tp := TopicPartition{"entities", 0}
	starts, err := kadm.NewClient(cl).ListStartOffsets(context.Background(), tp.Topic)
	if err != nil {
		t.Fatal(err)
	}
	logStart := map[TopicPartition]int64{tp: starts.Offsets().KOffsets()[tp.Topic][tp.Partition].EpochOffset().Offset}

	e, err := New(Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(30*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Assign(TopicPartition{"entities", 0}), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var g gapCollector
	r := start(t, e, g.handle(s))
	waitFor(t, "ranges to reach the end", 10*time.Second, func() bool {
		ok, err := g.reached(logStart[tp], 5)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
	r.stop(t)
	g.mu.Lock()
	defer g.mu.Unlock()
	if got := fmt.Sprint(g.vals); got != "[a d e]" {
		t.Errorf("delivered %s at offsets %v, want the compacted survivors [a d e]", got, g.offs)
	}
}
