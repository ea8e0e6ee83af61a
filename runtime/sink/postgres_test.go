package sink_test

import (
	"context"
	"errors"
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

// pgJob is an exactly-once job that copies a topic's records into a
// PostgreSQL table through the sink, one row per offset.
type pgJob struct {
	t      *testing.T
	addrs  []string
	dsn    string
	out    pgx.Identifier
	table  string // the offsets table
	failAt int64  // a batch holding this offset fails once, after writing
	failed atomic.Bool
}

func (j *pgJob) run(ctx context.Context) error {
	s, err := sink.NewPostgres(ctx, j.dsn, "copy", j.out[0], offsets.Table(j.table))
	if err != nil {
		return err
	}
	defer s.Close()
	e, err := runtime.New(runtime.Group("copy"), runtime.WithSemantics(runtime.ExactlyOnce), runtime.WithOffsetStore(s),
		runtime.Brokers(j.addrs...), runtime.BatchInterval(50*time.Millisecond), runtime.MaxRatePerPartition(400))
	if err != nil {
		return err
	}
	st, err := runtime.NewStream[[]byte](e, "clicks", runtime.Subscribe("clicks"), nil, runtime.StringDecoder)
	if err != nil {
		return err
	}
	return e.Run(ctx, func(ctx context.Context, bs *runtime.JobBatch) error {
		return st.Batch(bs).ForeachPartition(ctx, func(ctx context.Context, p runtime.Partition[[]byte, string]) error {
			var rows [][]any
			fail := false
			for r := range p.Records() {
				rows = append(rows, []any{r.Topic, r.Partition, r.Offset, r.Value})
				fail = fail || r.Offset == j.failAt
			}
			if _, err := s.CopyFrom(ctx, j.out, []string{"topic", "partition", "kafka_offset", "value"}, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
			if fail && j.failed.CompareAndSwap(false, true) {
				return errors.New("the enrichment service is down") // after writing: must be rolled back
			}
			return nil
		})
	})
}

// outputTable creates a table for copied clicks, one row per offset, and
// returns its name and a connection to read it.
func outputTable(t *testing.T, dsn string) (string, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	out := pgtest.Table(t, dsn, "clicks_out")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "CREATE TABLE "+pgx.Identifier{out}.Sanitize()+" (topic text, partition int, kafka_offset bigint, value text)"); err != nil {
		t.Fatal(err)
	}
	return out, conn
}

// TestPostgresSinkExactlyOnce: output and offsets commit together, so a
// batch that failed after writing leaves no rows, and across a failure
// and restarts every offset is in exactly one row.
func TestPostgresSinkExactlyOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	out, conn := outputTable(t, dsn)
	addrs, cl := kafkatest.Cluster(t, 3, "clicks")
	kafkatest.Produce(t, cl, "clicks", 3, 100)
	j := &pgJob{t: t, addrs: addrs, dsn: dsn, out: pgx.Identifier{out}, table: pgtest.Table(t, dsn, "offsets"), failAt: 42}

	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := j.run(rctx); err == nil || !j.failed.Load() {
		t.Fatalf("first run = %v, want the handler's failure", err)
	}
	count := func() (rows, distinct int) {
		t.Helper()
		if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT (topic, partition, kafka_offset)) FROM "+j.out.Sanitize()).Scan(&rows, &distinct); err != nil {
			t.Fatal(err)
		}
		return rows, distinct
	}
	if rows, distinct := count(); rows != distinct {
		t.Fatalf("after the failure %d rows for %d offsets: the failed batch's rows were not rolled back", rows, distinct)
	}

	// The restarted job stops itself once the table holds every offset.
	rctx, cancel = context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	go func() {
		for rctx.Err() == nil {
			if _, d := count(); d == 300 {
				time.Sleep(100 * time.Millisecond)
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if err := j.run(rctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("second run: %v", err)
	}
	if rows, distinct := count(); rows != 300 || distinct != 300 {
		t.Errorf("%d rows for %d distinct offsets, want every one of 300 offsets exactly once", rows, distinct)
	}
	s, err := offsets.NewPostgres(ctx, dsn, "copy", offsets.Table(j.table))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stored, err := s.Load(ctx, []runtime.TopicPartition{{Topic: "clicks", Partition: 0}, {Topic: "clicks", Partition: 1}, {Topic: "clicks", Partition: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for tp, next := range stored {
		if next != 100 {
			t.Errorf("%s stored %d, want its end, 100", tp, next)
		}
	}
}

// TestPostgresSinkConnectionLostMidBatch: the database connection of a
// batch's transaction dies while the batch runs; the batch fails, nothing
// of it is stored, and the restarted job writes every offset once.
func TestPostgresSinkConnectionLostMidBatch(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	out, conn := outputTable(t, dsn)
	addrs, cl := kafkatest.Cluster(t, 2, "clicks")
	kafkatest.Produce(t, cl, "clicks", 2, 100)
	table := pgtest.Table(t, dsn, "offsets")
	var killed atomic.Bool
	run := func(ctx context.Context) error {
		s, err := sink.NewPostgres(ctx, dsn, "lost", out, offsets.Table(table))
		if err != nil {
			return err
		}
		defer s.Close()
		e, err := runtime.New(runtime.Group("lost"), runtime.WithSemantics(runtime.ExactlyOnce), runtime.WithOffsetStore(s),
			runtime.Brokers(addrs...), runtime.BatchInterval(50*time.Millisecond), runtime.MaxRatePerPartition(400))
		if err != nil {
			return err
		}
		st, err := runtime.NewStream[[]byte](e, "clicks", runtime.Subscribe("clicks"), nil, runtime.StringDecoder)
		if err != nil {
			return err
		}
		return e.Run(ctx, func(ctx context.Context, bs *runtime.JobBatch) error {
			var rows [][]any
			for r := range st.Batch(bs).Records() {
				rows = append(rows, []any{r.Topic, r.Partition, r.Offset, r.Value})
			}
			if _, err := s.CopyFrom(ctx, s.Table(), []string{"topic", "partition", "kafka_offset", "value"}, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
			if bs.ID() == 3 && killed.CompareAndSwap(false, true) {
				// The server ends the transaction's own connection.
				s.Exec(ctx, "SELECT pg_terminate_backend(pg_backend_pid())")
			}
			return nil
		})
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := run(rctx); err == nil || !killed.Load() {
		t.Fatalf("first run = %v, want the batch whose connection died to fail the job", err)
	}
	count := func() (rows, distinct int) {
		t.Helper()
		if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT (partition, kafka_offset)) FROM "+pgx.Identifier{out}.Sanitize()).Scan(&rows, &distinct); err != nil {
			t.Fatal(err)
		}
		return rows, distinct
	}
	if rows, distinct := count(); rows != distinct || rows >= 200 {
		t.Fatalf("after the lost connection: %d rows for %d offsets", rows, distinct)
	}
	rctx, cancel = context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	go func() {
		for rctx.Err() == nil {
			if _, d := count(); d == 200 {
				time.Sleep(100 * time.Millisecond)
				cancel()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if err := run(rctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("second run: %v", err)
	}
	if rows, distinct := count(); rows != 200 || distinct != 200 {
		t.Errorf("%d rows for %d offsets, want each of 200 once", rows, distinct)
	}
}
