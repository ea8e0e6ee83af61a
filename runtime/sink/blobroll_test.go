package sink

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/config"
)

// fakeClock is MaxOpen's wall clock in tests: it moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// rollValue is the value of offset o; val may change it (its time, its
// country).
type rollValue func(o int64) alltypes.Impression

// writeRoll begins b and writes every offset's value with WriteAt, as
// WriteBlob does; it does not store.
func writeRoll(t *testing.T, s *blobImpressions, b runtime.StoredBatch, val rollValue) {
	t.Helper()
	if err := s.Begin(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	for _, r := range b.Ranges {
		if r.Count() == 0 {
			continue
		}
		w := s.Writer(r)
		for o := r.FromOffset; o < r.UntilOffset; o++ {
			v := val(o)
			if err := w.WriteAt(o, &v); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// storeRoll runs one batch through s as the engine does.
func storeRoll(t *testing.T, s *blobImpressions, id int64, val rollValue, ranges ...runtime.OffsetRange) error {
	t.Helper()
	b := runtime.StoredBatch{ID: id, Time: time.Now(), Ranges: ranges}
	writeRoll(t, s, b, val)
	if err := s.Store(context.Background(), b); err != nil {
		s.Abort(context.Background(), b)
		return err
	}
	return nil
}

func mustStoreRoll(t *testing.T, s *blobImpressions, id int64, val rollValue, ranges ...runtime.OffsetRange) {
	t.Helper()
	if err := storeRoll(t, s, id, val, ranges...); err != nil {
		t.Fatal(err)
	}
}

// plain is the usual impression: CampaignID is the offset.
func plain(o int64) alltypes.Impression { return impression(o) }

// publishedKeys lists the published objects' keys, sorted.
func publishedKeys(t *testing.T, b *blob.Bucket) []string {
	t.Helper()
	var keys []string
	for k := range publishedObjects(t, b) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func peek(t *testing.T, s *blobImpressions, tp runtime.TopicPartition) int64 {
	t.Helper()
	off, ok, err := s.core.peekRestart(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return -1
	}
	return off
}

// TestBlobRollMaxRecords: batches go into one open file, published once
// it holds MaxRecords; the restart offset is the open file's start.
func TestBlobRollMaxRecords(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t, BlobRoll(RollLimits{MaxRecords: 25}))
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			loadBlob(t, s, tp)
			for i := range int64(10) {
				mustStoreRoll(t, s, i+1, plain, rng("imps", 0, i*10, i*10+10))
				wantFiles := int((i*10 + 10) / 25)
				if got := publishedKeys(t, s.Bucket()); len(got) != wantFiles {
					t.Fatalf("after batch %d: published %v, want %d files", i+1, got, wantFiles)
				}
				if got, want := peek(t, s, tp), int64(wantFiles)*25; wantFiles > 0 && got != want {
					t.Fatalf("after batch %d: restart %d, want %d (the open file's start)", i+1, got, want)
				}
			}
			checkEveryOffsetOnce(t, s.Bucket(), "imps", map[int32]int64{0: 100})
			st := s.OpenFiles()
			if st.Files != 0 || st.Published != 4 {
				t.Errorf("OpenFiles = %+v, want nothing open and 4 published", st)
			}
		})
	}
}

// TestBlobRollMaxBytes: a file is published once its values' Avro size
// reaches MaxBytes.
func TestBlobRollMaxBytes(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			v := impression(0)
			one, err := v.AppendAvro(nil)
			if err != nil {
				t.Fatal(err)
			}
			// Values of 0..9 and 10..99 differ by a byte or so: 12
			// values of at least len(one) fill a file.
			s := open(t, BlobRoll(RollLimits{MaxBytes: int64(12 * len(one))}))
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			loadBlob(t, s, tp)
			for i := range int64(5) {
				mustStoreRoll(t, s, i+1, plain, rng("imps", 0, i*5, i*5+5))
			}
			keys := publishedKeys(t, s.Bucket())
			if len(keys) != 2 {
				t.Fatalf("published %v, want 2 files of 12 values", keys)
			}
			if st := s.OpenFiles(); st.Files != 1 || st.Bytes == 0 {
				t.Errorf("OpenFiles = %+v, want the last values open", st)
			}
			if got := peek(t, s, tp); got != 24 {
				t.Errorf("restart %d, want 24", got)
			}
		})
	}
}

