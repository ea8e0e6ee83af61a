// Package pgtest gives tests the machine's PostgreSQL: the DSN in
// STREAMGEN_TEST_POSTGRES, else the local default. Where none answers,
// tests fail in CI (CI=true) and skip elsewhere, naming the variable.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Env is the variable that names the test database.
const Env = "STREAMGEN_TEST_POSTGRES"

// DefaultDSN is the database tried when Env is not set: the local server
// with trust authentication and a database named test.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN returns the test database's DSN once it has answered.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(Env)
	if dsn == "" {
		dsn = DefaultDSN
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = conn.Ping(ctx)
		conn.Close(ctx)
	}
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL is not reachable (%v); set %s to a DSN of a database tests may write to", err, Env)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return dsn
}

// tables numbers the names Table gives, so that tests side by side in one
// process never share a name.
var tables atomic.Int64

// Table returns a table name unique to the test, dropped when it ends.
func Table(tb testing.TB, dsn, prefix string) string {
	tb.Helper()
	name := fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano(), tables.Add(1))
	DropAtEnd(tb, dsn, name)
	return name
}

// IsUndefinedTable reports whether err is PostgreSQL's "relation does not
// exist".
func IsUndefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P01"
}

// DropAtEnd drops table name when the test ends.
func DropAtEnd(tb testing.TB, dsn, name string) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, dsn); err == nil {
			conn.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{name}.Sanitize())
			conn.Close(ctx)
		}
	})
}
