// Package offsets holds the job offset stores other than Kafka's group
// commits (which live in the runtime): plain (group, topic, partition,
// next offset) rows with batch metadata, never code, so a job rebuilt
// with a new handler and evolved schemas resumes where the old one
// stopped.
package offsets

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/streamgen/streamgen/internal/backoff"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/config"
)

// DefaultTable is the table Postgres keeps offsets in unless told
// otherwise: the offsets.table setting's default (config.Settings), so
// that a store made without a job's configuration uses the same table.
var DefaultTable = config.Default().OffsetsTable

// Postgres keeps a job's offsets in a PostgreSQL table, one row per
// (group, topic, partition), created if missing:
//
//	group_id text, topic text, partition int  -- the key
//	next_offset bigint                        -- where the next batch starts
//	batch_id bigint, batch_time timestamptz   -- the batch that stored it
//	updated_at timestamptz
//	owner text                                -- the instance that loaded it last
//
// Updates are fenced twice, so that an instance that lost its partitions
// in a rebalance (and does not know it yet) cannot store a stale batch:
// its Store fails with a *runtime.FencedError and nothing of the batch is
// stored.
//   - By offset: a batch's row update applies only where the stored
//     offset equals the batch's FromOffset, so it never lands over the
//     new owner's batches.
//   - By owner: Load, which the engine calls when it gains partitions,
//     writes the instance's token into their rows, and a Store applies
//     only to rows that hold its own token (or none: rows no instance has
//     loaded since the column was added, or whose first Store inserted
//     them; Store never writes the column). Without it, an instance whose
//     group session expired mid-batch could still store that batch after
//     the new owner had loaded the partition but before the new owner's
//     first Store: the new owner's batch, re-reading what the old one had
//     just stored, would be the one fenced. At-least-once would then hand
//     the stored batch's records to the handler twice; with the owner
//     fence the late batch is the one refused, as Kafka's group commit
//     refuses a commit from an older generation. A partition with no row
//     yet has no owner to check: its first Store inserts the row, and of
//     two instances the second's insert is fenced by the first's row.
type Postgres struct {
	pool  *pgxpool.Pool
	group string
	table string // quoted
	name  string
	where string // the DSN's host and database, for messages
	what  string // what the store is, in errors
	// waitAtStart bounds NewPostgres' wait for the database.
	waitAtStart time.Duration
	// outages is the engine's OutageReporter, once it gave one.
	outages atomic.Pointer[runtime.OutageReporter]

	storeSQL string // the fenced store statement (storeStatement)
	// owner is this instance's token in the rows it loads and stores:
	// host, process id and a random part, so that it tells an operator
	// which replica holds a partition and two processes never share it.
	owner string
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
	p := &Postgres{group: group, name: DefaultTable, what: "offset store", waitAtStart: 5 * time.Minute}
	for _, o := range opts {
		o(p)
	}
	p.table = pgx.Identifier(strings.Split(p.name, ".")).Sanitize()
	p.storeSQL = storeSQL(p.table)
	p.owner = ownerToken()
	where := Redact(dsn)
	p.where = where
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: PostgreSQL DSN %s: %w", p.what, where, redactErr(err))
	}
	if p.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("%s: PostgreSQL DSN %s: %w", p.what, where, redactErr(err))
	}
	// A database not up yet, or restarting, is waited for as the job
	// waits for its brokers: one warning, then quiet retries, for up to
	// waitAtStart.
	err = backoff.Retry{
		First: 100 * time.Millisecond, Max: 2 * time.Second, For: p.waitAtStart,
		Failed: func(err error, failures int) error {
			if !Transient(err) || p.waitAtStart == 0 {
				return err
			}
			if failures == 1 {
				slog.Default().Warn("cannot reach PostgreSQL; retrying quietly until it answers", "dsn", where, "err", redactErr(err).Error(), "wait_at_start", p.waitAtStart.String())
			}
			return nil
		},
		Recovered: func(int) { slog.Default().Info("PostgreSQL answers", "dsn", where) },
	}.Do(ctx, func() error {
		if err := p.pool.Ping(ctx); err != nil {
			return err
		}
		return p.ensureTable(ctx)
	})
	if err != nil {
		p.pool.Close()
		pe, isPg := errors.AsType[*pgconn.PgError](err)
		switch {
		case Transient(err):
			return nil, fmt.Errorf("%s: PostgreSQL at %s is unreachable: %w", p.what, where, redactErr(err))
		case isPg && (strings.HasPrefix(pe.Code, "28") || pe.Code == "3D000"):
			// The server answered: a role, a password or a database it
			// does not know is no network problem.
			return nil, fmt.Errorf("%s: PostgreSQL at %s refused the connection: %s (SQLSTATE %s)", p.what, where, pe.Message, pe.Code)
		}
		return nil, fmt.Errorf("%s: PostgreSQL at %s: %w", p.what, where, redactErr(err))
	}
	return p, nil
}

