package crashtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2/ocf"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/internal/crashtest/job/seqjob"
	"github.com/streamgen/streamgen/runtime"
)

// sinkOutput is an exactly-once configuration's sink output: where the
// job writes, and how the driver reads back which offsets it holds.
type sinkOutput struct {
	kind  string
	dsn   string
	table string // postgres: the output table
	dir   string // files: the sink's directory
	blob  *blobOutput
	// where is where the producer's write of a sequence number landed
	// (the blob sink's count needs it).
	where func(seq int64) (seqAt, bool)
	// kafka: a read_committed consumer of OutTopic, and every record it
	// read so far, which each count replays.
	cl   *kgo.Client
	read []handledAt
	// final: every job process stopped, the next count reads the
	// output to its end (see readKafka).
	final bool
}

// handledAt is one output record's origin, and in the Kafka sink's
// output its value's Payload and its timestamp (when the job produced
// it), which enriched runs check.
type handledAt struct {
	part     int32
	off, seq int64
	payload  string
	ts       time.Time
}

func (o *sinkOutput) close() {
	if o != nil && o.cl != nil {
		o.cl.Close()
	}
	if o != nil && o.blob != nil {
		o.blob.bucket.Close()
	}
}

// newSinkOutput prepares the sink of cfg (nil without one): the output
// table, or the directory.
func newSinkOutput(ctx context.Context, env Env, cfg Configuration, brokers string) (*sinkOutput, error) {
	switch cfg.Sink {
	case "":
		return nil, nil
	case "kafka":
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(OutTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			return nil, err
		}
		return &sinkOutput{kind: "kafka", cl: cl}, nil
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
	case "blob":
		return openBlobOutput(ctx, env, cfg)
	}
	return nil, fmt.Errorf("configuration %s: sink %q is not postgres, files, blob or kafka", cfg.Name, cfg.Sink)
}

// flags are the job's flags for the sink.
func (o *sinkOutput) flags() []string {
	switch o.kind {
	case "postgres":
		return []string{"-sink", "postgres", "-sink-table", o.table}
	case "kafka":
		return []string{"-sink", "kafka", "-sink-topic", OutTopic}
	case "blob":
		return []string{"-sink", "blob", "-sink-url", o.blob.url, "-sink-format", o.blob.format, "-sink-partition-by", blobPartitionBy}
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
	if o.kind == "blob" {
		return t.fromBlob(ctx, o)
	}
	src := &procFile{path: o.place()}
	if o.kind == "kafka" {
		if err := o.readKafka(ctx); err != nil {
			return err
		}
		for _, h := range o.read {
			t.handled(src, h.part, h.off, h.seq)
		}
		return nil
	}
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

func (o *sinkOutput) place() string {
	switch o.kind {
	case "postgres":
		return "table " + o.table
	case "kafka":
		return "topic " + OutTopic + " (read_committed)"
	}
	return o.dir
}

// readKafka takes what the output topic's committed transactions added
// since the last read: each record's origin, from its headers, and its
// sequence number. While jobs run it reads for at most readFor: a job
// whose batches commit more often than a poll waits would otherwise keep
// every poll busy, and the driver's loop, its kills with it, would wait
// until the job had handled everything. The final read goes to the end.
func (o *sinkOutput) readKafka(ctx context.Context) error {
	const readFor = 300 * time.Millisecond
	began := time.Now()
	for o.final || time.Since(began) < readFor {
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		fs := o.cl.PollFetches(pctx)
		cancel()
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && ferr == nil {
				ferr = err
			}
		})
		if ferr != nil {
			return fmt.Errorf("reading topic %s: %w", OutTopic, ferr)
		}
		n := 0
		var rerr error
		fs.EachRecord(func(r *kgo.Record) {
			n++
			h, err := originOf(r)
			if err != nil && rerr == nil {
				rerr = err
			}
			o.read = append(o.read, h)
		})
		if rerr != nil {
			return rerr
		}
		if n == 0 {
			return nil
		}
	}
	return nil
}

// originOf is the input record an output record names in its headers,
// with the sequence number of its value.
func originOf(r *kgo.Record) (handledAt, error) {
	var h handledAt
	found := 0
	for _, hd := range r.Headers {
		v, err := strconv.ParseInt(string(hd.Value), 10, 64)
		switch hd.Key {
		case runtime.HeaderSourcePartition:
			h.part, found = int32(v), found+1
		case runtime.HeaderSourceOffset:
			h.off, found = v, found+1
		default:
			continue
		}
		if err != nil {
			return h, fmt.Errorf("topic %s partition %d offset %d: header %s: %w", r.Topic, r.Partition, r.Offset, hd.Key, err)
		}
	}
	if found != 2 {
		return h, fmt.Errorf("topic %s partition %d offset %d: no origin headers", r.Topic, r.Partition, r.Offset)
	}
	var v seqjob.Sequenced
	if err := v.UnmarshalAvro(r.Value); err != nil {
		return h, fmt.Errorf("topic %s partition %d offset %d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	h.seq, h.payload, h.ts = v.Seq, v.Payload, r.Timestamp
	return h, nil
}

// leftovers reports temporary files the files sink (staged objects the
// blob sink) left behind once every job stopped: there must be none.
func (o *sinkOutput) leftovers(ctx context.Context) error {
	if o.kind == "blob" {
		return o.blob.leftovers(ctx)
	}
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
