package offsets_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/internal/pgtest"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/offsets"
)

// runJob runs an at-least-once job on the PostgreSQL store until it has
// seen want records, and returns the offsets it was given.
func runJob(t *testing.T, addrs []string, store runtime.OffsetStore, want int, opts ...runtime.Opt) map[runtime.TopicPartition][]int64 {
	t.Helper()
	e, err := runtime.New(append([]runtime.Opt{runtime.Group("etl"), runtime.WithOffsetStore(store), runtime.Brokers(addrs...), runtime.BatchInterval(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewStream(e, "clicks", runtime.Subscribe("clicks"), runtime.BytesDecoder, runtime.StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := make(map[runtime.TopicPartition][]int64)
	n := 0
	errc := make(chan error, 1)
	go func() {
		errc <- e.Run(context.Background(), func(_ context.Context, bs *runtime.JobBatch) error {
			mu.Lock()
			defer mu.Unlock()
			for r := range s.Batch(bs).Records() {
				tp := runtime.TopicPartition{Topic: r.Topic, Partition: r.Partition}
				seen[tp] = append(seen[tp], r.Offset)
				n++
			}
			return nil
		})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		done := n >= want
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("saw %d of %d records", n, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return seen
}

// TestJobResumesFromPostgres: a job whose offsets live in PostgreSQL
// stores them there, not in Kafka, and a restart resumes from them.
func TestJobResumesFromPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	table := pgtest.Table(t, dsn, "offsets")
	addrs, cl := kafkatest.Cluster(t, 2, "clicks")
	store := newStore(t, dsn, table, "etl")

	kafkatest.Produce(t, cl, "clicks", 2, 30)
	runJob(t, addrs, store, 60)
	got, err := store.Load(context.Background(), []runtime.TopicPartition{tp(0), tp(1)})
	if err != nil || got[tp(0)] != 30 || got[tp(1)] != 30 {
		t.Fatalf("stored %v, %v; want 30 for both partitions", got, err)
	}
	if committed, err := kadm.NewClient(cl).FetchOffsets(context.Background(), "etl"); err == nil && len(committed) > 0 {
		t.Errorf("the group committed %v to Kafka; the offsets belong in PostgreSQL", committed)
	}

	kafkatest.Produce(t, cl, "clicks", 2, 10) // offsets 30..39
	seen := runJob(t, addrs, store, 20)
	for _, p := range []int32{0, 1} {
		if offs := seen[tp(p)]; len(offs) != 10 || offs[0] != 30 || offs[9] != 39 {
			t.Errorf("after a restart partition %d read %v, want 30..39", p, offs)
		}
	}
}

// TestJobFailsWhenFenced: when the store holds another offset than the
// batch started from (another instance took the partition and stored
// past it), the batch is not stored and the job fails saying so.
func TestJobFailsWhenFenced(t *testing.T) {
	dsn := pgtest.DSN(t)
	table := pgtest.Table(t, dsn, "offsets")
	addrs, cl := kafkatest.Cluster(t, 1, "clicks")
	kafkatest.Produce(t, cl, "clicks", 1, 20)
	store := newStore(t, dsn, table, "etl")
	e, err := runtime.New(runtime.Group("etl"), runtime.WithOffsetStore(store), runtime.Brokers(addrs...), runtime.BatchInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewStream(e, "clicks", runtime.Subscribe("clicks"), runtime.BytesDecoder, runtime.StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = e.Run(ctx, func(ctx context.Context, b *runtime.JobBatch) error {
		if s.Batch(b).Len() == 0 {
			return nil // the group has not assigned the partition yet
		}
		// Another instance stores the partition while this batch runs.
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "INSERT INTO "+pgx.Identifier{table}.Sanitize()+" (group_id, topic, partition, next_offset) VALUES ('etl', 'clicks', 0, 7)")
		return err
	})
	var fe *runtime.FencedError
	if !errors.As(err, &fe) || fe.Stored != 7 {
		t.Fatalf("Run = %v, want a *FencedError naming the stored offset 7", err)
	}
	if got, _ := store.Load(context.Background(), []runtime.TopicPartition{tp(0)}); got[tp(0)] != 7 {
		t.Errorf("the store holds %v, want the other instance's 7 untouched", got)
	}
}

// TestStartFromKeepsPostgresOffsets: kafka.startFrom earliest (or latest)
// moves only partitions with nothing stored when offsets live in
// PostgreSQL: a restart resumes from the stored offsets instead of
// starting at 0 and being fenced by its own store.
func TestStartFromKeepsPostgresOffsets(t *testing.T) {
	dsn := pgtest.DSN(t)
	table := pgtest.Table(t, dsn, "offsets")
	addrs, cl := kafkatest.Cluster(t, 2, "clicks")
	store := newStore(t, dsn, table, "etl")
	kafkatest.Produce(t, cl, "clicks", 2, 30)
	for run, want := range []int{60, 40} {
		seen := runJob(t, addrs, store, want, runtime.StartFrom(runtime.StartEarliest()))
		for _, p := range []int32{0, 1} {
			offs := seen[tp(p)]
			if first := int64(30 * min(run, 1)); len(offs) == 0 || offs[0] != first {
				t.Errorf("run %d: partition %d started at %v, want %d", run+1, p, offs[:min(len(offs), 1)], first)
			}
		}
		kafkatest.Produce(t, cl, "clicks", 2, 20)
	}
}

// TestPostgresOffsetsRideOutDatabaseOutage: an at-least-once job whose
// offsets live in PostgreSQL has every connection cut again and again
// for a few seconds: it does not exit, hands no record twice, and its
// offsets end where the log does.
func TestPostgresOffsetsRideOutDatabaseOutage(t *testing.T) {
	dsn := pgtest.DSN(t)
	table := pgtest.Table(t, dsn, "offsets")
	addrs, cl := kafkatest.Cluster(t, 2, "clicks")
	app := fmt.Sprintf("outage_%d", time.Now().UnixNano())
	store, err := offsets.NewPostgres(context.Background(), dsn+"&application_name="+app, "etl", offsets.Table(table))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	kafkatest.Produce(t, cl, "clicks", 2, 30)
	cut := make(chan struct{})
	go func() {
		defer close(cut)
		admin, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close(context.Background())
		for n := 0; n == 0; time.Sleep(10 * time.Millisecond) { // once the job stores
			admin.QueryRow(context.Background(), "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n)
		}
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			admin.Exec(context.Background(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app)
		}
	}()
	go func() {
		<-cut
		kafkatest.Produce(t, cl, "clicks", 2, 30)
	}()
	seen := runJob(t, addrs, store, 120, runtime.OutageLimit(time.Minute))
	for _, p := range []int32{0, 1} {
		got := map[int64]bool{}
		for _, o := range seen[tp(p)] {
			got[o] = true
		}
		if len(got) != 60 || len(seen[tp(p)]) != 60 {
			t.Errorf("partition %d: %d handlings of %d distinct offsets, want each of 60 once (a Store retried through the outage never hands a batch twice)", p, len(seen[tp(p)]), len(got))
		}
	}
	stored, err := store.Load(context.Background(), []runtime.TopicPartition{tp(0), tp(1)})
	if err != nil || stored[tp(0)] != 60 || stored[tp(1)] != 60 {
		t.Errorf("stored %v, %v; want 60 for each partition", stored, err)
	}
}