// WaitAtStart bounds how long NewPostgres waits for a database that
// cannot be reached (not up yet, restarting) before it gives up. Default
// 5m, the default kafka.outageLimit; 0 gives up at once.
func WaitAtStart(d time.Duration) PostgresOpt { return func(p *Postgres) { p.waitAtStart = d } }

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
	"owner": "text",
}

// ownerToken is a new instance's owner token: host/pid/random.
func ownerToken() string {
	host, _ := os.Hostname()
	var r [6]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), r)
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
	owner       text,
	PRIMARY KEY (group_id, topic, partition)
)`)
		if err != nil {
			return err
		}
		// A table created before the owner fence lacks its column: it
		// is added (nullable, so existing rows stay valid and are
		// claimed at their next Load). Only when it is missing, since
		// ALTER TABLE needs the table's ownership even when it would
		// change nothing.
		var has bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
			WHERE table_name = $1 AND ($2 = '' OR table_schema = $2) AND column_name = 'owner')`, p.bareName(), p.schemaName()).Scan(&has); err != nil || has {
			return err
		}
		if _, err := tx.Exec(ctx, `ALTER TABLE `+p.table+` ADD COLUMN IF NOT EXISTS owner text`); err != nil {
			return fmt.Errorf("adding column owner, which fences replicas that lost their partitions, to the offsets table (or add it yourself: ALTER TABLE %s ADD COLUMN owner text): %w", p.table, err)
		}
		return nil
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

// Load returns the stored next offsets of tps, retrying through an outage
// of the database (see Retry).
func (p *Postgres) Load(ctx context.Context, tps []runtime.TopicPartition) (out map[runtime.TopicPartition]int64, err error) {
	err = p.Retry(ctx, "reading offsets from table "+p.name, func() error {
		out, err = p.load(ctx, tps, true)
		return err
	})
	return out, err
}

// load reads the next offsets of tps; claim also writes this instance's
// token into their rows (Load's owner fence), in the same statement.
func (p *Postgres) load(ctx context.Context, tps []runtime.TopicPartition, claim bool) (map[runtime.TopicPartition]int64, error) {
	out := make(map[runtime.TopicPartition]int64)
	if len(tps) == 0 {
		return out, nil
	}
	topics := make([]string, len(tps))
	parts := make([]int32, len(tps))
	for i, tp := range tps {
		topics[i], parts[i] = tp.Topic, tp.Partition
	}
	sql, args := `SELECT o.topic, o.partition, o.next_offset FROM `+p.table+` o
		JOIN unnest($2::text[], $3::int[]) AS w(topic, partition) USING (topic, partition)
		WHERE o.group_id = $1`, []any{p.group, topics, parts}
	if claim {
		sql, args = `UPDATE `+p.table+` o SET owner = $4
		FROM unnest($2::text[], $3::int[]) AS w(topic, partition)
		WHERE o.group_id = $1 AND o.topic = w.topic AND o.partition = w.partition
		RETURNING o.topic, o.partition, o.next_offset`, append(args, p.owner)
	}
	rows, err := p.pool.Query(ctx, sql, args...)
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

// Store stores a batch's ranges, retrying through an outage of the
// database (see Retry). It is one statement, its own transaction: one
// round trip. A statement whose answer was lost may have been stored:
// before trying again, Store looks whether every range already is
// (Stored), so the retry is never fenced by its own success.
func (p *Postgres) Store(ctx context.Context, b runtime.StoredBatch) error {
	if len(b.Ranges) == 0 {
		return nil
	}
	tried := false
	return p.Retry(ctx, fmt.Sprintf("storing batch %d in table %s", b.ID, p.name), func() error {
		if tried {
			if ok, err := p.Stored(ctx, b); err != nil || ok {
				return err
			}
		}
		tried = true
		sql, args := p.storeStatement(b)
		_, err := p.pool.Exec(ctx, sql, args...)
		return p.Fenced(ctx, b, err)
	})
}

// Stored reports whether every range of b is stored: its partition's
// next offset is the range's UntilOffset. It tells whether a commit whose
// answer was lost took place.
func (p *Postgres) Stored(ctx context.Context, b runtime.StoredBatch) (bool, error) {
	tps := make([]runtime.TopicPartition, 0, len(b.Ranges))
	for _, r := range b.Ranges {
		tps = append(tps, r.TopicPartition())
	}
	got, err := p.load(ctx, tps, false)
	if err != nil {
		return false, err
	}
	for _, r := range b.Ranges {
		if next, ok := got[r.TopicPartition()]; !ok || next != r.UntilOffset {
			return false, nil
		}
	}
	return true, nil
}

// SetOutageReporter is how the engine learns of the database's outages
// (runtime.OutageAware): Retry reports to it and gives up when it says
// the outage lasted too long.
func (p *Postgres) SetOutageReporter(r runtime.OutageReporter) { p.outages.Store(&r) }

// Failed reports a failure of the database that the caller does not
// retry itself (a sink's transaction lost under its handler) to the
// engine's OutageReporter, so the outage it is part of is one outage.
func (p *Postgres) Failed(what string, err error) {
	if r := p.outages.Load(); r != nil && Transient(err) {
		(*r).Failing("PostgreSQL at "+p.where+": "+what, redactErr(err))
	}
}

// Retry runs op until it succeeds, fails for a cause waiting will not
// fix, or ctx ends. A failure that may pass (the database restarting or
// failing over, connections cut or refused: Transient) is retried with
// backoff, reported to the engine's OutageReporter (which logs it, makes
// the job unready, and ends the retries past the job's outage limit), or
// without an engine for retryAlone. what names the operation.
func (p *Postgres) Retry(ctx context.Context, what string, op func() error) error {
	r := p.outages.Load()
	retry := backoff.Retry{First: 50 * time.Millisecond, Max: 2 * time.Second, Failed: func(err error, _ int) error {
		if !Transient(err) {
			return err
		}
		if r == nil {
			return nil
		}
		if oerr := (*r).Failing("PostgreSQL at "+p.where+": "+what, redactErr(err)); oerr != nil {
			return fmt.Errorf("%w; the last error: %w", oerr, err)
		}
		return nil
	}}
	if r == nil {
		retry.For = retryAlone
	}
	err := retry.Do(ctx, op)
	if err == nil && r != nil {
		(*r).Answered()
	}
	return err
}

// retryAlone bounds Retry for a store no engine reports outages for.
const retryAlone = 30 * time.Second

// Transient reports whether err is PostgreSQL (or the way to it) failing
// for a while rather than refusing the operation: connections refused,
// reset or cut (the server restarting, pg_terminate_backend), the server
// shutting down or starting up, a failover (read-only transaction), or a
// serialization failure. Authentication, missing tables and constraint
// violations are not.
func Transient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // admin shutdown, crash shutdown, cannot connect now
			pe.Code == "40001", pe.Code == "40P01", // serialization failure, deadlock
			pe.Code == "25006": // read-only transaction: a failover in progress
			return true
		}
		return false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return pgconn.SafeToRetry(err) || errors.As(err, &ne) || errors.As(err, &ce) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || pgconn.Timeout(err) ||
		strings.Contains(err.Error(), "conn closed")
}

