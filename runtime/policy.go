package runtime

import (
	"errors"
)

// This file owns what the job's semantics decide, in one place: the
// order of a batch's steps, how a failed partition task is retried, what
// a failed batch means (lost, read again in the process, or fatal),
// where dead letters go, and whether StartFrom moves stored offsets. New
// builds the policy once, from the semantics, ManualCommit and the offset
// store's capabilities (store.go); the batch loop only reads it.

// step is one thing a batch does after its records are decoded.
type step int

const (
	// disposeBad counts and logs the records the DecodePolicy left out
	// and writes their dead letters, waiting for the acknowledgements.
	disposeBad step = iota
	// storeOffsets stores the batch's ranges in the offset store; with a
	// TransactionalStore that commits the handler's output too.
	storeOffsets
	// handle runs the handler.
	handle
	// begin prepares a TransactionalStore for the batch's output.
	begin
)

// policy is what the job's semantics decide.
type policy struct {
	// steps is the order of a batch's steps: the table in Engine's
	// documentation and the README. Dead letters always come before the
	// offsets past them are stored, so no rejected record's offset is
	// stored without its dead letter.
	steps []step
	// tasks is how a batch's ForeachPartition tasks are retried.
	tasks retryPolicy
	// txn is the store the steps begin, store and abort a transaction
	// in (exactly-once), nil otherwise.
	txn TransactionalStore
	// deadLetters writes an exactly-once batch's dead letters into its
	// transaction, after begin; nil: they go to the dead-letter topic at
	// once.
	deadLetters DeadLetterWriter
	// lostAfterStored: a batch that fails after its offsets were stored
	// is never read again, so the job logs it, counts it and goes on
	// (at-most-once). Otherwise a failed batch fails the job, and a
	// restart reads it again from the stored offsets.
	lostAfterStored bool
	// rereadAborted: a batch whose transaction certainly did not commit
	// (AbortedError) is read again in the process (exactly-once).
	rereadAborted bool
	// refusedRewinds: a batch whose offsets the group refused has not
	// been handled, and must not be now: its partitions are read again
	// from its start (at-most-once). Otherwise the handled batch's ranges
	// are kept to store with the next batch.
	refusedRewinds bool
	// startOverridesStored: StartFrom (earliest, latest, a time) moves
	// partitions that have a stored offset, as Kafka's own consumers do
	// (the anomaly detector always starts at the latest): only for
	// offsets kept as Kafka group commits, at-most-once or at-least-once.
	// Any other store holds the output's position, or fences each batch
	// on starting where the last one ended: there StartFrom applies only
	// to partitions with nothing stored.
	startOverridesStored bool
}

// errExactlyOnceStore is the rule that exactly-once needs a store that
// commits the output with the offsets; config.ExactlyOnceStore is its
// form for a spec's sink and store keys.
var errExactlyOnceStore = errors.New("runtime: exactly-once needs an offset store that commits the output together with the offsets (WithOffsetStore with a TransactionalStore, such as a transactional sink); with Kafka's group commits there would be a window between writing output and storing offsets")

// newPolicy is the policy of cfg's semantics with cfg's store; nil store
// means offsets as Kafka group commits.
func newPolicy(cfg *engineCfg) (policy, error) {
	txn, transactional := cfg.store.(TransactionalStore)
	dlw, inTxn := cfg.store.(DeadLetterWriter)
	p := policy{
		tasks:                taskRetries(cfg),
		startOverridesStored: cfg.store == nil && cfg.semantics != ExactlyOnce,
	}
	switch {
	case cfg.manualCommit: // the handler stores offsets itself
		p.steps = []step{disposeBad, handle}
	case cfg.semantics == AtMostOnce:
		p.steps = []step{disposeBad, storeOffsets, handle}
		p.lostAfterStored, p.refusedRewinds = true, true
	case cfg.semantics == ExactlyOnce:
		if !transactional {
			return policy{}, errExactlyOnceStore
		}
		p.txn, p.rereadAborted = txn, true
		p.steps = []step{disposeBad, begin, handle, storeOffsets}
		if inTxn { // the dead letters are output too
			p.deadLetters = dlw
			p.steps = []step{begin, disposeBad, handle, storeOffsets}
		}
	default: // at-least-once: a failed handler writes no dead letters
		p.steps = []step{handle, disposeBad, storeOffsets}
	}
	return p, nil
}

// taskRetries is how a batch's ForeachPartition tasks are retried. An
// at-most-once job never retries one: a retry would hand a partition's
// records to the handler a second time (Spark's task.maxFailures 1). An
// exactly-once job retries one only when its store can take back what the
// failed attempt wrote (PartitionRetrier); otherwise that output is in the
// batch's transaction for good, so a failed task fails the batch, which is
// rolled back and read again.
func taskRetries(cfg *engineCfg) retryPolicy {
	p := retryPolicy{maxFailures: cfg.maxTaskFailures, backoff: cfg.taskBackoff}
	switch cfg.semantics {
	case AtMostOnce:
		return retryPolicy{maxFailures: 1}
	case ExactlyOnce:
		pr, ok := cfg.store.(PartitionRetrier)
		if !ok {
			return retryPolicy{maxFailures: 1}
		}
		p.beforeRetry = pr.DiscardPartition
	}
	return p
}
