package sink

import (
	"context"
	"errors"
	"io"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"gocloud.dev/blob/memblob"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
)

// runBlobETL runs the warehouse ETL, exactly-once into s, until every
// partition's chain reaches want as watch (another instance on the same
// bucket) loads it; see runETLInto.
func runBlobETL(t *testing.T, addrs []string, s, watch *blobImpressions, want map[int32]int64, failAt int64) (retried bool) {
	t.Helper()
	return runETLInto(t, addrs, etlSink{
		store: s, load: watch.Load,
		copyAll: func(ctx context.Context, b *runtime.Batch[struct{}, alltypes.Impression]) error {
			return WriteBlob(ctx, s, b)
		},
		writer: func(r runtime.OffsetRange) impressionWriter { return s.Writer(r) },
	}, want, failAt)
}

// TestETLExactlyOnceIntoBlob: the warehouse ETL copies a topic into a
// bucket exactly-once through a retried task, an instance killed with a
// batch staged, and a graceful stop; afterwards every offset is in
// exactly one published object and nothing staged is left.
func TestETLExactlyOnceIntoBlob(t *testing.T) {
	const parts = 3
	c, cl := kafkaCluster(t, parts)
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	open := func() *blobImpressions {
		s, err := NewBlob[alltypes.Impression](bucket)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	watch := open()
	next := map[int32]int64{}

	produceImpressions(t, cl, parts, next, 120)
	s1 := open()
	if !runBlobETL(t, c.ListenAddrs(), s1, watch, maps.Clone(next), 7) {
		t.Error("no task failed; the retry went untested")
	}
	// The first instance dies with a batch's values staged.
	r := runtime.OffsetRange{Topic: etlTopic, Partition: 0, FromOffset: next[0], UntilOffset: next[0] + 1}
	writeBlobBatch(t, s1, runtime.StoredBatch{ID: 99, Ranges: []runtime.OffsetRange{r}})
	if err := s1.core.cur[r.TopicPartition()].finish(); err != nil {
		t.Fatal(err)
	}

	produceImpressions(t, cl, parts, next, 90)
	s2 := open()
	runBlobETL(t, c.ListenAddrs(), s2, watch, maps.Clone(next), -1)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	checkEveryOffsetOnce(t, bucket, etlTopic, next)
	loadBlob(t, watch, tpsOf(next)...)
	if st := stagedObjects(t, bucket); len(st) != 0 {
		t.Errorf("staged objects left: %v", st)
	}
}

// TestETLFencedIntoBlob: while a batch runs, another instance that
// believes it owns the partition publishes from the same offset; the
// job's Store is fenced, Run fails saying so, and only the other
// instance's object is published.
func TestETLFencedIntoBlob(t *testing.T) {
	c, cl := kafkaCluster(t, 1)
	produceImpressions(t, cl, 1, map[int32]int64{}, 20)
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	s, err := NewBlob[alltypes.Impression](bucket, BlobFormat(FormatParquet))
	if err != nil {
		t.Fatal(err)
	}
	rival, err := NewBlob[alltypes.Impression](bucket, BlobFormat(FormatParquet))
	if err != nil {
		t.Fatal(err)
	}
	e, err := runtime.New(runtime.Group("etl"), runtime.WithSemantics(runtime.ExactlyOnce), runtime.WithOffsetStore(s),
		runtime.Brokers(c.ListenAddrs()...), runtime.BatchInterval(40*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	st, err := runtime.NewStreamInto[struct{}](e, "impressions", runtime.Subscribe(etlTopic), nil, runtime.RawAvroInto[alltypes.Impression]())
	if err != nil {
		t.Fatal(err)
	}
	var theirs runtime.OffsetRange
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = e.Run(ctx, func(ctx context.Context, bs *runtime.JobBatch) error {
		b := st.Batch(bs)
		if err := WriteBlob(ctx, s, b); err != nil {
			return err
		}
		for _, r := range b.OffsetRanges() {
			if r.Count() > 1 && theirs.Count() == 0 {
				theirs = r
				theirs.UntilOffset--
				loadBlob(t, rival, r.TopicPartition())
				b := runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{theirs}}
				if err := rival.Begin(ctx, b); err != nil {
					return err
				}
				if err := rival.Store(ctx, b); err != nil {
					return err
				}
			}
		}
		return nil
	})
	var fe *runtime.FencedError
	if !errors.As(err, &fe) || !errors.Is(err, runtime.ErrFenced) || fe.Range.FromOffset != theirs.FromOffset || fe.Stored != theirs.UntilOffset {
		t.Fatalf("Run = %v, want a *FencedError at %v", err, theirs)
	}
	var keys []string
	it := bucket.List(nil)
	for {
		o, err := it.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(o.Key, internalDir+"/") {
			keys = append(keys, o.Key)
		}
	}
	if want := rival.Key(theirs, ""); len(keys) != 1 || keys[0] != want {
		t.Errorf("published %v, want only the other instance's %s", keys, want)
	}
}

// runRollETL runs the warehouse ETL exactly-once into the rolling sink s,
// writing each record's value with its offset, until done holds for the
// offsets a new owner would restart from (read without taking the
// partitions over), then stops it gracefully, its open files unpublished.
// Each poll advances clock, so files reach MaxOpen as batches go by. A
// partition task whose batch holds failAt fails once after writing, so
// the engine retries it within the batch (DiscardPartition).
func runRollETL(t *testing.T, addrs []string, s *blobImpressions, clock *fakeClock, tps []runtime.TopicPartition, done func(restart map[runtime.TopicPartition]int64) bool, failAt int64) (retried bool) {
	t.Helper()
	e, err := runtime.New(runtime.Group("etl"), runtime.WithSemantics(runtime.ExactlyOnce), runtime.WithOffsetStore(s),
		runtime.Brokers(addrs...), runtime.BatchInterval(40*time.Millisecond), runtime.MaxRatePerPartition(400))
	if err != nil {
		t.Fatal(err)
	}
	st, err := runtime.NewStreamInto[struct{}](e, "impressions", runtime.Subscribe(etlTopic), nil, runtime.RawAvroInto[alltypes.Impression]())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	handler := func(ctx context.Context, bs *runtime.JobBatch) error {
		return st.Batch(bs).ForeachPartition(ctx, func(ctx context.Context, p runtime.Partition[struct{}, alltypes.Impression]) error {
			w := s.Writer(p.OffsetRange())
			for rec := range p.Records() {
				if err := w.WriteAt(rec.Offset, &rec.Value); err != nil {
					return err
				}
			}
			r := p.OffsetRange()
			mu.Lock()
			defer mu.Unlock()
			if !retried && r.FromOffset <= failAt && failAt < r.UntilOffset {
				retried = true
				return errors.New("the transform failed once, after writing")
			}
			return nil
		})
	}
	errc := make(chan error, 1)
	go func() { errc <- e.Run(context.Background(), handler) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		offs := map[runtime.TopicPartition]int64{}
		for _, tp := range tps {
			if off, ok, err := s.core.peekRestart(context.Background(), tp); err != nil {
				t.Fatal(err)
			} else if ok {
				offs[tp] = off
			}
		}
		if done(offs) {
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("the job stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sink's restart offsets are %v, not done", offs)
		}
		clock.Advance(10 * time.Second)
		time.Sleep(20 * time.Millisecond)
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return retried
}

// TestETLExactlyOnceIntoRollingBlob: the warehouse ETL copies a topic
// into a rolling blob sink partitioned by country (every third record
// DE), so that a partition's restart offset lies below what its FR files
// published. Through a retried task, a graceful stop with files open
// (unpublished, read again by the next run, which drops what published
// files hold) and an instance killed with a batch written and files
// open, every offset ends up in exactly one published object.
func TestETLExactlyOnceIntoRollingBlob(t *testing.T) {
	const parts = 3
	c, cl := kafkaCluster(t, parts)
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	clock := newFakeClock()
	open := func() *blobImpressions {
		s, err := NewBlob[alltypes.Impression](bucket, PartitionByField("geo.country"),
			BlobRoll(RollLimits{MaxRecords: 30, MaxOpen: time.Minute}), blobClock(clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	next := map[int32]int64{}
	produce := func(n int) {
		var rs []*kgo.Record
		for p := range int32(parts) {
			for range n {
				v := country(next[p])
				b, err := v.AppendAvro(nil)
				if err != nil {
					t.Fatal(err)
				}
				rs = append(rs, &kgo.Record{Topic: etlTopic, Partition: p, Value: b})
				next[p]++
			}
		}
		if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	tps := tpsOf(map[int32]int64{0: 0, 1: 0, 2: 0})
	reached := func(want int64) func(map[runtime.TopicPartition]int64) bool {
		return func(offs map[runtime.TopicPartition]int64) bool {
			for _, tp := range tps {
				if offs[tp] < want {
					return false
				}
			}
			return true
		}
	}

	produce(120)
	s1 := open()
	// Stop with part published and files open: the restart offsets are
	// past 40, not yet at 120.
	if !runRollETL(t, c.ListenAddrs(), s1, clock, tps, reached(40), 7) {
		t.Error("no task failed; the retry went untested")
	}
	if st := s1.RollStats(); st.Published == 0 {
		t.Errorf("RollStats = %+v, want published files", st)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	produce(90)
	s2 := open()
	runRollETL(t, c.ListenAddrs(), s2, clock, tps, reached(150), -1)
	// The second instance dies with files open and a batch written.
	r := runtime.OffsetRange{Topic: etlTopic, Partition: 0, FromOffset: next[0], UntilOffset: next[0]}
	writeRoll(t, s2, runtime.StoredBatch{ID: 99, Ranges: []runtime.OffsetRange{r}}, country)
	dropped := s2.RollStats().Dropped

	s3 := open()
	runRollETL(t, c.ListenAddrs(), s3, clock, tps, reached(next[0]), -1)
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	checkOffsetsOnce(t, bucket, etlTopic, next)
	if err := s2.Close(); err != nil { // the dead instance's uploads, aborted
		t.Fatal(err)
	}
	checkOffsetsOnce(t, bucket, etlTopic, next)
	if dropped+s3.RollStats().Dropped == 0 {
		t.Error("no restart dropped a value a published file held; the watermarks went untested")
	}
	loadBlob(t, open(), tps...)
	if st := stagedObjects(t, bucket); len(st) != 0 {
		t.Errorf("staged objects left: %v", st)
	}
}
