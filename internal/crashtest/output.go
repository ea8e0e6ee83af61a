package crashtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// tally counts what the job's handlers wrote, file by file, as the files
// grow: every handling of each (partition, offset) of the topic, the
// sequence number it carried, and each process's last begun batch.
type tally struct {
	topic string
	count [][]int32 // by partition, offset: times handled
	seq   [][]int64 // by partition, offset: the sequence number handled
	total int64     // handlings read so far
	// first is each offset's first handling, by partition and offset:
	// at-least-once, a repeat of an offset whose first batch had its
	// offsets stored is the engine's fault, whatever was killed.
	first  [][]handling
	procs  []*procFile
	faults []error // records that contradict what was produced, or each other
}

// procFile is one job process's output file.
type procFile struct {
	path   string
	killed bool // the driver SIGKILLed it
	// failedStop: a graceful stop that ended in an error (exit status
	// not 0): the job said its last batch's offsets may not be stored,
	// so the batch may be read again, declared rather than silent.
	failedStop bool
	read       int64
	partial    []byte // a line not yet ended
	// last are the ranges of the last batch the process began: with
	// at-most-once, the only one whose records it may have lost.
	last  []batchRange
	batch int64
	// stored are the batches the process completed with their offsets
	// stored (its C lines).
	stored map[int64]bool
	// started is when the driver started the process, ended when it saw
	// it exit (zero while it runs).
	started, ended time.Time
}

// handling is the process and batch that handled an offset.
type handling struct {
	proc  *procFile
	batch int64
}

type batchRange struct {
	partition   int32
	from, until int64
}

func newTally(topic string, partitions int) *tally {
	return &tally{topic: topic, count: make([][]int32, partitions), seq: make([][]int64, partitions), first: make([][]handling, partitions)}
}

func (t *tally) add(path string) *procFile {
	p := &procFile{path: path, stored: make(map[int64]bool)}
	t.procs = append(t.procs, p)
	return p
}

// readAll reads what every file gained since the last call.
func (t *tally) readAll() error {
	for _, p := range t.procs {
		if err := t.read(p); err != nil {
			return err
		}
	}
	return nil
}

func (t *tally) read(p *procFile) error {
	f, err := os.Open(p.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // not started yet
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(p.read, io.SeekStart); err != nil {
		return err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	p.read += int64(len(data))
	data = append(p.partial, data...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if err := t.line(p, string(data[:i])); err != nil {
			return fmt.Errorf("%s: %w", p.path, err)
		}
		data = data[i+1:]
	}
	p.partial = append([]byte(nil), data...)
	return nil
}

// line takes one line of a handler's file (see the job program):
//
//	B <batch> <topic>:<partition>:<from>-<until> ...
//	R <topic> <partition> <offset> <seq>
//	C <batch> <offsets outcome>
func (t *tally) line(p *procFile, s string) error {
	f := strings.Fields(s)
	switch {
	case len(f) == 3 && f[0] == "C":
		id, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("line %q: %w", s, err)
		}
		if f[2] == "stored" {
			p.stored[id] = true
		}
	case len(f) >= 2 && f[0] == "B":
		id, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("line %q: %w", s, err)
		}
		p.batch, p.last = id, p.last[:0]
		for _, r := range f[2:] {
			var br batchRange
			i := strings.LastIndexByte(r, ':')
			j := strings.IndexByte(r[i+1:], '-')
			if i < 0 || j < 0 {
				return fmt.Errorf("line %q: range %q is not topic:partition:from-until", s, r)
			}
			part, err1 := strconv.ParseInt(r[strings.LastIndexByte(r[:i], ':')+1:i], 10, 32)
			from, err2 := strconv.ParseInt(r[i+1:i+1+j], 10, 64)
			until, err3 := strconv.ParseInt(r[i+2+j:], 10, 64)
			if err := errors.Join(err1, err2, err3); err != nil {
				return fmt.Errorf("line %q: %w", s, err)
			}
			br.partition, br.from, br.until = int32(part), from, until
			p.last = append(p.last, br)
		}
	case len(f) == 5 && f[0] == "R":
		part, err1 := strconv.ParseInt(f[2], 10, 32)
		off, err2 := strconv.ParseInt(f[3], 10, 64)
		seq, err3 := strconv.ParseInt(f[4], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("line %q: %w", s, err)
		}
		if f[1] != t.topic || part < 0 || int(part) >= len(t.count) || off < 0 {
			t.faults = append(t.faults, fmt.Errorf("%s: handled topic %s partition %s offset %d, which was never produced", p.path, f[1], f[2], off))
			return nil
		}
		t.handled(p, int32(part), off, seq)
	default:
		return fmt.Errorf("line %q is not a batch or a record", s)
	}
	return nil
}

