package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/examples/entity-cache/cache"
	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/internal/pgtest"
)

// counting is the cache that also counts the clicks it was given.
type counting struct {
	*Cache
	n atomic.Int64
}

func (c *counting) ProcessBatch(ctx context.Context, b *cache.Batch) error {
	c.n.Add(int64(b.Clicks.Len()))
	return c.Cache.ProcessBatch(ctx, b)
}

// TestEntityCache runs the job on an in-process Kafka and the machine's
// PostgreSQL: every click lands in the cache, keyed by its impression,
// and a restart resumes after the last finished batch instead of reading
// the topic from the start.
func TestEntityCache(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	addrs, prod := kafkatest.Cluster(t, 4, "clicks")
	db, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{"DROP TABLE IF EXISTS " + Table, "DELETE FROM streamgen_offsets WHERE group_id = 'entity-cache-test'"} {
		if _, err := db.Exec(ctx, stmt); err != nil && !pgtest.IsUndefinedTable(err) {
			t.Fatal(err)
		}
	}
	c := &counting{Cache: &Cache{DB: db}}
	if err := c.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	// 300 clicks of 100 impressions: each impression clicked 3 times.
	produce := func(round int) {
		var recs []*kgo.Record
		for i := range 100 {
			click := cache.Click{ImpressionID: fmt.Sprintf("imp-%03d", i), Timestamp: time.UnixMicro(int64(round*1000 + i)).UTC(), Device: cache.DeviceTypePhone}
			val, err := click.AppendAvro(nil)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: "clicks", Partition: int32(i % 4), Key: []byte(click.ImpressionID), Value: val})
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	run := func(want int64) {
		t.Helper()
		cfg := cache.DefaultConfig()
		cfg.Brokers, cfg.Group, cfg.OffsetsDSN, cfg.StatusAddr = addrs, "entity-cache-test", dsn, ""
		cfg.BatchInterval = 50 * time.Millisecond
		// The stop's bound would follow the short interval (10 × 50 ms),
		// which a loaded machine overruns: the job's own 10 s, as deployed.
		cfg.ShutdownTimeout = 10 * time.Second
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- cache.Run(rctx, cfg, c) }()
		deadline := time.After(30 * time.Second)
		for c.n.Load() < want {
			select {
			case err := <-errc:
				t.Fatalf("job stopped: %v", err)
			case <-deadline:
				t.Fatalf("the job saw %d clicks, want %d", c.n.Load(), want)
			case <-time.After(10 * time.Millisecond):
			}
		}
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
	produce(0)
	produce(1)
	run(200)
	produce(2)
	run(300)
	if got := c.n.Load(); got != 300 {
		t.Errorf("the job was given %d clicks over two runs, want 300: the restart re-read what the first run had finished", got)
	}
	var rows int
	var latest time.Time
	if err := db.QueryRow(ctx, "SELECT count(*), min(clicked_at) FROM "+Table).Scan(&rows, &latest); err != nil {
		t.Fatal(err)
	}
	if rows != 100 || !latest.Equal(time.UnixMicro(2000).UTC()) {
		t.Errorf("the cache has %d rows, the oldest latest click at %s; want 100 rows, each at its last click (round 2)", rows, latest)
	}
}
