package sink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamgen/streamgen/internal/backoff"
	"github.com/streamgen/streamgen/runtime"
)

// Kafka is the Kafka sink: output records go to a topic of the cluster
// the job reads from, through one producer per job instance.
//
// With runtime.ExactlyOnce it is a runtime.TransactionalStore: each batch
// is one Kafka transaction. Begin starts it; the handler's writes and the
// batch's dead letters are produced into it; Store flushes them, adds the
// batch's offsets for the job's group (AddOffsetsToTxn, then
// TxnOffsetCommit carrying the group member's id and generation) and
// commits (EndTxn). A read_committed reader sees a batch's output exactly
// when its offsets are committed; a failed batch is aborted and read
// again. A batch that wrote nothing commits its offsets without a
// transaction, as the group member.
//
// With runtime.AtLeastOnce (or AtMostOnce) the producer is idempotent and
// Store flushes every record the batch wrote before it commits the
// batch's offsets as the group member: an output record can be written
// twice (a batch read again after a crash), never lost.
//
// Zombies are fenced twice. The offsets commit with the group member's
// generation (KIP-447), so an instance whose partitions moved in a
// rebalance cannot commit them, and its transaction, with its output, is
// aborted; the new owner fetches offsets stably and so waits for an open
// transaction of the old owner to end. And the producer's transactional
// id (TransactionalID) belongs to the instance: a restarted instance
// with the same id fences its predecessor at start (InitProducerID bumps
// the epoch and aborts the predecessor's open transaction at once, rather
// than at its timeout), so an old process that did not die cannot
// commit.
//
// Give it to the engine with runtime.WithOffsetStore: the engine binds it
// to its clients (runtime.KafkaBound) when Run starts.
type Kafka struct {
	topic string
	cfg   kafkaCfg
	txn   bool // exactly-once

	bind  runtime.KafkaBinding
	cl    *kgo.Client
	adm   *kadm.Client
	txnID string

	mu       sync.Mutex
	inTxn    bool
	produced int64 // records produced in the batch in flight
	topicIDs map[string][16]byte
	stats    KafkaStats

	// errMu guards err apart from mu: kgo calls the produce promises
	// that set it while Flush and AbortBufferedRecords wait, which run
	// under mu.
	errMu sync.Mutex
	err   error // the first failed produce of the batch in flight
}

type kafkaCfg struct {
	txnID      string
	txnTimeout time.Duration
	byInput    bool
}

// KafkaOpt configures NewKafka.
type KafkaOpt func(*kafkaCfg)

// TransactionalID sets the producer's transactional id (exactly-once).
// Default GROUP-RANDOM, new at every start. Give each instance of a job
// an id of its own that it keeps across restarts (its StatefulSet pod
// name, its static group instance id) and a restarted instance fences its
// predecessor at once; two live instances sharing an id fence each other
// and fail.
func TransactionalID(id string) KafkaOpt { return func(c *kafkaCfg) { c.txnID = id } }

// TransactionTimeout sets how long Kafka keeps a transaction open before
// aborting it itself (exactly-once). Default 60s. It must exceed the
// longest batch, from Begin to Store; it is also how long a killed
// instance's open transaction holds back read_committed readers and the
// partitions' next owner, unless an instance with the same
// TransactionalID starts first.
func TransactionTimeout(d time.Duration) KafkaOpt { return func(c *kafkaCfg) { c.txnTimeout = d } }

// PartitionByInput writes each output record to the partition number of
// the input record it was made from (Origin), rather than by its key's
// hash. The output topic needs at least as many partitions as the input.
func PartitionByInput() KafkaOpt { return func(c *kafkaCfg) { c.byInput = true } }

// KafkaStats counts the sink's transactions.
type KafkaStats struct {
	Committed, Aborted int64
	// OffsetsOnly counts batches that wrote nothing and committed their
	// offsets without a transaction.
	OffsetsOnly int64
	// EndTxn is the total time EndTxn (commit) took; LastEndTxn the
	// latest.
	EndTxn, LastEndTxn time.Duration
	// Stores counts successful Stores, and StoreTime is their total
	// time: flushing the batch's output, committing its offsets, and
	// with exactly-once ending its transaction.
	Stores    int64
	StoreTime time.Duration
}

