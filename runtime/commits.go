package runtime

import (
	"context"
	"sync"
	"time"
)

// This file owns the queue of offsets a handler commits itself
// (Stream.CommitAsync, Spark's CanCommitOffsets.commitAsync): queued
// during a batch, stored after it, reported to the callbacks.

// commitQueue is what CommitAsync queued and not yet stored.
type commitQueue struct {
	mu        sync.Mutex
	pending   map[TopicPartition]int64 // the highest until per partition
	callbacks []func([]OffsetRange, error)
}

// add queues ranges: the highest UntilOffset per partition wins.
func (q *commitQueue) add(ranges []OffsetRange, callback func([]OffsetRange, error)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.pending == nil {
		q.pending = make(map[TopicPartition]int64)
	}
	for tp, until := range untilOffsets(ranges) {
		if cur, ok := q.pending[tp]; !ok || until > cur {
			q.pending[tp] = until
		}
	}
	q.callbacks = append(q.callbacks, callback)
}

// flush stores what was queued in store and tells the callbacks, and
// count, the outcome. A failed queued commit goes to its callbacks, not
// to Run: the caller asked for asynchronous reporting, as with Spark's
// commitAsync.
func (q *commitQueue) flush(ctx context.Context, store OffsetStore, count func(error)) {
	q.mu.Lock()
	pending, cbs := q.pending, q.callbacks
	q.pending, q.callbacks = nil, nil
	q.mu.Unlock()
	if len(pending) == 0 && len(cbs) == 0 {
		return
	}
	ranges := make([]OffsetRange, 0, len(pending))
	for tp, until := range pending {
		ranges = append(ranges, OffsetRange{Topic: tp.Topic, Partition: tp.Partition, FromOffset: until, UntilOffset: until})
	}
	var err error
	if len(ranges) > 0 {
		err = store.Store(ctx, StoredBatch{Time: time.Now(), Ranges: ranges})
		count(err)
	}
	for _, cb := range cbs {
		if cb != nil {
			cb(ranges, err)
		}
	}
}
