package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
)

type blobImpressions = Blob[alltypes.Impression, *alltypes.Impression]

// blobBackends are the buckets the blob sink's tests run against: a
// local directory through a file:// URL (claims by link(2)) and an
// in-memory bucket (claims by the driver's conditional create). Each
// call of open gives another instance on the same storage, with opts.
func blobBackends(t *testing.T) map[string]func(t *testing.T, opts ...BlobOpt) *blobImpressions {
	dir := t.TempDir()
	mem := memblob.OpenBucket(nil)
	t.Cleanup(func() { mem.Close() })
	return map[string]func(t *testing.T, opts ...BlobOpt) *blobImpressions{
		"file": func(t *testing.T, opts ...BlobOpt) *blobImpressions {
			s, err := OpenBlob[alltypes.Impression](context.Background(), "file://"+dir, opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"mem": func(t *testing.T, opts ...BlobOpt) *blobImpressions {
			s, err := NewBlob[alltypes.Impression](mem, opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

// writeBlobBatch begins b and writes one Impression per offset of each
// non-empty range, as a handler does; it does not store.
func writeBlobBatch(t *testing.T, s *blobImpressions, b runtime.StoredBatch) {
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
			v := impression(o)
			if err := w.Write(&v); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// publishBlob runs one batch through s as the engine does.
func publishBlob(t *testing.T, s *blobImpressions, id int64, ranges ...runtime.OffsetRange) error {
	t.Helper()
	ctx := context.Background()
	b := runtime.StoredBatch{ID: id, Time: time.Now(), Ranges: ranges}
	writeBlobBatch(t, s, b)
	if err := s.Store(ctx, b); err != nil {
		s.Abort(ctx, b)
		return err
	}
	return nil
}

// publishedObjects reads every published Avro object: key to the
// campaign ids (offsets) it holds.
func publishedObjects(t *testing.T, b *blob.Bucket) map[string][]int64 {
	t.Helper()
	out := map[string][]int64{}
	for key, vs := range readObjects(t, b) {
		ids := []int64{}
		for _, v := range vs {
			ids = append(ids, v.CampaignID)
		}
		out[key] = ids
	}
	return out
}

// staged lists the keys under _streamgen/staged/.
func stagedObjects(t *testing.T, b *blob.Bucket) []string {
	t.Helper()
	var out []string
	it := b.List(&blob.ListOptions{Prefix: internalDir + "/staged/"})
	for {
		o, err := it.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o.Key)
	}
}

// checkEveryOffsetOnce checks that the published objects hold every
// offset of each partition from 0 to its want exactly once, each object
// the offsets its name says: all of them, or in a Hive bucket
// (topic=T/K=V/.../partition=P/...) those of the bucket, in order, from
// FROM to UNTIL-1.
func checkEveryOffsetOnce(t *testing.T, b *blob.Bucket, topic string, want map[int32]int64) {
	t.Helper()
	seen := map[int32]map[int64]int{}
	for key, ids := range publishedObjects(t, b) {
		var p int32
		var from, until int64
		i := strings.LastIndex(key, "partition=")
		if !strings.HasPrefix(key, "topic="+topic+"/") || i < 0 {
			t.Fatalf("published key %s", key)
		}
		if _, err := fmt.Sscanf(key[i:], "partition=%d/%020d-%020d.avro", &p, &from, &until); err != nil {
			t.Fatalf("published key %s: %v", key, err)
		}
		bucketed := i > len("topic="+topic+"/")
		if !bucketed && !slices.Equal(ids, seq(from, until)) {
			t.Errorf("%s holds %v, want offsets %d to %d", key, ids, from, until)
		}
		if bucketed && (!slices.IsSorted(ids) || len(ids) == 0 || ids[0] != from || ids[len(ids)-1] != until-1) {
			t.Errorf("%s holds %v, want offsets from %d to %d", key, ids, from, until)
		}
		if seen[p] == nil {
			seen[p] = map[int64]int{}
		}
		for _, id := range ids {
			seen[p][id]++
		}
	}
	for p, n := range want {
		for o := int64(0); o < n; o++ {
			if c := seen[p][o]; c != 1 {
				t.Errorf("partition %d offset %d is in %d objects, want 1", p, o, c)
			}
		}
		if len(seen[p]) != int(n) {
			t.Errorf("partition %d: %d offsets published, want %d", p, len(seen[p]), n)
		}
	}
}

func loadBlob(t *testing.T, s *blobImpressions, tps ...runtime.TopicPartition) map[runtime.TopicPartition]int64 {
	t.Helper()
	got, err := s.Load(context.Background(), tps)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestBlobLayout: each partition's batch is one object at
// topic=T/partition=P/FROM-UNTIL.avro holding its values, readable by
// codec.OCFReader, with nothing staged left; empty ranges publish
// nothing; Load gives each partition its end.
func TestBlobLayout(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			tp0, tp1 := runtime.TopicPartition{Topic: "imps", Partition: 0}, runtime.TopicPartition{Topic: "imps", Partition: 1}
			if got := loadBlob(t, s, tp0, tp1); len(got) != 0 {
				t.Fatalf("Load of a fresh sink = %v, want nothing", got)
			}
			if err := publishBlob(t, s, 1, rng("imps", 0, 0, 5), rng("imps", 1, 0, 3)); err != nil {
				t.Fatal(err)
			}
			if err := publishBlob(t, s, 2, rng("imps", 0, 5, 9), rng("imps", 1, 3, 3)); err != nil {
				t.Fatal(err)
			}
			objs := publishedObjects(t, s.Bucket())
			want := map[string][]int64{
				"topic=imps/partition=0/00000000000000000000-00000000000000000005.avro": seq(0, 5),
				"topic=imps/partition=0/00000000000000000005-00000000000000000009.avro": seq(5, 9),
				"topic=imps/partition=1/00000000000000000000-00000000000000000003.avro": seq(0, 3),
			}
			if len(objs) != len(want) {
				t.Errorf("published %v, want %v", objs, want)
			}
			for k, ids := range want {
				if !slices.Equal(objs[k], ids) {
					t.Errorf("%s holds %v, want %v", k, objs[k], ids)
				}
			}
			if st := stagedObjects(t, s.Bucket()); len(st) != 0 {
				t.Errorf("staged objects left: %v", st)
			}
			got := loadBlob(t, open(t), tp0, tp1)
			if got[tp0] != 9 || got[tp1] != 3 {
				t.Errorf("Load by a new instance = %v, want 9 and 3", got)
			}
		})
	}
}

// TestBlobFileLayoutHasOnlyPublishedFiles: through a file:// URL, the
// directory outside _streamgen holds exactly the published files (no
// sidecar, no temporary file), so Hive, Spark and the files sink's own
// listing read it as they read the files sink's.
func TestBlobFileLayoutHasOnlyPublishedFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBlob[alltypes.Impression](context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := publishBlob(t, s, 1, rng("imps", 0, 0, 5)); err != nil {
		t.Fatal(err)
	}
	if err := publishBlob(t, s, 2, rng("imps", 0, 5, 7)); err != nil {
		t.Fatal(err)
	}
	got := tree(t, dir)
	want := []string{
		"topic=imps/partition=0/00000000000000000000-00000000000000000005.avro",
		"topic=imps/partition=0/00000000000000000005-00000000000000000007.avro",
	}
	if !slices.Equal(got, want) {
		t.Errorf("files outside _streamgen = %v, want %v", got, want)
	}
	files, err := listPartition(dir, runtime.TopicPartition{Topic: "imps", Partition: 0})
	if err != nil || len(files) != 2 || files[1].until != 7 {
		t.Errorf("the files sink's listing = %v, %v; want the two files, ending at 7", files, err)
	}
	if ids := readHamba(t, filepath.Join(dir, filepath.FromSlash(want[1]))); !slices.Equal(ids, seq(5, 7)) {
		t.Errorf("hamba reads %v, want offsets 5 to 7", ids)
	}
}

// failPublish makes the copy to the published key fail, as an instance
// killed between its claim and the copy.
type failPublish struct{ objectStore }

func (failPublish) publish(context.Context, string, string) error {
	return errors.New("killed before the copy")
}

// TestBlobRestartAfterACrash: an instance killed mid-batch (values
// staged, nothing claimed) and one killed between its claim and the copy
// to the published key are followed by a new instance whose Load
// completes the claimed batch and resumes after it: every offset is
// published exactly once, and the staged leftovers go.
func TestBlobRestartAfterACrash(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			a := open(t)
			loadBlob(t, a, tp)
			if err := publishBlob(t, a, 1, rng("imps", 0, 0, 10)); err != nil {
				t.Fatal(err)
			}
			// Killed mid-batch: the values of 10 to 20 are staged,
			// never claimed.
			b := runtime.StoredBatch{ID: 2, Ranges: []runtime.OffsetRange{rng("imps", 0, 10, 20)}}
			writeBlobBatch(t, a, b)
			if err := a.core.cur[tp].finish(); err != nil {
				t.Fatal(err)
			}

			c := open(t)
			if got := loadBlob(t, c, tp); got[tp] != 10 {
				t.Fatalf("Load after a kill mid-batch = %v, want 10", got)
			}
			// Killed between the claim of 10 to 25 and its copy.
			c.core.objects = failPublish{c.core.objects}
			b = runtime.StoredBatch{ID: 3, Ranges: []runtime.OffsetRange{rng("imps", 0, 10, 25)}}
			writeBlobBatch(t, c, b)
			if err := c.Store(context.Background(), b); err == nil {
				t.Fatal("Store succeeded with its copy failing")
			}

			d := open(t)
			if got := loadBlob(t, d, tp); got[tp] != 25 {
				t.Fatalf("Load after a kill between claim and copy = %v, want 25 (the claimed batch completed)", got)
			}
			if err := publishBlob(t, d, 4, rng("imps", 0, 25, 31)); err != nil {
				t.Fatal(err)
			}
			checkEveryOffsetOnce(t, d.Bucket(), "imps", map[int32]int64{0: 31})
			loadBlob(t, open(t), tp)
			if st := stagedObjects(t, d.Bucket()); len(st) != 0 {
				t.Errorf("staged objects left after the chain passed them: %v", st)
			}
		})
	}
}

// TestBlobRestartRemovesKilledStaged: an instance killed mid-batch leaves
// its staged objects at the chain's end, which the next instance's Load
// must keep (they could be a live batch's); the first commit that passes
// them removes them, so they do not outlive the restart even if no Load
// comes after it.
func TestBlobRestartRemovesKilledStaged(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			a := open(t)
			loadBlob(t, a, tp)
			// Killed mid-batch: 0 to 10 staged, never claimed.
			b := runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{rng("imps", 0, 0, 10)}}
			writeBlobBatch(t, a, b)
			if err := a.core.cur[tp].finish(); err != nil {
				t.Fatal(err)
			}
			c := open(t)
			loadBlob(t, c, tp)
			if len(stagedObjects(t, c.Bucket())) == 0 {
				t.Fatal("Load removed the staged objects at the chain's end, which a live batch may still claim")
			}
			if err := publishBlob(t, c, 1, rng("imps", 0, 0, 12)); err != nil {
				t.Fatal(err)
			}
			if st := stagedObjects(t, c.Bucket()); len(st) != 0 {
				t.Errorf("staged objects left after the chain passed them: %v", st)
			}
			checkEveryOffsetOnce(t, c.Bucket(), "imps", map[int32]int64{0: 12})
		})
	}
}

