package crashtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2/ocf"
	"github.com/jackc/pgx/v5"
)

// sinkOutput is an exactly-once configuration's sink output: where the
// job writes, and how the driver reads back which offsets it holds.
type sinkOutput struct {
	kind  string
	dsn   string
	table string // postgres: the output table
	dir   string // files: the sink's directory
}

// newSinkOutput prepares the sink of cfg (nil without one): the output
// table, or the directory.
func newSinkOutput(ctx context.Context, env Env, cfg Configuration) (*sinkOutput, error) {
	switch cfg.Sink {
	case "":
		return nil, nil
	case "postgres":
		o := &sinkOutput{kind: "postgres", dsn: env.DSN, table: env.Table + "_out"}
		conn, err := pgx.Connect(ctx, env.DSN)
		if err != nil {
			return nil, err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE "+pgx.Identifier{o.table}.Sanitize()+" (partition int, kafka_offset bigint, seq bigint)")
		return o, err
	case "files":
		return &sinkOutput{kind: "files", dir: filepath.Join(env.Dir, "warehouse")}, nil
	}
	return nil, fmt.Errorf("configuration %s: sink %q is not postgres or files", cfg.Name, cfg.Sink)
}

// flags are the job's flags for the sink.
func (o *sinkOutput) flags() []string {
	if o.kind == "postgres" {
		return []string{"-sink", "postgres", "-sink-table", o.table}
	}
	return []string{"-sink", "files", "-sink-dir", o.dir}
}

// fromSink recounts what the sink's output holds, from scratch: it only
// ever holds committed batches, so it is read whole each time.
func (t *tally) fromSink(ctx context.Context, o *sinkOutput) error {
	for p := range t.count {
		t.count[p], t.seq[p] = t.count[p][:0], t.seq[p][:0]
	}
	t.total = 0
	src := &procFile{path: o.where()}
	if o.kind == "postgres" {
		conn, err := pgx.Connect(ctx, o.dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, "SELECT partition, kafka_offset, seq FROM "+pgx.Identifier{o.table}.Sanitize())
		if err != nil {
			return err
		}
		for rows.Next() {
			var part int32
			var off, seq int64
			if err := rows.Scan(&part, &off, &seq); err != nil {
				return err
			}
			t.handled(src, part, off, seq)
		}
		return rows.Err()
	}
	files, err := filepath.Glob(filepath.Join(o.dir, "topic="+t.topic, "partition=*", "*.avro"))
	if err != nil {
		return err
	}
	for _, name := range files {
		part, from, err := fileStart(name)
		if err != nil {
			return err
		}
		if err := readSeqs(name, func(i int, seq int64) { t.handled(src, part, from+int64(i), seq) }); err != nil {
			return err
		}
	}
	return nil
}

func (o *sinkOutput) where() string {
	if o.kind == "postgres" {
		return "table " + o.table
	}
	return o.dir
}

// leftovers reports temporary files the files sink left behind once
// every job stopped: there must be none.
func (o *sinkOutput) leftovers() error {
	if o.kind != "files" {
		return nil
	}
	left, _ := filepath.Glob(filepath.Join(o.dir, "_streamgen", "tmp", "*", "*"))
	if len(left) > 0 {
		return fmt.Errorf("temporary files left in the files sink: %s", strings.Join(left, ", "))
	}
	return nil
}

// fileStart parses DIR/topic=T/partition=P/FROM-UNTIL.avro.
func fileStart(name string) (part int32, from int64, err error) {
	p, err := strconv.ParseInt(strings.TrimPrefix(filepath.Base(filepath.Dir(name)), "partition="), 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: not under partition=P", name)
	}
	a, _, _ := strings.Cut(filepath.Base(name), "-")
	if from, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("%s: not FROM-UNTIL.avro", name)
	}
	return int32(p), from, nil
}

// readSeqs reads a published file with hamba's Avro reader and calls fn
// with each value's index and sequence number.
func readSeqs(name string, fn func(i int, seq int64)) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	dec, err := ocf.NewDecoder(f)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for i := 0; dec.HasNext(); i++ {
		var v struct {
			Seq int64 `avro:"seq"`
		}
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%s: value %d: %w", name, i, err)
		}
		fn(i, v.Seq)
	}
	if err := dec.Error(); err != nil && !errors.Is(err, nil) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
