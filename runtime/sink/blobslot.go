package sink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/streamgen/streamgen/runtime"
)

// blobSlot is one partition's output in the blob sink's batch in flight:
// a staging object per bucket (per Hive partition; one, "", without
// partitioning), streamed to the bucket as the handler writes. Writer
// starts it over; gen tells the writers of earlier attempts from the
// current one.
type blobSlot struct {
	mu   sync.Mutex
	r    runtime.OffsetRange
	sink *blobSink
	gen  int
	seq  int
	outs map[string]*blobOut
	buf  []byte // scratch for the values' encoding, to find their bucket
	err  error
	keep bool // a claim may name the staging objects: never delete them here
	over bool // the batch was stored or aborted
}

// blobOut is one bucket's staging object.
type blobOut struct {
	bucket string // its K=V/ levels
	staged string
	cancel context.CancelFunc
	w      *blob.Writer
	enc    valueEncoder
	done   bool // complete in the bucket
	// from and until are the offsets of the records written with their
	// offset (WriteAt); whole is set once one was written without.
	from, until int64
	whole       bool
}

// rangeOf is the offsets the object holds, for its name: the records'
// when each was written with its offset, else the batch's range.
func (o *blobOut) rangeOf(r runtime.OffsetRange) runtime.OffsetRange {
	if o.whole || o.from < 0 {
		return r
	}
	r.FromOffset, r.UntilOffset = o.from, o.until
	return r
}

func (s *blobSlot) reset() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discardLocked(context.Background())
	s.gen++
	s.err = nil
	return s.gen
}

// write appends v, at offset (-1 if the handler did not say) to its
// bucket's object.
func (s *blobSlot) write(gen int, offset int64, v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := writable(s.r, s.over, gen != s.gen, s.err, offset); err != nil {
		return err
	}
	bucket, buf, err := s.sink.bucketOf(s.buf, v)
	s.buf = buf
	if err != nil {
		s.err = fmt.Errorf("blob sink: %s: a value's partition: %w", s.r, err)
		return s.err
	}
	o := s.outs[bucket]
	if o == nil {
		if o, err = s.openLocked(bucket); err != nil {
			return err
		}
	}
	if s.sink.part != nil {
		// Partitioning encoded the value already, to read its bucket.
		err = o.enc.writeAvro(buf)
	} else {
		err = o.enc.write(v)
	}
	if err != nil {
		s.err = fmt.Errorf("blob sink: writing %s for %s: %w", o.staged, s.r, err)
		return s.err
	}
	switch {
	case offset < 0:
		o.whole = true
	case o.from < 0:
		o.from, o.until = offset, offset+1
	default:
		o.from, o.until = min(o.from, offset), max(o.until, offset+1)
	}
	return nil
}

// writable is why a write of offset (-1 for none) to the slot of r may
// not go in: its batch is over, a retry of the task superseded the
// writer (superseded), an earlier write failed (err), or the offset is
// not r's; nil if it may.
func writable(r runtime.OffsetRange, over, superseded bool, err error, offset int64) error {
	switch {
	case over:
		return fmt.Errorf("blob sink: writing %s: its batch is over (stored or aborted)", r)
	case superseded:
		return fmt.Errorf("blob sink: %s: %w", r, errSuperseded)
	case err != nil:
		return err
	case offset >= 0 && (offset < r.FromOffset || offset >= r.UntilOffset):
		return fmt.Errorf("blob sink: writing offset %d to %s: not an offset of the range", offset, r)
	}
	return nil
}

// openLocked starts a bucket's staging object and the format's header.
func (s *blobSlot) openLocked(bucket string) (*blobOut, error) {
	s.seq++
	o := &blobOut{bucket: bucket, staged: s.sink.stagedKey(s.r, s.seq), from: -1}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := s.sink.bucket.NewWriter(ctx, o.staged, &blob.WriterOptions{ContentType: "application/octet-stream", BufferSize: s.sink.cfg.upload})
	if err != nil {
		cancel()
		s.err = fmt.Errorf("blob sink: writing %s for %s: %w", o.staged, s.r, err)
		return nil, s.err
	}
	o.w, o.cancel = w, cancel
	if s.outs == nil {
		s.outs = map[string]*blobOut{}
	}
	s.outs[bucket] = o
	if o.enc, err = s.sink.newEnc(w, s.r); err != nil {
		s.err = fmt.Errorf("blob sink: writing %s for %s: %w", o.staged, s.r, err)
		return nil, s.err
	}
	return o, nil
}

// finish completes the staging objects. Without partitioning, a range
// the handler wrote nothing for still gets its (empty) file, as the files
// sink's; with it, there is no bucket to put one in, and the claim alone
// holds the range's offsets.
func (s *blobSlot) finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if len(s.outs) == 0 && s.sink.part == nil {
		if _, err := s.openLocked(""); err != nil {
			return err
		}
	}
	for _, o := range s.outs {
		if o.done {
			continue
		}
		err := o.enc.close()
		if cerr := o.w.Close(); err == nil {
			err = cerr
		}
		o.w = nil
		o.cancel()
		if err != nil {
			s.err = fmt.Errorf("blob sink: writing %s for %s: %w", o.staged, s.r, err)
			return s.err
		}
		o.done = true
	}
	return nil
}

// objects is the claim's list of the slot's objects, in bucket order.
func (s *blobSlot) objects() []claimObject {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []claimObject
	for _, o := range s.outs {
		out = append(out, claimObject{Key: s.sink.dataKey(o.rangeOf(s.r), o.bucket), Staged: o.staged})
	}
	slices.SortFunc(out, func(a, b claimObject) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func (s *blobSlot) setKeep(keep bool) {
	s.mu.Lock()
	s.keep = keep
	s.mu.Unlock()
}

// discardLocked aborts unfinished uploads and deletes finished staging
// objects no claim can name.
func (s *blobSlot) discardLocked(ctx context.Context) error {
	var errs []error
	for _, o := range s.outs {
		if o.w != nil {
			o.cancel() // a cancelled writer's Close ends the upload
			_ = o.w.Close()
			o.w = nil
			if err := s.sink.abortUploads(ctx, o.staged); err != nil {
				errs = append(errs, err)
			}
		}
		if o.done && !s.keep {
			if err := s.sink.bucket.Delete(ctx, o.staged); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
				errs = append(errs, fmt.Errorf("blob sink: removing the aborted batch's staging object %s: %w", o.staged, err))
			}
		}
	}
	s.outs = nil
	return errors.Join(errs...)
}

func (s *blobSlot) discard(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.over = true
	return s.discardLocked(ctx)
}

// stagedKey is where r's values wait for their claim: unique to the
// instance and attempt, under _streamgen so no query reads it.
func (c *blobSink) stagedKey(r runtime.OffsetRange, seq int) string {
	return fmt.Sprintf("%s/staged/topic=%s/partition=%d/%020d-%020d.%s.%d.%s",
		internalDir, r.Topic, r.Partition, r.FromOffset, r.UntilOffset, c.id, seq, c.ext)
}

var _ interface {
	runtime.TransactionalStore
	runtime.PartitionRetrier
} = (*Blob[noRecord, *noRecord])(nil)

var errNoObject = errors.New("no such object")

var _ runtime.OpenFilesReporter = (*Blob[noRecord, *noRecord])(nil)
