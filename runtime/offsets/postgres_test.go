package offsets_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/streamgen/streamgen/internal/pgtest"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/offsets"
)

func newStore(t *testing.T, dsn, table, group string) *offsets.Postgres {
	t.Helper()
	s, err := offsets.NewPostgres(context.Background(), dsn, group, offsets.Table(table))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func tp(p int32) runtime.TopicPartition { return runtime.TopicPartition{Topic: "clicks", Partition: p} }

func rng(p int32, from, until int64) runtime.OffsetRange {
	return runtime.OffsetRange{Topic: "clicks", Partition: p, FromOffset: from, UntilOffset: until}
}

func TestPostgresStoresAndLoads(t *testing.T) {
	dsn := pgtest.DSN(t)
	table := pgtest.Table(t, dsn, "offsets")
	s := newStore(t, dsn, table, "etl")
	ctx := context.Background()
	tps := []runtime.TopicPartition{tp(0), tp(1), tp(2)}
	if got, err := s.Load(ctx, tps); err != nil || len(got) != 0 {
		t.Fatalf("Load before any store = %v, %v; want nothing stored", got, err)
	}
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	if err := s.Store(ctx, runtime.StoredBatch{ID: 1, Time: at, Ranges: []runtime.OffsetRange{rng(0, 0, 10), rng(1, 5, 7)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Store(ctx, runtime.StoredBatch{ID: 2, Time: at.Add(time.Second), Ranges: []runtime.OffsetRange{rng(0, 10, 25)}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, tps)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[runtime.TopicPartition]int64{tps[0]: 25, tps[1]: 7}; len(got) != 2 || got[tps[0]] != 25 || got[tps[1]] != 7 {
		t.Errorf("Load = %v, want %v", got, want)
	}
	// The rows say which batch stored them, in plain columns.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var id int64
	var bt time.Time
	if err := conn.QueryRow(ctx, "SELECT batch_id, batch_time FROM "+pgx.Identifier{table}.Sanitize()+" WHERE group_id = 'etl' AND topic = 'clicks' AND partition = 0").Scan(&id, &bt); err != nil {
		t.Fatal(err)
	}
	if id != 2 || !bt.Equal(at.Add(time.Second)) {
		t.Errorf("partition 0's row has batch %d at %s, want batch 2 at %s", id, bt, at.Add(time.Second))
	}
	// Another group's offsets are its own.
	if got, err := newStore(t, dsn, table, "other").Load(ctx, tps); err != nil || len(got) != 0 {
		t.Errorf("another group loads %v, %v; want nothing", got, err)
	}
}

// TestPostgresFencesStaleBatches: a batch that does not start where the
// store says its partition is fails whole, storing none of its ranges;
// of two instances storing the same batch at once, exactly one succeeds.
func TestPostgresFencesStaleBatches(t *testing.T) {
	dsn := pgtest.DSN(t)
	table := pgtest.Table(t, dsn, "offsets")
	ctx := context.Background()
	a, b := newStore(t, dsn, table, "etl"), newStore(t, dsn, table, "etl")
	if err := a.Store(ctx, runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{rng(0, 0, 10), rng(1, 0, 10)}}); err != nil {
		t.Fatal(err)
	}
	err := b.Store(ctx, runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{rng(1, 10, 20), rng(0, 0, 8)}})
	var fe *runtime.FencedError
	if !errors.As(err, &fe) || !errors.Is(err, runtime.ErrFenced) || fe.Range.Partition != 0 || fe.Stored != 10 {
		t.Fatalf("stale Store = %v, want a *FencedError for partition 0 holding 10", err)
	}
	for _, want := range []string{`group "etl" topic clicks partition 0`, "starts at 0 but the store holds 10"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	got, _ := a.Load(ctx, []runtime.TopicPartition{tp(1)})
	if got[tp(1)] != 10 {
		t.Errorf("partition 1 holds %v after the fenced batch, want 10: a fenced batch stores nothing", got)
	}
	// A commit of an offset alone (CommitAsync's, the stop's flush)
	// moves the offset forward, never back: a stale instance's commit
	// cannot rewind what the partition's new owner stored.
	if err := b.Store(ctx, runtime.StoredBatch{Ranges: []runtime.OffsetRange{rng(0, 4, 4)}}); !errors.As(err, &fe) || fe.Stored != 10 ||
		!strings.Contains(err.Error(), "would move the stored offset back from 10") {
		t.Errorf("commit of offset 4 over 10 = %v, want a *FencedError saying it would move the offset back", err)
	}
	if err := b.Store(ctx, runtime.StoredBatch{Ranges: []runtime.OffsetRange{rng(0, 25, 25)}}); err != nil {
		t.Errorf("commit of offset 25 over 10: %v", err)
	}
	if got, _ := a.Load(ctx, []runtime.TopicPartition{tp(0)}); got[tp(0)] != 25 {
		t.Errorf("partition 0 holds %v after committing 25, want 25", got)
	}

	// Two instances that both believe they own partition 2 store their
	// batch from the same start at once: one wins.
	for round := range 20 {
		from := int64(round * 10)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, s := range []*offsets.Postgres{a, b} {
			wg.Go(func() {
				errs[i] = s.Store(ctx, runtime.StoredBatch{ID: int64(round), Ranges: []runtime.OffsetRange{rng(2, from, from+10+int64(i))}})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.As(err, &fe) {
				t.Fatalf("round %d: %v, want success or a *FencedError", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of 2 instances stored the batch, want exactly 1 (%v)", round, ok, errs)
		}
		got, _ := a.Load(ctx, []runtime.TopicPartition{tp(2)})
		next := got[tp(2)]
		if next != from+10 && next != from+11 {
			t.Fatalf("round %d: partition 2 holds %d", round, next)
		}
		// The next round starts at from+10 whoever won.
		if next == from+11 {
			conn, _ := pgx.Connect(ctx, dsn)
			conn.Exec(ctx, "UPDATE "+pgx.Identifier{table}.Sanitize()+" SET next_offset = $1 WHERE partition = 2", from+10)
			conn.Close(ctx)
		}
	}
}

func TestPostgresBadSetups(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	table := pgtest.Table(t, dsn, "not_offsets")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE "+pgx.Identifier{table}.Sanitize()+" (group_id text, topic text, partition text, PRIMARY KEY (group_id, topic, partition))"); err != nil {
		t.Fatal(err)
	}
	_, err = offsets.NewPostgres(ctx, dsn, "etl", offsets.Table(table))
	for _, want := range []string{"table " + table + " is not an offsets table", "column next_offset is missing", "column partition is text, want integer"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewPostgres on a wrong table = %v, want %q", err, want)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = offsets.NewPostgres(ctx, "postgres://etl:s3cret-pw@127.0.0.1:1/warehouse?sslmode=disable", "etl")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1/warehouse") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("unreachable store: %v; want the host and database named, never the password", err)
	}
	_, err = offsets.NewPostgres(ctx, "host=127.0.0.1 port=1 dbname=warehouse user=etl password=s3cret-pw sslmode=disable", "etl")
	if err == nil || !strings.Contains(err.Error(), "host=127.0.0.1 port=1 dbname=warehouse") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("unreachable store: %v; want the host and database named, never the password", err)
	}
}

// TestPostgresReplicasStartTogether: replicas creating the offsets table
// at the same moment all start.
func TestPostgresReplicasStartTogether(t *testing.T) {
	dsn := pgtest.DSN(t)
	table := pgtest.Table(t, dsn, "offsets")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			s, err := offsets.NewPostgres(context.Background(), dsn, "etl", offsets.Table(table))
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
}

// TestNewPostgresWaitsForTheDatabase: a database that refuses connections
// at first (not up yet, restarting) is waited for, as brokers are, and
// the store opens once it answers; with no wait allowed it fails at once,
// saying the database is unreachable.
func TestNewPostgresWaitsForTheDatabase(t *testing.T) {
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var up atomic.Bool
	dbHost := u.Host
	go func() { // a proxy to the database that cuts every connection until up
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !up.Load() {
				c.Close()
				continue
			}
			go func() {
				defer c.Close()
				db, err := net.Dial("tcp", dbHost)
				if err != nil {
					return
				}
				defer db.Close()
				go io.Copy(db, c)
				io.Copy(c, db)
			}()
		}
	}()
	u.Host = ln.Addr().String()
	table := pgtest.Table(t, dsn, "offsets")
	ctx := context.Background()
	if _, err := offsets.NewPostgres(ctx, u.String(), "etl", offsets.Table(table), offsets.WaitAtStart(0)); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("with no wait: %v, want unreachable", err)
	}
	time.AfterFunc(500*time.Millisecond, func() { up.Store(true) })
	p, err := offsets.NewPostgres(ctx, u.String(), "etl", offsets.Table(table), offsets.WaitAtStart(time.Minute))
	if err != nil {
		t.Fatalf("the store did not wait for the database: %v", err)
	}
	p.Close()
}

// An instance that lost its partition in a rebalance, and stores its
// batch after the new owner loaded the partition but before the new
// owner's first Store, is the one fenced: not the new owner, whose batch
// would read again what the stale batch stored.
func TestPostgresFencesTheInstanceThatLostThePartition(t *testing.T) {
	dsn := pgtest.DSN(t)
	table := pgtest.Table(t, dsn, "offsets")
	ctx := context.Background()
	old, cur := newStore(t, dsn, table, "etl"), newStore(t, dsn, table, "etl")
	if _, err := old.Load(ctx, []runtime.TopicPartition{tp(0), tp(1)}); err != nil {
		t.Fatal(err)
	}
	if err := old.Store(ctx, runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{rng(0, 0, 10), rng(1, 0, 10)}}); err != nil {
		t.Fatal(err)
	}
	// A rebalance gives partition 0 to cur, which loads it; old has not
	// learnt it yet and finishes the batch it was handling.
	got, err := cur.Load(ctx, []runtime.TopicPartition{tp(0)})
	if err != nil || got[tp(0)] != 10 {
		t.Fatalf("Load = %v, %v; want partition 0 at 10", got, err)
	}
	err = old.Store(ctx, runtime.StoredBatch{ID: 2, Ranges: []runtime.OffsetRange{rng(1, 10, 20), rng(0, 10, 20)}})
	var fe *runtime.FencedError
	if !errors.As(err, &fe) || fe.Range.Partition != 0 || fe.Stored != 10 {
		t.Fatalf("the old owner's Store = %v, want a *FencedError for partition 0 holding 10", err)
	}
	for _, want := range []string{`group "etl" topic clicks partition 0`, "loaded the partition after this instance", "not learnt that it lost it", "holds 10"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if got, _ := cur.Load(ctx, []runtime.TopicPartition{tp(1)}); got[tp(1)] != 10 {
		t.Errorf("partition 1 holds %v after the fenced batch, want 10: a fenced batch stores nothing", got)
	}
	if err := cur.Store(ctx, runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{rng(0, 10, 20)}}); err != nil {
		t.Fatalf("the new owner's Store: %v", err)
	}
	// The old owner's commit of an offset alone is refused too, even
	// one that would move the partition forward.
	if err := old.Store(ctx, runtime.StoredBatch{Ranges: []runtime.OffsetRange{rng(0, 30, 30)}}); !errors.As(err, &fe) {
		t.Errorf("the old owner's commit of offset 30 = %v, want a *FencedError", err)
	}
	// Given the partition back, an instance stores again.
	if _, err := old.Load(ctx, []runtime.TopicPartition{tp(0)}); err != nil {
		t.Fatal(err)
	}
	if err := old.Store(ctx, runtime.StoredBatch{ID: 3, Ranges: []runtime.OffsetRange{rng(0, 20, 30)}}); err != nil {
		t.Errorf("Store after loading the partition again: %v", err)
	}
	var owner string
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT owner FROM "+pgx.Identifier{table}.Sanitize()+" WHERE partition = 0").Scan(&owner); err != nil {
		t.Fatal(err)
	}
	if host, _ := os.Hostname(); !strings.HasPrefix(owner, host+"/"+strconv.Itoa(os.Getpid())+"/") {
		t.Errorf("owner %q does not name the host and process", owner)
	}
}

// A table made before the owner fence gets its column, and its rows,
// which no instance owns yet, go on being stored.
func TestPostgresAddsTheOwnerColumn(t *testing.T) {
	dsn := pgtest.DSN(t)
	table := pgtest.Table(t, dsn, "offsets")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := pgx.Identifier{table}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE TABLE `+name+` (group_id text NOT NULL, topic text NOT NULL, partition integer NOT NULL,
		next_offset bigint NOT NULL, batch_id bigint, batch_time timestamptz, updated_at timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (group_id, topic, partition));
		INSERT INTO `+name+` (group_id, topic, partition, next_offset) VALUES ('etl', 'clicks', 0, 7)`); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, dsn, table, "etl")
	if err := s.Store(ctx, runtime.StoredBatch{ID: 1, Ranges: []runtime.OffsetRange{rng(0, 7, 9)}}); err != nil {
		t.Fatalf("Store on an unowned row of an old table: %v", err)
	}
	if got, err := s.Load(ctx, []runtime.TopicPartition{tp(0)}); err != nil || got[tp(0)] != 9 {
		t.Fatalf("Load = %v, %v; want 9", got, err)
	}
	newStore(t, dsn, table, "etl") // a second start finds the column there
}