// NewKafka returns the Kafka sink writing to topic for a job with
// semantics s. It connects when the engine binds it (Run).
func NewKafka(topic string, s runtime.Semantics, opts ...KafkaOpt) (*Kafka, error) {
	if topic == "" {
		return nil, errors.New("kafka sink: no topic")
	}
	cfg := kafkaCfg{txnTimeout: time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.txnTimeout < time.Second {
		return nil, fmt.Errorf("kafka sink: transaction timeout %s, want at least 1s", cfg.txnTimeout)
	}
	return &Kafka{topic: topic, cfg: cfg, txn: s == runtime.ExactlyOnce, topicIDs: make(map[string][16]byte)}, nil
}

// Topic is the sink's topic.
func (k *Kafka) Topic() string { return k.topic }

// TransactionalID is the producer's transactional id, "" before Run or
// without exactly-once.
func (k *Kafka) TransactionalID() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.txnID
}

// Stats returns the sink's transaction counts.
func (k *Kafka) Stats() KafkaStats {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stats
}

// BindKafka creates the producer (runtime.KafkaBound). With exactly-once
// it initializes the producer id at once, which fences a predecessor with
// the same transactional id and aborts its open transaction before this
// instance loads any offset.
func (k *Kafka) BindKafka(ctx context.Context, b runtime.KafkaBinding) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cl != nil {
		return errors.New("kafka sink: bound twice (one sink per engine)")
	}
	opts := append(slices.Clip(b.ClientOpts), kgo.DefaultProduceTopic(k.topic),
		kgo.RecordPartitioner(partitioner{topic: k.topic, byInput: k.cfg.byInput, other: kgo.StickyKeyPartitioner(nil)}))
	if k.txn {
		k.txnID = k.cfg.txnID
		if k.txnID == "" {
			var r [6]byte
			_, _ = rand.Read(r[:])
			k.txnID = b.Group + "-" + hex.EncodeToString(r[:])
		}
		opts = append(opts, kgo.TransactionalID(k.txnID), kgo.TransactionTimeout(k.cfg.txnTimeout))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka sink: %w", err)
	}
	if k.txn {
		if _, _, err := cl.ProducerID(ctx); err != nil {
			cl.Close()
			return fmt.Errorf("kafka sink: initializing transactional id %q: %w", k.txnID, err)
		}
	}
	k.bind, k.cl, k.adm = b, cl, kadm.NewClient(cl)
	return nil
}

// partitioner sends the sink topic's records to the partition the writer
// chose with PartitionByInput, and every other record by its key.
type partitioner struct {
	topic   string
	byInput bool
	other   kgo.Partitioner
}

func (p partitioner) ForTopic(t string) kgo.TopicPartitioner {
	if p.byInput && t == p.topic {
		return kgo.ManualPartitioner().ForTopic(t)
	}
	return p.other.ForTopic(t)
}

// Close ends the producer: a transaction still open is aborted; without
// transactions, buffered records are flushed first.
func (k *Kafka) Close() error {
	k.mu.Lock()
	cl, in := k.cl, k.inTxn
	k.mu.Unlock()
	if cl == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var err error
	if in {
		_ = cl.AbortBufferedRecords(ctx)
		err = cl.EndTransaction(ctx, kgo.TryAbort)
	} else {
		err = cl.Flush(ctx)
	}
	cl.Close()
	return err
}

