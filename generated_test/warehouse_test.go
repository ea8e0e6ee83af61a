package generated_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/generated_test/cases/warehouse/warehouse"
	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/internal/pgtest"
	"github.com/streamgen/streamgen/runtime/config"
	"github.com/streamgen/streamgen/runtime/sink"
)

// etl is the README's PostgreSQL sink handler.
type warehouseETL struct{}

func (warehouseETL) ProcessBatch(ctx context.Context, b *warehouse.Batch) error {
	return b.Impressions.ForeachPartition(ctx, func(ctx context.Context, p warehouse.ImpressionsPartition) error {
		rows := make([][]any, 0, p.Len())
		for r := range p.Records() {
			rows = append(rows, []any{r.Value.ImpressionID, r.Value.CampaignID, r.Offset})
		}
		_, err := b.Sink.CopyFrom(ctx, b.Sink.Table(), []string{"id", "campaign", "kafka_offset"}, pgx.CopyFromRows(rows))
		return err
	})
}

// upsertETL is the README's PostgreSQL sink handler that writes with
// Exec: Table() is a pgx.Identifier, quoted with Sanitize.
type upsertETL struct{}

func (upsertETL) ProcessBatch(ctx context.Context, b *warehouse.Batch) error {
	table := b.Sink.Table().Sanitize() // "impressions", or "analytics"."impressions"
	for r := range b.Impressions.Records() {
		_, err := b.Sink.Exec(ctx, `INSERT INTO `+table+` (id, campaign, kafka_offset) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET campaign = excluded.campaign, kafka_offset = excluded.kafka_offset`,
			r.Value.ImpressionID, r.Value.CampaignID, r.Offset)
		if err != nil {
			return err
		}
	}
	return nil
}

// TestGeneratedPostgresSinkTableAtStart: the generated job with a sink
// table that does not exist stops before its first batch, naming the
// table; created, the README's Exec handler fills it.
func TestGeneratedPostgresSinkTableAtStart(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	out := pgtest.Table(t, dsn, "upserted")
	addrs, prod := kafkatest.Cluster(t, 2, "impressions")
	const n = 40
	for i := range n {
		imp := warehouse.Impression{ImpressionID: fmt.Sprintf("imp-%d", i), CampaignID: int64(i), Device: warehouse.DeviceTypeTv, BidPrice: big.NewRat(1, 1), Timestamp: time.UnixMilli(0).UTC()}
		val, err := imp.AppendAvro([]byte{0, 0, 0, 0, 42})
		if err != nil {
			t.Fatal(err)
		}
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "impressions", Partition: int32(i % 2), Value: val}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cfg := warehouse.DefaultConfig()
	cfg.Brokers, cfg.SinkDSN, cfg.OffsetsDSN, cfg.SinkTable, cfg.StatusAddr = addrs, dsn, dsn, out, ""
	cfg.RegistryURL = kafkatest.Registry(t, map[int]string{42: new(warehouse.Impression).AvroSchema()})
	cfg.Group = out
	cfg.BatchInterval = 50 * time.Millisecond
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := warehouse.Run(rctx, cfg, upsertETL{})
	if _, ok := errors.AsType[*sink.MissingTableError](err); !ok || !strings.Contains(err.Error(), `the output table "`+out+`" (sink.table) does not exist`) {
		t.Fatalf("Run with a missing sink table = %v, want a MissingTableError before the first batch", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE "+pgx.Identifier{out}.Sanitize()+" (id text PRIMARY KEY, campaign bigint, kafka_offset bigint)"); err != nil {
		t.Fatal(err)
	}
	var rows int
	runUntil(t, func(ctx context.Context) error { return warehouse.Run(ctx, cfg, upsertETL{}) }, func() bool {
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{out}.Sanitize()).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		return rows == n
	})
}

// TestGeneratedPostgresSinkJob runs the generated exactly-once job of the
// warehouse spec: every impression lands in exactly one row, and the
// offsets in the sink's database say where each partition ends.
func TestGeneratedPostgresSinkJob(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	out := pgtest.Table(t, dsn, "impressions")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE "+pgx.Identifier{out}.Sanitize()+" (id text, campaign bigint, kafka_offset bigint)"); err != nil {
		t.Fatal(err)
	}
	addrs, prod := kafkatest.Cluster(t, 3, "impressions")
	const n = 300
	var recs []*kgo.Record
	for i := range n {
		imp := warehouse.Impression{ImpressionID: fmt.Sprintf("imp-%d", i), CampaignID: int64(i), Device: warehouse.DeviceTypeTv, BidPrice: big.NewRat(1, 1), Timestamp: time.UnixMilli(0).UTC()}
		val, err := imp.AppendAvro([]byte{0, 0, 0, 0, 42})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "impressions", Partition: int32(i % 3), Value: val})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cfg := warehouse.DefaultConfig()
	cfg.Brokers, cfg.SinkDSN, cfg.OffsetsDSN, cfg.SinkTable, cfg.StatusAddr = addrs, dsn, dsn, out, ""
	cfg.RegistryURL = kafkatest.Registry(t, map[int]string{42: new(warehouse.Impression).AvroSchema()})
	cfg.Group = out // a fresh group: its offsets rows are this test's
	cfg.BatchInterval = 50 * time.Millisecond
	rows := func() (total, distinct int) {
		t.Helper()
		if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT id) FROM "+pgx.Identifier{out}.Sanitize()).Scan(&total, &distinct); err != nil {
			t.Fatal(err)
		}
		return total, distinct
	}
	runUntil(t, func(ctx context.Context) error { return warehouse.Run(ctx, cfg, warehouseETL{}) }, func() bool { _, d := rows(); return d == n })
	if total, distinct := rows(); total != n || distinct != n {
		t.Errorf("%d rows for %d impressions, want each of %d exactly once", total, distinct, n)
	}
	var stored int64
	if err := conn.QueryRow(ctx, "SELECT sum(next_offset) FROM streamgen_offsets WHERE group_id = $1", out).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != n {
		t.Errorf("the stored offsets sum to %d, want the partitions' ends, %d", stored, n)
	}

	cfg.OffsetsStore = config.StoreKafka
	if err := warehouse.Run(ctx, cfg, warehouseETL{}); err == nil || !strings.Contains(err.Error(), `offsets.store: "kafka", but the job was generated with offsets.store "postgres"`) {
		t.Errorf("a job configured with another offset store than its generated one: %v", err)
	}
}
