package runtime

import (
	"fmt"
	"time"
)

// This file owns BatchInfo, what listeners and the status page learn of
// each batch.

// BatchInfo describes one batch for listeners and the status page (Spark's
// batch page): when it was cut, how long it waited and ran, and exactly
// which offsets it covered.
type BatchInfo struct {
	ID int64
	// Time is the interval boundary the batch was cut at.
	Time time.Time
	// Records is the input size: records across all streams.
	Records int
	// SchedulingDelay is how long the batch waited for the previous one:
	// from Time until processing started.
	SchedulingDelay time.Duration
	// ProcessingTime is the handler plus storing offsets and dead letters, and any decoding the
	// batch had to wait for (records are decoded as they are fetched, and
	// a batch is cut from decoded ones, so usually none).
	ProcessingTime time.Duration
	// TotalDelay is SchedulingDelay + ProcessingTime.
	TotalDelay time.Duration
	// BadRecords is how many records of the ranges the streams'
	// DecodePolicy left out of the batch (skipped or dead-lettered).
	BadRecords int
	// Ranges are the batch's offset ranges keyed by stream name.
	Ranges map[string][]OffsetRange
	// Err is the batch's failure, nil on success and before completion.
	Err error
	// Offsets is what became of the batch's offsets: only OffsetsStored
	// (or OffsetsByHandler) means a restart will not read the batch
	// again. Set at completion.
	Offsets OffsetsOutcome
}

// endsRun reports whether the batch's failure ends Run: every failure but
// a batch read again in the process or lost at most once.
func (i BatchInfo) endsRun() bool {
	return i.Err != nil && i.Offsets != OffsetsReread && i.Offsets != OffsetsLost
}

// OffsetsOutcome is what became of a completed batch's offsets.
type OffsetsOutcome int

const (
	// OffsetsNotStored: the batch failed before its offsets were stored;
	// a restart reads it again from the stored offsets.
	OffsetsNotStored OffsetsOutcome = iota
	// OffsetsStored: the batch's offsets (exactly-once: with its output)
	// are in the offset store.
	OffsetsStored
	// OffsetsRefused: at-least-once, the batch was handled but the group
	// refused its offsets (this member's generation was over, a
	// rebalance). The next batch stores them if this member keeps or gets
	// back the partitions; otherwise their next owner reads the batch
	// again.
	OffsetsRefused
	// OffsetsReread: the batch was given up and its partitions are read
	// again from its start in this process: an exactly-once transaction
	// that aborted, or at-most-once offsets the group refused before the
	// handler ran.
	OffsetsReread
	// OffsetsLost: at-most-once, the offsets were stored before the
	// handler, which failed: the batch's records are not read again.
	OffsetsLost
	// OffsetsByHandler: ManualCommit; the handler stores offsets itself.
	OffsetsByHandler
)

// unstored reports whether a batch that did not end the job left its
// offsets unstored (refused, read again, lost).
func (o OffsetsOutcome) unstored() bool {
	return o == OffsetsRefused || o == OffsetsReread || o == OffsetsLost
}

func (o OffsetsOutcome) String() string {
	switch o {
	case OffsetsNotStored:
		return "not stored"
	case OffsetsStored:
		return "stored"
	case OffsetsRefused:
		return "refused by the group"
	case OffsetsReread:
		return "read again"
	case OffsetsLost:
		return "lost (at-most-once)"
	case OffsetsByHandler:
		return "stored by the handler"
	}
	return fmt.Sprintf("OffsetsOutcome(%d)", int(o))
}

// Label is the outcome as one word, for metrics and JSON.
func (o OffsetsOutcome) Label() string {
	switch o {
	case OffsetsNotStored:
		return "not_stored"
	case OffsetsStored:
		return "stored"
	case OffsetsRefused:
		return "refused"
	case OffsetsReread:
		return "reread"
	case OffsetsLost:
		return "lost"
	case OffsetsByHandler:
		return "by_handler"
	}
	return "unknown"
}

func (i BatchInfo) String() string {
	return fmt.Sprintf("batch %d at %s: %d records, scheduling delay %s, processing time %s, total delay %s",
		i.ID, i.Time.Format(time.RFC3339Nano), i.Records, i.SchedulingDelay, i.ProcessingTime, i.TotalDelay)
}

// BatchListener is told about every batch three times: when it is cut
// (submitted), when processing starts, and when it completed or failed.
// Calls are made from the engine's batch goroutine, in order; a slow
// listener delays batches, so hand off anything heavy.
type BatchListener interface {
	BatchSubmitted(BatchInfo)
	BatchStarted(BatchInfo)
	BatchCompleted(BatchInfo)
}
