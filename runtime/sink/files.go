package sink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
)

// Codec is an Avro object container file's compression codec.
type Codec string

// The codecs the files sink writes; every Avro reader knows them.
const (
	CodecNull    Codec = "null"
	CodecDeflate Codec = "deflate"
	CodecSnappy  Codec = "snappy"
)

// blockSize bounds a container block's uncompressed size, and so the
// memory a partition's writer buffers, whatever the block length.
const blockSize = 1 << 20

type filesCfg struct {
	codec       Codec
	blockLength int
	create      func(path string) (tempFile, error)
}

// FilesOpt configures NewFiles.
type FilesOpt func(*filesCfg)

// OCFCodec sets the files' compression codec. Default CodecSnappy, as
// Spark writes Avro; CodecDeflate makes smaller files for more CPU.
func OCFCodec(c Codec) FilesOpt { return func(cfg *filesCfg) { cfg.codec = c } }

// OCFBlockLength sets how many values a container block holds at most
// (a block is also cut at 1 MiB uncompressed). Default 1000. Readers
// split files at blocks; small blocks compress worse.
func OCFBlockLength(n int) FilesOpt { return func(cfg *filesCfg) { cfg.blockLength = n } }

// Files is the files sink, the warehouse ETL's "1:1 partition-batch to
// file": every partition of every batch becomes one Avro object container
// file of T's values,
//
//	DIR/topic=TOPIC/partition=P/FROM-UNTIL.avro
//
// FROM and UNTIL zero-padded to 20 digits, UNTIL exclusive. A file is
// written to a temporary name under DIR/_streamgen, synced, and published
// by a hard link that never replaces a file; the publication is the
// commit. The offsets are what is on disk: a partition's next offset is
// its largest UNTIL, so no separate state can drift from the output.
//
// Files is a runtime.TransactionalStore: use it with
// runtime.WithSemantics(runtime.ExactlyOnce) and
// runtime.WithOffsetStore(f). Every non-empty range of a batch gets a
// file, an empty container where the handler wrote nothing (a stream the
// handler does not copy still gets its files: they hold its offsets);
// empty ranges get none. The handler writes through Writer, or copies a
// stream unchanged with WriteBatch.
//
// Two instances that both believe they own a partition cannot both
// publish it: publishing takes the partition's lock
// (DIR/_streamgen/locks, flock(2)), checks that the batch starts where
// the partition's files end, and links; the loser's Store fails with a
// *runtime.FencedError and publishes nothing of its batch. (The lock file also
// records where the partition ends, so that Store need not list a
// directory that grows by a file per batch; the record is trusted only
// when the files it names exist.) DIR must be on a filesystem with
// flock(2) and hard links: a local disk, or NFS with locking.
type Files[T any, PT codec.RecordPtr[T]] struct {
	core *files
}

// files is Files without its type parameters.
type files struct {
	dir        string
	cfg        filesCfg
	schema     avro.Schema
	schemaJSON []byte
	inst       *instance

	mu     sync.Mutex
	closed bool
	cur    *inflight                       // the batch in flight
	made   map[runtime.TopicPartition]bool // partition directories known to exist
}

// inflight is the output of the batch in flight, one slot per non-empty
// range.
type inflight struct {
	slots map[runtime.TopicPartition]*slot
}

func (in *inflight) slot(tp runtime.TopicPartition) *slot {
	if in == nil {
		return nil
	}
	return in.slots[tp]
}

func (in *inflight) discard() error {
	if in == nil {
		return nil
	}
	var errs []error
	for _, s := range in.slots {
		errs = append(errs, s.discard())
	}
	return errors.Join(errs...)
}

