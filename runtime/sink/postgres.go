// Package sink holds the transactional sinks: outputs that commit a
// batch's output together with its offsets, in one atomic step, so an
// exactly-once job has no window between writing output and storing
// offsets. Each is a runtime.TransactionalStore: give it to the engine with
// runtime.WithOffsetStore and runtime.WithSemantics(runtime.ExactlyOnce).
package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/offsets"
)

// Postgres is the PostgreSQL sink: each batch is one transaction. The
// handler writes its output through the batch's transaction (Exec,
// CopyFrom, or Tx itself); the engine then stores the batch's offsets in
// the same transaction, fenced as offsets.Postgres does, and commits: one
// COMMIT makes output and offsets durable together, or neither. A failed
// batch is rolled back and read again.
type Postgres struct {
	store *offsets.Postgres
	table pgx.Identifier

	mu   sync.Mutex    // serializes use of tx: a pgx.Tx is one connection
	conn *pgxpool.Conn // the in-flight batch's connection, nil between batches
	tx   pgx.Tx        // its transaction
}

// NewPostgres connects to dsn. table is the output's table (spec
// sink.table, "schema.table" or "table"), which Table returns for the
// handler; the job's offsets live in the table opts name
// (offsets.DefaultTable by default) under group. The sink does not
// create its table (its columns are the handler's): NewPostgres fails,
// naming it, when the table does not exist, so that the job stops before
// its first batch instead of failing every batch.
func NewPostgres(ctx context.Context, dsn, group, table string, opts ...offsets.PostgresOpt) (*Postgres, error) {
	s, err := offsets.NewPostgres(ctx, dsn, group, append([]offsets.PostgresOpt{offsets.Role("postgres sink (sink.dsn)")}, opts...)...)
	if err != nil {
		return nil, err
	}
	p := &Postgres{store: s, table: pgx.Identifier(strings.Split(table, "."))}
	var found *string
	if err := s.Pool().QueryRow(ctx, "SELECT to_regclass($1)::text", p.table.Sanitize()).Scan(&found); err != nil {
		s.Close()
		return nil, fmt.Errorf("postgres sink: looking up its table %s (sink.table) at %s: %w", p.table.Sanitize(), offsets.Redact(dsn), err)
	}
	if found == nil {
		s.Close()
		return nil, &MissingTableError{Table: p.table.Sanitize(), Where: offsets.Redact(dsn)}
	}
	return p, nil
}

// MissingTableError is a PostgreSQL sink's table that does not exist.
type MissingTableError struct {
	// Table is the table's quoted name, Where the database (its DSN
	// without the password).
	Table, Where string
}

func (e *MissingTableError) Error() string {
	return fmt.Sprintf("postgres sink: the output table %s (sink.table) does not exist in %s: the sink writes the handler's rows there in each batch's transaction and does not create it; create it (CREATE TABLE %s (...)) with the columns the handler writes, or correct sink.table", e.Table, e.Where, e.Table)
}

// Table is the output's table, as given to NewPostgres, ready for
// CopyFrom or Sanitize.
func (p *Postgres) Table() pgx.Identifier { return p.table }

// Close closes the connections. A batch's transaction still open is
// rolled back by the database as its connection closes.
func (p *Postgres) Close() {
	p.mu.Lock()
	if p.conn != nil {
		p.conn.Release() // in a transaction: closed, not pooled
		p.conn, p.tx = nil, nil
	}
	p.mu.Unlock()
	p.store.Close()
}

// Load returns the stored next offsets of tps.
func (p *Postgres) Load(ctx context.Context, tps []runtime.TopicPartition) (map[runtime.TopicPartition]int64, error) {
	return p.store.Load(ctx, tps)
}

// SetOutageReporter is how the engine learns of the database's outages
// (runtime.OutageAware).
func (p *Postgres) SetOutageReporter(r runtime.OutageReporter) { p.store.SetOutageReporter(r) }