func (t *tally) handled(p *procFile, part int32, off, seq int64) {
	for int64(len(t.count[part])) <= off {
		t.count[part] = append(t.count[part], 0)
		t.seq[part] = append(t.seq[part], -1)
		t.first[part] = append(t.first[part], handling{})
	}
	if t.count[part][off] == 0 {
		t.first[part][off] = handling{p, p.batch}
	}
	t.count[part][off]++
	t.total++
	if prev := t.seq[part][off]; prev >= 0 && prev != seq {
		t.faults = append(t.faults, fmt.Errorf("%s: topic %s partition %d offset %d handled with sequence number %d, earlier with %d",
			p.path, t.topic, part, off, seq, prev))
	}
	t.seq[part][off] = seq
}

// caughtUp reports whether every partition's last produced offset was
// handled: all a run waits for, since the job handles a partition in
// offset order.
func (t *tally) caughtUp(ends []int64) bool {
	for p, end := range ends {
		if end > 0 && (int64(len(t.count[p])) < end || t.count[p][end-1] == 0) {
			return false
		}
	}
	return true
}

// check counts the run against what was produced (seqs, by partition and
// offset) and returns the first few violations of the configuration's
// guarantee, each naming its topic, partition and offset.
func (t *tally) check(res *Result, seqs [][]int64) error {
	errs := append([]error(nil), t.faults...)
	const show = 10 // violations listed; the counts say the rest
	var lostAt, dupAt, storedDupAt []string
	storedDups := 0
	lostBy := make(map[*procFile]bool)
	for part, ps := range seqs {
		counts := t.count[part]
		if int64(len(counts)) > int64(len(ps)) {
			errs = append(errs, fmt.Errorf("topic %s partition %d: handled offsets up to %d, but only %d were produced", t.topic, part, len(counts)-1, len(ps)))
		}
		for off, want := range ps {
			if want < 0 {
				// Not an acknowledged write: a produce the broker wrote
				// just before it was killed, whose acknowledgement was
				// lost, so the producer wrote it again further on.
				continue
			}
			res.Records++
			n := int32(0)
			if off < len(counts) {
				n = counts[off]
			}
			res.Handled += int64(n)
			if n == 0 {
				res.Lost++
				by := t.inFlight(int32(part), int64(off))
				if by != nil {
					lostBy[by] = true
				}
				if (res.Config.Must != AtMostOnce || by == nil) && len(lostAt) < show {
					lostAt = append(lostAt, fmt.Sprintf("topic %s partition %d offset %d", t.topic, part, off))
				}
				continue
			}
			if n > 1 {
				res.Duplicated += int(n - 1)
				if len(dupAt) < show {
					dupAt = append(dupAt, fmt.Sprintf("topic %s partition %d offset %d (%d times)", t.topic, part, off, n))
				}
				h := t.first[part][off]
				if h.proc != nil && h.proc.failedStop && !h.proc.stored[h.batch] {
					res.DeclaredDuplicated += int(n - 1)
				}
				if h.proc != nil && h.proc.stored[h.batch] {
					storedDups += int(n - 1)
					if len(storedDupAt) < show {
						storedDupAt = append(storedDupAt, fmt.Sprintf("topic %s partition %d offset %d (first in batch %d of %s, stored)", t.topic, part, off, h.batch, h.proc.path))
					}
				}
			}
			if got := t.seq[part][off]; got != want {
				errs = append(errs, fmt.Errorf("topic %s partition %d offset %d: handled sequence number %d, produced %d", t.topic, part, off, got, want))
			}
		}
	}
	res.LostBatches = len(lostBy)
	switch res.Config.Must {
	case AtLeastOnce:
		if res.Lost > 0 {
			errs = append(errs, fmt.Errorf("%d offsets never handled: %s", res.Lost, strings.Join(lostAt, ", ")))
		}
		if (res.Config.Graceful || res.Config.NoJobKills) && res.Duplicated > res.DeclaredDuplicated {
			errs = append(errs, fmt.Errorf("%d duplicate handlings although no job process was killed (%d of them from stops that failed): %s", res.Duplicated, res.DeclaredDuplicated, strings.Join(dupAt, ", ")))
		}
		// Only what was never stored may be handed twice.
		res.StoredDuplicated = storedDups
		if storedDups > 0 {
			errs = append(errs, fmt.Errorf("%d duplicate handlings of offsets whose first batch had its offsets stored: %s", storedDups, strings.Join(storedDupAt, ", ")))
		}
	case ExactlyOnce:
		if res.Lost > 0 {
			errs = append(errs, fmt.Errorf("%d offsets not in the sink's output: %s", res.Lost, strings.Join(lostAt, ", ")))
		}
		if res.Duplicated > 0 {
			errs = append(errs, fmt.Errorf("%d offsets in the sink's output more than once: %s", res.Duplicated, strings.Join(dupAt, ", ")))
		}
	case AtMostOnce:
		if res.Duplicated > 0 {
			errs = append(errs, fmt.Errorf("%d duplicate handlings: %s", res.Duplicated, strings.Join(dupAt, ", ")))
		}
		if len(lostAt) > 0 {
			errs = append(errs, fmt.Errorf("offsets lost outside any batch in flight in a killed process: %s", strings.Join(lostAt, ", ")))
		}
	}
	return errors.Join(errs...)
}

