// Package offsets holds the job offset stores other than Kafka's group
// commits (which live in the runtime): plain (group, topic, partition,
// next offset) rows with batch metadata, never code, so a job rebuilt
// with a new handler and evolved schemas resumes where the old one
// stopped.
package offsets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/streamgen/streamgen/runtime"
)

// DefaultTable is the table Postgres keeps offsets in unless told
// otherwise.
const DefaultTable = "streamgen_offsets"

// Postgres keeps a job's offsets in a PostgreSQL table, one row per
// (group, topic, partition), created if missing:
//
//	group_id text, topic text, partition int  -- the key
//	next_offset bigint                        -- where the next batch starts
//	batch_id bigint, batch_time timestamptz   -- the batch that stored it
//	updated_at timestamptz
//
// Updates are fenced: a batch's row update applies only where the stored
// offset equals the batch's FromOffset, so an instance that lost its
// partitions in a rebalance (and does not know it yet) cannot store a
// stale batch over the new owner's: its Store fails with a *FencedError
// and nothing of the batch is stored.
type Postgres struct {
	pool  *pgxpool.Pool
	group string
	table string // quoted
	name  string
	what  string // what the store is, in errors
}

// PostgresOpt configures NewPostgres.
type PostgresOpt func(*Postgres)

// Table sets the table's name (it may be schema-qualified, "s.t").
// Default DefaultTable.
func Table(name string) PostgresOpt { return func(p *Postgres) { p.name = name } }

// Role is what the store is for, in NewPostgres's errors: "offset store"
// by default; the PostgreSQL sink's is "postgres sink (sink.dsn)", so an
// error about its DSN does not blame the offset store.
func Role(what string) PostgresOpt { return func(p *Postgres) { p.what = what } }

// NewPostgres connects to dsn, creates the table if missing and checks its
// shape. Errors name the DSN's host and database, never its password.
func NewPostgres(ctx context.Context, dsn, group string, opts ...PostgresOpt) (*Postgres, error) {
	p := &Postgres{group: group, name: DefaultTable, what: "offset store"}
	for _, o := range opts {
		o(p)
	}
	p.table = pgx.Identifier(strings.Split(p.name, ".")).Sanitize()
	where := Redact(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: PostgreSQL DSN %s: %w", p.what, where, redactErr(err))
	}
	if p.pool, err = pgxpool.NewWithConfig(ctx, cfg); err == nil {
		err = p.pool.Ping(ctx)
	}
	if err != nil {
		if p.pool != nil {
			p.pool.Close()
		}
		if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
			// The server answered: a role, a password or a database it
			// does not know is no network problem.
			return nil, fmt.Errorf("%s: PostgreSQL at %s refused the connection: %s (SQLSTATE %s)", p.what, where, pe.Message, pe.Code)
		}
		return nil, fmt.Errorf("%s: PostgreSQL at %s is unreachable: %w", p.what, where, redactErr(err))
	}
	if err := p.ensureTable(ctx); err != nil {
		p.pool.Close()
		return nil, fmt.Errorf("%s: PostgreSQL at %s: %w", p.what, where, err)
	}
	return p, nil
}

// Close closes the connections.
func (p *Postgres) Close() { p.pool.Close() }

// Pool is the store's connection pool, for a sink that writes its output
// in the same transactions (StoreTx).
func (p *Postgres) Pool() *pgxpool.Pool { return p.pool }

// columns are the table's columns and their types as information_schema
// names them.
var columns = map[string]string{
	"group_id": "text", "topic": "text", "partition": "integer", "next_offset": "bigint",
	"batch_id": "bigint", "batch_time": "timestamp with time zone", "updated_at": "timestamp with time zone",
}

func (p *Postgres) ensureTable(ctx context.Context) error {
	// CREATE TABLE IF NOT EXISTS is not safe against itself: replicas
	// starting together fail with a duplicate pg_type key. An advisory
	// lock on the table's name, held for the transaction, serializes them.
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "streamgen:"+p.name); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+p.table+` (
	group_id    text        NOT NULL,
	topic       text        NOT NULL,
	partition   integer     NOT NULL,
	next_offset bigint      NOT NULL,
	batch_id    bigint,
	batch_time  timestamptz,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (group_id, topic, partition)
)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("creating table %s: %w", p.name, err)
	}
	rows, err := p.pool.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_name = $1 AND ($2 = '' OR table_schema = $2)`, p.bareName(), p.schemaName())
	if err != nil {
		return fmt.Errorf("reading the columns of table %s: %w", p.name, err)
	}
	have := make(map[string]string)
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return err
		}
		have[name] = typ
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var wrong []string
	for _, col := range slices.Sorted(maps.Keys(columns)) {
		switch typ, ok := have[col]; {
		case !ok:
			wrong = append(wrong, fmt.Sprintf("column %s is missing", col))
		case typ != columns[col]:
			wrong = append(wrong, fmt.Sprintf("column %s is %s, want %s", col, typ, columns[col]))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("table %s is not an offsets table: %s", p.name, strings.Join(wrong, "; "))
	}
	return nil
}

func (p *Postgres) bareName() string {
	parts := strings.Split(p.name, ".")
	return parts[len(parts)-1]
}

func (p *Postgres) schemaName() string {
	if i := strings.LastIndexByte(p.name, '.'); i >= 0 {
		return p.name[:i]
	}
	return ""
}