// StoreTx stores a batch's ranges within tx, fenced: each range's row must
// hold the range's FromOffset (or not exist yet) and no other instance's
// owner token (see Postgres). A range whose FromOffset
// equals its UntilOffset (Stream.CommitAsync's, the stop's last flush)
// only moves the offset forward: a stale instance can never rewind it.
// However many partitions, it is one statement (QueueStore's). On a
// *runtime.FencedError tx is aborted: the caller must roll it back.
func (p *Postgres) StoreTx(ctx context.Context, tx pgx.Tx, b runtime.StoredBatch) error {
	if len(b.Ranges) == 0 {
		return nil
	}
	sql, args := p.storeStatement(b)
	_, err := tx.Exec(ctx, sql, args...)
	return p.Fenced(ctx, b, err)
}

// QueueStore queues on batch the statement that stores b's ranges, fenced
// as StoreTx's, for a sink that sends it with its COMMIT in one round
// trip: where a range is fenced the statement fails, so its transaction
// is aborted and the COMMIT after it does not run. Fenced turns that
// failure into the *runtime.FencedError. Nothing is queued for a batch
// without ranges.
func (p *Postgres) QueueStore(batch *pgx.Batch, b runtime.StoredBatch) {
	if len(b.Ranges) > 0 {
		sql, args := p.storeStatement(b)
		batch.Queue(sql, args...)
	}
}

// fenceMark starts the text the store statement fails to cast when a
// range is fenced; the range's index (from 1) follows it.
const fenceMark = "streamgen: fenced range "

// storeStatement is the statement that stores b's ranges, and its
// arguments. Fencing must abort the statement rather than leave ranges
// out, so that a COMMIT sent behind it (QueueStore) cannot commit part
// of a batch. It updates the rows that hold their range's start and
// inserts the partitions it did not update: where a row exists (fenced,
// or inserted meanwhile by another instance) the insert conflicts and
// leaves the range out, and taking only the ranges not updated keeps the
// insert empty in the usual batch. When any range was left out it casts
// a text naming the first such range to integer, which fails (SQLSTATE
// 22P02; SQL has no RAISE). The text depends on the rows, so the planner
// cannot fold the cast and fail every statement.
func (p *Postgres) storeStatement(b runtime.StoredBatch) (string, []any) {
	at := b.Time
	if at.IsZero() {
		at = time.Now()
	}
	n := len(b.Ranges)
	topics, parts, froms, untils := make([]string, n), make([]int32, n), make([]int64, n), make([]int64, n)
	for i, r := range b.Ranges {
		topics[i], parts[i], froms[i], untils[i] = r.Topic, r.Partition, r.FromOffset, r.UntilOffset
	}
	return p.storeSQL, []any{p.group, topics, parts, froms, untils, b.ID, at, p.owner}
}

