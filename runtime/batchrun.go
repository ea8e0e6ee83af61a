package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// This file owns one batch's run: cutting it, building the streams' typed
// shares, running its steps in the policy's order (policy.go), and what
// became of its offsets.

// lost reports whether err, a failed batch's, leaves its records behind
// rather than failing the job (policy.lostAfterStored), and if so logs
// and counts it.
func (e *Engine) lost(b *batch, err error) bool {
	if err == nil || !e.policy.lostAfterStored || !b.stored.done {
		return false
	}
	e.rec.lost(b.records)
	e.Logger().Error("batch failed after its offsets were stored (at-most-once): its records are not read again",
		"batch", b.view.id, "records", b.records, "err", err.Error())
	return true
}

// batch is one batch in the making: its cut, then its typed shares and
// the records left out. It lives for one runBatch; nothing of it is kept
// on the engine's long-lived state.
type batch struct {
	view    *JobBatch
	cuts    []cut         // by stream index
	bad     [][]badRecord // by stream index
	records int
	// all are every owned partition's ranges, empty ones included, for
	// a TransactionalStore's Begin.
	all    StoredBatch
	stored struct {
		StoredBatch
		done bool // the offsets are stored
	}
	// rewind: the batch was given up unhandled, and its partitions are
	// to be read again from its start (see staleCommit).
	rewind bool
	// reread: the batch's transaction was aborted (AbortedError) and it
	// is read again; its failure does not end the job.
	reread bool
	// refused: the group refused the handled batch's offsets (staleBatch).
	refused bool
}

// offsets is what became of b's offsets, for its BatchInfo.
func (e *Engine) offsets(b *batch, err error) OffsetsOutcome {
	switch {
	case e.cfg.manualCommit:
		return OffsetsByHandler
	case b.refused:
		return OffsetsRefused
	case b.rewind:
		return OffsetsReread
	case b.stored.done && err != nil:
		return OffsetsLost
	case b.stored.done:
		return OffsetsStored
	}
	return OffsetsNotStored
}

func (e *Engine) runBatch(ctx context.Context, h Handler, est *pidEstimator, id int64, at time.Time) error {
	if err := e.swapSides(); err != nil {
		return err
	}
	rate := e.limitRate()
	b := &batch{
		view: &JobBatch{id: id, time: at, byStream: make([]any, len(e.streams))},
		cuts: make([]cut, len(e.streams)),
		bad:  make([][]badRecord, len(e.streams)),
	}
	for _, c := range e.consumers {
		c.cutBatch(rate, b.cuts)
	}
	defer recycle(b)
	info := BatchInfo{ID: id, Time: at, Ranges: make(map[string][]OffsetRange, len(e.streams))}
	b.stored.ID, b.stored.Time = id, at
	b.all = StoredBatch{ID: id, Time: at}
	for i, s := range e.sources() {
		info.Ranges[s.name] = b.cuts[i].ranges
		for _, r := range b.cuts[i].recs {
			b.records += len(r)
		}
		b.stored.Ranges = append(b.stored.Ranges, nonEmpty(b.cuts[i].ranges)...)
		b.all.Ranges = append(b.all.Ranges, b.cuts[i].ranges...)
	}
	info.Records = b.records
	for _, c := range e.consumers {
		// Stored first: the batch's own ranges, later, win (untilOffsets).
		b.stored.Ranges = append(c.takeUnstored(), b.stored.Ranges...)
	}
	e.inflight.Store(id)
	defer e.inflight.Store(0)
	stopPolling := e.pollDuringBatch(ctx)
	defer stopPolling()
	e.notify.submitted(info)
	start := time.Now()
	info.SchedulingDelay = max(start.Sub(at), 0)
	e.notify.started(info)
	err := e.process(ctx, h, b)
	stopPolling()
	if b.rewind {
		for _, c := range e.consumers {
			c.rewind(b.stored.Ranges)
		}
	}
	info.ProcessingTime = time.Since(start)
	for _, bad := range b.bad {
		info.BadRecords += len(bad)
	}
	info.TotalDelay = info.SchedulingDelay + info.ProcessingTime
	info.Err = err
	info.Offsets = e.offsets(b, err)
	e.rec.record(info)
	e.notify.completed(info)
	if e.lost(b, err) || b.reread {
		err = nil
	}
	if err == nil && est != nil {
		if r, ok := est.compute(at, int64(info.Records), info.ProcessingTime, info.SchedulingDelay); ok {
			e.rec.setRate(r)
		}
	}
	return err
}

