package sink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/streamgen/streamgen/runtime"
)

// end is where a partition's chain of published files ends: the file
// from-until, or none (ok false) when the partition has no files.
type end struct {
	ok          bool
	from, until int64
}

// listTail finds tp's end by listing its directory: the file with the
// largest UNTIL. It reads names only, but a partition collects a file per
// batch, so it costs more every day the job runs; Store lists only when
// the lock file's record cannot be trusted.
func listTail(dir string, tp runtime.TopicPartition) (end, error) {
	pdir := partitionDir(dir, tp)
	d, err := os.Open(pdir)
	if errors.Is(err, fs.ErrNotExist) {
		return end{}, nil
	}
	if err != nil {
		return end{}, fmt.Errorf("files sink: listing topic %s partition %d: %w", tp.Topic, tp.Partition, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return end{}, fmt.Errorf("files sink: listing topic %s partition %d: %w", tp.Topic, tp.Partition, err)
	}
	var e end
	for _, n := range names {
		if from, until, isPub := parseName(n); isPub && (!e.ok || until > e.until) {
			e = end{ok: true, from: from, until: until}
		}
	}
	return e, nil
}

// The partition's lock file records, for the next publisher, where the
// chain ends and which file is being published:
//
//	1 TAIL_FROM TAIL_UNTIL PENDING_FROM PENDING_UNTIL
//
// (-1 for none). Every publisher writes it under the lock, and syncs it,
// before it links, so the record is never behind the files: either the
// pending file exists and is the end, or it does not and the tail is. It
// is a shortcut, not a second truth: the named file must exist, else, or
// when the record is missing or says the batch is fenced, the directory
// is listed.
const recordLen = 2 + 4*21

func formatRecord(tail end, pending runtime.OffsetRange, hasPending bool) []byte {
	tf, tu, pf, pu := int64(-1), int64(-1), int64(-1), int64(-1)
	if tail.ok {
		tf, tu = tail.from, tail.until
	}
	if hasPending {
		pf, pu = pending.FromOffset, pending.UntilOffset
	}
	return fmt.Appendf(nil, "1 %020d %020d %020d %020d\n", tf, tu, pf, pu)
}

// recordedEnd reads the lock file's record and checks it against the
// files; ok is false when it cannot be trusted.
func recordedEnd(lock *os.File, dir string, tp runtime.TopicPartition) (e end, ok bool) {
	buf := make([]byte, recordLen)
	if n, _ := lock.ReadAt(buf, 0); n != recordLen {
		return end{}, false
	}
	var v int
	var tf, tu, pf, pu int64
	if n, err := fmt.Sscanf(string(buf), "%d %d %d %d %d\n", &v, &tf, &tu, &pf, &pu); n != 5 || err != nil || v != 1 {
		return end{}, false
	}
	exists := func(from, until int64) bool {
		r := runtime.OffsetRange{Topic: tp.Topic, Partition: tp.Partition, FromOffset: from, UntilOffset: until}
		_, err := os.Stat(filepath.Join(partitionDir(dir, tp), fileName(r)))
		return err == nil
	}
	if pf >= 0 && exists(pf, pu) {
		return end{ok: true, from: pf, until: pu}, true
	}
	if tf >= 0 && exists(tf, tu) {
		return end{ok: true, from: tf, until: tu}, true
	}
	return end{}, false // no record of a tail: the directory says
}

// endUnderLock is where tp's chain ends, for a publisher holding its
// lock, and whether the batch starting at from may follow it. A record
// that says no is confirmed by listing, so a stale record can only cost
// a listing, never refuse a batch wrongly.
func endUnderLock(lock *os.File, dir string, tp runtime.TopicPartition, from int64) (end, error) {
	if e, ok := recordedEnd(lock, dir, tp); ok && e.until == from {
		return e, nil
	}
	return listTail(dir, tp)
}

// writeRecord writes the lock file's record; sync makes it durable before
// the link it announces.
func writeRecord(lock *os.File, rec []byte, sync bool) error {
	if _, err := lock.WriteAt(rec, 0); err != nil {
		return fmt.Errorf("files sink: writing %s: %w", lock.Name(), err)
	}
	if sync {
		if err := lock.Sync(); err != nil {
			return fmt.Errorf("files sink: syncing %s: %w", lock.Name(), err)
		}
	}
	return nil
}
