package runtime

import (
	"context"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

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

// deadLettersInTxn reports whether an exactly-once batch's dead letters go
// into its transaction.
func (e *Engine) deadLettersInTxn() bool {
	_, ok := e.cfg.store.(DeadLetterWriter)
	return ok && e.cfg.semantics == ExactlyOnce && !e.cfg.manualCommit
}

// bindKafka binds a KafkaBound store before the consumers open; member is
// filled in once the group member's client exists.
func (e *Engine) bindKafka(ctx context.Context, kb KafkaBound, ks *kafkaStore, member *atomic.Pointer[kgo.Client]) error {
	return kb.BindKafka(ctx, KafkaBinding{
		ClientOpts: append(e.kgoBase(), e.cfg.kgoOpts...),
		Group:      e.cfg.group,
		InstanceID: e.cfg.instanceID,
		Member: func() (string, int32) {
			cl := member.Load()
			if cl == nil {
				return "", -1
			}
			return cl.GroupMetadata()
		},
		GroupOffsets: ks,
	})
}