// Load returns the group's committed offsets of tps. With exactly-once
// they are fetched stably: while a transaction holding offsets of the
// group is open (an old owner's, or a killed instance's), Kafka answers
// UNSTABLE_OFFSET_COMMIT and Load waits for it to end, up to the
// transaction timeout and a little more.
func (k *Kafka) Load(ctx context.Context, tps []runtime.TopicPartition) (map[runtime.TopicPartition]int64, error) {
	k.mu.Lock()
	group := k.bind.GroupOffsets
	k.mu.Unlock()
	if group == nil {
		return nil, errNotBound
	}
	if !k.txn {
		return group.Load(ctx, tps)
	}
	// An open transaction's offsets are waited for, up to the time the
	// coordinator takes to abort it.
	var out map[runtime.TopicPartition]int64
	err := backoff.Retry{First: 50 * time.Millisecond, Max: time.Second, For: k.cfg.txnTimeout + 10*time.Second, Failed: func(err error, _ int) error {
		if !errors.Is(err, kerr.UnstableOffsetCommit) {
			return err
		}
		return nil
	}}.Do(ctx, func() (err error) {
		out, err = k.stableOffsets(ctx, tps)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// stableOffsets fetches the group's committed offsets of tps, naming each
// partition, with RequireStable: a partition whose offsets wait in an
// open transaction fails with UNSTABLE_OFFSET_COMMIT. (A fetch of all the
// group's offsets, as kadm's FetchOffsetsForTopics sends, may not list a
// partition whose only offset is pending, and so miss that it is.)
func (k *Kafka) stableOffsets(ctx context.Context, tps []runtime.TopicPartition) (map[runtime.TopicPartition]int64, error) {
	out := make(map[runtime.TopicPartition]int64)
	if len(tps) == 0 || k.bind.Group == "" {
		return out, nil
	}
	ranges := make([]runtime.OffsetRange, len(tps))
	byTopic := make(map[string][]int32)
	for i, tp := range tps {
		ranges[i] = runtime.OffsetRange{Topic: tp.Topic, Partition: tp.Partition}
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	ids, err := k.topicIDsOf(ctx, ranges)
	if err != nil {
		return nil, err
	}
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = k.bind.Group
	for _, t := range slices.Sorted(maps.Keys(byTopic)) {
		rt := kmsg.NewOffsetFetchRequestGroupTopic()
		rt.Topic, rt.TopicID, rt.Partitions = t, ids[t], byTopic[t]
		rg.Topics = append(rg.Topics, rt)
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = true
	req.Groups = append(req.Groups, rg)
	resp, err := req.RequestWith(ctx, k.cl)
	if err != nil {
		return nil, fmt.Errorf("fetching the committed offsets of group %q: %w", k.bind.Group, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("fetching the committed offsets of group %q: %w", k.bind.Group, err)
	}
	for _, g := range resp.Groups {
		err := kerr.ErrorForCode(g.ErrorCode)
		if errors.Is(err, kerr.GroupIDNotFound) { // a group that never committed
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("fetching the committed offsets of group %q: %w", k.bind.Group, err)
		}
		for _, t := range g.Topics {
			name := topicName(t.Topic, t.TopicID, ids)
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return nil, fmt.Errorf("fetching the committed offset of group %q for topic %s partition %d: %w", k.bind.Group, name, p.Partition, err)
				}
				if p.Offset >= 0 {
					out[runtime.TopicPartition{Topic: name, Partition: p.Partition}] = p.Offset
				}
			}
		}
	}
	return out, nil
}

var errNotBound = errors.New("kafka sink: not bound to an engine (give it to runtime.WithOffsetStore and Run the engine)")

// Begin starts the batch's transaction (exactly-once).
func (k *Kafka) Begin(ctx context.Context, _ runtime.StoredBatch) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cl == nil {
		return errNotBound
	}
	k.produced = 0
	k.errMu.Lock()
	k.err = nil
	k.errMu.Unlock()
	if !k.txn {
		return nil
	}
	if k.inTxn { // a batch neither stored nor aborted
		if err := k.abortLocked(ctx); err != nil {
			return err
		}
	}
	if err := k.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("kafka sink: beginning a transaction (transactional id %q): %w", k.txnID, err)
	}
	k.inTxn = true
	return nil
}

// produce writes r into the batch in flight; its failure fails the
// batch's Store.
func (k *Kafka) produce(ctx context.Context, r *kgo.Record) error {
	k.mu.Lock()
	switch {
	case k.cl == nil:
		k.mu.Unlock()
		return errNotBound
	case k.txn && !k.inTxn:
		k.mu.Unlock()
		return errors.New("kafka sink: no transaction: write from the handler, while a batch runs")
	}
	k.produced++
	cl := k.cl
	k.mu.Unlock()
	// The record outlives the writer's context (a ForeachPartition
	// task's ends with the task): Store's Flush, or Abort, is its end.
	cl.Produce(context.WithoutCancel(ctx), r, func(r *kgo.Record, err error) {
		if err == nil {
			return
		}
		k.errMu.Lock()
		defer k.errMu.Unlock()
		if k.err == nil {
			k.err = fmt.Errorf("kafka sink: producing to topic %s partition %d: %w", r.Topic, r.Partition, err)
		}
	})
	return nil
}

// WriteDeadLetters produces the batch's dead letters into its transaction
// (runtime.DeadLetterWriter); Store flushes them with the output.
func (k *Kafka) WriteDeadLetters(ctx context.Context, recs []*kgo.Record) error {
	for _, r := range recs {
		if err := k.produce(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// Store commits the batch: every record it wrote is flushed, then, with
// exactly-once, the batch's offsets join its transaction and it commits;
// without, the offsets are committed as the group member.
func (k *Kafka) Store(ctx context.Context, b runtime.StoredBatch) (err error) {
	k.mu.Lock()
	txn := k.txn && k.inTxn
	k.mu.Unlock()
	err = k.store(ctx, b)
	switch {
	case err == nil:
	case errors.Is(err, kerr.ProducerFenced), errors.Is(err, kerr.InvalidProducerEpoch):
		// A newer instance with the same transactional id began its
		// transactions: this one is a zombie.
		return &runtime.FencedError{Store: "kafka sink", Err: err,
			Why: fmt.Sprintf("transactional id %q: a newer instance with this transactional id took over (a replacement of this replica); nothing of this batch was committed: %v", k.txnID, err)}
	case txn && abortable(err):
		err = &runtime.AbortedError{Err: err}
	}
	return err
}

// abortable reports whether a failed Store of a transaction left it
// certainly uncommitted for a cause that may pass, so the engine may abort
// it and read the batch again (runtime.AbortedError): Kafka answering
// TRANSACTION_ABORTABLE, or a retriable error (a coordinator moving, a
// timeout, a dropped connection) before the commit was asked for. Not an
// EndTxn whose outcome is unknown, an instance fenced by a newer one or a
// stale group generation (a zombie: it fails, and its partitions are read
// by their new owner), nor refused authorization.
func abortable(err error) bool {
	if errors.Is(err, kerr.TransactionAbortable) {
		return true
	}
	var unknown *endTxnError
	if errors.As(err, &unknown) {
		return false
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// endTxnError is a failed EndTxn of a commit: unless Kafka said the
// transaction is aborted, whether it committed is not known.
type endTxnError struct{ err error }

func (e *endTxnError) Error() string { return e.err.Error() }
func (e *endTxnError) Unwrap() error { return e.err }

func (k *Kafka) store(ctx context.Context, b runtime.StoredBatch) (err error) {
	k.mu.Lock()
	cl, in, group := k.cl, k.inTxn, k.bind.GroupOffsets
	k.mu.Unlock()
	if cl == nil {
		return errNotBound
	}
	start := time.Now()
	defer func() {
		if err == nil {
			k.mu.Lock()
			k.stats.Stores++
			k.stats.StoreTime += time.Since(start)
			k.mu.Unlock()
		}
	}()
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("kafka sink: flushing the batch's output to topic %s: %w", k.topic, err)
	}
	k.mu.Lock()
	produced := k.produced
	k.mu.Unlock()
	k.errMu.Lock()
	perr := k.err
	k.errMu.Unlock()
	if perr != nil {
		return perr
	}
	if !in || produced == 0 {
		// Nothing to commit with the offsets (or at-least-once): the
		// group member commits them, fenced by its generation.
		if in {
			if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
				return fmt.Errorf("kafka sink: ending an empty transaction: %w", err)
			}
			k.mu.Lock()
			k.inTxn = false
			k.mu.Unlock()
		}
		if err := group.Store(ctx, b); err != nil {
			return err
		}
		if in {
			k.mu.Lock()
			k.stats.OffsetsOnly++
			k.mu.Unlock()
		}
		return nil
	}
	if err := k.commitOffsets(ctx, b); err != nil {
		return err
	}
	endStart := time.Now()
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return &endTxnError{fmt.Errorf("kafka sink: committing the transaction of batch %d (transactional id %q): %w", b.ID, k.txnID, err)}
	}
	took := time.Since(endStart)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.inTxn = false
	k.stats.Committed++
	k.stats.EndTxn += took
	k.stats.LastEndTxn = took
	return nil
}

// Abort aborts the batch's transaction: what it wrote is never seen by
// read_committed readers, and its offsets are not committed.
func (k *Kafka) Abort(ctx context.Context, _ runtime.StoredBatch) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.txn && k.inTxn {
		return k.abortLocked(ctx)
	}
	return nil
}

func (k *Kafka) abortLocked(ctx context.Context) error {
	_ = k.cl.AbortBufferedRecords(ctx)
	err := k.cl.EndTransaction(ctx, kgo.TryAbort)
	// After a failed EndTxn or a recoverable producer error, kgo
	// "aborts" by marking the producer id for reinitialization, leaving
	// the transaction open in Kafka until the next produce or its
	// timeout. Reinitializing now bumps the epoch, which aborts it at
	// once: its offsets stop holding back the partitions' stable fetch.
	_, _, _ = k.cl.ProducerID(ctx)
	k.inTxn = false
	k.stats.Aborted++
	if err != nil {
		return fmt.Errorf("kafka sink: aborting the transaction (transactional id %q): %w", k.txnID, err)
	}
	return nil
}

// commitOffsets adds the batch's offsets to its transaction for the job's
// group: AddOffsetsToTxn, then TxnOffsetCommit with the group member's id
// and generation, which Kafka checks (KIP-447).
func (k *Kafka) commitOffsets(ctx context.Context, b runtime.StoredBatch) error {
	if len(b.Ranges) == 0 || k.bind.Group == "" {
		return nil
	}
	id, epoch, err := k.cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("kafka sink: the producer id of transactional id %q: %w", k.txnID, err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = k.txnID, id, epoch, k.bind.Group
	if err := retryConcurrent(ctx, func() error {
		resp, err := add.RequestWith(ctx, k.cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	}); err != nil {
		return &runtime.CommitError{Range: b.Ranges[0], Err: fmt.Errorf("adding the offsets of group %q to the transaction: %w", k.bind.Group, err)}
	}
	ids, err := k.topicIDsOf(ctx, b.Ranges)
	if err != nil {
		return err
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = k.txnID, k.bind.Group, id, epoch
	req.MemberID, req.Generation = k.bind.Member()
	if k.bind.InstanceID != "" {
		req.InstanceID = &k.bind.InstanceID
	}
	byTopic := make(map[string][]kmsg.TxnOffsetCommitRequestTopicPartition)
	for _, r := range b.Ranges {
		p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = r.Partition, r.UntilOffset, -1
		byTopic[r.Topic] = append(byTopic[r.Topic], p)
	}
	for _, t := range slices.Sorted(maps.Keys(byTopic)) {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID, rt.Partitions = t, ids[t], byTopic[t]
		req.Topics = append(req.Topics, rt)
	}
	var resp *kmsg.TxnOffsetCommitResponse
	err = retryConcurrent(ctx, func() error {
		var err error
		resp, err = req.RequestWith(ctx, k.cl)
		return err
	})
	if err != nil {
		return &runtime.CommitError{Range: b.Ranges[0], Err: fmt.Errorf("committing offsets in the transaction: %w", err)}
	}
	for _, t := range resp.Topics {
		name := topicName(t.Topic, t.TopicID, ids)
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				r := runtime.OffsetRange{Topic: name, Partition: p.Partition}
				for _, br := range b.Ranges {
					if br.Topic == name && br.Partition == p.Partition {
						r = br
					}
				}
				return &runtime.CommitError{Range: r, Err: fmt.Errorf("committing offsets in the transaction as member %q generation %d: %w", req.MemberID, req.Generation, err)}
			}
		}
	}
	return nil
}

// topicName is a response's topic: its name, or, from versions that send
// only topic ids, the name whose id ids holds.
func topicName(name string, id [16]byte, ids map[string][16]byte) string {
	if name != "" {
		return name
	}
	for n, nid := range ids {
		if nid == id {
			return n
		}
	}
	return ""
}

// retryConcurrent retries fn while Kafka answers CONCURRENT_TRANSACTIONS:
// the previous transaction's markers are still being written.
func retryConcurrent(ctx context.Context, fn func() error) error {
	return backoff.Retry{First: 10 * time.Millisecond, Max: 500 * time.Millisecond, For: 10 * time.Second, Failed: func(err error, _ int) error {
		if !errors.Is(err, kerr.ConcurrentTransactions) {
			return err
		}
		return nil
	}}.Do(ctx, fn)
}

// topicIDsOf returns the ids of the ranges' topics (TxnOffsetCommit v6
// names topics by id), from metadata, cached.
func (k *Kafka) topicIDsOf(ctx context.Context, ranges []runtime.OffsetRange) (map[string][16]byte, error) {
	k.mu.Lock()
	out := make(map[string][16]byte)
	var missing []string
	for _, r := range ranges {
		if id, ok := k.topicIDs[r.Topic]; ok {
			out[r.Topic] = id
		} else if !slices.Contains(missing, r.Topic) {
			missing = append(missing, r.Topic)
		}
	}
	k.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	td, err := k.adm.ListTopics(ctx, missing...)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: the metadata of topics %v: %w", missing, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, t := range missing {
		d, ok := td[t]
		if !ok || d.Err != nil {
			return nil, fmt.Errorf("kafka sink: the metadata of topic %s: %v", t, d.Err)
		}
		k.topicIDs[t] = d.ID
		out[t] = d.ID
	}
	return out, nil
}
