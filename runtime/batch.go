package runtime

import (
	"context"
	"fmt"
	"iter"
	"time"
)

// This file owns a stream's typed share of a batch: its records,
// partitions and ranges, and ForeachPartition's tasks.

// Batch is one stream's share of a micro-batch: for every partition the
// stream owned when the batch was cut, the records in a half-open offset
// range decided before any handler ran (Spark's KafkaRDD with
// HasOffsetRanges). Re-running a batch re-reads exactly these ranges.
//
// A batch's records are the engine's again once the batch is over (the
// handler returned): later batches are decoded into them, and generated
// decoders reuse their values' slices, maps and pointed-to values. A
// handler keeps a copy (a generated value's Clone) of what it needs
// after its batch, never a record or what it points to.
type Batch[K, V any] struct {
	time   time.Time
	id     int64
	parts  []Partition[K, V]
	ranges []OffsetRange
	pool   *pool
	retry  retryPolicy
	// reread rebuilds partition i from the raw records of its range, so a
	// retried task never sees values a failed attempt mutated.
	reread func(ctx context.Context, i int) (Partition[K, V], error)
}

// Time is the batch time: the interval boundary the batch was cut at.
func (b *Batch[K, V]) Time() time.Time { return b.time }

// ID numbers batches of an engine from 1, in the order they run.
func (b *Batch[K, V]) ID() int64 { return b.id }

// OffsetRanges returns one range per partition, including empty ones, in the
// order of Partitions. The slice is a copy.
func (b *Batch[K, V]) OffsetRanges() []OffsetRange {
	return append([]OffsetRange(nil), b.ranges...)
}

// Partitions returns the batch's partitions in a stable order (topic, then
// partition).
func (b *Batch[K, V]) Partitions() []Partition[K, V] { return b.parts }

// Len is the number of records in the batch. It can be less than the sum of
// the ranges' Count on compacted or transactional topics.
func (b *Batch[K, V]) Len() int {
	n := 0
	for _, p := range b.parts {
		n += len(p.recs)
	}
	return n
}

// Records yields every record of the batch, partition by partition, each
// partition in offset order.
func (b *Batch[K, V]) Records() iter.Seq[*Record[K, V]] {
	return func(yield func(*Record[K, V]) bool) {
		for _, p := range b.parts {
			for _, r := range p.recs {
				if !yield(r) {
					return
				}
			}
		}
	}
}

// ForeachPartition runs fn once per partition on the engine's worker pool,
// placed by the stream's location strategy, and waits for all of them. A
// task that fails is retried, on a fresh copy of the same range's records,
// up to the engine's MaxTaskFailures with backoff; after that the first
// error is returned as a *TaskError naming the range. When one task fails
// for good, the context passed to the others is cancelled. A task that
// panics has failed, with a *PanicError holding the panic and its stack.
//
// fn must not call ForeachPartition itself: tasks queue on the same
// workers, so a nested call can wait on its own worker forever.
func (b *Batch[K, V]) ForeachPartition(ctx context.Context, fn func(context.Context, Partition[K, V]) error) error {
	if len(b.parts) == 0 {
		return nil
	}
	p := b.pool
	if p == nil {
		p = inlinePool
	}
	return p.run(ctx, len(b.parts), func(i int) int { return b.parts[i].slot }, func(ctx context.Context, i int) error {
		return b.retry.do(ctx, b.parts[i].rng, func(attempt int) error {
			part := b.parts[i]
			if attempt > 0 && b.reread != nil {
				var err error
				if part, err = b.reread(ctx, i); err != nil {
					return err
				}
			}
			return recovered(fmt.Sprintf("the task for %s", part.rng), func() error { return fn(ctx, part) })
		})
	})
}

// Partition is one partition's slice of a batch: its offset range and the
// records in it.
type Partition[K, V any] struct {
	rng  OffsetRange
	recs []*Record[K, V]
	// slot is the worker this partition's task prefers (location strategy).
	slot int
}

// OffsetRange is the range this partition covers in its batch.
func (p Partition[K, V]) OffsetRange() OffsetRange { return p.rng }

// TopicPartition names the partition.
func (p Partition[K, V]) TopicPartition() TopicPartition { return p.rng.TopicPartition() }

// Len is the number of records in the partition's range.
func (p Partition[K, V]) Len() int { return len(p.recs) }

// Records yields the partition's records in offset order.
func (p Partition[K, V]) Records() iter.Seq[*Record[K, V]] {
	return func(yield func(*Record[K, V]) bool) {
		for _, r := range p.recs {
			if !yield(r) {
				return
			}
		}
	}
}
