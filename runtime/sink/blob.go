package sink

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob" // mem:// URLs, for tests

	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
	"github.com/streamgen/streamgen/runtime/sink/internal/multipart"
)

// Format is the file format the blob sink writes.
type Format string

// The formats of the blob sink's objects.
const (
	// FormatAvro is an Avro object container file (.avro) of the job's
	// reader schema, written by codec.OCFWriter.
	FormatAvro Format = "avro"
	// FormatParquet is a Parquet file (.parquet) whose columns follow the
	// job's reader schema (see parquet.go for the mapping).
	FormatParquet Format = "parquet"
)

type blobCfg struct {
	format      Format
	codec       codec.OCFCodec
	block       int
	compression string
	rowGroup    int64
	groupBytes  int64
	partitions  []partLevel
	upload      int
	roll        *RollLimits // nil: a batch's objects each
	now         func() time.Time
	ownedHook   func() // tests: runs after a rolling Store's ownership check
	log         *slog.Logger
}

// BlobOpt configures OpenBlob and NewBlob.
type BlobOpt func(*blobCfg)

// BlobFormat sets the objects' format. Default FormatAvro.
func BlobFormat(f Format) BlobOpt { return func(c *blobCfg) { c.format = f } }

// BlobAvroCodec sets the Avro container files' compression. Default
// codec.OCFSnappy, as Spark writes Avro.
func BlobAvroCodec(c codec.OCFCodec) BlobOpt { return func(cfg *blobCfg) { cfg.codec = c } }

// BlobAvroBlockSize sets the uncompressed size at which a container block
// ends (default 1 MiB); each partition's writer holds one block in memory.
func BlobAvroBlockSize(n int) BlobOpt { return func(c *blobCfg) { c.block = n } }

// ParquetCompression sets the Parquet files' compression: "snappy"
// (default, what Spark writes), "zstd" (smaller, more CPU) or "none".
func ParquetCompression(c string) BlobOpt { return func(cfg *blobCfg) { cfg.compression = c } }

// ParquetRowGroupRows sets how many rows a Parquet row group holds at
// most (default 1,000,000). A writer holds its row group in memory, so
// it bounds each partition's memory; readers skip and split files by row
// group, so very small groups make queries slower.
func ParquetRowGroupRows(n int64) BlobOpt { return func(cfg *blobCfg) { cfg.rowGroup = n } }

// ParquetRowGroupBytes ends a Parquet row group once its values' Avro
// binary reaches n bytes (default 64 MiB; 0 = rows only), whatever
// ParquetRowGroupRows says: a rolling sink's open file holds its row
// group in memory for as long as it is open, so this bounds each open
// file's memory.
func ParquetRowGroupBytes(n int64) BlobOpt { return func(cfg *blobCfg) { cfg.groupBytes = n } }

// BlobLogger sets where the sink logs what fails in the background
// (the pruning of old claims, which the next prune does again). Default
// slog.Default().
func BlobLogger(l *slog.Logger) BlobOpt { return func(c *blobCfg) { c.log = l } }

// BlobUploadBufferSize sets the size of the chunks each object is
// uploaded in (an S3 multipart part, a GCS chunk); 0, the default, is the
// driver's (5 MiB for S3). Each bucket of each partition in a batch holds
// one chunk in memory while it is written.
func BlobUploadBufferSize(n int) BlobOpt { return func(c *blobCfg) { c.upload = n } }

