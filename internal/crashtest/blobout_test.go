package crashtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamgen/streamgen/internal/crashtest/job/seqjob"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/sink"
)

// TestBlobCount shows that the blob rows' count finds each offset of a
// warehouse the blob sink published once, and each kind of violation in
// one tampered with: an object published twice (under another name, so
// it overlaps), a record in the wrong hour, a staged object left behind.
func TestBlobCount(t *testing.T) {
	ctx := context.Background()
	env := Env{Dir: t.TempDir()}
	cfg := Configuration{Name: "exactly-once/blob-parquet/count", Must: ExactlyOnce, Sink: "blob"}
	out, err := newSinkOutput(ctx, env, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	defer out.close()
	// Partition 0 holds sequence numbers 0 to 39 at offsets 0 to 39.
	const n = 40
	out.where = func(seq int64) (seqAt, bool) { return seqAt{0, seq}, seq >= 0 && seq < n }
	opts, err := sink.BlobSettings(out.blob.format, []string{blobPartitionBy}, sink.RollLimits{}) // a file per batch: the test places its objects
	if err != nil {
		t.Fatal(err)
	}
	s, err := sink.OpenBlob[seqjob.Sequenced](ctx, out.blob.url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	tp := runtime.TopicPartition{Topic: Topic, Partition: 0}
	if _, err := s.Load(ctx, []runtime.TopicPartition{tp}); err != nil {
		t.Fatal(err)
	}
	for id, from := range []int64{0, 25} {
		until := min(from+25, n)
		r := runtime.OffsetRange{Topic: Topic, Partition: 0, FromOffset: from, UntilOffset: until}
		b := runtime.StoredBatch{ID: int64(id), Ranges: []runtime.OffsetRange{r}}
		if err := s.Begin(ctx, b); err != nil {
			t.Fatal(err)
		}
		w := s.Writer(r)
		for o := from; o < until; o++ {
			if err := w.WriteAt(o, &seqjob.Sequenced{Seq: o, Payload: "x", Ts: recordTime(o)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Store(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	seqs := [][]int64{make([]int64, n)}
	for i := range seqs[0] {
		seqs[0][i] = int64(i)
	}
	count := func() (Result, error) {
		tl := newTally(Topic, 1)
		out.final = true
		if err := tl.fromSink(ctx, out); err != nil {
			t.Fatal(err)
		}
		res := Result{Config: cfg}
		err := tl.check(&res, seqs)
		return res, errors.Join(err, out.leftovers(ctx))
	}
	res, err := count()
	if err != nil || res.Records != n || res.Handled != n {
		t.Fatalf("the sink's own output: %d records, %d handled, error %v; want %d, %d, none", res.Records, res.Handled, err, n, n)
	}
	dirs, _ := filepath.Glob(filepath.Join(env.Dir, "warehouse", "topic="+Topic, "dt=*", "hour=*", "partition=0"))
	if len(dirs) < 3 {
		t.Fatalf("objects in %d hours (%v), want several", len(dirs), dirs)
	}
	objs, _ := filepath.Glob(filepath.Join(dirs[0], "*.parquet"))
	if len(objs) == 0 {
		t.Fatalf("no object in %s", dirs[0])
	}
	data, err := os.ReadFile(objs[0])
	if err != nil {
		t.Fatal(err)
	}

	// Published twice, under a name whose range overlaps.
	twice := filepath.Join(dirs[0], "00000000000000000000-00000000000000000040.parquet")
	if err := os.WriteFile(twice, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = count()
	if res.Duplicated == 0 || err == nil || !strings.Contains(err.Error(), "more than once") || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("an object published twice: %d duplicated, error %v; want duplicates and an overlap", res.Duplicated, err)
	}
	os.Remove(twice)

	// In the wrong hour: moved to another hour's directory.
	moved := filepath.Join(dirs[1], filepath.Base(objs[0]))
	if err := os.Rename(objs[0], moved); err != nil {
		t.Fatal(err)
	}
	if _, err := count(); err == nil || !strings.Contains(err.Error(), "want \"dt=") {
		t.Errorf("records in the wrong hour: error %v, want one naming their hour", err)
	}
	if err := os.Rename(moved, objs[0]); err != nil {
		t.Fatal(err)
	}

	// A staged object left behind.
	staged := filepath.Join(env.Dir, "warehouse", "_streamgen", "staged", "topic="+Topic, "partition=0", "00000000000000000040-00000000000000000050.x.1.parquet")
	if err := os.MkdirAll(filepath.Dir(staged), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(staged, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := count(); err == nil || !strings.Contains(err.Error(), "staged objects left") {
		t.Errorf("a staged object left: error %v, want it named", err)
	}
	os.Remove(staged)
	if _, err := count(); err != nil {
		t.Errorf("restored: %v", err)
	}
}
