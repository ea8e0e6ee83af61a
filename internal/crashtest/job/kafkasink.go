package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/streamgen/streamgen/internal/crashtest/job/seqjob"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/side"
	"github.com/streamgen/streamgen/runtime/sink"
)

// runKafkaSink runs the job into the Kafka sink, which is also its
// offset store: every record is copied to topic with headers naming its
// origin, in one Kafka transaction per batch with the batch's offsets
// (exactly-once), or flushed before the offsets are committed
// (at-least-once). The transactional id is the replica's, so a restarted
// replica fences its killed predecessor and aborts its open transaction.
// What it handled is counted in the topic, read read_committed.
//
// hold pauses each batch with records after its output is produced and
// before the engine commits it, so kills fall into open transactions.
//
// With tags (see enrichment), each output record carries what the job
// looked up in that table for it.
func runKafkaSink(ctx context.Context, cfg seqjob.Config, args []string, sem runtime.Semantics, topic, instance string, hold time.Duration, tags *enrichment) int {
	if tags != nil {
		cfg.EngineOptions = append(cfg.EngineOptions, runtime.WithSideInputs(tags.table))
	}
	return runtime.RunMain(ctx, seqjob.JobName, &cfg.JobConfig, args, os.Stderr, func(ctx context.Context) error {
		k, err := sink.NewKafka(topic, sem, sink.TransactionalID(cfg.Group+"-"+instance), sink.TransactionTimeout(10*time.Second))
		if err != nil {
			return err
		}
		defer k.Close()
		cfg.EngineOptions = append(cfg.EngineOptions, runtime.WithOffsetStore(k))
		return seqjob.Run(ctx, cfg, kafkaHandler{sink.RawKafkaWriter[int64, seqjob.Sequenced](k), hold, tags})
	})
}

// kafkaHandler copies each record to the sink's topic, from each
// partition's task.
type kafkaHandler struct {
	w    *sink.KafkaWriter[int64, seqjob.Sequenced, *seqjob.Sequenced]
	hold time.Duration
	tags *enrichment // nil: records are copied unchanged
}

func (h kafkaHandler) ProcessBatch(ctx context.Context, b *seqjob.Batch) error {
	err := b.Sequence.ForeachPartition(ctx, func(ctx context.Context, p seqjob.SequencePartition) error {
		for r := range p.Records() {
			v := &r.Value
			if h.tags != nil {
				v = &seqjob.Sequenced{Seq: r.Value.Seq, Payload: h.tags.lookup(b.Sequence.ID(), r.Value.Seq)}
			}
			if err := h.w.Write(ctx, sink.OriginOf(r), r.Key, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && b.Sequence.Len() > 0 {
		time.Sleep(h.hold)
	}
	return err
}

// enrichment is the crash job's lookup table: topic tags (one partition),
// keyed by an int64, each value a Sequenced whose Seq is the version the
// driver's writer gave it (and whose Payload is "v<version>"). Record
// seq looks up key seq mod keys and carries, in its output's Payload,
//
//	t <key> <version> <process>-<batch>
//
// version -1 when the table has no such key yet, process-batch naming the
// batch: the process (its -out file's name, p003 for p003.out) and the
// batch's ID in it, so the driver can check that a batch saw one state
// of the table and that no batch saw an older one than an earlier batch
// of its partitions.
type enrichment struct {
	table *side.Table[int64, seqjob.Sequenced]
	keys  int64
	proc  string
}

func newEnrichment(topic string, keys int64, proc string) *enrichment {
	return &enrichment{table: side.NewTable("tags", topic, runtime.Int64Decoder, runtime.RawAvro[seqjob.Sequenced]()), keys: keys, proc: proc}
}

// lookup is the Payload of record seq's output in batch id.
func (e *enrichment) lookup(id, seq int64) string {
	k := seq % e.keys
	version := int64(-1)
	if v, ok := e.table.Get(k); ok {
		version = v.Seq
	}
	return fmt.Sprintf("t %d %d %s-%d", k, version, e.proc, id)
}
