package sink

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/streamgen/streamgen/runtime"
)

// internalDir holds everything of the sink's that is not a published
// file; Hive and Spark skip names that start with "_".
const internalDir = "_streamgen"

// published is one published file of a partition: the offsets
// [from, until) and its path.
type published struct {
	from, until int64
	path        string
}

// fileName is the published name of r: FROM-UNTIL.avro, zero-padded so
// that names sort as offsets do.
func fileName(r runtime.OffsetRange) string {
	return fmt.Sprintf("%020d-%020d.avro", r.FromOffset, r.UntilOffset)
}

// partitionDir is tp's directory under dir, Hive-partition style.
func partitionDir(dir string, tp runtime.TopicPartition) string {
	return filepath.Join(dir, "topic="+tp.Topic, "partition="+strconv.Itoa(int(tp.Partition)))
}

// parseName reads FROM-UNTIL.avro; ok is false for any other name.
func parseName(name string) (from, until int64, ok bool) {
	base, found := strings.CutSuffix(name, ".avro")
	if !found || len(base) != 41 || base[20] != '-' {
		return 0, 0, false
	}
	f, err1 := strconv.ParseInt(base[:20], 10, 64)
	u, err2 := strconv.ParseInt(base[21:], 10, 64)
	if err1 != nil || err2 != nil || f < 0 {
		return 0, 0, false
	}
	return f, u, true
}

// LayoutError is a partition directory whose files do not form one chain
// of offsets: a gap, an overlap, or a file the sink did not write. The
// sink never guesses which file is right, so the job stops until someone
// looks.
type LayoutError struct {
	Topic     string
	Partition int32
	Problem   string   // what is wrong, with offsets
	Files     []string // the paths involved
}

func (e *LayoutError) Error() string {
	return fmt.Sprintf("files sink: topic %s partition %d: %s: %s", e.Topic, e.Partition, e.Problem, strings.Join(e.Files, ", "))
}

// listPartition lists tp's published files in offset order and checks
// that they form one chain: each file starts where the one before ends.
// Names starting with "_" or "." (a _SUCCESS marker, an editor's swap
// file) are not the sink's and are skipped.
func listPartition(dir string, tp runtime.TopicPartition) ([]published, error) {
	pdir := partitionDir(dir, tp)
	d, err := os.Open(pdir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("files sink: listing topic %s partition %d: %w", tp.Topic, tp.Partition, err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("files sink: listing topic %s partition %d: %w", tp.Topic, tp.Partition, err)
	}
	var out []published
	for _, n := range names {
		if strings.HasPrefix(n, "_") || strings.HasPrefix(n, ".") {
			continue
		}
		from, until, ok := parseName(n)
		path := filepath.Join(pdir, n)
		switch {
		case !ok:
			return nil, &LayoutError{Topic: tp.Topic, Partition: tp.Partition, Files: []string{path},
				Problem: "a file the sink did not write (published files are FROM-UNTIL.avro, 20 digits each)"}
		case until <= from:
			return nil, &LayoutError{Topic: tp.Topic, Partition: tp.Partition, Files: []string{path},
				Problem: fmt.Sprintf("a file of no offsets (%d to %d)", from, until)}
		}
		out = append(out, published{from: from, until: until, path: path})
	}
	slices.SortFunc(out, func(a, b published) int {
		return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(a.until, b.until))
	})
	for i := 1; i < len(out); i++ {
		prev, cur := out[i-1], out[i]
		switch {
		case cur.from > prev.until:
			return nil, &LayoutError{Topic: tp.Topic, Partition: tp.Partition, Files: []string{prev.path, cur.path},
				Problem: fmt.Sprintf("a gap: offsets %d to %d are in no file", prev.until, cur.from)}
		case cur.from < prev.until:
			return nil, &LayoutError{Topic: tp.Topic, Partition: tp.Partition, Files: []string{prev.path, cur.path},
				Problem: fmt.Sprintf("an overlap: offsets %d to %d are in two files", cur.from, min(prev.until, cur.until))}
		}
	}
	return out, nil
}

// filesFenced is a batch whose range does not start where its partition's
// published files end (onDisk, in the file last): another instance that
// owns the partition now published it since this one loaded it (a
// rebalance moved it), or the batch would leave a gap (offsets lost to
// retention before the job read them: the sink refuses to hide that;
// someone must decide). Nothing of the batch was published.
func filesFenced(r runtime.OffsetRange, onDisk int64, last string) *runtime.FencedError {
	why := fmt.Sprintf("topic %s partition %d: the batch starts at %d but the partition's files end at %d (%s), so offsets %d to %d are published already (by another instance that owns the partition now, or before the job was moved back); nothing of this batch was published",
		r.Topic, r.Partition, r.FromOffset, onDisk, last, r.FromOffset, min(onDisk, r.UntilOffset))
	if r.FromOffset > onDisk {
		why = fmt.Sprintf("topic %s partition %d: the batch starts at %d but the partition's files end at %d (%s); publishing it would leave offsets %d to %d in no file, so nothing of the batch was published",
			r.Topic, r.Partition, r.FromOffset, onDisk, last, onDisk, r.FromOffset)
	}
	return &runtime.FencedError{Range: r, Stored: onDisk, Store: "files sink", Why: why}
}

// syncDir makes dir's entries durable: a file created, linked or renamed
// in it survives a power loss only once the directory is synced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// mkdirDurable creates path's missing directories below root and syncs
// the parent of each one it creates.
func mkdirDurable(root, path string) error {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return err
	}
	cur := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		parent := cur
		cur = filepath.Join(cur, part)
		err := os.Mkdir(cur, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return notWritable(cur, err)
		}
		if err := syncDir(parent); err != nil {
			return err
		}
	}
	return nil
}

// notWritable says that path could not be written, naming it.
func notWritable(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("files sink: %s is not writable: %w", path, err)
	}
	return fmt.Errorf("files sink: cannot create %s: %w", path, err)
}