// TestBlobZombieFencedAfterItsStagedRemoved: a zombie's batch whose
// staged objects the partition's new owner removed, once its chain passed
// them, fails as fenced, not as a failed write, and publishes nothing.
func TestBlobZombieFencedAfterItsStagedRemoved(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			zombie := open(t)
			loadBlob(t, zombie, tp)
			// Frozen while writing 0 to 10 (on file://, its staged
			// objects are files being written).
			b := runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{rng("imps", 0, 0, 10)}}
			writeBlobBatch(t, zombie, b)
			owner := open(t)
			loadBlob(t, owner, tp)
			if err := publishBlob(t, owner, 1, rng("imps", 0, 0, 12)); err != nil {
				t.Fatal(err)
			}
			err := zombie.Store(ctx, b)
			wantFenced(t, err, 12)
			checkEveryOffsetOnce(t, owner.Bucket(), "imps", map[int32]int64{0: 12})
		})
	}
}

// TestBlobStoreRetriedAfterFailedCopy: the same instance stores a batch
// again after its copy failed (the engine reads the batch again): its
// own claim is completed, not fenced.
func TestBlobStoreRetriedAfterFailedCopy(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			s := open(t)
			loadBlob(t, s, tp)
			objs := s.core.objects
			s.core.objects = failPublish{objs}
			if err := publishBlob(t, s, 1, rng("imps", 0, 0, 8)); err == nil {
				t.Fatal("Store succeeded with its copy failing")
			}
			s.core.objects = objs
			if err := publishBlob(t, s, 2, rng("imps", 0, 0, 8)); err != nil {
				t.Fatalf("storing the batch again: %v", err)
			}
			if err := publishBlob(t, s, 3, rng("imps", 0, 8, 12)); err != nil {
				t.Fatal(err)
			}
			checkEveryOffsetOnce(t, s.Bucket(), "imps", map[int32]int64{0: 12})
		})
	}
}