// Load returns the stored next offsets of tps.
func (p *Postgres) Load(ctx context.Context, tps []runtime.TopicPartition) (map[runtime.TopicPartition]int64, error) {
	out := make(map[runtime.TopicPartition]int64)
	if len(tps) == 0 {
		return out, nil
	}
	topics := make([]string, len(tps))
	parts := make([]int32, len(tps))
	for i, tp := range tps {
		topics[i], parts[i] = tp.Topic, tp.Partition
	}
	rows, err := p.pool.Query(ctx, `SELECT o.topic, o.partition, o.next_offset FROM `+p.table+` o
		JOIN unnest($2::text[], $3::int[]) AS w(topic, partition) USING (topic, partition)
		WHERE o.group_id = $1`, p.group, topics, parts)
	if err != nil {
		return nil, fmt.Errorf("reading table %s for group %q: %w", p.name, p.group, err)
	}
	for rows.Next() {
		var tp runtime.TopicPartition
		var next int64
		if err := rows.Scan(&tp.Topic, &tp.Partition, &next); err != nil {
			return nil, err
		}
		out[tp] = next
	}
	return out, rows.Err()
}

// Store stores a batch's ranges in one transaction.
func (p *Postgres) Store(ctx context.Context, b runtime.StoredBatch) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error { return p.StoreTx(ctx, tx, b) })
}

// StoreTx stores a batch's ranges within tx, fenced: each range's row must
// hold the range's FromOffset (or not exist yet). A range whose FromOffset
// equals its UntilOffset (Stream.CommitAsync's) is stored as it is. However
// many partitions, it takes two statements: an UPDATE of the rows that
// hold their range's start, and an INSERT of the partitions that have no
// row yet. On a *FencedError the caller must roll tx back.
func (p *Postgres) StoreTx(ctx context.Context, tx pgx.Tx, b runtime.StoredBatch) error {
	if len(b.Ranges) == 0 {
		return nil
	}
	at := b.Time
	if at.IsZero() {
		at = time.Now()
	}
	n := len(b.Ranges)
	topics, parts, froms, untils := make([]string, n), make([]int32, n), make([]int64, n), make([]int64, n)
	for i, r := range b.Ranges {
		topics[i], parts[i], froms[i], untils[i] = r.Topic, r.Partition, r.FromOffset, r.UntilOffset
	}
	done := make(map[runtime.TopicPartition]bool, n)
	collect := func(rows pgx.Rows, err error) error {
		if err != nil {
			return fmt.Errorf("storing batch %d in table %s: %w", b.ID, p.name, err)
		}
		for rows.Next() {
			var tp runtime.TopicPartition
			if err := rows.Scan(&tp.Topic, &tp.Partition); err != nil {
				return err
			}
			done[tp] = true
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("storing batch %d in table %s: %w", b.ID, p.name, err)
		}
		return nil
	}
	err := collect(tx.Query(ctx, `UPDATE `+p.table+` o SET next_offset = v.until, batch_id = $6, batch_time = $7, updated_at = now()
		FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) AS v(topic, partition, from_offset, until)
		WHERE o.group_id = $1 AND o.topic = v.topic AND o.partition = v.partition
		  AND (o.next_offset = v.from_offset OR v.from_offset = v.until)
		RETURNING o.topic, o.partition`, p.group, topics, parts, froms, untils, b.ID, at))
	if err != nil || len(done) == n {
		return err
	}
	err = collect(tx.Query(ctx, `INSERT INTO `+p.table+` (group_id, topic, partition, next_offset, batch_id, batch_time)
		SELECT $1, v.topic, v.partition, v.until, $6, $7
		FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) AS v(topic, partition, from_offset, until)
		ON CONFLICT DO NOTHING
		RETURNING topic, partition`, p.group, topics, parts, froms, untils, b.ID, at))
	if err != nil {
		return err
	}
	for _, r := range b.Ranges {
		if done[r.TopicPartition()] {
			continue
		}
		var stored int64
		if err := tx.QueryRow(ctx, `SELECT next_offset FROM `+p.table+` WHERE group_id = $1 AND topic = $2 AND partition = $3`,
			p.group, r.Topic, r.Partition).Scan(&stored); err != nil {
			return fmt.Errorf("storing %s in table %s: %w", r, p.name, err)
		}
		return &FencedError{Group: p.group, Range: r, Stored: stored}
	}
	return nil
}

// FencedError is a batch whose range does not start where the store says
// its partition is: another instance stored the partition since this one
// read it (a rebalance moved it), so this batch is stale and nothing of it
// was stored.
type FencedError struct {
	Group  string
	Range  runtime.OffsetRange
	Stored int64
}

func (e *FencedError) Error() string {
	return fmt.Sprintf("fenced: group %q topic %s partition %d: the batch starts at %d but the store holds %d; another instance owns the partition now, so this batch was not stored",
		e.Group, e.Range.Topic, e.Range.Partition, e.Range.FromOffset, e.Stored)
}

// Redact is dsn without its password, for messages: a URL's user info
// keeps the user, and a key=value DSN's password is dropped.
func Redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" && u.Host != "" {
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		u.RawQuery = ""
		return u.String()
	}
	var keep []string
	for _, f := range strings.Fields(dsn) {
		if k, _, _ := strings.Cut(f, "="); k == "host" || k == "port" || k == "dbname" || k == "user" {
			keep = append(keep, f)
		}
	}
	return strings.Join(keep, " ")
}

// redactErr keeps a connection error's cause without the config pgconn
// quotes in some of its errors.
func redactErr(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return ce.Unwrap()
	}
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("cannot parse the DSN")
	}
	return err
}
