package sink_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/streamgen/streamgen/internal/pgtest"
	"github.com/streamgen/streamgen/runtime/offsets"
	"github.com/streamgen/streamgen/runtime/sink"
)

// TestPostgresSinkChecksItsTableAtStart: a sink whose table does not
// exist fails at NewPostgres, naming the table and sink.table and saying
// that the sink does not create it; an existing one, schema-qualified or
// not, is found.
func TestPostgresSinkChecksItsTableAtStart(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	missing := pgtest.Table(t, dsn, "no_such_output")
	offs := pgtest.Table(t, dsn, "offsets")
	_, err := sink.NewPostgres(ctx, dsn, "g", missing, offsets.Table(offs))
	var me *sink.MissingTableError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), `the output table "`+missing+`" (sink.table) does not exist`) || !strings.Contains(err.Error(), "does not create it") {
		t.Fatalf("NewPostgres with a missing table: %v", err)
	}
	out, _ := outputTable(t, dsn)
	for _, table := range []string{out, "public." + out} {
		s, err := sink.NewPostgres(ctx, dsn, "g", table, offsets.Table(offs))
		if err != nil {
			t.Fatalf("NewPostgres(%s): %v", table, err)
		}
		s.Close()
	}
}

// TestPostgresErrorsSayWhatFailed: a role the server does not know is
// refused, not "unreachable", and the sink's DSN errors name the sink, not
// the offset store.
func TestPostgresErrorsSayWhatFailed(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skipf("the test DSN is not a URL: %v", err)
	}
	u.User = url.User("no_such_role_streamgen")
	_, err = sink.NewPostgres(ctx, u.String(), "g", "t")
	if err == nil || !strings.HasPrefix(err.Error(), "postgres sink (sink.dsn): ") || !strings.Contains(err.Error(), "refused the connection") ||
		!strings.Contains(err.Error(), `role "no_such_role_streamgen" does not exist`) || strings.Contains(err.Error(), "unreachable") {
		t.Errorf("a missing role: %v", err)
	}
	_, err = offsets.NewPostgres(ctx, u.String(), "g")
	if err == nil || !strings.HasPrefix(err.Error(), "offset store: ") || strings.Contains(err.Error(), "unreachable") {
		t.Errorf("the offset store with a missing role: %v", err)
	}
	u.User, u.Host = url.User("postgres"), "127.0.0.1:1"
	// Not the default five minutes a job waits for its database at start.
	_, err = sink.NewPostgres(ctx, u.String(), "g", "t", offsets.WaitAtStart(300*time.Millisecond))
	if err == nil || !strings.HasPrefix(err.Error(), "postgres sink (sink.dsn): ") || !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("a closed port: %v", err)
	}
}
