// Command entity-cache keeps the latest click of every clicked impression
// in PostgreSQL, at least once: each batch's clicks are upserted keyed by
// the impression, so a batch read again after a crash overwrites its own
// rows, and the job's offsets live in the same database (offsets.store
// postgres), so a restart resumes after the last finished batch.
//
// Run it with ENTITY_CACHE_BROKERS and ENTITY_CACHE_OFFSETS_DSN set, or
// --brokers and --offsets-dsn (--help lists every setting and its
// default from streamgen.yaml). The cache is written to the database the
// offsets are kept in: the handler is made from the job's resolved
// configuration (cache.MainFunc), never from DefaultConfig.
package main

//go:generate go run github.com/streamgen/streamgen/cmd/streamgen generate

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/streamgen/streamgen/examples/entity-cache/cache"
)

// Table is the cache: one row per clicked impression.
const Table = "clicked_impressions"

// Cache upserts every click of a batch into Table, keyed by impression.
type Cache struct {
	DB *pgxpool.Pool
}

// NewCache connects to the database at dsn and creates the cache's table
// there if it is missing.
func NewCache(ctx context.Context, dsn string) (*Cache, error) {
	db, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("the cache's database: %w", err)
	}
	c := &Cache{DB: db}
	if err := c.CreateTable(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating the cache table %s: %w", Table, err)
	}
	return c, nil
}

// Close closes the database connections; Main calls it when the job stops.
func (c *Cache) Close() { c.DB.Close() }

// CreateTable creates the cache's table if it is missing.
func (c *Cache) CreateTable(ctx context.Context) error {
	_, err := c.DB.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+Table+` (
	impression_id text PRIMARY KEY,
	clicked_at    timestamptz NOT NULL,
	device        text NOT NULL,
	source        text NOT NULL -- the click's topic/partition/offset
)`)
	return err
}

// ProcessBatch upserts each partition's clicks in one round trip. Rows are
// keyed by the entity, and a later click of an impression wins over an
// earlier one, so writing a batch twice changes nothing.
func (c *Cache) ProcessBatch(ctx context.Context, b *cache.Batch) error {
	return b.Clicks.ForeachPartition(ctx, func(ctx context.Context, p cache.ClicksPartition) error {
		var q pgx.Batch
		for rec := range p.Records() {
			q.Queue(`INSERT INTO `+Table+` (impression_id, clicked_at, device, source) VALUES ($1, $2, $3, $4)
				ON CONFLICT (impression_id) DO UPDATE SET clicked_at = excluded.clicked_at, device = excluded.device, source = excluded.source
				WHERE `+Table+`.clicked_at <= excluded.clicked_at`,
				rec.Value.ImpressionID, rec.Value.Timestamp, string(rec.Value.Device), rec.SourceID())
		}
		if q.Len() == 0 {
			return nil
		}
		return c.DB.SendBatch(ctx, &q).Close()
	})
}

func main() {
	cache.MainFunc(func(ctx context.Context, cfg cache.Config) (cache.Handler, error) {
		return NewCache(ctx, cfg.OffsetsDSN)
	})
}
