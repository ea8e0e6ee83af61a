package sink

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/streamgen/streamgen/runtime"
)

// blobSlot is one partition's output in the blob sink's batch in flight:
// a staging object streamed to the bucket as the handler writes. Writer
// starts it over; gen tells the writers of earlier attempts from the
// current one.
type blobSlot struct {
	mu     sync.Mutex
	r      runtime.OffsetRange
	sink   *blobSink
	gen    int
	seq    int
	staged string // the staging object's key, "" before the first value
	cancel context.CancelFunc
	w      *blob.Writer
	enc    valueEncoder
	err    error
	done   bool // the staging object is complete in the bucket
	keep   bool // a claim may name the staging object: never delete it here
	over   bool // the batch was stored or aborted
}

func (s *blobSlot) reset() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.discardLocked(context.Background())
	s.gen++
	s.err = nil
	return s.gen
}

func (s *blobSlot) write(gen int, v any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.over:
		return fmt.Errorf("blob sink: writing %s: its batch is over (stored or aborted)", s.r)
	case gen != s.gen:
		return fmt.Errorf("blob sink: %s: %w", s.r, errSuperseded)
	case s.err != nil:
		return s.err
	}
	if s.enc == nil {
		if err := s.openLocked(); err != nil {
			return err
		}
	}
	if err := s.enc.write(v); err != nil {
		s.err = fmt.Errorf("blob sink: writing %s for %s: %w", s.staged, s.r, err)
		return s.err
	}
	return nil
}

// openLocked starts the staging object and the format's header.
func (s *blobSlot) openLocked() error {
	s.seq++
	s.staged = s.sink.stagedKey(s.r, s.seq)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := s.sink.bucket.NewWriter(ctx, s.staged, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		cancel()
		s.err = fmt.Errorf("blob sink: writing %s for %s: %w", s.staged, s.r, err)
		return s.err
	}
	s.w, s.cancel = w, cancel
	if s.enc, err = s.sink.newEnc(w, s.r); err != nil {
		s.err = fmt.Errorf("blob sink: writing %s for %s: %w", s.staged, s.r, err)
		return s.err
	}
	return nil
}

// finish completes the staging object, an empty file if nothing was
// written.
func (s *blobSlot) finish() error {
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
	err := s.enc.close()
	if cerr := s.w.Close(); err == nil {
		err = cerr
	}
	s.w = nil
	s.cancel()
	if err != nil {
		s.err = fmt.Errorf("blob sink: writing %s for %s: %w", s.staged, s.r, err)
		return s.err
	}
	s.done = true
	return nil
}

// discardLocked aborts an unfinished upload and deletes a finished
// staging object no claim can name.
func (s *blobSlot) discardLocked(ctx context.Context) error {
	var err error
	if s.w != nil {
		s.cancel() // a cancelled writer's Close aborts the upload
		_ = s.w.Close()
		s.w = nil
	}
	if s.done && !s.keep && s.staged != "" {
		if derr := s.sink.bucket.Delete(ctx, s.staged); derr != nil && gcerrors.Code(derr) != gcerrors.NotFound {
			err = fmt.Errorf("blob sink: removing the aborted batch's staging object %s: %w", s.staged, derr)
		}
	}
	s.staged, s.enc, s.done = "", nil, false
	return err
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