// TestBlobZombieFenced: an instance that lost a partition in a
// rebalance and kept running (a zombie) and the partition's new owner
// race for the same next batch: whichever claims first publishes; the
// other's Store fails with a *runtime.FencedError that says where the
// partition is, and publishes nothing, whatever its batch's UNTIL. Two
// fresh instances starting a partition at different offsets cannot
// start two chains either.
func TestBlobZombieFenced(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			zombie := open(t)
			loadBlob(t, zombie, tp)
			if err := publishBlob(t, zombie, 1, rng("imps", 0, 0, 10)); err != nil {
				t.Fatal(err)
			}
			owner := open(t)
			if got := loadBlob(t, owner, tp); got[tp] != 10 {
				t.Fatalf("the new owner loads %v, want 10", got)
			}
			if err := publishBlob(t, owner, 1, rng("imps", 0, 10, 20)); err != nil {
				t.Fatal(err)
			}
			wantFenced(t, publishBlob(t, zombie, 2, rng("imps", 0, 10, 15)), 20)

			// The zombie claims first this time: the owner is fenced.
			other := open(t)
			loadBlob(t, other, tp)
			if err := publishBlob(t, other, 1, rng("imps", 0, 20, 22)); err != nil {
				t.Fatal(err)
			}
			wantFenced(t, publishBlob(t, owner, 2, rng("imps", 0, 20, 30)), 22)
			// A batch that would leave a gap is refused too.
			wantFenced(t, publishBlob(t, other, 2, rng("imps", 0, 23, 30)), 22)
			checkEveryOffsetOnce(t, owner.Bucket(), "imps", map[int32]int64{0: 22})

			// Two fresh instances start partition 1 at 100 and at 50.
			tp1 := runtime.TopicPartition{Topic: "imps", Partition: 1}
			x, y := open(t), open(t)
			loadBlob(t, x, tp1)
			loadBlob(t, y, tp1)
			if err := publishBlob(t, x, 1, rng("imps", 1, 100, 110)); err != nil {
				t.Fatal(err)
			}
			wantFenced(t, publishBlob(t, y, 1, rng("imps", 1, 50, 60)), 110)
			if got := loadBlob(t, open(t), tp, tp1); got[tp] != 22 || got[tp1] != 110 {
				t.Errorf("Load = %v, want 22 and 110", got)
			}
			for key := range publishedObjects(t, owner.Bucket()) {
				if strings.HasPrefix(key, "topic=imps/partition=1/") && key != "topic=imps/partition=1/00000000000000000100-00000000000000000110.avro" {
					t.Errorf("a fenced instance published %s", key)
				}
			}
		})
	}
}

