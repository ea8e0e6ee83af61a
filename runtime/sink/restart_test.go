package sink

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
)

var imps0 = runtime.TopicPartition{Topic: "imps", Partition: 0}

// kill leaves f as a killed process would: its temporary files stay, and
// its lock goes with the process.
func kill(f *impressions) { f.core.inst.lock.Close() }

// TestFilesRestartAfterACrash: a job killed mid-batch leaves its
// temporary files; the next instance removes them (at start and when it
// loads partitions), and each partition resumes at its largest UNTIL.
func TestFilesRestartAfterACrash(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a, err := NewFiles[alltypes.Impression](dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := publish(a, 1, rng("imps", 0, 0, 10), rng("imps", 1, 0, 4)); err != nil {
		t.Fatal(err)
	}
	if err := publish(a, 2, rng("imps", 0, 10, 25)); err != nil {
		t.Fatal(err)
	}
	// Batch 3 is killed after writing, before Store.
	b3 := runtime.StoredBatch{ID: 3, Ranges: []runtime.OffsetRange{rng("imps", 0, 25, 30)}}
	if err := a.Begin(ctx, b3); err != nil {
		t.Fatal(err)
	}
	v := impression(25)
	if err := a.Writer(b3.Ranges[0]).Write(&v); err != nil {
		t.Fatal(err)
	}
	kill(a)
	if len(tempFiles(t, dir)) == 0 {
		t.Fatal("the killed batch left no temporary file; the test proves nothing")
	}

	b := newFiles(t, dir)
	if left := tempFiles(t, dir); len(left) > 0 {
		t.Errorf("temporary files outlived the restart: %v", left)
	}
	offs, err := b.Load(ctx, []runtime.TopicPartition{imps0, {Topic: "imps", Partition: 1}, {Topic: "imps", Partition: 2}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[runtime.TopicPartition]int64{imps0: 25, {Topic: "imps", Partition: 1}: 4}
	if len(offs) != len(want) || offs[imps0] != 25 || offs[runtime.TopicPartition{Topic: "imps", Partition: 1}] != 4 {
		t.Errorf("Load = %v, want %v (partition 2 has no files)", offs, want)
	}
	if err := publish(b, 1, rng("imps", 0, 25, 30)); err != nil {
		t.Fatalf("re-running the killed batch: %v", err)
	}
}

// TestFilesLoadLeavesLiveInstancesAlone: Load removes only what dead
// instances left, never the batch in flight of a live one.
func TestFilesLoadLeavesLiveInstancesAlone(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a, b := newFiles(t, dir), newFiles(t, dir)
	r := rng("imps", 0, 0, 3)
	batch := runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{r}}
	if err := a.Begin(ctx, batch); err != nil {
		t.Fatal(err)
	}
	v := impression(0)
	if err := a.Writer(r).Write(&v); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Load(ctx, []runtime.TopicPartition{imps0}); err != nil {
		t.Fatal(err)
	}
	if len(tempFiles(t, dir)) != 1 {
		t.Fatalf("another instance's Load removed a live batch's file")
	}
	if err := a.Store(ctx, batch); err != nil {
		t.Fatal(err)
	}
}

// TestFilesLoadReportsGapsAndOverlaps: a partition whose files do not
// form one chain of offsets fails Load with an error naming the files.
func TestFilesLoadReportsGapsAndOverlaps(t *testing.T) {
	cases := []struct {
		name    string
		extra   string // a file added next to 0-10 and 10-20
		problem string
		names   []string
	}{
		{"gap", "00000000000000000025-00000000000000000030.avro", "offsets 20 to 25 are in no file",
			[]string{"00000000000000000010-00000000000000000020.avro", "00000000000000000025-00000000000000000030.avro"}},
		{"overlap", "00000000000000000015-00000000000000000030.avro", "offsets 15 to 20 are in two files",
			[]string{"00000000000000000010-00000000000000000020.avro", "00000000000000000015-00000000000000000030.avro"}},
		{"same start", "00000000000000000010-00000000000000000012.avro", "offsets 10 to 12 are in two files",
			[]string{"00000000000000000010-00000000000000000012.avro", "00000000000000000010-00000000000000000020.avro"}},
		{"foreign file", "part-00000.avro", "a file the sink did not write", []string{"part-00000.avro"}},
		{"no offsets", "00000000000000000020-00000000000000000020.avro", "a file of no offsets", []string{"00000000000000000020-00000000000000000020.avro"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := newFiles(t, dir)
			if err := publish(f, 1, rng("imps", 0, 0, 10)); err != nil {
				t.Fatal(err)
			}
			if err := publish(f, 2, rng("imps", 0, 10, 20)); err != nil {
				t.Fatal(err)
			}
			pdir := partitionDir(dir, imps0)
			if err := os.WriteFile(filepath.Join(pdir, c.extra), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := f.Load(context.Background(), []runtime.TopicPartition{imps0})
			var le *LayoutError
			if !errors.As(err, &le) {
				t.Fatalf("Load = %v, want a *LayoutError", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.problem) || !strings.Contains(msg, "topic imps partition 0") {
				t.Errorf("error %q does not say %q and name the partition", msg, c.problem)
			}
			for _, n := range c.names {
				if !slices.Contains(le.Files, filepath.Join(pdir, n)) {
					t.Errorf("error %q does not name %s", msg, n)
				}
			}
		})
	}
}

// TestFilesLoadSkipsMarkers: names starting with "_" or "." (Spark's
// _SUCCESS, hidden files) are not the sink's and do not disturb Load.
func TestFilesLoadSkipsMarkers(t *testing.T) {
	dir := t.TempDir()
	f := newFiles(t, dir)
	if err := publish(f, 1, rng("imps", 0, 5, 10)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"_SUCCESS", ".00000000000000000000-00000000000000000005.avro.crc"} {
		if err := os.WriteFile(filepath.Join(partitionDir(dir, imps0), n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	offs, err := f.Load(context.Background(), []runtime.TopicPartition{imps0})
	if err != nil || offs[imps0] != 10 {
		t.Errorf("Load = %v, %v; want 10", offs, err)
	}
}

// fullDisk is a temporary file on a disk with room for only `room` more
// bytes, or whose sync fails: the seam that fills the disk.
type fullDisk struct {
	*os.File
	room     int
	syncFail bool
}

func (d *fullDisk) Write(p []byte) (int, error) {
	if len(p) > d.room {
		n, _ := d.File.Write(p[:d.room])
		d.room = 0
		return n, &os.PathError{Op: "write", Path: d.Name(), Err: syscall.ENOSPC}
	}
	d.room -= len(p)
	return d.File.Write(p)
}

func (d *fullDisk) Sync() error {
	if d.syncFail {
		return &os.PathError{Op: "sync", Path: d.Name(), Err: syscall.ENOSPC}
	}
	return d.File.Sync()
}

func withDisk(room int, syncFail bool) FilesOpt {
	return func(c *filesCfg) {
		c.create = func(path string) (tempFile, error) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return nil, err
			}
			return &fullDisk{File: f, room: room, syncFail: syncFail}, nil
		}
	}
}

// TestFilesDiskFull: a disk that fills while a batch is written, or when
// its file is synced, fails the batch naming the temporary file; nothing
// is published, the temporary file is removed, and the offsets stay.
func TestFilesDiskFull(t *testing.T) {
	for _, c := range []struct {
		name     string
		room     int
		syncFail bool
	}{{"write", 4096, false}, {"sync", 1 << 30, true}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f := newFiles(t, dir, withDisk(c.room, c.syncFail), OCFBlockLength(10))
			err := publish(f, 1, rng("imps", 0, 0, 500))
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), filepath.Join(dir, internalDir, "tmp")) ||
				!strings.Contains(err.Error(), "topic: imps partition: 0 offsets: 0 to 500") {
				t.Fatalf("publish = %v; want ENOSPC naming the temporary file and the range", err)
			}
			if got := tree(t, dir); len(got) != 0 {
				t.Errorf("a failed batch published %v", got)
			}
			if left := tempFiles(t, dir); len(left) != 0 {
				t.Errorf("a failed batch left %v", left)
			}
			if offs, err := f.Load(context.Background(), []runtime.TopicPartition{imps0}); err != nil || len(offs) != 0 {
				t.Errorf("Load = %v, %v; want no offset", offs, err)
			}
		})
	}
}

// TestFilesHandlerIgnoringAWriteError: Store refuses a batch whose
// writer failed even when the handler went on.
func TestFilesHandlerIgnoringAWriteError(t *testing.T) {
	dir := t.TempDir()
	f := newFiles(t, dir, withDisk(100, false), OCFBlockLength(1))
	ctx := context.Background()
	r := rng("imps", 0, 0, 20)
	b := runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{r}}
	if err := f.Begin(ctx, b); err != nil {
		t.Fatal(err)
	}
	w := f.Writer(r)
	for o := range int64(20) {
		v := impression(o)
		_ = w.Write(&v)
	}
	if err := f.Store(ctx, b); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Store = %v, want the writer's ENOSPC", err)
	}
	f.Abort(ctx, b)
	if got := tree(t, dir); len(got) != 0 {
		t.Errorf("published %v", got)
	}
}