// hourly is an impression whose time is minute o past 15:00 on the test
// day, and whose country is FR, or DE for every third offset.
func hourly(minutes func(o int64) int64) rollValue {
	return func(o int64) alltypes.Impression {
		v := impression(o)
		v.Timestamp = time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC).Add(time.Duration(minutes(o)) * time.Minute)
		return v
	}
}

// TestBlobRollTimeBucket: partitioned by the hour, a bucket's file is
// published once the partition's records reach the end of its hour plus
// the lateness; a late record within the lateness joins its hour's file.
func TestBlobRollTimeBucket(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t, PartitionByTime("timestamp", Hour), BlobRoll(RollLimits{Lateness: 10 * time.Minute}))
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			loadBlob(t, s, tp)
			// Offset o is minute o; offset 65 is late, at 15:59.
			val := hourly(func(o int64) int64 {
				if o == 65 {
					return 59
				}
				return o
			})
			mustStoreRoll(t, s, 1, val, rng("imps", 0, 0, 60))  // 15:00 to 15:59
			mustStoreRoll(t, s, 2, val, rng("imps", 0, 60, 69)) // 16:00 to 16:08, and 15:59
			if got := publishedKeys(t, s.Bucket()); len(got) != 0 {
				t.Fatalf("published %v before the hour's lateness passed", got)
			}
			mustStoreRoll(t, s, 3, val, rng("imps", 0, 69, 71)) // 16:09, 16:10
			want := "topic=imps/dt=2026-03-14/hour=15/partition=0/00000000000000000000-00000000000000000066.avro"
			objs := publishedObjects(t, s.Bucket())
			if len(objs) != 1 || len(objs[want]) != 61 || objs[want][60] != 65 {
				t.Fatalf("published %v, want only %s with offsets 0 to 59 and 65", objs, want)
			}
			if got := peek(t, s, tp); got != 60 {
				t.Errorf("restart %d, want 60 (the 16:00 file's start)", got)
			}
		})
	}
}

// TestBlobRollMaxOpen: a file open for MaxOpen by the wall clock is
// published at the end of the next batch, even an empty one.
func TestBlobRollMaxOpen(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			s := open(t, BlobRoll(RollLimits{MaxOpen: time.Minute}), blobClock(clock.Now))
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			loadBlob(t, s, tp)
			mustStoreRoll(t, s, 1, plain, rng("imps", 0, 0, 10))
			clock.Advance(30 * time.Second)
			mustStoreRoll(t, s, 2, plain, rng("imps", 0, 10, 20))
			if st := s.OpenFiles(); st.Files != 1 || st.Oldest != 30*time.Second {
				t.Errorf("OpenFiles = %+v, want one file open for 30s", st)
			}
			clock.Advance(30 * time.Second)
			if got := publishedKeys(t, s.Bucket()); len(got) != 0 {
				t.Fatalf("published %v before a batch ended", got)
			}
			mustStoreRoll(t, s, 3, plain, rng("imps", 0, 20, 20))
			checkEveryOffsetOnce(t, s.Bucket(), "imps", map[int32]int64{0: 20})
			if got := peek(t, s, tp); got != 20 {
				t.Errorf("restart %d, want 20", got)
			}
		})
	}
}

// TestBlobRollAbortKeepsOpenFile: an aborted batch, and a retried task,
// leave the open file as it was; the batch read again goes in once.
func TestBlobRollAbortKeepsOpenFile(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t, BlobRoll(RollLimits{MaxRecords: 30}))
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			loadBlob(t, s, tp)
			ctx := context.Background()
			mustStoreRoll(t, s, 1, plain, rng("imps", 0, 0, 10))
			b := runtime.StoredBatch{ID: 2, Ranges: []runtime.OffsetRange{rng("imps", 0, 10, 20)}}
			writeRoll(t, s, b, plain)
			if err := s.Abort(ctx, b); err != nil {
				t.Fatal(err)
			}
			// Read again, with a task retried after writing half.
			b.ID = 3
			writeRoll(t, s, b, plain)
			s.DiscardPartition(b.Ranges[0])
			w := s.Writer(b.Ranges[0])
			for o := int64(10); o < 20; o++ {
				v := impression(o)
				if err := w.WriteAt(o, &v); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Store(ctx, b); err != nil {
				t.Fatal(err)
			}
			mustStoreRoll(t, s, 4, plain, rng("imps", 0, 20, 30))
			checkEveryOffsetOnce(t, s.Bucket(), "imps", map[int32]int64{0: 30})
			// A Write without an offset cannot be dropped after a
			// restart: the rolling sink refuses it.
			b = runtime.StoredBatch{ID: 5, Ranges: []runtime.OffsetRange{rng("imps", 0, 30, 31)}}
			if err := s.Begin(ctx, b); err != nil {
				t.Fatal(err)
			}
			v := impression(30)
			if err := s.Writer(b.Ranges[0]).Write(&v); err == nil || !strings.Contains(err.Error(), "WriteAt") {
				t.Errorf("Write without an offset = %v, want an error naming WriteAt", err)
			}
			if err := s.Store(ctx, b); err == nil {
				t.Error("Store took a batch whose write failed")
			}
		})
	}
}

