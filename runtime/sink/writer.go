package sink

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"

	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
)

// PartitionWriter writes one partition's output of the batch in flight:
// Avro values of T, into a temporary object container file that Store
// publishes as the partition's FROM-UNTIL.avro. Use it from the
// partition's ForeachPartition task; writers of different partitions may
// run at the same time.
type PartitionWriter[T any] struct {
	s       *slot
	gen     int
	err     error // the writer was never valid
	scratch []byte
	enc     func(dst []byte, v *T) ([]byte, error)
}

// Range is the batch's range of the partition this writer writes.
func (w *PartitionWriter[T]) Range() runtime.OffsetRange { return w.s.r }

// Write appends v to the partition's file. An error (a full disk, a value
// that does not encode) fails the partition's output for the batch: Store
// refuses the batch even if the handler ignored the error, so no value is
// dropped silently.
func (w *PartitionWriter[T]) Write(v *T) error {
	if w.err != nil {
		return w.err
	}
	b, err := w.enc(w.scratch[:0], v)
	if err != nil {
		err = fmt.Errorf("files sink: encoding a value for %s: %w", w.s.r, err)
		w.s.fail(w.gen, err)
		return err
	}
	w.scratch = b
	return w.s.write(w.gen, b)
}

// WriteBatch writes every value of b, unchanged, to f: each partition's
// values to its file, in offset order, on the engine's workers. It is the
// whole handler of a job that copies a stream into files (Passthrough).
func WriteBatch[K, T any, PT codec.RecordPtr[T]](ctx context.Context, f *Files[T, PT], b *runtime.Batch[K, T]) error {
	return b.ForeachPartition(ctx, func(ctx context.Context, p runtime.Partition[K, T]) error {
		w := f.Writer(p.OffsetRange())
		n := 0
		for r := range p.Records() {
			if err := w.Write(&r.Value); err != nil {
				return fmt.Errorf("offset %d: %w", r.Offset, err)
			}
			if n++; n%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
		}
		return nil
	})
}

// tempFile is what a partition's output is written to before it is
// published; a seam so that tests can fill the disk.
type tempFile interface {
	io.Writer
	Sync() error
	Close() error
}

func createTemp(path string) (tempFile, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
}

// slot is one partition's output in the batch in flight. Writer starts it
// over; gen tells the writers of earlier attempts from the current one.
type slot struct {
	mu   sync.Mutex
	r    runtime.OffsetRange
	sink *files
	gen  int
	seq  int // temporary files made, for unique names
	path string
	file tempFile
	buf  *bufio.Writer
	enc  *ocf.Encoder
	err  error
	over bool // the batch was stored or aborted
}

// errSuperseded is the error of a writer whose partition was started over
// by a later Writer call (a retried task).
var errSuperseded = errors.New("superseded: a later Writer call for this partition started its output over")

// reset discards what the partition's earlier writers wrote.
func (s *slot) reset() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discardLocked()
	s.gen++
	s.err = nil
	return s.gen
}

func (s *slot) fail(gen int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen == s.gen && s.err == nil {
		s.err = err
	}
}

func (s *slot) write(gen int, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.over:
		return fmt.Errorf("files sink: writing %s: its batch is over (stored or aborted)", s.r)
	case gen != s.gen:
		return fmt.Errorf("files sink: %s: %w", s.r, errSuperseded)
	case s.err != nil:
		return s.err
	}
	if s.enc == nil {
		if err := s.openLocked(); err != nil {
			return err
		}
	}
	if _, err := s.enc.Write(b); err != nil {
		s.err = fmt.Errorf("files sink: writing %s for %s: %w", s.path, s.r, err)
		return s.err
	}
	return nil
}

// openLocked creates the temporary file and writes the container's
// header: T's schema, the codec, and where the values come from.
func (s *slot) openLocked() error {
	s.seq++
	s.path = s.sink.inst.dir + string(os.PathSeparator) +
		fmt.Sprintf("topic=%s.partition=%d.%s.%d.tmp", s.r.Topic, s.r.Partition, fileName(s.r), s.seq)
	f, err := s.sink.cfg.create(s.path)
	if err != nil {
		s.err = notWritable(s.path, err)
		return s.err
	}
	s.file, s.buf = f, bufio.NewWriterSize(f, 256<<10)
	meta := map[string][]byte{
		"streamgen.topic":        []byte(s.r.Topic),
		"streamgen.partition":    []byte(strconv.Itoa(int(s.r.Partition))),
		"streamgen.from_offset":  []byte(strconv.FormatInt(s.r.FromOffset, 10)),
		"streamgen.until_offset": []byte(strconv.FormatInt(s.r.UntilOffset, 10)),
	}
	schema := s.sink.schemaJSON
	s.enc, err = ocf.NewEncoderWithSchema(s.sink.schema, s.buf,
		ocf.WithCodec(ocf.CodecName(s.sink.cfg.codec)),
		ocf.WithBlockLength(s.sink.cfg.blockLength),
		ocf.WithBlockSize(blockSize),
		ocf.WithMetadata(meta),
		// T's schema as generated, docs and defaults kept, rather than
		// hamba's rendering of it.
		ocf.WithSchemaMarshaler(func(avro.Schema) ([]byte, error) { return schema, nil }))
	if err != nil {
		s.err = fmt.Errorf("files sink: writing %s for %s: %w", s.path, s.r, err)
		return s.err
	}
	return nil
}

// finish completes the partition's file, an empty container if nothing
// was written, and makes it durable.
func (s *slot) finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.enc == nil {
		if err := s.openLocked(); err != nil {
			return err
		}
	}
	err := s.enc.Close()
	if err == nil {
		err = s.buf.Flush()
	}
	if err == nil {
		err = s.file.Sync()
	}
	if cerr := s.file.Close(); err == nil {
		err = cerr
	}
	s.file = nil
	if err != nil {
		s.err = fmt.Errorf("files sink: writing %s for %s: %w", s.path, s.r, err)
		return s.err
	}
	return nil
}

// discardLocked closes and removes the temporary file, if any.
func (s *slot) discardLocked() error {
	var err error
	if s.file != nil {
		_ = s.file.Close()
		s.file = nil
	}
	if s.path != "" {
		if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("files sink: removing the aborted batch's temporary file: %w", rerr)
		}
		s.path = ""
	}
	s.enc, s.buf = nil, nil
	return err
}

// discard ends the slot with its batch: its temporary file goes, and a
// writer kept past the batch cannot make another.
func (s *slot) discard() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.over = true
	return s.discardLocked()
}