// recycle hands the chunks whose last records b held back to their
// streams, which decode later chunks into the same records: b is over,
// and its records are the engine's again (a handler keeps a copy, a
// generated record's Clone, of what it needs after its batch). A chunk
// still being decoded (b failed before it waited for it) is left to the
// garbage collector.
func recycle(b *batch) {
	for _, c := range b.cuts {
		for _, ps := range c.pieces {
			for _, p := range ps {
				if !p.last || p.c.src.recycle == nil {
					continue
				}
				select {
				case <-p.c.done:
					p.c.src.recycle(p.c)
				default:
				}
			}
		}
	}
}

// process builds the streams' typed batches, then runs the batch's steps
// in the order its semantics set.
func (e *Engine) process(ctx context.Context, h Handler, b *batch) error {
	for i, s := range e.streams {
		v, bad, err := s.build(ctx, e.pool, b.view, b.cuts[i])
		if err != nil {
			return err
		}
		b.view.byStream[i], b.bad[i] = v, bad
	}
	var txn TransactionalStore
	for _, st := range e.policy.steps {
		var err error
		switch st {
		case begin:
			txn = e.policy.txn
			if err = txn.Begin(ctx, b.all); err != nil {
				txn = nil
				err = fmt.Errorf("batch %d: %w", b.view.id, &OffsetStoreError{Op: "begin", Err: err})
			}
		case disposeBad:
			err = e.disposeBad(ctx, b)
		case storeOffsets:
			if err = e.store.Store(ctx, b.stored.StoredBatch); err != nil {
				err = fmt.Errorf("batch %d: %w", b.view.id, &OffsetStoreError{Op: "store", Err: err})
			}
			b.stored.done = err == nil
			e.rec.commit(err)
			switch {
			case err == nil:
			case txn != nil:
				// Nothing of the transaction is kept: abort it,
				// and read the batch again if it may pass.
				if e.rereadAborted(ctx, b, err) {
					e.abort(ctx, txn, b)
					return err
				}
			case staleCommit(err):
				e.staleBatch(ctx, b, err)
				return nil
			}
		case handle:
			if err = callHandler(ctx, h, b.view); err != nil {
				err = fmt.Errorf("batch %d: %w", b.view.id, err)
				// The sink's transaction was lost under the handler
				// (its database restarted): read the batch again.
				if txn != nil && e.rereadAborted(ctx, b, err) {
					e.abort(ctx, txn, b)
					return err
				}
			}
		}
		if err != nil {
			if txn != nil && !b.stored.done {
				e.abort(ctx, txn, b)
			}
			return err
		}
	}
	e.commits.flush(ctx, e.store, e.rec.commit)
	return nil
}

// callHandler runs the handler for one batch and waits for it until ctx
// (Run's hard context) ends, which happens only when a stop overran
// ShutdownTimeout: a handler that ignores its ctx (a blocking call with
// no deadline) then stays behind in the background instead of holding
// Run, and the process, past its bound. The batch's offsets are not
// stored, so at-least-once reads it again and exactly-once's transaction
// is never committed.
func callHandler(ctx context.Context, h Handler, v *JobBatch) error {
	done := make(chan error, 1)
	go func() { done <- recovered("the handler", func() error { return h(ctx, v) }) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("the handler had not returned when the shutdown timeout ran out: %w", ctx.Err())
	}
}