// country puts every third offset in DE, the others in FR: with
// MaxRecords, FR's files fill first, so the restart offset (DE's open
// file) is below FR's watermark, and a restart must drop what it reads
// again of FR.
func country(o int64) alltypes.Impression {
	v := impression(o)
	if o%3 == 0 {
		v.Geo.Country = "DE"
	}
	return v
}

// TestBlobRollRestartAtEveryStep: an instance killed at each step of
// rolling (with values held and files open but unclaimed; between a
// claim and its copy; right after a publish) is followed by another on
// the same storage, which re-reads from the stored restart offset: in
// the end every offset is published exactly once, the values a published
// file holds dropped on the way.
func TestBlobRollRestartAtEveryStep(t *testing.T) {
	for _, step := range []string{"open", "claimed", "published"} {
		for name, open := range blobBackends(t) {
			t.Run(step+"/"+name, func(t *testing.T) {
				clock := newFakeClock()
				opts := []BlobOpt{PartitionByField("geo.country"), BlobRoll(RollLimits{MaxRecords: 10, MaxOpen: time.Hour}), blobClock(clock.Now)}
				tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
				a := open(t, opts...)
				loadBlob(t, a, tp)
				// 0..21: FR's first 10 (to offset 14) are published,
				// DE's first file (0, 3, ..., 21) is open.
				mustStoreRoll(t, a, 1, country, rng("imps", 0, 0, 8))
				mustStoreRoll(t, a, 2, country, rng("imps", 0, 8, 22))
				if got := peek(t, a, tp); got != 0 {
					t.Fatalf("restart %d, want 0 (DE's open file)", got)
				}
				switch step {
				case "open": // killed with a batch held and files open
					writeRoll(t, a, runtime.StoredBatch{ID: 3, Ranges: []runtime.OffsetRange{rng("imps", 0, 22, 30)}}, country)
				case "claimed": // killed between the claim and the copy
					a.core.objects = failPublish{a.core.objects}
					if err := storeRoll(t, a, 3, country, rng("imps", 0, 22, 40)); err == nil {
						t.Fatal("Store succeeded with its copy failing")
					}
				case "published":
					mustStoreRoll(t, a, 3, country, rng("imps", 0, 22, 40))
				}
				// The next instance: no Close of a; a dies.
				b := open(t, opts...)
				start := loadBlob(t, b, tp)[tp]
				if step != "open" && start != 30 {
					t.Errorf("restart after the %s step = %d, want 30 (DE's second file)", step, start)
				}
				for i, from := int64(0), start; from < 60; i, from = i+1, from+7 {
					mustStoreRoll(t, b, 10+i, country, rng("imps", 0, from, min(from+7, 60)))
				}
				clock.Advance(time.Hour)
				mustStoreRoll(t, b, 99, country, rng("imps", 0, 60, 60))
				checkEveryOffsetOnce(t, b.Bucket(), "imps", map[int32]int64{0: 60})
				if st := b.OpenFiles(); st.Dropped == 0 && start < 30 {
					t.Errorf("OpenFiles = %+v: the re-read values of published files were not dropped", st)
				}
				if st := stagedObjects(t, b.Bucket()); len(st) != 0 {
					t.Errorf("staged objects left: %v", st)
				}
			})
		}
	}
}

