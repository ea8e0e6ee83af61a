package cli

import (
	"context"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/examples/entity-cache/cache"
	"github.com/streamgen/streamgen/internal/logbuf"
	"github.com/streamgen/streamgen/internal/pgtest"
)

// These tests run a template's job as a user runs it: a project made by
// `streamgen init` outside this module, generated and built with the go
// command, its binary started with the flags and variables its README
// and --help name, against kfake and the machine's PostgreSQL.

// templateBinary makes a project of template outside the module and
// builds its job's binary, as TestInitTemplatesBuildAndPassTheirTests
// does, and returns the binary's path.
//
// The tests that build a module run in parallel with each other (after
// the package's other tests, so none sees their t.Setenv or t.Chdir): a
// build spends much of its time in the go command's serial steps, tidy,
// link and the project's own tests. TestEntityCacheTemplateOneDatabase
// does not, since it shares the database with the entity-cache
// template's own tests.
func templateBinary(t *testing.T, template string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a module")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := filepath.Join(t.TempDir(), template)
	initInto(t, template, dir, "-module", "example.com/"+template)
	env := append(os.Environ(), "GOFLAGS="+os.Getenv("GOFLAGS")+" -mod=mod", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	for _, args := range [][]string{{"mod", "tidy"}, {"generate", "./..."}, {"build", "-o", "job", "."}} {
		cmd := exec.Command(goBin, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return filepath.Join(dir, "job")
}

// job is a running template binary.
type job struct {
	cmd  *exec.Cmd
	out  *logbuf.Buffer
	done chan error
}

// startJob starts bin with args and an environment without any of the
// job's own variables (prefix) but env's.
func startJob(t *testing.T, bin, prefix string, env []string, args ...string) *job {
	t.Helper()
	return startJobIn(t, "", bin, prefix, env, args...)
}

// startJobIn is startJob in the working directory dir ("" = the test's).
func startJobIn(t *testing.T, dir, bin, prefix string, env []string, args ...string) *job {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix+"_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	j := &job{cmd: cmd, out: &logbuf.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = j.out, j.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { j.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-j.done
		}
	})
	return j
}