// NewFiles opens the files sink in dir, creating it if missing, and
// removes what killed instances left in it. It fails, naming the path,
// when dir is not writable.
func NewFiles[T any, PT codec.RecordPtr[T]](dir string, opts ...FilesOpt) (*Files[T, PT], error) {
	cfg := filesCfg{codec: CodecSnappy, blockLength: 1000, create: createTemp}
	for _, o := range opts {
		o(&cfg)
	}
	switch cfg.codec {
	case CodecNull, CodecDeflate, CodecSnappy:
	default:
		return nil, fmt.Errorf("files sink: unknown codec %q (want null, deflate or snappy)", cfg.codec)
	}
	if cfg.blockLength < 1 {
		return nil, fmt.Errorf("files sink: block length %d, want at least 1", cfg.blockLength)
	}
	js := PT(new(T)).AvroSchema()
	sch, err := avro.ParseWithCache(js, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("files sink: the schema of %T: %w", *new(T), err)
	}
	dir = filepath.Clean(dir)
	tmp := filepath.Join(dir, internalDir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, notWritable(tmp, err)
	}
	f := &files{dir: dir, cfg: cfg, schema: sch, schemaJSON: []byte(js), made: make(map[runtime.TopicPartition]bool)}
	if f.inst, err = newInstance(tmp); err != nil {
		return nil, err
	}
	if err := removeDead(tmp, f.inst); err != nil {
		f.inst.close()
		return nil, err
	}
	return &Files[T, PT]{core: f}, nil
}

// Dir is the sink's directory.
func (f *Files[T, PT]) Dir() string { return f.core.dir }

// Begin starts a batch: one output per non-empty range. A batch still in
// flight (neither stored nor aborted) is discarded.
func (f *Files[T, PT]) Begin(ctx context.Context, b runtime.StoredBatch) error {
	return f.core.begin(ctx, b)
}

// Store publishes the batch: every range's file is completed and synced,
// then, under the locks of the batch's partitions (taken in order, so
// instances never deadlock), each partition's files are checked to end
// where its range starts, and only when all do are the files linked into
// place and their directories synced. A fenced partition (*runtime.FencedError)
// publishes nothing of the batch. A link that fails part way (a broken
// disk) leaves the partitions linked before it published: each
// partition's offsets are its files, so a restart resumes every partition
// exactly.
func (f *Files[T, PT]) Store(ctx context.Context, b runtime.StoredBatch) error {
	return f.core.store(ctx, b)
}

// Abort discards the batch in flight: its temporary files are removed
// and nothing is published.
func (f *Files[T, PT]) Abort(ctx context.Context, b runtime.StoredBatch) error {
	return f.core.abort(ctx, b)
}

// Load gives each partition of tps that has published files its largest
// UNTIL, after checking that its files form one chain (a *LayoutError
// names the files of a gap or an overlap), and removes the temporary
// files of instances that were killed.
func (f *Files[T, PT]) Load(ctx context.Context, tps []runtime.TopicPartition) (map[runtime.TopicPartition]int64, error) {
	return f.core.load(ctx, tps)
}

// Close discards a batch in flight and removes the instance's temporary
// directory, so that after a graceful stop DIR holds only published files
// and the sink's locks under DIR/_streamgen.
func (f *Files[T, PT]) Close() error { return f.core.close() }

// Writer starts the output of r's partition in the batch in flight over
// and returns its writer. Call it once at the start of each
// ForeachPartition task: a retried task's values then replace, rather
// than add to, what its failed attempt wrote. r is the partition's
// OffsetRange in the batch; a writer for a range the batch does not hold
// fails every Write, saying so.
func (f *Files[T, PT]) Writer(r runtime.OffsetRange) *PartitionWriter[T] {
	w := &PartitionWriter[T]{enc: appendRecord[T, PT]}
	c := f.core
	c.mu.Lock()
	s := c.cur.slot(r.TopicPartition())
	closed := c.closed
	c.mu.Unlock()
	switch {
	case closed:
		w.err = fmt.Errorf("files sink: writing %s: the sink is closed", r)
	case s == nil && r.Count() == 0:
		w.err = fmt.Errorf("files sink: writing %s: the range is empty, so the batch publishes no file for it", r)
	case s == nil || s.r != r:
		w.err = fmt.Errorf("files sink: writing %s: not a range of the batch in flight (is the job exactly-once with this sink as its offset store?)", r)
	}
	if w.err != nil {
		w.s = &slot{r: r}
		return w
	}
	w.s, w.gen = s, s.reset()
	return w
}