// TestBlobRollZombieFenced: a replica that gains a partition takes it
// over with a claim at once; the replica that had it (a zombie, still
// running with its files open) publishes nothing more of it: its Store
// fails with a *runtime.FencedError, and every offset ends up in one
// object.
func TestBlobRollZombieFenced(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			opts := []BlobOpt{BlobRoll(RollLimits{MaxRecords: 10, MaxOpen: time.Hour}), blobClock(clock.Now)}
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			zombie := open(t, opts...)
			loadBlob(t, zombie, tp)
			mustStoreRoll(t, zombie, 1, plain, rng("imps", 0, 0, 15)) // 0..9 published, 10..14 open

			owner := open(t, opts...)
			if got := loadBlob(t, owner, tp)[tp]; got != 10 {
				t.Fatalf("the new owner's Load = %d, want 10", got)
			}
			// The zombie goes on with a batch that fills no file: its
			// Store publishes nothing, and is fenced all the same.
			err := storeRoll(t, zombie, 2, plain, rng("imps", 0, 15, 17))
			var fe *runtime.FencedError
			if !errors.As(err, &fe) || !errors.Is(err, runtime.ErrFenced) || fe.Stored != 10 {
				t.Fatalf("the zombie's Store = %v, want a *FencedError with the partition stored at 10", err)
			}
			if st := zombie.OpenFiles(); st.Files != 0 {
				t.Errorf("the fenced zombie keeps %d files open", st.Files)
			}
			for i, from := int64(0), int64(10); from < 30; i, from = i+1, from+5 {
				mustStoreRoll(t, owner, 10+i, plain, rng("imps", 0, from, from+5))
			}
			checkEveryOffsetOnce(t, owner.Bucket(), "imps", map[int32]int64{0: 30})
			// Fresh partitions: two instances loading it take turns in
			// the chain; only the last one's publishes go. The second
			// takes it over after the first one's Store checked it
			// still owned it: the publish's own claim fences it.
			tp1 := runtime.TopicPartition{Topic: "imps", Partition: 1}
			var takeover func()
			x := open(t, append(opts, blobAfterOwnedCheck(func() { takeover() }))...)
			y := open(t, opts...)
			loadBlob(t, x, tp1)
			takeover = func() {
				if got := loadBlob(t, y, tp1); len(got) != 0 {
					t.Errorf("Load of a fresh partition = %v, want nothing stored", got)
				}
			}
			if err := storeRoll(t, x, 1, plain, rng("imps", 1, 0, 10)); !errors.Is(err, runtime.ErrFenced) {
				t.Errorf("the first instance's Store after the second took over = %v, want fenced", err)
			}
			mustStoreRoll(t, y, 1, plain, rng("imps", 1, 0, 10))
			checkEveryOffsetOnce(t, owner.Bucket(), "imps", map[int32]int64{0: 30, 1: 10})
		})
	}
}

// TestBlobRollRevokeDiscards: a partition the next batch no longer has
// was revoked: its open files are dropped unpublished, their uploads
// gone, and its next owner reads them again from the stored restart. A
// partition loaded and not yet in any batch is not taken for revoked.
func TestBlobRollRevokeDiscards(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			opts := []BlobOpt{BlobRoll(RollLimits{MaxRecords: 10})}
			tp0, tp1 := runtime.TopicPartition{Topic: "imps", Partition: 0}, runtime.TopicPartition{Topic: "imps", Partition: 1}
			a := open(t, opts...)
			loadBlob(t, a, tp0, tp1)
			mustStoreRoll(t, a, 1, plain, rng("imps", 0, 0, 5), rng("imps", 1, 0, 13))
			if st := a.OpenFiles(); st.Files != 2 {
				t.Fatalf("OpenFiles = %+v, want 2 files open", st)
			}
			mustStoreRoll(t, a, 2, plain, rng("imps", 0, 5, 7)) // partition 1 revoked
			if st := a.OpenFiles(); st.Files != 1 {
				t.Errorf("OpenFiles = %+v after partition 1's revocation, want 1 file open", st)
			}
			for _, k := range stagedObjects(t, a.Bucket()) {
				if strings.Contains(k, "partition=1/") {
					t.Errorf("partition 1's staged %s left after its revocation", k)
				}
			}
			// A partition loaded but not yet in a batch (the engine cut
			// one between Load and adding it) was not revoked.
			tp2 := runtime.TopicPartition{Topic: "imps", Partition: 2}
			loadBlob(t, a, tp2)
			mustStoreRoll(t, a, 3, plain, rng("imps", 0, 7, 8))
			mustStoreRoll(t, a, 4, plain, rng("imps", 0, 8, 9), rng("imps", 2, 0, 12))
			checkEveryOffsetOnce(t, a.Bucket(), "imps", map[int32]int64{1: 10, 2: 10})

			b := open(t, opts...)
			if got := loadBlob(t, b, tp1)[tp1]; got != 10 {
				t.Fatalf("the next owner's Load = %d, want 10", got)
			}
			mustStoreRoll(t, b, 1, plain, rng("imps", 1, 10, 20))
			checkEveryOffsetOnce(t, b.Bucket(), "imps", map[int32]int64{1: 20})
		})
	}
}

