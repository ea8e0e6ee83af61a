package sink_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/internal/pgtest"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/offsets"
	"github.com/streamgen/streamgen/runtime/sink"
)

// BenchmarkPostgresSink compares, in the same run, an exactly-once job
// that copies a topic into PostgreSQL through the sink (CopyFrom in each
// batch's transaction, with the fenced offset update and COMMIT) against
// a plain CopyFrom loop of the same rows outside the engine, one
// transaction per batch-sized chunk: rows/s of each and their ratio. The
// job's rows/s is over its batches' processing time (handler, offsets,
// commit), not the waits for the next interval boundary, which are the
// micro-batch schedule, not the sink's cost. SINK_RECORDS (default
// 120,000) is the number of rows of a round, on 12 partitions; an op is
// SINK_ROUNDS (default 4) rounds, each the job and then the loop over the
// same rows. One round times one batch of each side, some 100 ms, and
// on a shared machine a round's COPY alone varies threefold, so a ratio
// of three rounds (-benchtime 3x) said little; the rounds do not change
// what is compared.
//
// The sink, like the loop's connection, is made once and serves every
// round: each round produces SINK_RECORDS new records and a new engine of
// the same group reads on from the offsets the last round stored. (A
// sink made per round paid a new job's costs in every timed batch: a
// new connection's catalog lookups and statement preparation, and
// the first store of a group, while the loop paid its connection's only
// once.)
func BenchmarkPostgresSink(b *testing.B) {
	dsn := pgtest.DSN(b)
	n := 120_000
	if v, err := strconv.Atoi(os.Getenv("SINK_RECORDS")); err == nil && v > 0 {
		n = v
	}
	rounds := 4
	if v, err := strconv.Atoi(os.Getenv("SINK_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	const parts = 12
	ctx := context.Background()
	addrs, prod := kafkatest.Cluster(b, parts, "clicks")
	kafkatest.Produce(b, prod, "clicks", parts, n/parts)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	out := pgtest.Table(b, dsn, "bench_out")
	if _, err := conn.Exec(ctx, "CREATE UNLOGGED TABLE "+pgx.Identifier{out}.Sanitize()+" (topic text, partition int, kafka_offset bigint, value text)"); err != nil {
		b.Fatal(err)
	}
	cols := []string{"topic", "partition", "kafka_offset", "value"}
	s, err := sink.NewPostgres(ctx, dsn, "bench", out, offsets.Table(pgtest.Table(b, dsn, "bench_offsets")))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var engineSecs, loopSecs float64
	for round := range b.N * rounds {
		if _, err := conn.Exec(ctx, "TRUNCATE "+pgx.Identifier{out}.Sanitize()); err != nil {
			b.Fatal(err)
		}
		if round > 0 {
			kafkatest.Produce(b, prod, "clicks", parts, n/parts)
		}
		// The engine: exactly-once through the sink, from the last
		// round's stored offsets.
		e, err := runtime.New(runtime.Group("bench"), runtime.WithSemantics(runtime.ExactlyOnce), runtime.WithOffsetStore(s),
			runtime.Brokers(addrs...), runtime.BatchInterval(200*time.Millisecond))
		if err != nil {
			b.Fatal(err)
		}
		st, err := runtime.NewStream[[]byte](e, "clicks", runtime.Subscribe("clicks"), nil, runtime.StringDecoder)
		if err != nil {
			b.Fatal(err)
		}
		var copied atomic.Int64
		rctx, cancel := context.WithCancel(ctx)
		var chunks [][]*runtime.Record[[]byte, string]
		err = e.Run(rctx, func(ctx context.Context, bs *runtime.JobBatch) error {
			sb := st.Batch(bs)
			rows := make([]*runtime.Record[[]byte, string], 0, sb.Len())
			for r := range sb.Records() {
				rows = append(rows, r)
			}
			if len(rows) > 0 {
				chunks = append(chunks, rows)
			}
			if _, err := s.CopyFrom(ctx, pgx.Identifier{out}, cols, copyRecords(rows)); err != nil {
				return err
			}
			if copied.Add(int64(len(rows))) >= int64(n) {
				cancel()
			}
			return nil
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			b.Fatal(err)
		}
		for _, h := range e.History() {
			if h.Records > 0 {
				engineSecs += h.ProcessingTime.Seconds()
			}
		}

		// The plain loop: the same rows, the same chunks, one
		// transaction each.
		if _, err := conn.Exec(ctx, "TRUNCATE "+pgx.Identifier{out}.Sanitize()); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		for _, rows := range chunks {
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				_, err := tx.CopyFrom(ctx, pgx.Identifier{out}, cols, copyRecords(rows))
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		loopSecs += time.Since(t0).Seconds()
	}
	engine, loop := float64(n*b.N*rounds)/engineSecs, float64(n*b.N*rounds)/loopSecs
	b.ReportMetric(engine, "sink-rows/s")
	b.ReportMetric(loop, "copy-loop-rows/s")
	b.ReportMetric(engine/loop, "sink/loop")
}

// copyRecords is rows as COPY's input, built row by row as COPY reads.
func copyRecords(rows []*runtime.Record[[]byte, string]) pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		r := rows[i]
		return []any{r.Topic, r.Partition, r.Offset, r.Value}, nil
	})
}
