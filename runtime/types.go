package runtime

import (
	"fmt"
	"strconv"
	"time"
)

// This file owns the small types every part shares: TopicPartition and
// OffsetRange.

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

// OffsetRange is the half-open range [FromOffset, UntilOffset) of one
// partition that a batch covers (Spark's OffsetRange).
type OffsetRange struct {
	Topic       string
	Partition   int32
	FromOffset  int64 // inclusive
	UntilOffset int64 // exclusive
}

// Count is the number of offsets in the range. Compacted topics and
// transaction markers can leave fewer records than offsets.
func (r OffsetRange) Count() int64 { return r.UntilOffset - r.FromOffset }

// TopicPartition returns the partition the range belongs to.
func (r OffsetRange) TopicPartition() TopicPartition {
	return TopicPartition{Topic: r.Topic, Partition: r.Partition}
}

func (r OffsetRange) String() string {
	return fmt.Sprintf("topic: %s partition: %d offsets: %d to %d", r.Topic, r.Partition, r.FromOffset, r.UntilOffset)
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one decoded Kafka record with its position.
type Record[K, V any] struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Headers   []Header
	Key       K
	Value     V
}

// SourceID is a stable key for the record, its position:
// "topic/partition/offset". An at-least-once sink that upserts by it is
// idempotent: a batch read again after a failure overwrites its own rows
// instead of adding new ones (the entity cache's way to exactly-once
// results without a transaction).
func (r *Record[K, V]) SourceID() string {
	return r.Topic + "/" + strconv.FormatInt(int64(r.Partition), 10) + "/" + strconv.FormatInt(r.Offset, 10)
}
