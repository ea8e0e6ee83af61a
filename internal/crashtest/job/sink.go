package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/streamgen/streamgen/internal/crashtest/job/seqjob"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/offsets"
	"github.com/streamgen/streamgen/runtime/sink"
)

// runSink runs the job exactly-once into a transactional sink, which is
// also its offset store: the PostgreSQL sink (a row per record, written
// with the batch's fenced offsets in one transaction) or the files sink
// (one Avro file per partition and batch, the files being the offsets).
// What it handled is counted in the sink's output, not in -out.
//
// hold pauses each batch with records after its output is written and
// before the engine commits it, widening the window in which a kill falls
// between writing output and storing offsets.
func runSink(ctx context.Context, cfg seqjob.Config, args []string, kind, dsn, table, sinkTable, dir string, hold time.Duration) int {
	cfg.EngineOptions = append(cfg.EngineOptions, runtime.WithSemantics(runtime.ExactlyOnce))
	return runtime.RunMain(ctx, seqjob.JobName, &cfg.JobConfig, args, os.Stderr, func(ctx context.Context) error {
		switch kind {
		case "postgres":
			s, err := sink.NewPostgres(ctx, dsn, cfg.Group, sinkTable, offsets.Table(table))
			if err != nil {
				return err
			}
			defer s.Close()
			cfg.EngineOptions = append(cfg.EngineOptions, runtime.WithOffsetStore(s))
			return seqjob.Run(ctx, cfg, pgHandler{s, hold})
		case "files":
			f, err := sink.NewFiles[seqjob.Sequenced](dir)
			if err != nil {
				return err
			}
			defer f.Close()
			cfg.EngineOptions = append(cfg.EngineOptions, runtime.WithOffsetStore(f))
			return seqjob.Run(ctx, cfg, filesHandler{f, hold})
		}
		return fmt.Errorf("-sink %q is not postgres or files", kind)
	})
}

// pgHandler copies each partition's records into the sink's table.
type pgHandler struct {
	s    *sink.Postgres
	hold time.Duration
}

func (h pgHandler) ProcessBatch(ctx context.Context, b *seqjob.Batch) error {
	err := b.Sequence.ForeachPartition(ctx, func(ctx context.Context, p seqjob.SequencePartition) error {
		rows := make([][]any, 0, p.Len())
		for r := range p.Records() {
			rows = append(rows, []any{r.Partition, r.Offset, r.Value.Seq})
		}
		_, err := h.s.CopyFrom(ctx, h.s.Table(), []string{"partition", "kafka_offset", "seq"}, pgx.CopyFromRows(rows))
		return err
	})
	if err == nil && b.Sequence.Len() > 0 {
		time.Sleep(h.hold)
	}
	return err
}

// filesHandler copies the values into the files sink unchanged.
type filesHandler struct {
	f    *sink.Files[seqjob.Sequenced, *seqjob.Sequenced]
	hold time.Duration
}

func (h filesHandler) ProcessBatch(ctx context.Context, b *seqjob.Batch) error {
	err := sink.WriteBatch(ctx, h.f, b.Sequence)
	if err == nil && b.Sequence.Len() > 0 {
		time.Sleep(h.hold)
	}
	return err
}