// Blob is the warehouse sink on object storage (or a local directory),
// the generated job's Sink with sink.type blob: as the files sink, every
// partition of every batch becomes one object (one per Hive partition
// with PartitionByTime or PartitionByField) — or, with BlobRoll (the
// generated job's default, sink.roll.*), a file per Hive partition and
// Kafka partition stays open across batches until a limit publishes it
// (see blobroll.go and RollLimits: its claims are a numbered chain that
// holds each partition's restart offset and per-bucket watermarks; what
// follows is the per-batch sink's) —
//
//	URL/topic=TOPIC/[K=V/...]partition=P/FROM-UNTIL.avro (or .parquet)
//
// FROM and UNTIL zero-padded to 20 digits, UNTIL exclusive, and it is a
// runtime.TransactionalStore for runtime.ExactlyOnce. The bucket is any of
// gocloud.dev/blob's: file:///dir, mem:// (tests), and, with package
// runtime/sink/cloud imported, s3://bucket?region=..&endpoint=.. (any
// S3-compatible store; credentials from the environment, never in the
// URL), gs://bucket and azblob://container.
//
// Object storage has no rename, so a batch commits by a conditional
// create (the write fails if the key exists) of the partition's claim
// object for the batch's FROM, URL/_streamgen/claims/topic=T/partition=P/
// FROM, which records the range's UNTIL and the object that holds it.
// Each claim's UNTIL is the FROM of the next one: the claims are the
// partition's chain of offsets, and its end is where the partition
// continues. A batch's values are first written to a staging object under
// URL/_streamgen/staged/, then the claim is made, then the staged object
// is copied to its published name (a server-side copy). An instance that
// dies between the claim and the copy leaves a claim whose object is
// missing; Load finishes its copy before it returns the partition's
// offset, so nothing committed is lost.
//
// All but the last few claims of a partition are deleted in the
// background as the chain goes on, so they do not pile up (see
// blobprune.go for why that keeps fencing whole).
//
// Fencing: two instances that both believe they own a partition (a
// rebalance moved it, or a zombie kept running) both need the claim of
// the same FROM to go on; only one gets it, and the other's Store fails
// with a *runtime.FencedError and publishes nothing of that partition. A
// fresh partition's chain starts with a conditional create of its start
// object, so two instances cannot start two chains either.
//
// A job that moves from the files sink to this one on the same
// directory (file://DIR) goes on where the files sink's files end: a
// partition without claims starts its chain there.
//
// Which stores are safe: the fencing is only as good as the store's
// conditional create. Google Cloud Storage (if-generation-match 0), Azure
// Blob Storage (If-None-Match: *), Amazon S3 (If-None-Match: *, since
// 2024) and MinIO honour it; an S3-compatible store that ignores
// If-None-Match is not safe against zombies. For file:// URLs the sink
// makes claims with link(2), which never replaces a file (gocloud's
// fileblob only guards conditional writes within one process): safe on a
// local disk or NFS. mem:// is safe within one process.
//
// Staged objects of killed instances are removed by the Load that
// follows, and so are their incomplete S3 multipart uploads (with
// package runtime/sink/cloud imported): those the chain has passed at
// once, those at its end by the commit that passes them. A batch that is
// aborted or retried aborts its own uploads. A lifecycle rule that
// aborts incomplete multipart uploads after a day is still worth having,
// for an instance killed that no other follows.
type Blob[T any, PT codec.RecordPtr[T]] struct {
	core *blobSink
}

// blobSink is Blob without its type parameters.
type blobSink struct {
	bucket  *blob.Bucket
	owned   bool // the sink opened the bucket and closes it
	objects objectStore
	uploads multipart.Uploads // nil: the store keeps no incomplete uploads
	cfg     blobCfg
	ext     string
	id      string // this instance's, in staged names and claims
	newEnc  func(w io.Writer, r runtime.OffsetRange) (valueEncoder, error)
	// part gives a value's bucket (nil without partitioning), through
	// bucketOf.
	part     *hivePartitioner
	bucketOf func(scratch []byte, v any) (string, []byte, error)

	// encode appends a value's Avro binary.
	encode func(dst []byte, v any) ([]byte, error)

	mu     sync.Mutex
	closed bool
	cur    map[runtime.TopicPartition]*blobSlot
	rcur   map[runtime.TopicPartition]*rollSlot // rolling: the batch in flight
	seq    int
	chains map[runtime.TopicPartition]int64 // each partition's chain end, as this instance knows it
	// recent are the FROMs of each partition's claims this instance
	// made since its last prune (blobprune.go).
	recent  map[runtime.TopicPartition][]int64
	pruning map[string]int64 // the chains (claim dirs) being pruned: the greatest key asked
	prunes  sync.WaitGroup

	// rolling (blobroll.go): rollMu orders Begin, Store, Abort, Load and
	// Close, which change the open files.
	rollMu sync.Mutex
	rolls  map[runtime.TopicPartition]*rollPart
	// rollsMu guards deleting from rolls while partitions publish in
	// parallel (publishParts), under rollMu: the one write then.
	rollsMu sync.Mutex
	fileSeq atomic.Int64
	stats   rollCounters

	// leftovers are the partitions whose Load kept another instance's
	// staged objects at or past the chain's end (one killed mid-batch,
	// or a live one's batch in flight): the commit that passes them
	// removes them.
	leftovers map[runtime.TopicPartition]bool
}

