package sink

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
)

const etlTopic = "impressions"

// produceImpressions appends n raw-Avro Impressions to each of parts
// partitions; a value's CampaignID is its partition's next offset, so
// every file's values say which offsets they are.
func produceImpressions(t testing.TB, cl *kgo.Client, parts int32, next map[int32]int64, n int) {
	t.Helper()
	var rs []*kgo.Record
	for p := range parts {
		for range n {
			imp := impression(next[p])
			v, err := imp.AppendAvro(nil)
			if err != nil {
				t.Fatal(err)
			}
			rs = append(rs, &kgo.Record{Topic: etlTopic, Partition: p, Value: v})
			next[p]++
		}
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// runETL runs the warehouse ETL, exactly-once into f, until every
// partition's files reach want, then stops it gracefully. A partition
// task whose batch holds failAt fails once after writing, so the engine
// retries it.
func runETL(t *testing.T, addrs []string, f *impressions, want map[int32]int64, failAt int64) (retried bool) {
	t.Helper()
	return runETLInto(t, addrs, etlSink{
		store: f, load: f.Load,
		copyAll: func(ctx context.Context, b *runtime.Batch[struct{}, alltypes.Impression]) error {
			return WriteBatch(ctx, f, b)
		},
		writer: func(r runtime.OffsetRange) writeFunc { return writeOf(f.Writer(r)) },
	}, want, failAt)
}

// writeFunc writes one value of a partition's output, from the record at
// offset.
type writeFunc func(offset int64, v *alltypes.Impression) error

// writeOf is the writeFunc of a writer that takes no offset.
func writeOf(w interface {
	Write(v *alltypes.Impression) error
}) writeFunc {
	return func(_ int64, v *alltypes.Impression) error { return w.Write(v) }
}

// etlSink is a sink the warehouse ETL writes to: its offset store, how
// the test watches its offsets, the passthrough handler, a writer per
// range, and what to do at each poll of the offsets (tick, if set).
type etlSink struct {
	store   runtime.OffsetStore
	load    func(ctx context.Context, tps []runtime.TopicPartition) (map[runtime.TopicPartition]int64, error)
	copyAll func(ctx context.Context, b *runtime.Batch[struct{}, alltypes.Impression]) error
	writer  func(r runtime.OffsetRange) writeFunc
	tick    func()
}

// runETLInto runs the warehouse ETL, exactly-once into s, until every
// partition's offsets reach want, then stops it gracefully. A partition
// task whose batch holds failAt fails once after writing, so the engine
// retries it.
func runETLInto(t *testing.T, addrs []string, s etlSink, want map[int32]int64, failAt int64) (retried bool) {
	t.Helper()
	return runETLUntil(t, addrs, s, tpsOf(want), func(offs map[runtime.TopicPartition]int64) bool {
		for p, w := range want {
			if offs[runtime.TopicPartition{Topic: etlTopic, Partition: p}] < w {
				return false
			}
		}
		return true
	}, failAt)
}

// runETLUntil is runETLInto until done holds for the offsets of tps.
func runETLUntil(t *testing.T, addrs []string, s etlSink, tps []runtime.TopicPartition, done func(offs map[runtime.TopicPartition]int64) bool, failAt int64) (retried bool) {
	t.Helper()
	e, err := runtime.New(runtime.Group("etl"), runtime.WithSemantics(runtime.ExactlyOnce), runtime.WithOffsetStore(s.store),
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
		b := st.Batch(bs)
		if failAt < 0 {
			return s.copyAll(ctx, b)
		}
		return b.ForeachPartition(ctx, func(ctx context.Context, p runtime.Partition[struct{}, alltypes.Impression]) error {
			write := s.writer(p.OffsetRange())
			for rec := range p.Records() {
				if err := write(rec.Offset, &rec.Value); err != nil {
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
		offs, err := s.load(context.Background(), tps)
		if err != nil {
			t.Fatal(err)
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
			t.Fatalf("the sink's offsets are %v, not done", offs)
		}
		if s.tick != nil {
			s.tick()
		}
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

func tpsOf(want map[int32]int64) []runtime.TopicPartition {
	var out []runtime.TopicPartition
	for p := range want {
		out = append(out, runtime.TopicPartition{Topic: etlTopic, Partition: p})
	}
	return out
}

// TestETLExactlyOnceIntoFiles: the warehouse ETL copies a topic into
// files exactly-once through a retried task, a killed instance and a
// graceful stop; afterwards every offset is in exactly one published
// file, in order, and no temporary file is left.
func TestETLExactlyOnceIntoFiles(t *testing.T) {
	const parts = 3
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, etlTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dir := t.TempDir()
	next := map[int32]int64{}

	produceImpressions(t, cl, parts, next, 120)
	f1, err := NewFiles[alltypes.Impression](dir, OCFCodec(CodecDeflate))
	if err != nil {
		t.Fatal(err)
	}
	if !runETL(t, c.ListenAddrs(), f1, maps.Clone(next), 7) {
		t.Error("no task failed; the retry went untested")
	}
	// The first instance dies with a batch's temporary file on disk.
	r := runtime.OffsetRange{Topic: etlTopic, Partition: 0, FromOffset: next[0], UntilOffset: next[0] + 1}
	if err := f1.Begin(context.Background(), runtime.StoredBatch{ID: 99, Ranges: []runtime.OffsetRange{r}}); err != nil {
		t.Fatal(err)
	}
	v := impression(next[0])
	if err := f1.Writer(r).Write(&v); err != nil {
		t.Fatal(err)
	}
	kill(f1)

	produceImpressions(t, cl, parts, next, 90)
	f2, err := NewFiles[alltypes.Impression](dir, OCFCodec(CodecDeflate))
	if err != nil {
		t.Fatal(err)
	}
	runETL(t, c.ListenAddrs(), f2, maps.Clone(next), -1)
	if err := f2.Close(); err != nil {
		t.Fatal(err)
	}

	if left := tempFiles(t, dir); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	for p := range int32(parts) {
		tp := runtime.TopicPartition{Topic: etlTopic, Partition: p}
		files, err := listPartition(dir, tp)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) < 2 || files[0].from != 0 || files[len(files)-1].until != next[p] {
			t.Errorf("partition %d: files %v, want a chain from 0 to %d", p, files, next[p])
			continue
		}
		var got []int64
		for _, fl := range files {
			ids := readHamba(t, fl.path)
			if !slices.Equal(ids, seq(fl.from, fl.until)) {
				t.Errorf("%s holds %v, want offsets %d to %d once each", fl.path, ids, fl.from, fl.until)
			}
			got = append(got, ids...)
		}
		if !slices.Equal(got, seq(0, next[p])) {
			t.Errorf("partition %d: the files hold %d values, want every offset 0..%d once", p, len(got), next[p]-1)
		}
	}
}

// TestETLFencedByAnotherInstance: while a batch runs, another instance
// that believes it owns the partition publishes from the same offset; the
// job's Store is fenced, Run fails saying so, and only the other
// instance's file is on disk.
func TestETLFencedByAnotherInstance(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, etlTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceImpressions(t, cl, 1, map[int32]int64{}, 20)
	dir := t.TempDir()
	f, rival := newFiles(t, dir), newFiles(t, dir)
	e, err := runtime.New(runtime.Group("etl"), runtime.WithSemantics(runtime.ExactlyOnce), runtime.WithOffsetStore(f),
		runtime.Brokers(c.ListenAddrs()...), runtime.BatchInterval(40*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewStreamInto[struct{}](e, "impressions", runtime.Subscribe(etlTopic), nil, runtime.RawAvroInto[alltypes.Impression]())
	if err != nil {
		t.Fatal(err)
	}
	var theirs runtime.OffsetRange
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = e.Run(ctx, func(ctx context.Context, bs *runtime.JobBatch) error {
		b := s.Batch(bs)
		if err := WriteBatch(ctx, f, b); err != nil {
			return err
		}
		for _, r := range b.OffsetRanges() {
			if r.Count() > 1 && theirs.Count() == 0 {
				theirs = r
				theirs.UntilOffset--
				if err := publish(rival, 1, theirs); err != nil {
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
	tp := runtime.TopicPartition{Topic: etlTopic, Partition: 0}
	files, err := listPartition(dir, tp)
	if err != nil || len(files) != 1 || files[0].from != theirs.FromOffset || files[0].until != theirs.UntilOffset {
		t.Errorf("partition files %v, %v; want only the other instance's %v", files, err, theirs)
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("the fenced batch left %v", left)
	}
}