// staleCommit reports whether err is the group refusing a batch's Kafka
// commit because this member's generation is over: the group rebalanced
// while the member could not reach it (a broker restart, an outage longer
// than the session timeout). The member rejoins by itself at the next
// fill; the batch need not fail the job.
func staleCommit(err error) bool {
	return errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.RebalanceInProgress)
}

// staleBatch settles a batch whose commit the group refused (staleCommit)
// without failing the job. At-least-once the handler already ran: the
// offsets stay where the last stored batch left them, so whoever owns
// the partitions next reads the batch again (allowed), and if we keep
// them the next batch stores the refused ranges with its own. At-most-once the handler has
// not run and must not run now (nothing stored says it may); the
// partitions are read again from the batch's start (rewind), by us or by
// their next owner.
func (e *Engine) staleBatch(ctx context.Context, b *batch, err error) {
	if e.policy.refusedRewinds {
		b.rewind = true
		e.Logger().Warn("batch not handled: the group refused its offsets (this member's generation is over); its partitions are read again from its start",
			"batch", b.view.id, "records", b.records, "group", e.cfg.group, "err", err.Error())
		return
	}
	e.Logger().Warn("batch handled but its offsets not stored: the group refused them (this member's generation is over); the next batch stores them if this member keeps the partitions or gets them back, else their next owner reads the batch again",
		"batch", b.view.id, "records", b.records, "group", e.cfg.group, "err", err.Error())
	b.refused = true
	for _, c := range e.consumers {
		c.keepUnstored(b.stored.Ranges)
	}
	e.commits.flush(ctx, e.store, e.rec.commit)
}

func (e *Engine) disposeBad(ctx context.Context, b *batch) error {
	write := func(ctx context.Context, recs []*kgo.Record) error {
		return e.admin.ProduceSync(ctx, recs...).FirstErr()
	}
	if dlw := e.policy.deadLetters; dlw != nil {
		write = dlw.WriteDeadLetters
	}
	for i, s := range e.sources() {
		if err := s.handleBad(ctx, e.Logger(), b.bad[i], write); err != nil {
			return err
		}
	}
	return nil
}

func nonEmpty(rs []OffsetRange) []OffsetRange {
	out := make([]OffsetRange, 0, len(rs))
	for _, r := range rs {
		if r.UntilOffset > r.FromOffset {
			out = append(out, r)
		}
	}
	return out
}

// abort discards a failed batch's output. The batch fails either way; a
// store that could not discard it is logged and counted
// (Snapshot.AbortFailures), since what it left (an open transaction,
// temporary files) may hold up the next batch.
func (e *Engine) abort(ctx context.Context, txn TransactionalStore, b *batch) {
	err := txn.Abort(context.WithoutCancel(ctx), b.all)
	if err == nil {
		return
	}
	e.rec.abortFailed()
	e.Logger().Error("the failed batch's output could not be discarded", "batch", b.view.id, "err", err.Error())
}

// rereadAborted reports whether the exactly-once batch b, whose Store
// failed with err, is to be read again in the process: its store says the
// transaction certainly did not commit (AbortedError), and batches have
// not kept aborting for longer than the outage limit. It marks b so.
func (e *Engine) rereadAborted(ctx context.Context, b *batch, err error) bool {
	var ae *AbortedError
	if !e.policy.rereadAborted || !errors.As(err, &ae) {
		return false
	}
	now := time.Now()
	since := e.rec.aborted(now)
	if lim := e.cfg.outageLimit; lim > 0 && now.Sub(since) >= lim {
		e.Logger().Error("batches keep aborting for longer than the outage limit (kafka.outageLimit)", "since", since, "outage_limit", lim)
		return false
	}
	b.rewind, b.reread = true, true
	e.Logger().Warn("batch's transaction aborted; its partitions are read again from its start",
		"batch", b.view.id, "records", b.records, "err", err.Error())
	// Not at once: what aborted it may need a moment to pass.
	t := time.NewTimer(e.cfg.taskBackoff)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return true
}