// DiscardPartition drops what has been written for r's partition in the
// batch in flight: the engine calls it before retrying the partition's
// task (runtime.PartitionRetrier), so an exactly-once job retries tasks
// and a retried one writes its values once. Writers of the failed attempt
// fail from then on.
func (f *Files[T, PT]) DiscardPartition(r runtime.OffsetRange) {
	c := f.core
	c.mu.Lock()
	s := c.cur.slot(r.TopicPartition())
	c.mu.Unlock()
	if s != nil && s.r == r {
		s.reset()
	}
}

func appendRecord[T any, PT codec.RecordPtr[T]](dst []byte, v *T) ([]byte, error) {
	return PT(v).AppendAvro(dst)
}

func (f *files) begin(_ context.Context, b runtime.StoredBatch) error {
	cur := make(map[runtime.TopicPartition]*slot, len(b.Ranges))
	for _, r := range b.Ranges {
		tp := r.TopicPartition()
		if cur[tp] != nil {
			return fmt.Errorf("files sink: batch %d holds topic %s partition %d twice (%d to %d and %d to %d); a partition has one file per batch",
				b.ID, tp.Topic, tp.Partition, cur[tp].r.FromOffset, cur[tp].r.UntilOffset, r.FromOffset, r.UntilOffset)
		}
		if r.Count() > 0 {
			cur[tp] = &slot{r: r, sink: f}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("files sink: the sink is closed")
	}
	f.cur.discard()
	f.cur = &inflight{slots: cur}
	return nil
}

func (f *files) abort(context.Context, runtime.StoredBatch) error {
	f.mu.Lock()
	cur := f.cur
	f.cur = nil
	f.mu.Unlock()
	return cur.discard()
}

func (f *files) store(ctx context.Context, b runtime.StoredBatch) error {
	f.mu.Lock()
	cur := f.cur
	f.mu.Unlock()
	slots, err := cur.slotsOf(b)
	if err != nil || len(slots) == 0 {
		return err
	}
	if err := each(len(slots), func(i int) error { return slots[i].finish() }); err != nil {
		return err
	}
	if err := f.publish(ctx, slots); err != nil {
		return err
	}
	f.mu.Lock()
	if f.cur == cur {
		f.cur = nil
	}
	f.mu.Unlock()
	cur.discard() // the temporary names; the published links stay
	return nil
}

// slotsOf is the slots of b's non-empty ranges, in topic and partition
// order (the order their locks are taken in).
func (in *inflight) slotsOf(b runtime.StoredBatch) ([]*slot, error) {
	var slots []*slot
	for _, r := range b.Ranges {
		if r.Count() == 0 { // Stream.CommitAsync's: the offsets are the files
			continue
		}
		s := in.slot(r.TopicPartition())
		if s == nil || s.r != r {
			return nil, notBegun("files", b, r)
		}
		slots = append(slots, s)
	}
	slices.SortFunc(slots, func(a, b *slot) int {
		return cmp.Or(cmp.Compare(a.r.Topic, b.r.Topic), cmp.Compare(a.r.Partition, b.r.Partition))
	})
	return slots, nil
}

// publish links the finished slots' files into their partitions' places
// under the partitions' locks, after checking that each continues its
// partition's files (else a *runtime.FencedError, and nothing is
// published) and writing the pending record that makes a crash midway
// recoverable.
func (f *files) publish(ctx context.Context, slots []*slot) error {
	for _, s := range slots {
		if err := f.ensurePartitionDir(s.r.TopicPartition()); err != nil {
			return err
		}
	}
	var locks []*os.File
	defer func() {
		for _, l := range locks {
			l.Close()
		}
	}()
	for _, s := range slots {
		l, err := lockPartition(ctx, f.lockPath(s.r.TopicPartition()))
		if err != nil {
			return err
		}
		locks = append(locks, l)
	}
	ends := make([]end, len(slots))
	for i, s := range slots {
		tp := s.r.TopicPartition()
		e, err := endUnderLock(locks[i], f.dir, tp, s.r.FromOffset)
		if err != nil {
			return err
		}
		if e.ok && e.until != s.r.FromOffset {
			last := runtime.OffsetRange{Topic: tp.Topic, Partition: tp.Partition, FromOffset: e.from, UntilOffset: e.until}
			return filesFenced(s.r, e.until, filepath.Join(partitionDir(f.dir, tp), fileName(last)))
		}
		ends[i] = e
	}
	if err := each(len(slots), func(i int) error {
		return writeRecord(locks[i], formatRecord(ends[i], slots[i].r, true), true)
	}); err != nil {
		return err
	}
	for _, s := range slots {
		final := filepath.Join(partitionDir(f.dir, s.r.TopicPartition()), fileName(s.r))
		if err := os.Link(s.path, final); err != nil {
			return fmt.Errorf("files sink: publishing %s for %s: %w", final, s.r, err)
		}
	}
	if err := each(len(slots), func(i int) error {
		if err := syncDir(partitionDir(f.dir, slots[i].r.TopicPartition())); err != nil {
			return fmt.Errorf("files sink: publishing %s: %w", slots[i].r, err)
		}
		return nil
	}); err != nil {
		return err
	}
	for i, s := range slots {
		// Unsynced: should it be lost, the pending file above is the end.
		_ = writeRecord(locks[i], formatRecord(end{ok: true, from: s.r.FromOffset, until: s.r.UntilOffset}, runtime.OffsetRange{}, false), false)
	}
	return nil
}

// each runs fn for 0..n-1 at once and joins their errors: syncs, the
// slow part of a batch, overlap across partitions.
func each(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (f *files) lockPath(tp runtime.TopicPartition) string {
	return filepath.Join(f.dir, internalDir, "locks", "topic="+tp.Topic, fmt.Sprintf("partition=%d.lock", tp.Partition))
}

// ensurePartitionDir creates tp's directory and its lock's, durably.
func (f *files) ensurePartitionDir(tp runtime.TopicPartition) error {
	f.mu.Lock()
	made := f.made[tp]
	f.mu.Unlock()
	if made {
		return nil
	}
	if err := mkdirDurable(f.dir, partitionDir(f.dir, tp)); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f.lockPath(tp)), 0o755); err != nil {
		return notWritable(filepath.Dir(f.lockPath(tp)), err)
	}
	f.mu.Lock()
	f.made[tp] = true
	f.mu.Unlock()
	return nil
}