func wantFenced(t *testing.T, err error, stored int64) {
	t.Helper()
	var fe *runtime.FencedError
	if !errors.As(err, &fe) || !errors.Is(err, runtime.ErrFenced) {
		t.Fatalf("Store = %v, want a *runtime.FencedError", err)
	}
	if fe.Stored != stored {
		t.Errorf("fenced with Stored %d, want %d: %v", fe.Stored, stored, err)
	}
}

// TestBlobCloudSchemesNeedTheirPackage: without runtime/sink/cloud, an
// s3:// URL fails saying which package registers it, and the message
// keeps no query (where a store's options, and mistakenly credentials,
// go).
func TestBlobCloudSchemesNeedTheirPackage(t *testing.T) {
	_, err := OpenBlob[alltypes.Impression](context.Background(), "s3://warehouse?region=us-east-1&secret=hunter2")
	if err == nil || !strings.Contains(err.Error(), "runtime/sink/cloud") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("OpenBlob = %v, want an error naming runtime/sink/cloud, without the URL's query", err)
	}
}

// TestBlobAbortPublishesNothing: an aborted batch leaves no object,
// published or staged, and the next batch starts from the same offset;
// a retried task's values replace its failed attempt's; a writer kept
// past its batch fails.
func TestBlobAbortPublishesNothing(t *testing.T) {
	for name, open := range blobBackends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
			s := open(t)
			loadBlob(t, s, tp)
			b := runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{rng("imps", 0, 0, 6)}}
			writeBlobBatch(t, s, b)
			if err := s.Abort(ctx, b); err != nil {
				t.Fatal(err)
			}
			if objs, st := publishedObjects(t, s.Bucket()), stagedObjects(t, s.Bucket()); len(objs)+len(st) != 0 {
				t.Fatalf("an aborted batch left %v and staged %v", objs, st)
			}
			// The task fails once after writing half; the retry writes all.
			r := rng("imps", 0, 0, 6)
			b.ID = 2
			if err := s.Begin(ctx, b); err != nil {
				t.Fatal(err)
			}
			first := s.Writer(r)
			for o := int64(0); o < 3; o++ {
				v := impression(o)
				if err := first.Write(&v); err != nil {
					t.Fatal(err)
				}
			}
			s.DiscardPartition(r)
			w := s.Writer(r)
			for o := int64(0); o < 6; o++ {
				v := impression(o)
				if err := w.Write(&v); err != nil {
					t.Fatal(err)
				}
			}
			v := impression(99)
			if err := first.Write(&v); !errors.Is(err, errSuperseded) {
				t.Errorf("the failed attempt's writer wrote after the retry began: %v", err)
			}
			if err := s.Store(ctx, b); err != nil {
				t.Fatal(err)
			}
			if err := w.Write(&v); err == nil {
				t.Error("a writer kept past its batch wrote")
			}
			checkEveryOffsetOnce(t, s.Bucket(), "imps", map[int32]int64{0: 6})
			if st := stagedObjects(t, s.Bucket()); len(st) != 0 {
				t.Errorf("staged objects left: %v", st)
			}
		})
	}
}