// waitFor polls cond until it holds, failing if the job exits first or
// the deadline passes.
func (j *job) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for !cond() {
		select {
		case err := <-j.done:
			t.Fatalf("the job exited (%v) before %s:\n%s", err, what, j.out.String())
		case <-deadline:
			t.Fatalf("no %s after 90s:\n%s", what, j.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (j *job) stop(t *testing.T) {
	t.Helper()
	j.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-j.done:
		if err != nil {
			t.Fatalf("the job exited with %v after SIGTERM:\n%s", err, j.out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the job did not stop within 60s of SIGTERM:\n%s", j.out.String())
	}
}

// exited waits for the job to exit by itself and returns its exit code.
func (j *job) exited(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-j.done:
		return j.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("the job still runs after %s:\n%s", within, j.out.String())
	}
	return -1
}

// scratchDatabase creates a database of its own on the test server and
// returns its DSN; it is dropped at the end.
func scratchDatabase(t *testing.T, admin *pgx.Conn, base, name string) string {
	t.Helper()
	ctx := context.Background()
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// count is the single number query returns in the database at dsn; a
// table that does not exist counts 0.
func count(t *testing.T, dsn, query string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n *int64
	if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		if pgtest.IsUndefinedTable(err) {
			return 0
		}
		t.Fatal(err)
	}
	if n == nil {
		return 0
	}
	return *n
}

// TestEntityCacheTemplateOneDatabase runs the entity-cache template's
// binary with its database given by --offsets-dsn, then by
// ENTITY_CACHE_OFFSETS_DSN, each a database of its own that is not the
// spec's default: each time the cache's rows and the job's offsets are
// both in that database, counted, and none of them in the default one.
func TestEntityCacheTemplateOneDatabase(t *testing.T) {
	base := pgtest.DSN(t)
	bin := templateBinary(t, "entity-cache")
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "clicks"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	// 100 clicks of 100 impressions, raw Avro as the template's spec
	// reads them (its click.avsc is the repository's, as the example's).
	const n = 100
	for i := range n {
		c := cache.Click{ImpressionID: fmt.Sprintf("imp-%03d", i), Timestamp: time.UnixMicro(int64(i)).UTC(), Device: cache.DeviceTypePhone}
		val, err := c.AppendAvro(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "clicks", Key: []byte(c.ImpressionID), Value: val}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// The spec's default database, where a handler that read
	// DefaultConfig would have written its rows.
	defaultDSN := "postgres://postgres@localhost:5432/postgres?sslmode=disable"
	suffix := time.Now().UnixNano()
	for _, how := range []string{"flag", "env"} {
		t.Run(how, func(t *testing.T) {
			dsn := scratchDatabase(t, admin, base, fmt.Sprintf("entity_cache_%s_%d", how, suffix))
			group := fmt.Sprintf("entity-cache-%s-%d", how, suffix)
			var j *job
			if how == "flag" {
				j = startJob(t, bin, "ENTITY_CACHE", nil, "--brokers", brokers, "--group", group, "--offsets-dsn", dsn, "--status-addr", "", "--batch-interval", "100ms")
			} else {
				j = startJob(t, bin, "ENTITY_CACHE", []string{"ENTITY_CACHE_BROKERS=" + brokers, "ENTITY_CACHE_GROUP=" + group,
					"ENTITY_CACHE_OFFSETS_DSN=" + dsn, "ENTITY_CACHE_STATUS_ADDR=", "ENTITY_CACHE_BATCH_INTERVAL=100ms"})
			}
			j.waitFor(t, "100 rows and offsets summing to 100 in the given database", func() bool {
				return count(t, dsn, "SELECT count(*) FROM clicked_impressions") == n &&
					count(t, dsn, "SELECT sum(next_offset) FROM streamgen_offsets WHERE group_id = $1", group) == n
			})
			j.stop(t)
			if rows, offs := count(t, dsn, "SELECT count(*) FROM clicked_impressions"), count(t, dsn, "SELECT sum(next_offset) FROM streamgen_offsets WHERE group_id = $1", group); rows != n || offs != n {
				t.Errorf("after the stop: %d rows and offsets summing to %d in the given database, want %d and %d", rows, offs, n, n)
			}
			if conn, err := pgx.Connect(ctx, defaultDSN); err == nil {
				conn.Close(ctx)
				if offs := count(t, defaultDSN, "SELECT count(*) FROM streamgen_offsets WHERE group_id = $1", group); offs != 0 {
					t.Errorf("the spec's default database holds %d offsets rows of group %s: part of the job did not use the given database", offs, group)
				}
			}
		})
	}
}

// TestWarehouseTemplateWritesWhereItsURLSays: the etl-warehouse
// template's binary, given no sink URL, writes its Parquet files under
// ./warehouse-data of the directory it runs in (the spec's default,
// file://./warehouse-data); with ETL_WAREHOUSE_SINK_URL, the README's
// name, it writes them there instead and nothing in its working
// directory. A short sink.roll.maxOpen (by its variable, as a user would
// set it) publishes the files while the test waits.
func TestWarehouseTemplateWritesWhereItsURLSays(t *testing.T) {
	t.Parallel() // builds a module, beside the other tests that do (see templateBinary)
	bin := templateBinary(t, "etl-warehouse")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "impressions", "campaigns"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := range 10 {
		imp := cache.Impression{ImpressionID: fmt.Sprintf("imp-%d", i), Device: cache.DeviceTypeTv, BidPrice: big.NewRat(1, 2), Timestamp: time.UnixMilli(0).UTC()}
		val, err := imp.AppendAvro([]byte{0, 0, 0, 0, 1}) // Confluent framing, id 1 in the registry, as the template's test writes
		if err != nil {
			t.Fatal(err)
		}
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: "impressions", Value: val}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	reg := srfake.New()
	defer reg.Close()
	reg.SeedSchema("impressions-value", 1, 1, sr.Schema{Schema: new(cache.Impression).AvroSchema()})
	env := []string{"ETL_WAREHOUSE_BROKERS=" + brokers, "ETL_WAREHOUSE_REGISTRY_URL=" + reg.URL(), "ETL_WAREHOUSE_STATUS_ADDR=", "ETL_WAREHOUSE_BATCH_INTERVAL=100ms", "ETL_WAREHOUSE_SINK_ROLL_MAX_OPEN=200ms"}
	published := func(dir string) func() bool {
		return func() bool {
			files, _ := filepath.Glob(filepath.Join(dir, "topic=impressions", "dt=1970-01-01", "hour=00", "partition=*", "*.parquet"))
			return len(files) > 0
		}
	}

	work := t.TempDir()
	j := startJobIn(t, work, bin, "ETL_WAREHOUSE", env)
	j.waitFor(t, "a published file in ./warehouse-data", published(filepath.Join(work, "warehouse-data")))
	j.stop(t)

	work, dir := t.TempDir(), t.TempDir()
	j = startJobIn(t, work, bin, "ETL_WAREHOUSE", append(env, "ETL_WAREHOUSE_SINK_URL=file://"+dir))
	j.waitFor(t, "a published file in ETL_WAREHOUSE_SINK_URL", published(dir))
	j.stop(t)
	if left, _ := os.ReadDir(work); len(left) > 0 {
		t.Errorf("with ETL_WAREHOUSE_SINK_URL set the job wrote %v in its working directory", left)
	}
}

// TestKafkaToKafkaTemplateChecksItsOutputTopic: the kafka-to-kafka
// template's binary whose output topic does not exist stops at start,
// naming the topic and its setting, instead of aborting batch after batch
// until the outage limit.
func TestKafkaToKafkaTemplateChecksItsOutputTopic(t *testing.T) {
	t.Parallel() // builds a module, beside the other tests that do (see templateBinary)
	bin := templateBinary(t, "kafka-to-kafka")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "impressions"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	reg := srfake.New()
	defer reg.Close()
	start := time.Now()
	j := startJob(t, bin, "KAFKA_TO_KAFKA", []string{"KAFKA_TO_KAFKA_BROKERS=" + strings.Join(cluster.ListenAddrs(), ","),
		"KAFKA_TO_KAFKA_REGISTRY_URL=" + reg.URL(), "KAFKA_TO_KAFKA_STATUS_ADDR="})
	if code := j.exited(t, 60*time.Second); code != 1 {
		t.Errorf("with its output topic missing the job exited %d, want 1:\n%s", code, j.out.String())
	}
	want := `output topic \"impressions-enriched\" (--sink-topic or KAFKA_TO_KAFKA_SINK_TOPIC (spec key sink.topic)) does not exist`
	if !strings.Contains(j.out.String(), want) {
		t.Errorf("the job's log lacks %q:\n%s", want, j.out.String())
	}
	if strings.Contains(j.out.String(), "batch failed") {
		t.Errorf("a batch ran before the check:\n%s", j.out.String())
	}
	t.Logf("stopped %s after the start", time.Since(start).Round(time.Millisecond))

	// The output topic made, a dead-letter topic that does not exist.
	if err := cluster.CreateTopic("impressions-enriched", 2, nil); err != nil {
		t.Fatal(err)
	}
	j = startJob(t, bin, "KAFKA_TO_KAFKA", []string{"KAFKA_TO_KAFKA_BROKERS=" + strings.Join(cluster.ListenAddrs(), ","),
		"KAFKA_TO_KAFKA_REGISTRY_URL=" + reg.URL(), "KAFKA_TO_KAFKA_STATUS_ADDR="}, "--on-decode-error", "dead-letter", "--dead-letter-topic", "impressions-dlq")
	if code := j.exited(t, 60*time.Second); code != 1 {
		t.Errorf("with its dead-letter topic missing the job exited %d, want 1:\n%s", code, j.out.String())
	}
	want = `output topic \"impressions-dlq\" (--dead-letter-topic or KAFKA_TO_KAFKA_DEAD_LETTER_TOPIC (spec key deadLetterTopic)) does not exist`
	if !strings.Contains(j.out.String(), want) || strings.Contains(j.out.String(), "impressions-enriched") {
		t.Errorf("the job's log lacks %q, or names the output topic, which exists:\n%s", want, j.out.String())
	}
}