func storeSQL(table string) string {
	return `WITH v AS (
	SELECT * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) WITH ORDINALITY AS v(topic, partition, from_offset, until, i)
), updated AS (
	UPDATE ` + table + ` o SET next_offset = v.until, batch_id = $6, batch_time = $7, updated_at = now()
	FROM v
	WHERE o.group_id = $1 AND o.topic = v.topic AND o.partition = v.partition
	  AND (o.next_offset = v.from_offset OR (v.from_offset = v.until AND o.next_offset <= v.until))
	  AND (o.owner IS NULL OR o.owner = $8)
	RETURNING o.topic, o.partition
), inserted AS (
	INSERT INTO ` + table + ` (group_id, topic, partition, next_offset, batch_id, batch_time)
	SELECT $1, v.topic, v.partition, v.until, $6, $7 FROM v
	WHERE (v.topic, v.partition) NOT IN (SELECT topic, partition FROM updated)
	ON CONFLICT DO NOTHING
	RETURNING topic, partition
)
SELECT ('` + fenceMark + `' || min(v.i))::int FROM v
WHERE (v.topic, v.partition) NOT IN (SELECT topic, partition FROM updated UNION ALL SELECT topic, partition FROM inserted)`
}

// Fenced is err, a failure of b's store statement (StoreTx, QueueStore),
// or for a fenced range the *runtime.FencedError, with the offset the
// partition holds read outside the statement's transaction (which the
// fence aborted).
func (p *Postgres) Fenced(ctx context.Context, b runtime.StoredBatch, err error) error {
	pe, ok := errors.AsType[*pgconn.PgError](err)
	if !ok || pe.Code != "22P02" {
		if err != nil {
			return fmt.Errorf("storing batch %d in table %s: %w", b.ID, p.name, err)
		}
		return nil
	}
	at := strings.Index(pe.Message, fenceMark)
	if at < 0 {
		return fmt.Errorf("storing batch %d in table %s: %w", b.ID, p.name, err)
	}
	digits := pe.Message[at+len(fenceMark):]
	digits = digits[:len(digits)-len(strings.TrimLeft(digits, "0123456789"))]
	i, aerr := strconv.Atoi(digits)
	if aerr != nil || i < 1 || i > len(b.Ranges) {
		return fmt.Errorf("storing batch %d in table %s: %w", b.ID, p.name, err)
	}
	r := b.Ranges[i-1]
	var stored int64
	var owner *string
	if err := p.pool.QueryRow(ctx, `SELECT next_offset, owner FROM `+p.table+` WHERE group_id = $1 AND topic = $2 AND partition = $3`,
		p.group, r.Topic, r.Partition).Scan(&stored, &owner); err != nil {
		return fmt.Errorf("storing %s in table %s: fenced; reading the offset the table holds: %w", r, p.name, err)
	}
	if owner != nil && *owner != p.owner {
		return &runtime.FencedError{Range: r, Stored: stored, Store: "offsets table " + p.name,
			Why: fmt.Sprintf("group %q topic %s partition %d: instance %s loaded the partition after this instance (%s) did: a rebalance gave it the partition, and this instance had not learnt that it lost it; this batch (from %d) was not stored, and the partition holds %d",
				p.group, r.Topic, r.Partition, *owner, p.owner, r.FromOffset, stored)}
	}
	return fenced(p.name, p.group, r, stored)
}

// fenced is a batch whose range does not start where the store says its
// partition is: another instance stored the partition since this one
// read it (a rebalance moved it), so this batch is stale and nothing of
// it was stored.
func fenced(table, group string, r runtime.OffsetRange, stored int64) *runtime.FencedError {
	why := fmt.Sprintf("group %q topic %s partition %d: the batch starts at %d but the store holds %d: another instance stored the partition since this one read it (a rebalance moved it), or something else wrote the table; this batch was not stored",
		group, r.Topic, r.Partition, r.FromOffset, stored)
	if r.FromOffset == r.UntilOffset {
		why = fmt.Sprintf("group %q topic %s partition %d: the commit of offset %d would move the stored offset back from %d; another instance stored past it since this one read the partition, so nothing was stored",
			group, r.Topic, r.Partition, r.UntilOffset, stored)
	}
	return &runtime.FencedError{Range: r, Stored: stored, Store: "offsets table " + table, Why: why}
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
