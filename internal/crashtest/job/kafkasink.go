package main

import (
	"context"
	"os"
	"time"

	"github.com/streamgen/streamgen/internal/crashtest/job/seqjob"
	"github.com/streamgen/streamgen/runtime"
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
func runKafkaSink(ctx context.Context, cfg seqjob.Config, args []string, sem runtime.Semantics, topic, instance string, hold time.Duration) int {
	return runtime.RunMain(ctx, seqjob.JobName, &cfg.JobConfig, args, os.Stderr, func(ctx context.Context) error {
		k, err := sink.NewKafka(topic, sem, sink.TransactionalID(cfg.Group+"-"+instance), sink.TransactionTimeout(10*time.Second))
		if err != nil {
			return err
		}
		defer k.Close()
		cfg.EngineOptions = append(cfg.EngineOptions, runtime.WithOffsetStore(k))
		return seqjob.Run(ctx, cfg, kafkaHandler{sink.RawKafkaWriter[int64, seqjob.Sequenced](k), hold})
	})
}

// kafkaHandler copies each record to the sink's topic, from each
// partition's task.
type kafkaHandler struct {
	w    *sink.KafkaWriter[int64, seqjob.Sequenced, *seqjob.Sequenced]
	hold time.Duration
}

func (h kafkaHandler) ProcessBatch(ctx context.Context, b *seqjob.Batch) error {
	err := b.Sequence.ForeachPartition(ctx, func(ctx context.Context, p seqjob.SequencePartition) error {
		for r := range p.Records() {
			if err := h.w.Write(ctx, sink.OriginOf(r), r.Key, &r.Value); err != nil {
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
