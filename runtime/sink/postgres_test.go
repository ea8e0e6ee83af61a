package sink_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/internal/logbuf"
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
// batch's transaction dies while the batch runs; nothing of the batch is
// stored, the engine reads it again in the process (the job goes on), and
// every offset is written once.
func TestPostgresSinkConnectionLostMidBatch(t *testing.T) {
	dsn := pgtest.DSN(t)
	out, conn := outputTable(t, dsn)
	addrs, cl := kafkatest.Cluster(t, 2, "clicks")
	kafkatest.Produce(t, cl, "clicks", 2, 100)
	var killed atomic.Bool
	j := copyJob{addrs: addrs, dsn: dsn, out: out, table: pgtest.Table(t, dsn, "offsets"), group: "lost",
		afterCopy: func(ctx context.Context, s *sink.Postgres, bs *runtime.JobBatch) {
			if bs.ID() == 3 && killed.CompareAndSwap(false, true) {
				// The server ends the transaction's own connection.
				s.Exec(ctx, "SELECT pg_terminate_backend(pg_backend_pid())")
			}
		}}
	logs := j.runUntil(t, conn, 200)
	if !killed.Load() {
		t.Fatal("no batch's connection was ended")
	}
	if !strings.Contains(logs.String(), "read again from its start") {
		t.Errorf("the lost batch was not read again in the process:\n%s", logs.String())
	}
}

// TestPostgresSinkRidesOutDatabaseOutage: every connection of the job is
// cut again and again for a few seconds (a database restart, as the job
// meets it) while it copies: the job does not exit, is unready meanwhile,
// logs the outage once and its end once, and writes every offset once.
func TestPostgresSinkRidesOutDatabaseOutage(t *testing.T) {
	dsn := pgtest.DSN(t)
	out, conn := outputTable(t, dsn)
	addrs, cl := kafkatest.Cluster(t, 2, "clicks")
	app := fmt.Sprintf("outage_%d", time.Now().UnixNano())
	j := copyJob{addrs: addrs, dsn: dsn + "&application_name=" + app, out: out, table: pgtest.Table(t, dsn, "offsets"), group: "outage"}
	var unready atomic.Bool
	var eng atomic.Pointer[runtime.Engine]
	// Stopped once the outage is over (operations succeeded for a while).
	j.settled = func() bool { return unready.Load() && eng.Load().Snapshot().Store.FailingSince.IsZero() }
	j.onEngine = func(e *runtime.Engine) {
		eng.Store(e)
		go func() {
			for !e.Snapshot().Store.FailingSince.IsZero() || !unready.Load() {
				if !e.Snapshot().Store.FailingSince.IsZero() {
					unready.Store(true)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	kafkatest.Produce(t, cl, "clicks", 2, 100)
	go func() {
		// Once the job writes (its start is not what this is about).
		for n := 0; n == 0; time.Sleep(10 * time.Millisecond) {
			conn2, err := pgx.Connect(context.Background(), dsn)
			if err != nil {
				t.Error(err)
				return
			}
			conn2.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{out}.Sanitize()).Scan(&n)
			conn2.Close(context.Background())
		}
		cutConnections(t, dsn, app, 3*time.Second)
		kafkatest.Produce(t, cl, "clicks", 2, 100)
	}()
	logs := j.runUntil(t, conn, 400)
	if !unready.Load() {
		t.Error("Snapshot().Store never said the database was failing")
	}
	if n := strings.Count(logs.String(), "the offset store is failing"); n != 1 {
		t.Errorf("%d outage warnings, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "the offset store answers again") {
		t.Errorf("the outage's end was not logged:\n%s", logs.String())
	}
}

// cutConnections ends every connection named app, again and again, for d.
func cutConnections(t *testing.T, dsn, app string, d time.Duration) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Error(err)
		return
	}
	defer admin.Close(ctx)
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app)
	}
}

