package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file owns the offset store's contract: OffsetStore, what a batch
// stores (StoredBatch), and the capabilities a store may add, each a
// named interface the engine looks for once, in New and Run:
//
//	capability          what the engine does with it
//	TransactionalStore  Begin before the handler, Store commits output and
//	                    offsets together, Abort on failure; exactly-once
//	                    needs one
//	PartitionRetrier    exactly-once retries a failed partition task
//	                    within its batch after DiscardPartition
//	DeadLetterWriter    exactly-once writes dead letters into the batch's
//	                    transaction, before the handler
//	KafkaBound          bound to the engine's clients and group member
//	                    before any consumer opens (the Kafka sink)
//	OutageAware         reports its service's outages (PostgreSQL) to the
//	                    engine's health, which bounds them
//	OpenFilesReporter   holds output open across batches (the rolling
//	                    blob sink): Snapshot, the status page and
//	                    /metrics show it
//
// Errors: a store refusing a stale batch returns a *FencedError (errors.Is
// ErrFenced); one whose transaction certainly did not commit, for a cause
// that may pass, returns an *AbortedError.

// OffsetStore keeps, for each partition of a job's group, the offset its
// next batch starts at: plain (group, topic, partition, offset) data that
// survives rebuilding the job with new code. The engine loads a partition's
// start from it whenever it gains the partition, and stores every finished
// batch's ranges in it (when depends on the semantics; see Engine).
type OffsetStore interface {
	// Load returns the stored next offset of each of tps that has one;
	// a partition missing from the map has none. An error fails the
	// assignment: the job never guesses a start. It may be before the
	// end of the last batch stored: a store that keeps output open
	// across batches (the rolling blob sink) returns the start of what
	// it has not published, and itself drops the output of records read
	// again that it had published; the engine's part is unchanged (it
	// reads on from Load, and in memory from each stored batch's end).
	Load(ctx context.Context, tps []TopicPartition) (map[TopicPartition]int64, error)
	// Store records a finished batch: each range's UntilOffset becomes its
	// partition's next offset. Each partition's range is stored all or
	// nothing; a store that fails midway may have stored some partitions'
	// ranges and not others' (the files sink publishes a partition at a
	// time), so after a failed Store the job stops, and a restart goes on
	// from what Load returns for each partition: nothing is lost or
	// stored twice either way.
	Store(ctx context.Context, b StoredBatch) error
}

// TransactionalStore is an OffsetStore whose Store commits the batch's
// output together with its offsets, in one atomic step (a PostgreSQL
// transaction, a file rename, a Kafka transaction): what ExactlyOnce
// needs, since no window is left between writing output and storing
// offsets. A transactional sink is one. For each batch the engine calls
// Begin before the handler, which writes the batch's output through the
// sink, then Store; or Abort instead of Store when the batch failed.
type TransactionalStore interface {
	OffsetStore
	// Begin prepares the batch's output: a transaction, temporary files.
	// The batch's ranges are in b (every owned partition's, empty ones
	// included).
	Begin(ctx context.Context, b StoredBatch) error
	// Abort discards the output of a batch that failed before Store
	// committed it. It is also called when Store itself failed. Its
	// error (the output could not be discarded: a rollback or a
	// transaction abort that failed) is logged and counted; the batch
	// fails either way and is read again from the stored offsets.
	Abort(ctx context.Context, b StoredBatch) error
}

// Drainer is an offset store that holds output open across batches (the
// rolling blob sink keeps files open until they are full). At a graceful
// stop, after the last batch and before the engine leaves the group, Run
// calls Drain: it publishes that output and stores its offsets, so the
// next start reads on from where this one stopped instead of reading
// again all that the open output held (up to the store's own bound, such
// as the blob sink's sink.roll.maxOpen). A stop that overruns
// ShutdownTimeout cancels ctx: what Drain did not publish is read again
// by the partition's next owner, as after a crash. A FencedError (another
// instance owns a partition now) is logged; any other error is Run's.
type Drainer interface {
	Drain(ctx context.Context) error
}

// AbortedError is what a TransactionalStore's Store returns when the
// batch's transaction certainly did not commit (none of its output is
// visible, its offsets are not stored) for a cause that may pass: a broker
// answering TRANSACTION_ABORTABLE, a request failing before the commit was
// asked for. The engine aborts the transaction and reads the batch again
// in the process, as Spark re-runs a failed stage, instead of failing the
// job; only when batches keep aborting for longer than the outage limit
// (kafka.outageLimit) does the job fail. A store must not use it for an
// outcome it does not know (a commit request without an answer) nor for a
// fenced instance.
type AbortedError struct{ Err error }

func (e *AbortedError) Error() string { return e.Err.Error() }
func (e *AbortedError) Unwrap() error { return e.Err }

// PartitionRetrier is a TransactionalStore that can take back what one
// partition's task wrote to the in-flight batch's output (a files sink's
// partition file), so an exactly-once job retries a failed task within
// its batch as an at-least-once job does: the engine calls
// DiscardPartition before each retry. Without it, a failed task fails the
// batch, which is aborted and read again.
type PartitionRetrier interface {
	DiscardPartition(r OffsetRange)
}