// TestBlobRollMaxOpenFiles: past MaxOpenFiles, the oldest files are
// published at the end of the batch.
func TestBlobRollMaxOpenFiles(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t, BlobRoll(RollLimits{MaxRecords: 1000, MaxOpenFiles: 2}))
			var tps []runtime.TopicPartition
			for p := range int32(4) {
				tps = append(tps, runtime.TopicPartition{Topic: "imps", Partition: p})
			}
			loadBlob(t, s, tps...)
			mustStoreRoll(t, s, 1, plain, rng("imps", 0, 0, 3), rng("imps", 1, 0, 3), rng("imps", 2, 0, 0), rng("imps", 3, 0, 0))
			mustStoreRoll(t, s, 2, plain, rng("imps", 0, 3, 4), rng("imps", 1, 3, 4), rng("imps", 2, 0, 3), rng("imps", 3, 0, 3))
			if st := s.OpenFiles(); st.Files != 2 {
				t.Errorf("OpenFiles = %+v, want 2 files open", st)
			}
			checkEveryOffsetOnce(t, s.Bucket(), "imps", map[int32]int64{0: 4, 1: 4})
		})
	}
}

// TestBlobRollFilesPerHour is the figure: 18 partitions read in
// 5 s batches for 1, 3 and 6 hours, partitioned by the hour of the
// records' time, with the generated job's default limits (sink.roll.*),
// the wall clock keeping pace with the records' time and some records 3
// minutes late. Rolling publishes a
// file per partition per hour bucket (18 x hours), where a file per
// batch would be 18 x 720 an hour. go test -v -run FilesPerHour prints
// the figures.
func TestBlobRollFilesPerHour(t *testing.T) {
	for _, hours := range []int64{1, 3, 6} {
		files, batches := rollFilesFor(t, hours)
		t.Logf("18 partitions, %d batches of 5s over %d hours: %d files published by rolling (18 x %d hour buckets = %d); a file per batch: %d",
			batches, hours, files, hours, 18*hours, 18*batches)
		if files > 18*hours {
			t.Errorf("%d hours: %d files published, want at most %d (18 x hour buckets)", hours, files, 18*hours)
		}
		if files < 18*hours {
			t.Errorf("%d hours: %d files published, want every hour's %d published once the lateness passed", hours, files, 18*hours)
		}
	}
}

