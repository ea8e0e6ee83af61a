package runtime

import (
	"fmt"
	"time"
)

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