// inFlight returns the killed process whose batch in flight explains
// the loss of partition part's offset off under at-most-once, or nil.
// A killed process may lose its last batch: the one it began (its last
// B line), or the one after, whose offsets it stored just before it was
// killed and before the handler wrote anything, which starts on each
// partition where the last begun one ends.
func (t *tally) inFlight(part int32, off int64) *procFile {
	for _, p := range t.procs {
		if !p.killed {
			continue
		}
		for _, r := range p.last {
			if r.partition != part {
				continue
			}
			if off >= r.from && off < r.until {
				return p
			}
			// The batch after: offsets from r.until on, up to the next
			// offset anyone handled.
			if off >= r.until && t.unhandled(part, r.until, off) {
				return p
			}
		}
	}
	// A process killed before it began any batch may still have stored
	// its first batch's offsets (at-most-once stores them before the
	// handler writes its B line): the run of unhandled offsets that ends
	// where the partition's handling resumes is that batch.
	for _, p := range t.procs {
		if p.killed && p.batch == 0 && len(p.last) == 0 && t.unhandledRunFrom(part, off) {
			return p
		}
	}
	return nil
}

// maxBatch is the most records of a partition one batch of the job holds:
// its spec's maxRatePerPartition (2,000/s) times its interval (200 ms).
const maxBatch = 400

// unhandledRunFrom reports whether off lies in a run of unhandled offsets
// of part short enough to be one batch.
func (t *tally) unhandledRunFrom(part int32, off int64) bool {
	start, end := off, off
	for start > 0 && t.unhandled(part, start-1, start-1) {
		start--
	}
	for end+1 < int64(len(t.count[part])) && t.unhandled(part, end+1, end+1) {
		end++
	}
	return t.unhandled(part, off, off) && end-start+1 <= maxBatch
}

// unhandled reports whether no offset of part in [from, to] was handled.
func (t *tally) unhandled(part int32, from, to int64) bool {
	c := t.count[part]
	for o := from; o <= to; o++ {
		if o < int64(len(c)) && c[o] > 0 {
			return false
		}
	}
	return true
}