// TestBlobTakesOverAFilesSinkDirectory: a job that moves from the files
// sink to the blob sink on the same directory (file://DIR) goes on where
// the files sink's files end, and the directory stays one chain of files
// the files sink would read.
func TestBlobTakesOverAFilesSinkDirectory(t *testing.T) {
	dir := t.TempDir()
	f := newFiles(t, dir)
	for i, r := range []runtime.OffsetRange{rng("imps", 0, 0, 5), rng("imps", 0, 5, 9)} {
		if err := publish(f, int64(i), r); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	s, err := OpenBlob[alltypes.Impression](context.Background(), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tp := runtime.TopicPartition{Topic: "imps", Partition: 0}
	if got := loadBlob(t, s, tp); got[tp] != 9 {
		t.Fatalf("Load over the files sink's directory = %v, want 9", got)
	}
	wantFenced(t, publishBlob(t, s, 3, rng("imps", 0, 0, 4)), 9)
	if err := publishBlob(t, s, 4, rng("imps", 0, 9, 12)); err != nil {
		t.Fatal(err)
	}
	if got := loadBlob(t, s, tp); got[tp] != 12 {
		t.Errorf("Load = %v, want 12", got)
	}
	files, err := listPartition(dir, tp)
	if err != nil || len(files) != 3 || files[2].until != 12 {
		t.Errorf("the files sink's listing = %v, %v; want three files, ending at 12", files, err)
	}
}

// TestBlobAvroOptions: BlobAvroCodec and BlobAvroBlockSize reach the
// objects' container files: their codec, and blocks that end at the size
// asked for (each block ends with the file's 16-byte sync marker).
func TestBlobAvroOptions(t *testing.T) {
	blocks := func(opts ...BlobOpt) (codec.OCFCodec, int) {
		bucket := memblob.OpenBucket(nil)
		t.Cleanup(func() { bucket.Close() })
		s, err := NewBlob[alltypes.Impression](bucket, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := publishBlob(t, s, 1, rng("imps", 0, 0, 200)); err != nil {
			t.Fatal(err)
		}
		data, err := bucket.ReadAll(context.Background(), "topic=imps/partition=0/00000000000000000000-00000000000000000200.avro")
		if err != nil {
			t.Fatal(err)
		}
		r, err := codec.NewOCFReader[alltypes.Impression](bytes.NewReader(data), "object")
		if err != nil {
			t.Fatal(err)
		}
		return r.Codec(), bytes.Count(data, data[len(data)-16:]) - 1 // the header ends with the marker too
	}
	c, n := blocks()
	if c != codec.OCFSnappy || n != 1 {
		t.Errorf("defaults: codec %q, %d blocks; want snappy, one block for 200 records", c, n)
	}
	c, n = blocks(BlobAvroCodec(codec.OCFDeflate), BlobAvroBlockSize(1024))
	if c != codec.OCFDeflate || n < 10 {
		t.Errorf("BlobAvroCodec(deflate), BlobAvroBlockSize(1024): codec %q, %d blocks; want deflate and a block per 1 KiB", c, n)
	}
}