// rollFilesFor runs 18 partitions, 2 records each per 5 s batch, for
// hours of record time and then the lateness (so the last hour is
// published too), and counts the files published.
func rollFilesFor(t *testing.T, hours int64) (files, batches int64) {
	const (
		parts    = 18
		interval = 5 * time.Second
		perBatch = 2
	)
	clock := newFakeClock()
	bk := memblob.OpenBucket(nil)
	defer bk.Close()
	d := config.Default() // the generated job's limits
	s, err := NewBlob[alltypes.Impression](bk, PartitionByTime("timestamp", Hour), blobClock(clock.Now),
		BlobRoll(RollLimits{MaxRecords: d.SinkRollMaxRecords, MaxBytes: d.SinkRollMaxBytes, MaxOpen: d.SinkRollMaxOpen, Lateness: d.SinkRollLateness, MaxOpenFiles: d.SinkRollMaxOpenFiles}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var tps []runtime.TopicPartition
	for p := range int32(parts) {
		tps = append(tps, runtime.TopicPartition{Topic: "imps", Partition: p})
	}
	loadBlob(t, s, tps...)
	start := time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)
	batches = hours * int64(time.Hour/interval)
	// Every 100th record is 3 minutes late: those at an hour's start
	// belong to the hour before, and must join its file.
	val := func(o int64) alltypes.Impression {
		v := impression(o)
		v.Timestamp = start.Add(time.Duration(o) * interval / perBatch)
		if o%100 == 50 && o > 100 {
			v.Timestamp = v.Timestamp.Add(-3 * time.Minute)
		}
		return v
	}
	extra := int64(6 * time.Minute / interval)
	for i := range batches + extra {
		var rs []runtime.OffsetRange
		for _, tp := range tps {
			rs = append(rs, rng("imps", tp.Partition, i*perBatch, (i+1)*perBatch))
		}
		mustStoreRoll(t, s, i+1, val, rs...)
		clock.Advance(interval)
	}
	n := 0
	it := bk.List(&blob.ListOptions{Prefix: "topic=imps/"})
	for {
		if _, err := it.Next(context.Background()); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return int64(n), batches
}

// TestBlobRollParquet: a rolling Parquet file gets the batches' rows,
// its until offset in the footer, and row groups that end at
// ParquetRowGroupBytes, which bounds what an open file holds in memory.
func TestBlobRollParquet(t *testing.T) {
	bk := memblob.OpenBucket(nil)
	defer bk.Close()
	v := impression(0)
	one, err := v.AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewBlob[alltypes.Impression](bk, BlobFormat(FormatParquet), ParquetRowGroupBytes(int64(10*len(one))),
		BlobRoll(RollLimits{MaxRecords: 40}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
	loadBlob(t, s, tp)
	for i := range int64(4) {
		mustStoreRoll(t, s, i+1, plain, rng("imps", 0, i*10, i*10+10))
	}
	key := "topic=imps/partition=0/00000000000000000000-00000000000000000040.parquet"
	data, err := bk.ReadAll(context.Background(), key)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	_, rows, f := readParquet(t, data)
	if len(rows) != 40 || rows[39]["campaign_id"] != int64(39) {
		t.Errorf("%s holds %d rows, want the 40 offsets in order", key, len(rows))
	}
	if u, ok := f.Lookup("streamgen.until_offset"); !ok || u != "40" {
		t.Errorf("metadata streamgen.until_offset = %q, want 40", u)
	}
	if n := len(f.RowGroups()); n < 4 {
		t.Errorf("%d row groups, want at least 4 of about 10 rows each", n)
	}
}

// TestBlobRollBrokenAfterFailedStore: a Store that fails after it began
// publishing leaves the partition broken: Abort drops its open files,
// the same instance refuses its next batches until the partition is
// loaded again, and the restart completes the claim and re-reads only
// what no published file holds.
func TestBlobRollBrokenAfterFailedStore(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			opts := []BlobOpt{BlobRoll(RollLimits{MaxRecords: 10})}
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			s := open(t, opts...)
			loadBlob(t, s, tp)
			mustStoreRoll(t, s, 1, plain, rng("imps", 0, 0, 5))
			objects := s.core.objects
			s.core.objects = failPublish{objects}
			if err := storeRoll(t, s, 2, plain, rng("imps", 0, 5, 14)); err == nil {
				t.Fatal("Store succeeded with its copy failing")
			}
			s.core.objects = objects
			if st := s.OpenFiles(); st.Files != 0 {
				t.Errorf("OpenFiles = %+v after the failed Store's Abort, want none open", st)
			}
			if err := storeRoll(t, s, 3, plain, rng("imps", 0, 14, 16)); err == nil || !strings.Contains(err.Error(), "loaded again") {
				t.Errorf("the next Store = %v, want it refused until the partition is loaded again", err)
			}
			if got := loadBlob(t, s, tp)[tp]; got != 10 {
				t.Fatalf("Load after the failed Store = %d, want 10", got)
			}
			mustStoreRoll(t, s, 4, plain, rng("imps", 0, 10, 20))
			checkEveryOffsetOnce(t, s.Bucket(), "imps", map[int32]int64{0: 20})
		})
	}
}

// TestBlobRollGoesOnFromPerBatchChain: a job that starts rolling on a
// bucket a per-batch sink wrote goes on where its chain ends; a
// per-batch sink then refuses the rolling partition rather than go on
// from a stale end.
func TestBlobRollGoesOnFromPerBatchChain(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			old := open(t)
			loadBlob(t, old, tp)
			if err := publishBlob(t, old, 1, rng("imps", 0, 0, 7)); err != nil {
				t.Fatal(err)
			}
			s := open(t, BlobRoll(RollLimits{MaxRecords: 5}))
			if got := loadBlob(t, s, tp)[tp]; got != 7 {
				t.Fatalf("the rolling sink's Load = %d, want 7 (the per-batch chain's end)", got)
			}
			mustStoreRoll(t, s, 2, plain, rng("imps", 0, 7, 17))
			checkEveryOffsetOnce(t, s.Bucket(), "imps", map[int32]int64{0: 17})
			var le *LayoutError
			if _, err := open(t).Load(context.Background(), []runtime.TopicPartition{tp}); !errors.As(err, &le) {
				t.Errorf("a per-batch sink's Load of a rolling partition = %v, want a *LayoutError", err)
			}
		})
	}
}

