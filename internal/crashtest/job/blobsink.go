package main

import (
	"context"
	"os"
	"time"

	"github.com/streamgen/streamgen/internal/crashtest/job/seqjob"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/sink"
	_ "github.com/streamgen/streamgen/runtime/sink/cloud" // s3:// (and gs://, azblob://) sink URLs
)

// runBlobSink runs the job exactly-once into the blob sink at url, which
// is also its offset store (its claims): the values copied unchanged, as
// the generated Passthrough does, in format, Hive-partitioned by
// partitionBy (sink.partitionBy's levels, "ts:hour"), a file per batch or
// rolling by roll. The sink is opened here rather than by the generated
// Run because the crash job's spec has no sink, so one generated package
// serves every row; the options are the ones the generated Run derives
// from sink.format, sink.partitionBy and sink.roll (sink.BlobSettings).
// What it published is counted in the bucket, not in -out. A graceful
// stop (the driver's final SIGTERM) publishes the files a rolling sink
// holds open (the engine's Drain), so the final count finds every record.
//
// hold pauses each batch with records after its objects are staged and
// before the engine claims them, widening the window in which a kill (or
// a freeze) falls between writing output and committing it.
func runBlobSink(ctx context.Context, cfg seqjob.Config, args []string, url, format string, partitionBy []string, roll sink.RollLimits, hold time.Duration) int {
	cfg.EngineOptions = append(cfg.EngineOptions, runtime.WithSemantics(runtime.ExactlyOnce))
	return runtime.RunMain(ctx, seqjob.JobName, &cfg.JobConfig, args, os.Stderr, func(ctx context.Context) error {
		opts, err := sink.BlobSettings(format, partitionBy, roll)
		if err != nil {
			return err
		}
		s, err := sink.OpenBlob[seqjob.Sequenced](ctx, url, opts...)
		if err != nil {
			return err
		}
		defer s.Close()
		cfg.EngineOptions = append(cfg.EngineOptions, runtime.WithOffsetStore(s))
		return seqjob.Run(ctx, cfg, blobHandler{s, hold})
	})
}

// blobHandler copies the values into the blob sink unchanged.
type blobHandler struct {
	s    *sink.Blob[seqjob.Sequenced, *seqjob.Sequenced]
	hold time.Duration
}

func (h blobHandler) ProcessBatch(ctx context.Context, b *seqjob.Batch) error {
	err := sink.WriteBlob(ctx, h.s, b.Sequence)
	if err == nil && b.Sequence.Len() > 0 {
		time.Sleep(h.hold)
		freezeIfAsked()
	}
	return err
}
