package sink

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/metrics"
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
		writer: func(r runtime.OffsetRange) writeFunc { return writeOf(s.Writer(r)) },
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
// Each poll advances clock by tick, so files reach MaxOpen as batches go
// by; see runETLUntil.
func runRollETL(t *testing.T, addrs []string, s *blobImpressions, clock *fakeClock, tick time.Duration, tps []runtime.TopicPartition, done func(restart map[runtime.TopicPartition]int64) bool, failAt int64) (retried bool) {
	t.Helper()
	return runRollETLStore(t, addrs, s, s, clock, tick, tps, done, failAt)
}

// undrained is a rolling sink whose job's stop does not drain it, as a
// stop that overran its shutdown timeout: its Drain field hides the
// method, so the engine finds no runtime.Drainer.
type undrained struct {
	*blobImpressions
	Drain struct{}
}

// runRollETLStore is runRollETL with store as the engine's offset store
// (s, or s hidden in undrained).
func runRollETLStore(t *testing.T, addrs []string, s *blobImpressions, store runtime.OffsetStore, clock *fakeClock, tick time.Duration, tps []runtime.TopicPartition, done func(restart map[runtime.TopicPartition]int64) bool, failAt int64) (retried bool) {
	t.Helper()
	return runETLUntil(t, addrs, etlSink{
		store: store,
		copyAll: func(ctx context.Context, b *runtime.Batch[struct{}, alltypes.Impression]) error {
			return WriteBlob(ctx, s, b)
		},
		load: func(ctx context.Context, tps []runtime.TopicPartition) (map[runtime.TopicPartition]int64, error) {
			offs := map[runtime.TopicPartition]int64{}
			for _, tp := range tps {
				off, ok, err := s.core.peekRestart(ctx, tp)
				if err != nil {
					return nil, err
				}
				if ok {
					offs[tp] = off
				}
			}
			return offs, nil
		},
		writer: func(r runtime.OffsetRange) writeFunc {
			w := s.Writer(r)
			return func(offset int64, v *alltypes.Impression) error { return w.WriteAt(offset, v) }
		},
		tick: func() { clock.Advance(tick) },
	}, tps, done, failAt)
}

