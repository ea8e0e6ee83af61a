package runtime

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const testTopic = "impressions"

func newCluster(t *testing.T, partitions int32, topics ...string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// produce writes n records to each of the topic's partitions [0, parts),
// values "p/offset-ish sequence", and returns the offsets written.
func produce(t *testing.T, addrs []string, topic string, parts int32, n int) map[TopicPartition][]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var rs []*kgo.Record
	for p := range parts {
		for i := range n {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
		}
	}
	out := make(map[TopicPartition][]int64)
	for _, res := range cl.ProduceSync(context.Background(), rs...) {
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		tp := TopicPartition{res.Record.Topic, res.Record.Partition}
		out[tp] = append(out[tp], res.Record.Offset)
	}
	return out
}

func committedOffsets(t *testing.T, addrs []string, group, topic string, parts int32) map[TopicPartition]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := range parts {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[TopicPartition]int64)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.Offset >= 0 {
				out[TopicPartition{t.Topic, p.Partition}] = p.Offset
			}
		}
	}
	return out
}

// collector is a handler that checks each batch's records against its
// ranges and remembers everything it was given.
type collector struct {
	mu      sync.Mutex
	ranges  []OffsetRange
	offsets map[TopicPartition][]int64
	total   int
	errs    []error
	batches int
}

func (c *collector) handle(s *Stream[[]byte, string]) Handler {
	return func(ctx context.Context, bs *JobBatch) error {
		b := s.Batch(bs)
		var mu sync.Mutex
		got := make(map[TopicPartition][]int64)
		err := b.ForeachPartition(ctx, func(_ context.Context, p Partition[[]byte, string]) error {
			r := p.OffsetRange()
			var offs []int64
			for rec := range p.Records() {
				if rec.Offset < r.FromOffset || rec.Offset >= r.UntilOffset || rec.Topic != r.Topic || rec.Partition != r.Partition {
					return fmt.Errorf("record %s/%d@%d outside %s", rec.Topic, rec.Partition, rec.Offset, r)
				}
				offs = append(offs, rec.Offset)
			}
			mu.Lock()
			got[r.TopicPartition()] = offs
			mu.Unlock()
			return nil
		})
		c.mu.Lock()
		defer c.mu.Unlock()
		c.batches++
		if err != nil {
			c.errs = append(c.errs, err)
			return err
		}
		if n := 0; true {
			for range b.Records() {
				n++
			}
			if n != b.Len() {
				c.errs = append(c.errs, fmt.Errorf("Records yielded %d, Len %d", n, b.Len()))
			}
		}
		if c.offsets == nil {
			c.offsets = make(map[TopicPartition][]int64)
		}
		c.ranges = append(c.ranges, b.OffsetRanges()...)
		for tp, offs := range got {
			c.offsets[tp] = append(c.offsets[tp], offs...)
			c.total += len(offs)
		}
		return nil
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// checkExact asserts the ranges of each partition tile [0, want) with no
// gap or overlap, and that exactly the produced offsets were delivered.
func (c *collector) checkExact(t *testing.T, produced map[TopicPartition][]int64, from map[TopicPartition]int64) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, err := range c.errs {
		t.Error(err)
	}
	byTP := make(map[TopicPartition][]OffsetRange)
	for _, r := range c.ranges {
		byTP[r.TopicPartition()] = append(byTP[r.TopicPartition()], r)
	}
	for tp, offs := range produced {
		next := from[tp]
		for _, r := range byTP[tp] {
			if r.FromOffset != next {
				t.Errorf("%s: range %s starts at %d, want %d (gap or overlap)", tp, r, r.FromOffset, next)
			}
			next = r.UntilOffset
		}
		want := offs[slices.Index(offs, from[tp]):]
		if next != want[len(want)-1]+1 {
			t.Errorf("%s: ranges end at %d, want %d", tp, next, want[len(want)-1]+1)
		}
		if !slices.Equal(c.offsets[tp], want) {
			t.Errorf("%s: delivered %d offsets %v..., want %d", tp, len(c.offsets[tp]), head(c.offsets[tp]), len(want))
		}
	}
}

func head(s []int64) []int64 { return s[:min(len(s), 5)] }

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type runner struct {
	e    *Engine
	errc chan error
}

func start(t *testing.T, e *Engine, h Handler) *runner {
	t.Helper()
	r := &runner{e: e, errc: make(chan error, 1)}
	go func() { r.errc <- e.Run(context.Background(), h) }()
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	return r
}

func (r *runner) stop(t *testing.T) {
	t.Helper()
	if err := r.e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-r.errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestEveryOffsetExactlyOnce(t *testing.T) {
	addrs := newCluster(t, 18, testTopic)
	produced := produce(t, addrs, testTopic, 18, 100)
	e, err := New(Group("etl"), Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond), MaxRatePerPartition(400))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "impressions", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	r := start(t, e, c.handle(s))
	waitFor(t, "all records", 20*time.Second, func() bool { return c.count() >= 18*100 })
	r.stop(t)
	c.checkExact(t, produced, nil)
	if c.batches < 5 {
		t.Errorf("only %d batches: the rate limit of 20 records per partition per batch was not applied", c.batches)
	}
	for _, r := range c.ranges {
		if r.Count() > 20 {
			t.Errorf("range %s exceeds maxRatePerPartition × interval = 20", r)
		}
	}
	got := committedOffsets(t, addrs, "etl", testTopic, 18)
	for tp, offs := range produced {
		if got[tp] != offs[len(offs)-1]+1 {
			t.Errorf("%s committed %d, want %d", tp, got[tp], offs[len(offs)-1]+1)
		}
	}
	if h := e.History(); len(h) == 0 || h[len(h)-1].ID != int64(len(h)) {
		t.Errorf("history: %d entries", len(h))
	}
}