// TestFilesNotWritable: a directory the sink cannot write fails NewFiles
// or the batch, naming the path.
func TestFilesNotWritable(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFiles[alltypes.Impression](filepath.Join(file, "out")); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("NewFiles under a file = %v, want an error naming the path", err)
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(base, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		_, err := NewFiles[alltypes.Impression](ro)
		if err == nil || !strings.Contains(err.Error(), "is not writable") || !strings.Contains(err.Error(), ro) {
			t.Errorf("NewFiles in a read-only directory = %v, want an error saying it is not writable, naming it", err)
		}
	}
	// A partition directory that cannot be made fails the batch.
	dir := filepath.Join(base, "out")
	f := newFiles(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "topic=imps"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := publish(f, 1, rng("imps", 0, 0, 3))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "topic=imps")) {
		t.Errorf("publish = %v, want an error naming %s", err, filepath.Join(dir, "topic=imps"))
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("a failed batch left %v", left)
	}
}

// TestFilesFencing: two instances that both believe they own a partition
// publish batches from the same offset; exactly one publishes, the other
// fails with a *FencedError naming the partition and publishes nothing of
// its batch, not even its other partitions' files.
func TestFilesFencing(t *testing.T) {
	for round := range 20 {
		dir := t.TempDir()
		a, b := newFiles(t, dir), newFiles(t, dir)
		if err := publish(a, 1, rng("imps", 0, 0, 5)); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var errA, errB error
		wg.Go(func() { errA = publish(a, 2, rng("imps", 0, 5, 10)) })
		wg.Go(func() { errB = publish(b, 7, rng("imps", 0, 5, 12), rng("imps", 1, 0, 3)) })
		wg.Wait()
		if (errA == nil) == (errB == nil) {
			t.Fatalf("round %d: both or neither published: %v, %v", round, errA, errB)
		}
		loser := errA
		want := []string{
			"topic=imps/partition=0/00000000000000000000-00000000000000000005.avro",
			"topic=imps/partition=0/00000000000000000005-00000000000000000012.avro",
			"topic=imps/partition=1/00000000000000000000-00000000000000000003.avro",
		}
		if errA == nil {
			loser = errB
			want = []string{
				"topic=imps/partition=0/00000000000000000000-00000000000000000005.avro",
				"topic=imps/partition=0/00000000000000000005-00000000000000000010.avro",
			}
		}
		var fe *runtime.FencedError
		if !errors.As(loser, &fe) || fe.Range.Partition != 0 || !strings.Contains(loser.Error(), "topic imps partition 0") {
			t.Fatalf("round %d: the loser got %v, want a *FencedError naming topic imps partition 0", round, loser)
		}
		if got := tree(t, dir); !slices.Equal(got, want) {
			t.Fatalf("round %d: DIR holds %v, want %v", round, got, want)
		}
		if left := tempFiles(t, dir); len(left) != 0 {
			t.Fatalf("round %d: left %v", round, left)
		}
	}
}

