package sink

import (
	"context"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

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