// valueEncoder writes one partition's values in the sink's format.
type valueEncoder interface {
	write(v any) error
	// writeAvro writes a value given as its Avro binary (the rolling
	// sink holds a batch's values so until Store). It copies b, which
	// the caller reuses once it returns.
	writeAvro(b []byte) error
	close() error
}

// bucketWord is what a store calls its buckets.
func bucketWord(scheme string) string {
	if scheme == "azblob" {
		return "the container"
	}
	return "the bucket"
}

// OpenBlob opens the blob sink at url. A file:// URL is a local directory,
// created if missing.
func OpenBlob[T any, PT codec.RecordPtr[T]](ctx context.Context, rawURL string, opts ...BlobOpt) (*Blob[T, PT], error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("blob sink: the sink's url does not parse (%s)", redact(rawURL))
	}
	var (
		b   *blob.Bucket
		obj objectStore
	)
	if u.Scheme == "file" {
		dir := u.Path
		if u.Host == "." {
			dir = "." + u.Path
		}
		dir = filepath.Clean(dir)
		b, err = fileblob.OpenBucket(dir, &fileblob.Options{CreateDir: true, NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
		if err != nil {
			return nil, notWritable(dir, err)
		}
		obj = &dirObjects{dir: dir, b: b}
	} else {
		b, err = blob.OpenBucket(ctx, rawURL)
		if err != nil {
			hint := ""
			if !blob.DefaultURLMux().ValidBucketScheme(u.Scheme) && (u.Scheme == "s3" || u.Scheme == "gs" || u.Scheme == "azblob") {
				hint = ` (does the job import _ "github.com/streamgen/streamgen/runtime/sink/cloud"?)`
			}
			return nil, &redactedError{err: fmt.Errorf("blob sink: opening %s: %w%s", redact(rawURL), err, hint), raw: rawURL}
		}
		// A bucket that is not there fails here, by its name, not at
		// the first Load with an error about a claim's key. An error
		// asking (credentials allowed to use objects but not to read
		// the bucket's own metadata, as GCS's objectAdmin role; a
		// transient fault) is left to the sink's own requests.
		if ok, err := b.IsAccessible(ctx); err == nil && !ok {
			b.Close()
			err = fmt.Errorf("%s %q does not exist, or these credentials cannot see it: create it, or correct the sink's url", bucketWord(u.Scheme), u.Host)
			return nil, &redactedError{err: fmt.Errorf("blob sink: opening %s: %w", redact(rawURL), err), raw: rawURL}
		}
		obj = &bucketObjects{b: b}
	}
	s, err := newBlob[T, PT](b, obj, opts)
	if err != nil {
		b.Close()
		return nil, err
	}
	s.core.owned = true
	return s, nil
}

// NewBlob makes the blob sink over a bucket the caller opened and closes.
// Claims are made with the bucket's conditional create (see Blob on which
// drivers honour it across processes).
func NewBlob[T any, PT codec.RecordPtr[T]](b *blob.Bucket, opts ...BlobOpt) (*Blob[T, PT], error) {
	return newBlob[T, PT](b, &bucketObjects{b: b}, opts)
}

func newBlob[T any, PT codec.RecordPtr[T]](b *blob.Bucket, obj objectStore, opts []BlobOpt) (*Blob[T, PT], error) {
	cfg := blobCfg{format: FormatAvro, codec: codec.OCFSnappy, block: 1 << 20, compression: "snappy", rowGroup: 1_000_000, groupBytes: 64 << 20, now: time.Now, log: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	s := &blobSink{bucket: b, objects: obj, uploads: multipart.For(b), cfg: cfg, id: hex.EncodeToString(id[:]),
		chains: make(map[runtime.TopicPartition]int64), recent: make(map[runtime.TopicPartition][]int64), pruning: make(map[string]int64), rolls: make(map[runtime.TopicPartition]*rollPart),
		leftovers: make(map[runtime.TopicPartition]bool)}
	s.encode = func(dst []byte, v any) ([]byte, error) { return PT(v.(*T)).AppendAvro(dst) }
	if r := cfg.roll; r != nil && (r.MaxRecords < 0 || r.MaxBytes < 0 || r.MaxOpen < 0 || r.Lateness < 0 || r.MaxOpenFiles < 0) {
		return nil, fmt.Errorf("blob sink: negative rolling limits %+v", *r)
	}
	js := PT(new(T)).AvroSchema()
	part, err := newPartitioner(js, cfg.partitions)
	if err != nil {
		return nil, fmt.Errorf("blob sink: %w", err)
	}
	s.part = part
	s.bucketOf = func(scratch []byte, _ any) (string, []byte, error) { return "", scratch, nil }
	if part != nil {
		s.bucketOf = func(scratch []byte, v any) (string, []byte, error) {
			b, err := PT(v.(*T)).AppendAvro(scratch[:0])
			if err != nil {
				return "", scratch, err
			}
			bucket, err := part.bucket(b)
			return bucket, b, err
		}
	}
	switch cfg.format {
	case FormatAvro:
		if _, err := codec.NewOCFWriter[T, PT](io.Discard, codec.WithOCFCodec(cfg.codec), codec.WithOCFBlockSize(cfg.block)); err != nil {
			return nil, fmt.Errorf("blob sink: %w", err)
		}
		s.ext = "avro"
		s.newEnc = func(w io.Writer, r runtime.OffsetRange) (valueEncoder, error) {
			opts := []codec.OCFOption{codec.WithOCFCodec(cfg.codec), codec.WithOCFBlockSize(cfg.block),
				codec.WithOCFMetadata("streamgen.topic", []byte(r.Topic)),
				codec.WithOCFMetadata("streamgen.partition", []byte(strconv.Itoa(int(r.Partition)))),
				codec.WithOCFMetadata("streamgen.from_offset", []byte(strconv.FormatInt(r.FromOffset, 10)))}
			if r.UntilOffset > r.FromOffset { // a rolling file's end is not known when its header is written
				opts = append(opts, codec.WithOCFMetadata("streamgen.until_offset", []byte(strconv.FormatInt(r.UntilOffset, 10))))
			}
			ow, err := codec.NewOCFWriter[T, PT](w, opts...)
			if err != nil {
				return nil, err
			}
			return &ocfEncoder[T, PT]{w: ow}, nil
		}
	case FormatParquet:
		switch cfg.compression {
		case "snappy", "zstd", "none":
		default:
			return nil, fmt.Errorf("blob sink: unknown Parquet compression %q (want snappy, zstd or none)", cfg.compression)
		}
		if cfg.rowGroup < 1 {
			return nil, fmt.Errorf("blob sink: Parquet row groups of %d rows, want at least 1", cfg.rowGroup)
		}
		l, err := newPQLayout(js)
		if err != nil {
			return nil, fmt.Errorf("blob sink: the Parquet layout of %T: %w", *new(T), err)
		}
		s.ext = "parquet"
		s.newEnc = func(w io.Writer, r runtime.OffsetRange) (valueEncoder, error) {
			return newParquetEncoder[T, PT](l, w, cfg, r), nil
		}
	default:
		return nil, fmt.Errorf("blob sink: unknown format %q (want avro or parquet)", cfg.format)
	}
	return &Blob[T, PT]{core: s}, nil
}

type ocfEncoder[T any, PT codec.RecordPtr[T]] struct {
	w *codec.OCFWriter[T, PT]
}

func (e *ocfEncoder[T, PT]) write(v any) error { return e.w.Write(v.(*T)) }
func (e *ocfEncoder[T, PT]) close() error      { return e.w.Close() }

func (e *ocfEncoder[T, PT]) writeAvro(b []byte) error { return e.w.WriteAvro(b) }

// Bucket is the sink's bucket, for reading what it published.
func (s *Blob[T, PT]) Bucket() *blob.Bucket { return s.core.bucket }

// Key is the published key of r's object in a bucket: "" without
// partitioning, else its K=V/ levels ("dt=2026-12-05/hour=06/").
func (s *Blob[T, PT]) Key(r runtime.OffsetRange, bucket string) string {
	return s.core.dataKey(r, bucket)
}

// Begin starts a batch: one output per non-empty range. A batch still in
// flight is discarded. Rolling, a partition the batch lacks that an
// earlier batch had was revoked: its open files are dropped unpublished.
func (s *Blob[T, PT]) Begin(ctx context.Context, b runtime.StoredBatch) error {
	if s.core.cfg.roll != nil {
		return s.core.rollBegin(ctx, b)
	}
	return s.core.begin(b)
}

// Store commits the batch partition by partition, in topic and partition
// order: each range's staged object is completed, its claim made, and the
// object copied to its published key. A partition whose claim another
// instance holds is fenced (*runtime.FencedError); it and the partitions
// after it publish nothing, while those claimed before it stay published
// (each partition's offsets are its own chain, so every partition resumes
// exactly). Rolling, Store appends the batch's values to the open files
// and publishes those a limit makes due, a claim per partition; a
// failure after it began appending breaks the partition (the job fails
// and restarts from Load), and a fenced partition's open files are
// dropped.
func (s *Blob[T, PT]) Store(ctx context.Context, b runtime.StoredBatch) error {
	if s.core.cfg.roll != nil {
		return s.core.rollStore(ctx, b)
	}
	return s.core.store(ctx, b)
}

// Abort discards the batch in flight: its staged objects are removed.
// Rolling, the batch's values were held in memory: they go, and the open
// files stay as they were (but those of a partition whose Store failed
// midway, which are dropped).
func (s *Blob[T, PT]) Abort(ctx context.Context, b runtime.StoredBatch) error {
	if s.core.cfg.roll != nil {
		return s.core.rollAbort(ctx)
	}
	return s.core.abort(ctx)
}

// Load follows each partition's chain of claims to its end, which is the
// partition's next offset, copying the objects of claims whose instance
// died before it published them, and removes staged objects that no
// claim to come can name. Rolling, the offset is the chain's restart
// offset (the first offset of the oldest file not published), and Load
// takes the partition over with a claim of its own, which fences the
// instance that had it; its open files of a partition it had are
// dropped. A per-batch sink refuses a partition with a rolling chain.
func (s *Blob[T, PT]) Load(ctx context.Context, tps []runtime.TopicPartition) (map[runtime.TopicPartition]int64, error) {
	out := make(map[runtime.TopicPartition]int64, len(tps))
	for _, tp := range tps {
		load := s.core.load
		if s.core.cfg.roll != nil {
			load = s.core.rollLoad
		} else if rolling, err := s.core.rolling(ctx, tp); err != nil {
			return nil, err
		} else if rolling {
			return nil, &LayoutError{Topic: tp.Topic, Partition: tp.Partition, Files: []string{rollKey(tp, 1)},
				Problem: "the partition's claims are a rolling sink's (BlobRoll, the sink.roll settings): a sink that publishes each batch cannot go on from them; roll again"}
		}
		end, ok, err := load(ctx, tp)
		if err != nil {
			return nil, err
		}
		if ok {
			out[tp] = end
		}
	}
	return out, nil
}

// Close discards a batch in flight, and rolling every open file (not
// published: the partitions' next owner reads them again), and closes
// the bucket if OpenBlob opened it.
func (s *Blob[T, PT]) Close() error {
	c := s.core
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cur := c.cur
	c.cur = nil
	c.mu.Unlock()
	err := discardSlots(context.Background(), cur)
	if c.cfg.roll != nil {
		c.mu.Lock()
		rcur := c.rcur
		c.rcur = nil
		c.mu.Unlock()
		overSlots(rcur)
		err = errors.Join(err, c.rollClose(context.Background()))
	}
	// A prune cut short is only redone by the next one, but one still
	// deleting must not meet a closed bucket.
	c.waitPrunes()
	if c.owned {
		err = errors.Join(err, c.bucket.Close())
	}
	return err
}

// Drain publishes the files a rolling sink holds open, at the job's
// graceful stop (runtime.Drainer: the engine calls it after the last
// batch), so the next start reads on from the last batch stored rather
// than from the oldest open file. Without rolling it does nothing.
func (s *Blob[T, PT]) Drain(ctx context.Context) error {
	if s.core.cfg.roll == nil {
		return nil
	}
	return s.core.rollDrain(ctx)
}

// Writer starts the output of r's partition in the batch in flight over
// and returns its writer; call it once at the start of each
// ForeachPartition task, as Files.Writer.
func (s *Blob[T, PT]) Writer(r runtime.OffsetRange) *BlobWriter[T] {
	c := s.core
	c.mu.Lock()
	sl := c.cur[r.TopicPartition()]
	rs := c.rcur[r.TopicPartition()]
	closed := c.closed
	c.mu.Unlock()
	w := &BlobWriter[T]{r: r}
	if c.cfg.roll != nil {
		switch {
		case closed:
			w.err = fmt.Errorf("blob sink: writing %s: the sink is closed", r)
		case rs == nil || rs.r != r:
			w.err = fmt.Errorf("blob sink: writing %s: not a non-empty range of the batch in flight (is the job exactly-once with this sink as its offset store?)", r)
		default:
			w.rs, w.gen = rs, rs.reset()
		}
		return w
	}
	switch {
	case closed:
		w.err = fmt.Errorf("blob sink: writing %s: the sink is closed", r)
	case sl == nil && r.Count() == 0:
		w.err = fmt.Errorf("blob sink: writing %s: the range is empty, so the batch publishes no object for it", r)
	case sl == nil || sl.r != r:
		w.err = fmt.Errorf("blob sink: writing %s: not a range of the batch in flight (is the job exactly-once with this sink as its offset store?)", r)
	}
	if w.err == nil {
		w.s, w.gen = sl, sl.reset()
	}
	return w
}

// DiscardPartition drops what has been written for r's partition in the
// batch in flight, before the engine retries its task
// (runtime.PartitionRetrier).
func (s *Blob[T, PT]) DiscardPartition(r runtime.OffsetRange) {
	c := s.core
	c.mu.Lock()
	sl := c.cur[r.TopicPartition()]
	rs := c.rcur[r.TopicPartition()]
	c.mu.Unlock()
	if sl != nil && sl.r == r {
		sl.reset()
	}
	if rs != nil && rs.r == r {
		rs.reset()
	}
}

// BlobWriter writes one partition's values of the batch in flight.
type BlobWriter[T any] struct {
	r   runtime.OffsetRange
	s   *blobSlot
	rs  *rollSlot // rolling
	gen int
	err error
}

// Range is the batch's range of the writer's partition.
func (w *BlobWriter[T]) Range() runtime.OffsetRange { return w.r }

// Write appends v to the partition's object (its bucket's, with Hive
// partitioning, named by the batch's range). An error (a value that
// does not encode, a failed upload) fails the partition's output for the
// batch: Store refuses it even if the handler ignored the error, so no
// value is dropped silently.
func (w *BlobWriter[T]) Write(v *T) error {
	if w.err != nil {
		return w.err
	}
	if w.rs != nil {
		return w.rs.write(w.gen, -1, v)
	}
	return w.s.write(w.gen, -1, v)
}

// WriteAt is Write for a value that comes from the record at offset: with
// Hive partitioning, each bucket's object is then named by the offsets of
// the records it holds rather than the batch's whole range, so a query
// for one offset finds fewer files. Offsets outside the range fail.
func (w *BlobWriter[T]) WriteAt(offset int64, v *T) error {
	if w.err != nil {
		return w.err
	}
	if offset < 0 {
		return fmt.Errorf("blob sink: writing offset %d to %s", offset, w.r)
	}
	if w.rs != nil {
		return w.rs.write(w.gen, offset, v)
	}
	return w.s.write(w.gen, offset, v)
}

// WriteBlob writes every value of b, unchanged, to s: the whole handler
// of a job that copies a stream into the warehouse.
func WriteBlob[K, T any, PT codec.RecordPtr[T]](ctx context.Context, s *Blob[T, PT], b *runtime.Batch[K, T]) error {
	return b.ForeachPartition(ctx, func(ctx context.Context, p runtime.Partition[K, T]) error {
		w := s.Writer(p.OffsetRange())
		n := 0
		for r := range p.Records() {
			if err := w.WriteAt(r.Offset, &r.Value); err != nil {
				return fmt.Errorf("offset %d: %w", r.Offset, err)
			}
			if n++; n%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
		}
		return nil
	})
}

func (c *blobSink) begin(b runtime.StoredBatch) error {
	cur := make(map[runtime.TopicPartition]*blobSlot, len(b.Ranges))
	for _, r := range b.Ranges {
		tp := r.TopicPartition()
		if cur[tp] != nil {
			return fmt.Errorf("blob sink: batch %d holds topic %s partition %d twice; a partition has one object per batch", b.ID, tp.Topic, tp.Partition)
		}
		if r.Count() > 0 {
			cur[tp] = &blobSlot{r: r, sink: c}
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return errors.New("blob sink: the sink is closed")
	}
	old := c.cur
	c.cur = cur
	c.mu.Unlock()
	return discardSlots(context.Background(), old)
}

func (c *blobSink) abort(ctx context.Context) error {
	c.mu.Lock()
	cur := c.cur
	c.cur = nil
	c.mu.Unlock()
	return discardSlots(ctx, cur)
}

func discardSlots(ctx context.Context, slots map[runtime.TopicPartition]*blobSlot) error {
	var errs []error
	for _, s := range slots {
		errs = append(errs, s.discard(ctx))
	}
	return errors.Join(errs...)
}

func (c *blobSink) store(ctx context.Context, b runtime.StoredBatch) error {
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	var slots []*blobSlot
	for _, r := range b.Ranges {
		if r.Count() == 0 {
			continue
		}
		s := cur[r.TopicPartition()]
		if s == nil || s.r != r {
			return notBegun("blob", b, r)
		}
		slots = append(slots, s)
	}
	slices.SortFunc(slots, func(a, b *blobSlot) int {
		return cmp.Or(cmp.Compare(a.r.Topic, b.r.Topic), cmp.Compare(a.r.Partition, b.r.Partition))
	})
	if err := each(len(slots), func(i int) error { return slots[i].finish() }); err != nil {
		for _, s := range slots {
			if f := c.passed(ctx, s.r); f != nil {
				return f
			}
		}
		return err
	}
	for _, s := range slots {
		if err := c.commit(ctx, s); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if maps.EqualFunc(c.cur, cur, func(a, b *blobSlot) bool { return a == b }) {
		c.cur = nil
	}
	c.mu.Unlock()
	for _, s := range cur {
		s.mu.Lock()
		s.over = true // a writer kept past its batch fails
		s.mu.Unlock()
	}
	return nil
}
