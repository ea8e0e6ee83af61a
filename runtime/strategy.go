package runtime

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/streamgen/streamgen/runtime/config"
)

// This file owns the consumer strategies (Subscribe, SubscribePattern,
// Assign), StartFrom, ResetTo and the semantics' names.

type consumerKind int

const (
	kindSubscribe consumerKind = iota + 1
	kindPattern
	kindAssign
)

// ConsumerStrategy says which partitions a stream reads and where it starts
// (Spark's ConsumerStrategies). Build one with Subscribe, SubscribePattern
// or Assign; the zero value is invalid.
type ConsumerStrategy struct {
	kind       consumerKind
	topics     []string
	pattern    *regexp.Regexp
	partitions []TopicPartition
	offsets    map[TopicPartition]int64
}

// Subscribe reads topics as a member of the stream's consumer group, so
// replicas of the job split the partitions between them.
func Subscribe(topics ...string) ConsumerStrategy {
	return ConsumerStrategy{kind: kindSubscribe, topics: slices.Clone(topics)}
}

// SubscribePattern reads every topic whose name matches re as a member of
// the stream's consumer group. Topics and partitions created while the job
// runs are picked up on the next metadata refresh, which happens at least
// every MetadataMaxAge (default 5s, see the MetadataMaxAge option).
func SubscribePattern(re *regexp.Regexp) ConsumerStrategy {
	return ConsumerStrategy{kind: kindPattern, pattern: re}
}

// Assign reads exactly the listed partitions without joining a group; the
// job places its partitions itself. Offsets are stored in the job's offset
// store (with Kafka's, the job's Group, if one is configured).
func Assign(partitions ...TopicPartition) ConsumerStrategy {
	return ConsumerStrategy{kind: kindAssign, partitions: slices.Clone(partitions)}
}

// WithOffsets sets per-partition starting offsets (Spark's overloads taking
// a Map[TopicPartition, Long]). They win over both stored offsets and the
// job's StartFrom position, for the listed partitions only, and only on the
// job's first assignment (a rebalance later resumes from the stored
// offsets). One outside the partition's log follows ResetTo.
func (c ConsumerStrategy) WithOffsets(offsets map[TopicPartition]int64) ConsumerStrategy {
	c.offsets = maps.Clone(offsets)
	return c
}

func (c ConsumerStrategy) String() string {
	switch c.kind {
	case kindSubscribe:
		return fmt.Sprintf("Subscribe(%v)", c.topics)
	case kindPattern:
		return fmt.Sprintf("SubscribePattern(%s)", c.pattern)
	case kindAssign:
		return fmt.Sprintf("Assign(%v)", c.partitions)
	}
	return "ConsumerStrategy(invalid)"
}

func (c ConsumerStrategy) validate() error {
	switch c.kind {
	case kindSubscribe:
		if len(c.topics) == 0 {
			return fmt.Errorf("Subscribe needs at least one topic")
		}
	case kindPattern:
		if c.pattern == nil {
			return fmt.Errorf("SubscribePattern needs a regexp")
		}
	case kindAssign:
		if len(c.partitions) == 0 {
			return fmt.Errorf("Assign needs at least one partition")
		}
	default:
		return fmt.Errorf("consumer strategy not set (use Subscribe, SubscribePattern or Assign)")
	}
	return nil
}

type locationKind int

const (
	locConsistent locationKind = iota
	locBrokers
	locFixed
)

// LocationStrategy places a batch's partition tasks on workers (Spark's
// LocationStrategies). Placement matters for per-worker state such as open
// files or caches: a partition that lands on the same worker every batch
// can keep it.
type LocationStrategy struct {
	kind  locationKind
	fixed map[TopicPartition]string
}

// PreferConsistent keeps each partition on the same worker across batches
// and spreads partitions evenly. It is the default.
func PreferConsistent() LocationStrategy { return LocationStrategy{kind: locConsistent} }

// PreferBrokers runs the partitions led by one broker on the same worker, so
// per-broker resources are shared. Use it only when workers ≥ brokers is
// false and such sharing helps; otherwise PreferConsistent balances better.
func PreferBrokers() LocationStrategy { return LocationStrategy{kind: locBrokers} }

// PreferFixed places the listed partitions on the named hosts. Within an
// engine a host name is a worker key: partitions mapped to the same name run
// on the same worker. Across instances, the name is matched against the
// engine's InstanceID. Unlisted partitions are placed as by
// PreferConsistent.
func PreferFixed(hosts map[TopicPartition]string) LocationStrategy {
	return LocationStrategy{kind: locFixed, fixed: maps.Clone(hosts)}
}

// Semantics is the job's delivery guarantee; the type is the
// configuration's (config.Semantics), so the spec's words and the
// engine's values are one set.
type Semantics = config.Semantics

const (
	// AtLeastOnce stores a batch's offsets after its handler succeeded, so
	// a crash between the two repeats the batch. It is the default.
	AtLeastOnce = config.AtLeastOnce
	// AtMostOnce stores a batch's offsets before its handler runs, so a
	// crash during the handler loses the batch.
	AtMostOnce = config.AtMostOnce
	// ExactlyOnce stores a batch's offsets together with its output, in one
	// atomic step of a TransactionalStore (a transactional sink), after
	// the handler produced the output.
	ExactlyOnce = config.ExactlyOnce
)

// StartPosition is where a job starts on a partition that has no explicit
// starting offset (see ConsumerStrategy.WithOffsets). Positions other than
// StartCommitted apply to the partitions of the job's first assignment
// only: partitions that arrive later by a rebalance resume from the
// offset store, so a handover between replicas loses and repeats nothing.
// They override a stored offset only where offsets are Kafka group
// commits and the job is not exactly-once; with offsets in PostgreSQL or
// a sink (whose stored offset is the output's own position) they apply
// only to partitions with nothing stored. It is config.StartPosition.
type StartPosition = config.StartPosition

// StartCommitted resumes from the offset store (by default the group's
// committed offsets), falling back to the job's ResetPolicy where nothing
// is stored. It is the default.
func StartCommitted() StartPosition { return config.StartCommitted() }

// StartEarliest starts at the log start, ignoring stored offsets
// (see StartPosition for which).
func StartEarliest() StartPosition { return config.StartEarliest() }

// StartLatest starts at the end of each partition, ignoring stored
// offsets (see StartPosition for which): the anomaly detector, which
// only cares about now.
func StartLatest() StartPosition { return config.StartLatest() }

// StartAt starts at the first record whose timestamp is at or after t,
// ignoring stored offsets (see StartPosition for which).
func StartAt(t time.Time) StartPosition { return config.StartAt(t) }

// ResetPolicy is what happens on a partition the offset store has no
// offset for, or whose offset (stored, or a starting offset) lies outside
// the partition's log: deleted by retention, or past its end (Kafka's
// auto.offset.reset). It is config.ResetPolicy.
type ResetPolicy = config.ResetPolicy

const (
	// ResetEarliest starts at the log start. It is the default.
	ResetEarliest = config.ResetEarliest
	// ResetLatest starts at the end of the partition.
	ResetLatest = config.ResetLatest
	// ResetError fails the job with a *NoOffsetError naming the
	// partitions that have no stored offset, or an *OffsetOutOfRangeError
	// naming the partition whose offset lies outside its log.
	ResetError = config.ResetError
)