func (f *files) load(_ context.Context, tps []runtime.TopicPartition) (map[runtime.TopicPartition]int64, error) {
	if err := removeDead(filepath.Join(f.dir, internalDir, "tmp"), f.inst); err != nil {
		return nil, err
	}
	out := make(map[runtime.TopicPartition]int64, len(tps))
	for _, tp := range tps {
		files, err := listPartition(f.dir, tp)
		if err != nil {
			return nil, err
		}
		if len(files) > 0 {
			out[tp] = files[len(files)-1].until
		}
	}
	return out, nil
}

func (f *files) close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	cur := f.cur
	f.cur = nil
	f.mu.Unlock()
	cur.discard()
	if err := f.inst.close(); err != nil {
		return fmt.Errorf("files sink: removing %s: %w", f.inst.dir, err)
	}
	return nil
}

var _ runtime.TransactionalStore = (*Files[noRecord, *noRecord])(nil)

// noRecord exists for the assertion above.
type noRecord struct{}

func (*noRecord) AppendAvro(dst []byte) ([]byte, error)  { return dst, nil }
func (*noRecord) UnmarshalAvro([]byte) error             { return nil }
func (*noRecord) UnmarshalAvroFrom(string, []byte) error { return nil }
func (*noRecord) AvroSchema() string                     { return `"null"` }

// notBegun is the error of a transactional sink asked to store a range
// of a batch it never began: the engine ran it without ExactlyOnce.
func notBegun(sink string, b runtime.StoredBatch, r runtime.OffsetRange) error {
	return fmt.Errorf("%s sink: batch %d: %s was not begun; the %s sink commits output with offsets, so it needs runtime.ExactlyOnce", sink, b.ID, r, sink)
}