// failingEnc is an encoder whose every write fails, as a file whose
// upload broke would.
type failingEnc struct{}

func (failingEnc) write(any) error        { return errors.New("the upload broke") }
func (failingEnc) writeAvro([]byte) error { return errors.New("the upload broke") }
func (failingEnc) close() error           { return nil }

// TestBlobRollOnePartitionFailsTheBatch: when one partition's append
// fails, the batch fails and every partition of it is broken, the ones
// appended too (a read of the batch again would append them twice):
// nothing of it is published, the next Store is refused until the
// partitions are loaded again, and from there every offset goes in once.
func TestBlobRollOnePartitionFailsTheBatch(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			tp0, tp1 := runtime.TopicPartition{Topic: "imps", Partition: 0}, runtime.TopicPartition{Topic: "imps", Partition: 1}
			s := open(t, BlobRoll(RollLimits{MaxRecords: 10}))
			loadBlob(t, s, tp0, tp1)
			mustStoreRoll(t, s, 1, plain, rng("imps", 0, 0, 5), rng("imps", 1, 0, 5))
			newEnc := s.core.newEnc
			s.core.newEnc = func(w io.Writer, r runtime.OffsetRange) (valueEncoder, error) {
				if r.Partition == 1 {
					return failingEnc{}, nil
				}
				return newEnc(w, r)
			}
			// Partition 1's open file takes the batch; its next file is
			// the failing one.
			if err := storeRoll(t, s, 2, plain, rng("imps", 0, 5, 12), rng("imps", 1, 5, 12)); err == nil || !strings.Contains(err.Error(), "the upload broke") {
				t.Fatalf("Store = %v, want partition 1's failure", err)
			}
			s.core.newEnc = newEnc
			if got := publishedKeys(t, s.Bucket()); len(got) != 0 {
				t.Errorf("published %v from a failed batch", got)
			}
			// Partition 0 appended the batch, and is broken too.
			if err := storeRoll(t, s, 3, plain, rng("imps", 0, 5, 12), rng("imps", 1, 5, 12)); err == nil || !strings.Contains(err.Error(), "partition: 0") || !strings.Contains(err.Error(), "loaded again") {
				t.Errorf("the next Store = %v, want partition 0 refused until loaded again", err)
			}
			if got := loadBlob(t, s, tp0, tp1); got[tp0] != 0 || got[tp1] != 0 {
				t.Fatalf("Load = %v, want both partitions from 0", got)
			}
			mustStoreRoll(t, s, 4, plain, rng("imps", 0, 0, 20), rng("imps", 1, 0, 20))
			checkEveryOffsetOnce(t, s.Bucket(), "imps", map[int32]int64{0: 20, 1: 20})
		})
	}
}

// barrierObjects holds each claim create until n partitions' creates are
// in flight together, once armed: a sink that published its partitions
// one after another would never gather them.
type barrierObjects struct {
	objectStore
	armed   atomic.Bool
	n       int
	mu      sync.Mutex
	waiting map[string]bool
	all     chan struct{}
}

func (o *barrierObjects) create(ctx context.Context, key string, data []byte) (bool, error) {
	if o.armed.Load() && strings.Contains(key, "/roll/") {
		o.mu.Lock()
		o.waiting[key[:strings.Index(key, "/roll/")]] = true
		if len(o.waiting) == o.n {
			close(o.all)
		}
		o.mu.Unlock()
		select {
		case <-o.all:
		case <-time.After(10 * time.Second):
			return false, errors.New("the other partitions' claims never came while this one's waited: the partitions publish one after another")
		}
	}
	return o.objectStore.create(ctx, key, data)
}