// StoredBatch is what a batch stores: every stream's non-empty ranges,
// with the batch's id and time for the store's records.
type StoredBatch struct {
	ID     int64
	Time   time.Time
	Ranges []OffsetRange
}

// KafkaBound is an offset store that writes to Kafka itself and commits
// the job's offsets there as the job's group member: the Kafka sink. Run
// binds it before any consumer opens, giving it the engine's client
// options (brokers, TLS, SASL, KgoOpts) for its producer, the group
// member's identity for its offset commits, and the engine's own store of
// group offsets. Its Load should fetch committed offsets stably
// (KIP-447, OffsetFetch with RequireStable naming the partitions), so that
// a partition whose offsets wait in an open transaction starts only once
// that has ended (kgo's own group fetch always asks stably).
type KafkaBound interface {
	OffsetStore
	BindKafka(ctx context.Context, b KafkaBinding) error
}

// KafkaBinding is what Run gives a KafkaBound store.
type KafkaBinding struct {
	// ClientOpts are the options of every client the engine creates.
	ClientOpts []kgo.Opt
	// Group is the job's consumer group, InstanceID its static member
	// id ("" without one).
	Group, InstanceID string
	// Member returns the group member's id and generation, which fence
	// offset commits: a member whose partitions moved to another has a
	// stale generation, and Kafka refuses its commits (KIP-447). It is
	// "" and -1 without group streams (Assign only) or before joining.
	Member func() (memberID string, generation int32)
	// GroupOffsets keeps offsets as the group's commits, through the
	// member's client (the engine's default store): for commits outside
	// a transaction and for loading.
	GroupOffsets OffsetStore
}

// DeadLetterWriter is a TransactionalStore that writes an exactly-once
// batch's dead letters into the batch's transaction, so that they commit
// with its output and offsets, or not at all (the Kafka sink). The engine
// then begins the transaction before it writes them.
type DeadLetterWriter interface {
	WriteDeadLetters(ctx context.Context, recs []*kgo.Record) error
}

// OutageReporter is what an OutageAware store reports its outages to: the
// engine, which gives it with SetOutageReporter before Run uses it.
type OutageReporter interface {
	// Failing records that what (an operation, naming the store) failed
	// for a cause that may pass, such as the database restarting. It
	// returns nil while the store should retry, and an *OutageError
	// once the failures have lasted longer than OutageLimit.
	Failing(what string, err error) error
	// Answered records that an operation succeeded. Call it after
	// every success: the outage ends once they have gone on for a while
	// without a failure.
	Answered()
}

// OutageAware is an offset store (or sink) that retries its operations
// through outages of the service it uses and reports them.
type OutageAware interface {
	SetOutageReporter(OutageReporter)
}

// ErrFenced is what every store's error for a stale batch wraps: another
// instance stored the partition since this one read it (a rebalance moved
// it, or a zombie kept running), so nothing of the batch was stored.
var ErrFenced = errors.New("fenced")

// FencedError is a batch whose range does not start where its store holds
// the partition, or (the Kafka sink) whose transaction a newer instance
// fenced. The job fails with it; the partition's owner goes on from
// Stored. Range and Stored are zero where the store fences by something
// other than offsets (the Kafka sink's producer epoch).
type FencedError struct {
	Range OffsetRange
	// Stored is where the store holds the partition: the offset of the
	// next batch it accepts.
	Stored int64
	// Store names the store ("files sink", "offsets table x").
	Store string
	// Why is the store's account of what happened, for Error.
	Why string
	// Err is the store's own error, if it has one (Kafka's
	// PRODUCER_FENCED); errors.Is and As see it.
	Err error
}

func (e *FencedError) Error() string {
	return e.Store + ": fenced: " + e.Why
}

// Unwrap makes errors.Is(err, ErrFenced) hold, and errors.Is and As see
// Err.
func (e *FencedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrFenced}
	}
	return []error{ErrFenced, e.Err}
}

// OpenFilesReporter is an offset store (a sink) that keeps output files
// open across batches, publishing them later (the blob sink with
// rolling). Its Store still commits what it publishes together with the
// offsets a restart reads from; what it holds open is read again after a
// restart, so the status page shows how much that is. The engine reads
// it for every Snapshot: it must be cheap and safe from any goroutine.
type OpenFilesReporter interface {
	OpenFiles() OpenFiles
}

// OpenFiles is what an OpenFilesReporter holds open.
type OpenFiles struct {
	// Files and Bytes are the files open and the size of what they hold
	// (the blob sink's: its values' Avro binary).
	Files int
	Bytes int64
	// Oldest is how long the oldest open file has been open.
	Oldest time.Duration
	// Published counts the files published since the store opened;
	// Dropped the values a restart read again and dropped because a
	// published file held them.
	Published, Dropped int64
}