// Begin starts the batch's transaction, waiting out an outage of the
// database (offsets.Postgres.Retry). The batch holds its connection
// until Store or Abort.
func (p *Postgres) Begin(ctx context.Context, _ runtime.StoredBatch) error {
	var conn *pgxpool.Conn
	var tx pgx.Tx
	err := p.store.Retry(ctx, "beginning a batch's transaction", func() (err error) {
		if conn, err = p.store.Pool().Acquire(ctx); err != nil {
			return err
		}
		if tx, err = conn.Begin(ctx); err != nil {
			conn.Release()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("beginning the batch's transaction: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rollback(ctx)
	p.conn, p.tx = conn, tx
	return nil
}

// Store stores the batch's offsets in its transaction and commits it,
// in one round trip: the fenced offset statement and COMMIT go out
// together (offsets.Postgres.QueueStore), and a fenced range fails the
// statement, so the COMMIT does not run and nothing of the batch is
// stored. A transaction lost to the database (restarted, its connection
// cut) before COMMIT is a *runtime.AbortedError: the engine reads the
// batch again. A COMMIT whose answer was lost may have committed: Store
// waits for the database and looks (offsets.Postgres.Stored), so the
// batch is either stored or read again, never both.
func (p *Postgres) Store(ctx context.Context, b runtime.StoredBatch) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tx == nil {
		return errors.New("no transaction: Store without Begin")
	}
	conn := p.conn
	p.conn, p.tx = nil, nil
	defer conn.Release() // a connection left in a transaction is closed, not reused
	if conn.Conn().PgConn().TxStatus() == 'I' {
		// Storing the offsets now would commit them alone.
		return errors.New("committing the batch's output and offsets: the handler ended the batch's transaction (Tx's fn must not commit or roll back)")
	}
	batch := &pgx.Batch{}
	p.store.QueueStore(batch, b)
	batch.Queue("commit").Exec(func(tag pgconn.CommandTag) error {
		// COMMIT of a transaction an error aborted answers ROLLBACK.
		if tag.String() != "COMMIT" {
			return pgx.ErrTxCommitRollback
		}
		return nil
	})
	err := conn.SendBatch(ctx, batch).Close()
	if err == nil {
		return nil
	}
	pc := conn.Conn().PgConn()
	switch {
	case !pc.IsClosed() && pc.TxStatus() == 'I':
		// The server answered to the end: the transaction is over,
		// and without COMMIT's success it rolled back.
	case !pc.IsClosed():
		// The statement failed, so COMMIT did not run: the
		// transaction is open and aborted.
		if _, rerr := conn.Exec(ctx, "rollback"); rerr != nil {
			conn.Conn().Close(ctx)
		}
	case pgconn.SafeToRetry(err):
		// Nothing was sent.
	default:
		return p.settle(ctx, b, err)
	}
	ferr := p.store.Fenced(ctx, b, err)
	if errors.Is(ferr, runtime.ErrFenced) {
		return ferr
	}
	if offsets.Transient(err) {
		return p.lost(err)
	}
	return fmt.Errorf("committing the batch's output and offsets: %w", ferr)
}

// settle is Store's answer when the connection was lost while the batch's
// COMMIT was on its way or answering: it may have committed. It waits for
// the database and looks.
func (p *Postgres) settle(ctx context.Context, b runtime.StoredBatch, err error) error {
	if !offsets.Transient(err) {
		return fmt.Errorf("committing the batch's output and offsets: %w", err)
	}
	var stored bool
	if lerr := p.store.Retry(ctx, "learning whether a batch's commit took place", func() (err error) {
		stored, err = p.store.Stored(ctx, b)
		return err
	}); lerr != nil {
		return fmt.Errorf("committing the batch's output and offsets: %w; whether it committed is unknown: %w", err, lerr)
	}
	if stored {
		return nil
	}
	return &runtime.AbortedError{Err: fmt.Errorf("committing the batch's output and offsets: %w (it did not commit)", err)}
}

// lost is err, or for the database failing under the batch's
// transaction a *runtime.AbortedError: nothing of the transaction
// committed, so the engine reads the batch again. The failure counts
// in the database's outage.
func (p *Postgres) lost(err error) error {
	if err != nil && offsets.Transient(err) {
		p.store.Failed("the batch's transaction", err)
		return &runtime.AbortedError{Err: fmt.Errorf("the batch's transaction was lost: %w", err)}
	}
	return err
}

// Abort rolls the batch's transaction back.
func (p *Postgres) Abort(ctx context.Context, _ runtime.StoredBatch) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("postgres sink: rolling the batch's transaction back: %w", err)
	}
	return nil
}

// rollback rolls the batch's transaction back, if there is one, and
// gives its connection back to the pool. p.mu is held.
func (p *Postgres) rollback(ctx context.Context) error {
	if p.tx == nil {
		return nil
	}
	err := p.tx.Rollback(ctx)
	p.conn.Release()
	p.conn, p.tx = nil, nil
	return err
}

// Exec runs sql in the batch's transaction. It may be called from the
// batch's ForeachPartition tasks at once: calls are serialized.
func (p *Postgres) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tx == nil {
		return pgconn.CommandTag{}, errOutsideBatch
	}
	tag, err := p.tx.Exec(ctx, sql, args...)
	return tag, p.lost(err)
}

// CopyFrom bulk-loads rows into table in the batch's transaction (COPY,
// the fastest way into PostgreSQL). Calls are serialized, so tasks may
// each copy their partition's rows.
func (p *Postgres) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, rows pgx.CopyFromSource) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tx == nil {
		return 0, errOutsideBatch
	}
	n, err := p.tx.CopyFrom(ctx, table, columns, rows)
	return n, p.lost(err)
}

// Tx calls fn with the batch's transaction, holding it for fn alone: for
// queries, prepared statements and anything Exec and CopyFrom do not
// cover. fn must not keep tx.
func (p *Postgres) Tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tx == nil {
		return errOutsideBatch
	}
	return p.lost(fn(p.tx))
}

var errOutsideBatch = errors.New("the PostgreSQL sink has no transaction: use it from the handler, while a batch runs")