// TestBlobRollPublishesPartitionsInParallel: when several partitions'
// files are due in one batch (an hour's edge closes every partition's
// hour), and at the graceful stop's Drain, they publish together, not
// one after another.
func TestBlobRollPublishesPartitionsInParallel(t *testing.T) {
	for _, step := range []string{"store", "drain"} {
		t.Run(step, func(t *testing.T) {
			s := blobBackends(t)["mem"](t, BlobRoll(RollLimits{MaxRecords: 10}))
			tps := []runtime.TopicPartition{{Topic: "imps", Partition: 0}, {Topic: "imps", Partition: 1}, {Topic: "imps", Partition: 2}}
			loadBlob(t, s, tps...)
			bar := &barrierObjects{objectStore: s.core.objects, n: len(tps), waiting: map[string]bool{}, all: make(chan struct{})}
			s.core.objects = bar
			ranges := []runtime.OffsetRange{rng("imps", 0, 0, 5), rng("imps", 1, 0, 5), rng("imps", 2, 0, 5)}
			mustStoreRoll(t, s, 1, plain, ranges...) // half full: nothing due
			bar.armed.Store(true)
			if step == "store" {
				mustStoreRoll(t, s, 2, plain, rng("imps", 0, 5, 10), rng("imps", 1, 5, 10), rng("imps", 2, 5, 10))
			} else if err := s.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := publishedKeys(t, s.Bucket()); len(got) != 3 {
				t.Errorf("published %v, want a file for each partition", got)
			}
		})
	}
}

// lostCreate makes claims as the store does, but reports the first n it
// makes as lost: so does a client whose create succeeded but whose
// response was lost (a 503 from the front end, a reset connection), and
// whose retry the store refused because the key exists (GCS's client
// retries a create with ifGenerationMatch=0 by default, as idempotent).
type lostCreate struct {
	objectStore
	n atomic.Int32
}

func (o *lostCreate) create(ctx context.Context, key string, data []byte) (bool, error) {
	won, err := o.objectStore.create(ctx, key, data)
	if won && strings.Contains(key, "/roll/") && o.n.Add(-1) >= 0 {
		return false, nil
	}
	return won, err
}

// TestBlobRollOwnClaimLost: a rolling claim the store made, whose
// success the instance did not hear of (it found the key taken), is its
// own: the instance goes on publishing, rather than taking itself for
// fenced and removing the staged files its claim names (which no Load
// could then publish, while the claim's restart offset is past them).
func TestBlobRollOwnClaimLost(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t, BlobRoll(RollLimits{MaxRecords: 10}))
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			loadBlob(t, s, tp)
			lost := &lostCreate{objectStore: s.core.objects}
			lost.n.Store(1)
			s.core.objects = lost
			mustStoreRoll(t, s, 1, plain, rng("imps", 0, 0, 15))
			if lost.n.Load() != 0 {
				t.Fatal("no claim was lost: the test does not test what it says")
			}
			mustStoreRoll(t, s, 2, plain, rng("imps", 0, 15, 25))
			if err := s.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkEveryOffsetOnce(t, s.Bucket(), "imps", map[int32]int64{0: 25})
			if got := loadBlob(t, open(t, BlobRoll(RollLimits{MaxRecords: 10})), tp)[tp]; got != 25 {
				t.Errorf("a new instance's Load = %d, want 25", got)
			}
		})
	}
}

// TestBlobRollArenaBlocksReused: a batch's held values fill several
// arena blocks, some values larger than a block's room (and than a
// block), and the next batches reuse the blocks; every value published
// is the value written, byte for byte, none overwritten by a later
// batch's.
func TestBlobRollArenaBlocksReused(t *testing.T) {
	big := func(o int64) alltypes.Impression {
		v := impression(o)
		size := []int{10, 3 << 10, arenaRoom + 1, arenaBlock + 5}[o%4]
		ua := strings.Repeat(string(rune('a'+o%26)), size)
		v.UserAgent = &ua
		return v
	}
	s := blobBackends(t)["mem"](t, BlobRoll(RollLimits{MaxRecords: 1_000_000}))
	tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
	loadBlob(t, s, tp)
	const batches, per = 4, 60
	for i := range int64(batches) {
		mustStoreRoll(t, s, i+1, big, rng("imps", 0, i*per, i*per+per))
	}
	if err := s.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := 0
	for key, vs := range readObjects(t, s.Bucket()) {
		for _, v := range vs {
			want := big(v.CampaignID)
			if *v.UserAgent != *want.UserAgent || v.ImpressionID != want.ImpressionID {
				t.Fatalf("%s: offset %d holds a user agent of %d bytes starting %q, want %d bytes of %q", key, v.CampaignID, len(*v.UserAgent), (*v.UserAgent)[:1], len(*want.UserAgent), (*want.UserAgent)[:1])
			}
			n++
		}
	}
	if n != batches*per {
		t.Fatalf("read back %d values, want %d", n, batches*per)
	}
}