// copyJob is an exactly-once job copying "clicks" into out through the
// PostgreSQL sink, one row per offset.
type copyJob struct {
	addrs           []string
	dsn, out, table string
	group           string
	afterCopy       func(context.Context, *sink.Postgres, *runtime.JobBatch)
	onEngine        func(*runtime.Engine)
	// settled, if set, must hold too before the job is stopped.
	settled func() bool
}

// runUntil runs the job until out holds want distinct offsets, checks
// that Run did not fail and every offset is there once, and returns the
// job's log.
func (j copyJob) runUntil(t *testing.T, conn *pgx.Conn, want int) *logbuf.Buffer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	count := func() (rows, distinct int) {
		if err := conn.QueryRow(context.Background(), "SELECT count(*), count(DISTINCT (partition, kafka_offset)) FROM "+pgx.Identifier{j.out}.Sanitize()).Scan(&rows, &distinct); err != nil {
			t.Error(err)
		}
		return rows, distinct
	}
	logs := &logbuf.Buffer{}
	s, err := sink.NewPostgres(ctx, j.dsn, j.group, j.out, offsets.Table(j.table))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, err := runtime.New(runtime.Group(j.group), runtime.WithSemantics(runtime.ExactlyOnce), runtime.WithOffsetStore(s),
		runtime.Brokers(j.addrs...), runtime.BatchInterval(50*time.Millisecond), runtime.MaxRatePerPartition(400),
		runtime.OutageLimit(time.Minute), runtime.Logger(logs.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	st, err := runtime.NewStream[[]byte](e, "clicks", runtime.Subscribe("clicks"), nil, runtime.StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	if j.onEngine != nil {
		j.onEngine(e)
	}
	errc := make(chan error, 1)
	go func() {
		errc <- e.Run(ctx, func(ctx context.Context, bs *runtime.JobBatch) error {
			var rows [][]any
			for r := range st.Batch(bs).Records() {
				rows = append(rows, []any{r.Topic, r.Partition, r.Offset, r.Value})
			}
			if _, err := s.CopyFrom(ctx, s.Table(), []string{"topic", "partition", "kafka_offset", "value"}, pgx.CopyFromRows(rows)); err != nil {
				return err
			}
			if j.afterCopy != nil {
				j.afterCopy(ctx, s, bs)
			}
			return nil
		})
	}()
	for {
		if _, d := count(); d >= want && (j.settled == nil || j.settled()) {
			break
		}
		select {
		case err := <-errc:
			t.Fatalf("Run ended before every offset was written: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("%d offsets never all written:\n%s", want, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rows, distinct := count(); rows != want || distinct != want {
		t.Errorf("%d rows for %d offsets, want each of %d once", rows, distinct, want)
	}
	return logs
}

// TestPostgresSinkFencedBatchCommitsNothing: a batch whose range does not
// start where the offsets table holds its partition (another instance
// stored it) fails with a *runtime.FencedError naming what the table
// holds, and commits nothing: neither its rows nor its other partitions'
// offsets. The sink's next batch commits. A batch whose transaction an
// error aborted under the handler does not report success.
func TestPostgresSinkFencedBatchCommitsNothing(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	out, conn := outputTable(t, dsn)
	table := pgtest.Table(t, dsn, "offsets")
	a, err := sink.NewPostgres(ctx, dsn, "fence", out, offsets.Table(table))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sink.NewPostgres(ctx, dsn, "fence", out, offsets.Table(table))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rng := func(p int32, from, until int64) runtime.OffsetRange {
		return runtime.OffsetRange{Topic: "clicks", Partition: p, FromOffset: from, UntilOffset: until}
	}
	// batch writes a row per offset of its ranges and stores them.
	batch := func(s *sink.Postgres, id int64, ranges ...runtime.OffsetRange) error {
		sb := runtime.StoredBatch{ID: id, Ranges: ranges}
		if err := s.Begin(ctx, sb); err != nil {
			t.Fatal(err)
		}
		var rows [][]any
		for _, r := range ranges {
			for o := r.FromOffset; o < r.UntilOffset; o++ {
				rows = append(rows, []any{r.Topic, r.Partition, o, "v"})
			}
		}
		if _, err := s.CopyFrom(ctx, s.Table(), []string{"topic", "partition", "kafka_offset", "value"}, pgx.CopyFromRows(rows)); err != nil {
			t.Fatal(err)
		}
		return s.Store(ctx, sb)
	}
	count := func() (n int) {
		t.Helper()
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{out}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := batch(a, 1, rng(0, 0, 10), rng(1, 0, 10)); err != nil {
		t.Fatal(err)
	}
	// b read partition 0 from 0 too: its batch is stale; partition 2 is
	// new and 1 would move on, but nothing of the batch may commit.
	err = batch(b, 1, rng(2, 0, 5), rng(1, 10, 15), rng(0, 0, 5))
	var fe *runtime.FencedError
	if !errors.As(err, &fe) || fe.Range != rng(0, 0, 5) || fe.Stored != 10 || !strings.Contains(err.Error(), "starts at 0 but the store holds 10") {
		t.Fatalf("stale batch: %v, want a *FencedError for partition 0 holding 10", err)
	}
	if n := count(); n != 20 {
		t.Errorf("%d rows after the fenced batch, want the first batch's 20", n)
	}
	// The fenced sink goes on as the engine has it do after a restart:
	// it loads the partitions (which makes it their owner) and reads on
	// from where the table is.
	tps := []runtime.TopicPartition{{Topic: "clicks", Partition: 0}, {Topic: "clicks", Partition: 1}, {Topic: "clicks", Partition: 2}}
	if got, err := b.Load(ctx, tps); err != nil || len(got) != 2 || got[tps[0]] != 10 || got[tps[1]] != 10 {
		t.Errorf("offsets after the fenced batch: %v, %v; want partitions 0 and 1 at 10, 2 absent", got, err)
	}
	if err := batch(b, 2, rng(0, 10, 12), rng(2, 0, 3)); err != nil {
		t.Fatalf("the batch after the fenced one: %v", err)
	}
	if got, _ := b.Load(ctx, tps); got[tps[0]] != 12 || got[tps[2]] != 3 || count() != 25 {
		t.Errorf("after the next batch: offsets %v, %d rows; want 0 at 12, 2 at 3, 25 rows", got, count())
	}
	// A handler that let a statement fail and went on: its transaction
	// is aborted, so nothing commits, ranges or none. a owns the
	// partitions again first, so that only the abort can refuse it.
	if _, err := a.Load(ctx, tps); err != nil {
		t.Fatal(err)
	}
	for _, ranges := range [][]runtime.OffsetRange{{rng(0, 12, 14)}, nil} {
		sb := runtime.StoredBatch{ID: 3, Ranges: ranges}
		if err := a.Begin(ctx, sb); err != nil {
			t.Fatal(err)
		}
		a.Exec(ctx, "INSERT INTO "+pgx.Identifier{out}.Sanitize()+" (topic) VALUES ('x')")
		a.Exec(ctx, "SELECT 1/0")
		if err := a.Store(ctx, sb); err == nil {
			t.Errorf("Store of an aborted transaction (ranges %v) succeeded", ranges)
		}
	}
	if got, _ := a.Load(ctx, tps); got[tps[0]] != 12 || count() != 25 {
		t.Errorf("after the aborted batches: offsets %v, %d rows; want 0 at 12, 25 rows", got, count())
	}
	// A handler that committed the transaction itself: the offsets must
	// not be stored on their own.
	sb := runtime.StoredBatch{ID: 4, Ranges: []runtime.OffsetRange{rng(0, 12, 14)}}
	if err := a.Begin(ctx, sb); err != nil {
		t.Fatal(err)
	}
	a.Tx(ctx, func(tx pgx.Tx) error { return tx.Commit(ctx) })
	if err := a.Store(ctx, sb); err == nil {
		t.Error("Store after the handler committed the transaction succeeded")
	}
	if got, _ := a.Load(ctx, tps); got[tps[0]] != 12 {
		t.Errorf("after the handler's commit: offsets %v, want 0 at 12", got)
	}
}