// TestFilesRefusesAGap: a batch that does not start where the
// partition's files end (records lost to retention, a reset) is refused
// rather than leaving offsets in no file.
func TestFilesRefusesAGap(t *testing.T) {
	f := newFiles(t, t.TempDir())
	if err := publish(f, 1, rng("imps", 0, 0, 5)); err != nil {
		t.Fatal(err)
	}
	err := publish(f, 2, rng("imps", 0, 8, 10))
	var fe *runtime.FencedError
	if !errors.As(err, &fe) || fe.Stored != 5 || !strings.Contains(err.Error(), "offsets 5 to 8 in no file") {
		t.Errorf("publish = %v, want a *FencedError about offsets 5 to 8", err)
	}
}

// TestFilesKilledProcess: a real process killed with SIGKILL mid-batch.
// While it lives, another instance's start and Load leave its temporary
// file alone; once it is dead, the next Load removes it and the
// partition resumes at its published files' end.
func TestFilesKilledProcess(t *testing.T) {
	if dir := os.Getenv("STREAMGEN_FILES_CHILD"); dir != "" {
		f, err := NewFiles[alltypes.Impression](dir)
		if err != nil {
			t.Fatal(err)
		}
		r := rng("imps", 0, 5, 9)
		if err := f.Begin(context.Background(), runtime.StoredBatch{ID: 2, Ranges: []runtime.OffsetRange{r}}); err != nil {
			t.Fatal(err)
		}
		v := impression(5)
		if err := f.Writer(r).Write(&v); err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("ready\n")
		select {} // until killed
	}
	dir := t.TempDir()
	first := newFiles(t, dir)
	if err := publish(first, 1, rng("imps", 0, 0, 5)); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestFilesKilledProcess$")
	child.Env = append(os.Environ(), "STREAMGEN_FILES_CHILD="+dir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, "ready") {
		t.Fatalf("the child said %q, %v", line, err)
	}
	second := newFiles(t, dir)
	if _, err := second.Load(context.Background(), []runtime.TopicPartition{imps0}); err != nil {
		t.Fatal(err)
	}
	if len(tempFiles(t, dir)) != 1 {
		t.Fatalf("a live process's temporary file was removed: %v", tempFiles(t, dir))
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	offs, err := second.Load(context.Background(), []runtime.TopicPartition{imps0})
	if err != nil || offs[imps0] != 5 {
		t.Errorf("Load = %v, %v; want 5", offs, err)
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("the killed process's temporary files outlived the restart: %v", left)
	}
}