// rollingByCountry opens rolling sinks of Impressions on bucket,
// partitioned by country, with limits lim and MaxOpen's clock.
func rollingByCountry(t *testing.T, bucket *blob.Bucket, clock *fakeClock, lim RollLimits) func() *blobImpressions {
	return func() *blobImpressions {
		s, err := NewBlob[alltypes.Impression](bucket, PartitionByField("geo.country"), BlobRoll(lim), blobClock(clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// TestETLExactlyOnceIntoRollingBlob: the warehouse ETL copies a topic
// into a rolling blob sink partitioned by country, every tenth record DE:
// FR's files fill and are published while DE's first file stays open, so
// each partition's restart offset stays 0, below FR's watermark. Through
// a retried task, a stop that leaves files open (no Drain: unpublished,
// read again by the next run, which drops what FR's published files
// hold) and an instance killed with a batch written and files open, then
// a run whose files all reach MaxOpen, every offset ends up in exactly
// one published object.
func TestETLExactlyOnceIntoRollingBlob(t *testing.T) {
	const parts = 3
	c, cl := kafkaCluster(t, parts)
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	clock := newFakeClock()
	open := rollingByCountry(t, bucket, clock, RollLimits{MaxRecords: 30, MaxOpen: time.Minute})
	next := map[int32]int64{}
	produce := func(n int) {
		var rs []*kgo.Record
		for p := range int32(parts) {
			for range n {
				v := impression(next[p])
				if next[p]%10 == 0 {
					v.Geo.Country = "DE"
				}
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

	published := func(s *blobImpressions, n int64) func(map[runtime.TopicPartition]int64) bool {
		return func(map[runtime.TopicPartition]int64) bool { return s.OpenFiles().Published >= n }
	}

	produce(120)
	s1 := open()
	// 108 FR values a partition: three files each published; DE's 12
	// stay open, so the restart offsets stay 0.
	if !runRollETLStore(t, c.ListenAddrs(), s1, undrained{blobImpressions: s1}, clock, 0, tps, published(s1, 3*parts), 7) {
		t.Error("no task failed; the retry went untested")
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	produce(90)
	s2 := open()
	// Read again from 0: FR's 90 values below its watermark dropped,
	// then three more files of FR each.
	runRollETLStore(t, c.ListenAddrs(), s2, undrained{blobImpressions: s2}, clock, 0, tps, published(s2, 3*parts), -1)
	if st := s2.OpenFiles(); st.Dropped != 90*parts {
		t.Errorf("OpenFiles = %+v, want the 90 FR values of each partition that s1 published dropped", st)
	}
	// The second instance dies with files open and a batch written.
	r := runtime.OffsetRange{Topic: etlTopic, Partition: 0, FromOffset: 0, UntilOffset: 5}
	writeRoll(t, s2, runtime.StoredBatch{ID: 99, Ranges: []runtime.OffsetRange{r}}, plain)
	dropped := s2.OpenFiles().Dropped

	s3 := open()
	runRollETL(t, c.ListenAddrs(), s3, clock, 10*time.Second, tps, reached(next[0]), -1)
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	checkEveryOffsetOnce(t, bucket, etlTopic, next)
	if err := s2.Close(); err != nil { // the dead instance's uploads, aborted
		t.Fatal(err)
	}
	checkEveryOffsetOnce(t, bucket, etlTopic, next)
	if dropped+s3.OpenFiles().Dropped == 0 {
		t.Error("no restart dropped a value a published file held; the watermarks went untested")
	}
	loadBlob(t, open(), tps...)
	if st := stagedObjects(t, bucket); len(st) != 0 {
		t.Errorf("staged objects left: %v", st)
	}
}

// TestETLGracefulStopDrainsRollingBlob: a graceful stop publishes the
// files a rolling sink holds open (the engine calls Drain after the last
// batch), so the next run reads on from where the stop was: it re-reads
// and drops nothing, and its own stop publishes the rest.
func TestETLGracefulStopDrainsRollingBlob(t *testing.T) {
	const parts = 2
	c, cl := kafkaCluster(t, parts)
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	clock := newFakeClock()
	open := rollingByCountry(t, bucket, clock, RollLimits{MaxRecords: 1000, MaxOpen: time.Hour})
	next := map[int32]int64{}
	tps := tpsOf(map[int32]int64{0: 0, 1: 0})
	// Every record stored, into files still open.
	handled := func(s *blobImpressions) func(map[runtime.TopicPartition]int64) bool {
		return func(map[runtime.TopicPartition]int64) bool {
			c := s.core
			c.rollMu.Lock()
			defer c.rollMu.Unlock()
			for p, n := range next {
				rp := c.rolls[runtime.TopicPartition{Topic: etlTopic, Partition: p}]
				if rp == nil || rp.handled < n || len(rp.files) == 0 {
					return false
				}
			}
			return true
		}
	}
	for run := range 2 {
		produceImpressions(t, cl, parts, next, 50)
		s := open()
		runRollETL(t, c.ListenAddrs(), s, clock, 0, tps, handled(s), -1)
		st := s.OpenFiles()
		if st.Files != 0 || st.Published != parts || st.Dropped != 0 {
			t.Errorf("run %d: OpenFiles after the stop = %+v, want its %d files published and nothing re-read", run+1, st, parts)
		}
		for _, tp := range tps {
			if got := peek(t, s, tp); got != next[tp.Partition] {
				t.Errorf("run %d: %s restarts at %d, want %d (the end of the last batch)", run+1, tp, got, next[tp.Partition])
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		checkEveryOffsetOnce(t, bucket, etlTopic, next)
	}
	if st := stagedObjects(t, bucket); len(st) != 0 {
		t.Errorf("staged objects left: %v", st)
	}
}

// TestStatusShowsBlobOpenFiles: with a rolling blob sink as the offset
// store, Snapshot, the status page, status.json and /metrics show its
// open files, their bytes and the oldest one's age.
func TestStatusShowsBlobOpenFiles(t *testing.T) {
	const parts = 3
	c, cl := kafkaCluster(t, parts)
	produceImpressions(t, cl, parts, map[int32]int64{}, 10)
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	clock := newFakeClock()
	s, err := NewBlob[alltypes.Impression](bucket, BlobRoll(RollLimits{MaxRecords: 1000}), blobClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	met := metrics.New("etl")
	st := runtime.NewStatus("etl")
	e, err := runtime.New(append(met.Options(), runtime.Group("etl"), runtime.WithSemantics(runtime.ExactlyOnce), runtime.WithOffsetStore(s),
		runtime.Brokers(c.ListenAddrs()...), runtime.BatchInterval(20*time.Millisecond), st.Attach())...)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := runtime.NewStreamInto[struct{}](e, "impressions", runtime.Subscribe(etlTopic), nil, runtime.RawAvroInto[alltypes.Impression]())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- e.Run(ctx, func(ctx context.Context, bs *runtime.JobBatch) error { return WriteBlob(ctx, s, stream.Batch(bs)) })
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for of := e.Snapshot().OpenFiles; of == nil || of.Files < parts; of = e.Snapshot().OpenFiles {
		if time.Now().After(deadline) {
			t.Fatalf("Snapshot().OpenFiles = %+v, want %d files open", of, parts)
		}
		time.Sleep(5 * time.Millisecond)
	}
	clock.Advance(90 * time.Second)
	of := e.Snapshot().OpenFiles
	if of.Bytes == 0 || of.Oldest != 90*time.Second || of.Published != 0 {
		t.Errorf("Snapshot().OpenFiles = %+v, want bytes, 90s old, nothing published", *of)
	}
	get := func(path string) string {
		rec := httptest.NewRecorder()
		st.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Body.String()
	}
	if page := get("/"); !strings.Contains(page, `<table id="open-files">`) || !strings.Contains(page, "<td>3</td>") {
		t.Errorf("the status page does not show the open files:\n%s", page)
	}
	var js struct {
		OpenFiles *struct {
			Files    int
			Bytes    int64
			OldestMs float64
		}
	}
	if err := json.Unmarshal([]byte(get("/status.json")), &js); err != nil {
		t.Fatal(err)
	}
	if js.OpenFiles == nil || js.OpenFiles.Files != parts || js.OpenFiles.Bytes == 0 || js.OpenFiles.OldestMs != 90_000 {
		t.Errorf("status.json openFiles = %+v", js.OpenFiles)
	}
	text := get("/metrics")
	for _, want := range []string{
		`streamgen_blob_open_files{job="etl"} 3`,
		`streamgen_blob_oldest_open_seconds{job="etl"} 90`,
		`streamgen_blob_open_bytes{job="etl"} `,
		`streamgen_blob_published_files_total{job="etl"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
