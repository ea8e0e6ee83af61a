// Command job is the job the crash-restart harness kills: the generated
// seqjob package run the way users run a generated job (runtime.RunMain:
// its flags, a graceful stop on SIGTERM, its batch log), with the
// semantics and the offset store chosen by this program's flags and
// handed to the engine through Config.EngineOptions.
//
//	job -semantics at-least-once -store kafka -out run/p0007.out -instance r0 -- --brokers 127.0.0.1:39092 --group g
//
// Flags before "--" are the harness's; those after it are the generated
// job's own (--brokers, --group, --interval, ...).
//
// The handler writes what it handled to the -out file, a line per record,
// and fsyncs the file before returning, so a record the file holds really
// was handled by a batch that returned (or was in flight when the process
// died). Lines (see crashtest.ReadOutput):
//
//	B <batch> <topic>:<partition>:<from>-<until> ...   a batch begins, its ranges
//	R <topic> <partition> <offset> <seq>               a record was handled
//	C <batch> <offsets outcome>                        a batch completed (BatchInfo.Offsets)
//
// SIGUSR1 asks a sink job (-sink blob) to freeze itself in its next batch
// with records, after writing its output and before the engine commits
// it (see freezeIfAsked): the harness's zombie rows.
//
// With -sink kafka -table-topic tags, the job reads a lookup table
// (side.Table) from that topic and each output record carries the
// version of key seq mod -table-keys it looked up and its batch (see
// enrichment), which the harness's table rows check.
//
// Adding a configuration to the harness is a flag value here (an engine
// option) plus a row in crashtest.Configurations.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/internal/crashtest/job/seqjob"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/offsets"
	"github.com/streamgen/streamgen/runtime/sink"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	// First, so that a SIGUSR1 never meets Go's default (exit).
	watchFreezes()
	fs := flag.NewFlagSet("job", flag.ContinueOnError)
	semantics := fs.String("semantics", "at-least-once", "at-least-once or at-most-once")
	store := fs.String("store", "kafka", "offset store: kafka or postgres")
	dsn := fs.String("dsn", "", "PostgreSQL DSN, for -store postgres")
	table := fs.String("table", offsets.DefaultTable, "PostgreSQL offsets table, for -store postgres")
	out := fs.String("out", "", "file the handler appends handled records to (required)")
	instance := fs.String("instance", "", "static group member id (see the comment on static membership)")
	hold := fs.Duration("hold", 0, "pause of each batch with records after recording its ranges, and again after the fsync")
	session := fs.Duration("session-timeout", 2*time.Second, "group session timeout")
	sinkType := fs.String("sink", "", "into a sink: postgres (rows in -sink-table of -dsn's database), files (under -sink-dir) or blob (at -sink-url), exactly-once; kafka (to -sink-topic), with -semantics")
	sinkTopic := fs.String("sink-topic", "", "the kafka sink's topic")
	sinkTable := fs.String("sink-table", "", "the postgres sink's table: (partition int, kafka_offset bigint, seq bigint)")
	sinkDir := fs.String("sink-dir", "", "the files sink's directory")
	sinkURL := fs.String("sink-url", "", "the blob sink's URL (file:///dir, s3://bucket?...)")
	sinkFormat := fs.String("sink-format", "parquet", "the blob sink's format: avro or parquet")
	sinkPartitionBy := fs.String("sink-partition-by", "", "the blob sink's Hive partition levels, comma-separated (ts:hour)")
	var roll sink.RollLimits
	fs.Int64Var(&roll.MaxRecords, "sink-roll-max-records", 0, "the blob sink rolls files across batches, publishing one once it holds this many records (every -sink-roll flag 0: a file per batch)")
	fs.DurationVar(&roll.MaxOpen, "sink-roll-max-open", 0, "the rolling blob sink publishes a file open this long")
	fs.DurationVar(&roll.Lateness, "sink-roll-lateness", 0, "the rolling blob sink publishes an hour's file once the records' time is this far past the hour")
	tagsTopic := fs.String("table-topic", "", "with -sink kafka: a lookup table on this topic (int64 keys, Sequenced values) that enriches each output record")
	tagsKeys := fs.Int64("table-keys", 8, "the lookup table's key space: record seq looks up seq mod this")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" {
		fmt.Fprintln(os.Stderr, "job: -out is required")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "job:", err)
		return 1
	}
	defer f.Close()

	sem, err := semanticsOf(*semantics)
	if err == nil && *store != "kafka" && *store != "postgres" {
		err = fmt.Errorf("-store %q is not kafka or postgres", *store)
	}
	if err == nil && *store == "postgres" && *dsn == "" {
		err = errors.New("-store postgres needs -dsn")
	}
	if err == nil && *tagsTopic != "" && (*sinkType != "kafka" || *tagsKeys < 1) {
		err = errors.New("-table-topic needs -sink kafka and -table-keys of at least 1")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "job:", err)
		return 2
	}

	cfg := seqjob.DefaultConfig()
	cfg.StatusAddr = ""
	// Static membership (kafka.instanceId) and short session and
	// rebalance timeouts work around kfake (the version in go.mod): it
	// never expires a classic-group member that was killed while its
	// JoinGroup was pending, so repeated SIGKILLs of dynamic members can
	// stall the group for good. A restarted replica rejoins under the
	// same instance id and replaces its dead self; a replica that stays
	// dead is expired after the short session timeout
	// (kafka.sessionTimeout; the broker program allows short ones), which
	// rebalances its partitions to the other. Even so, a member killed
	// mid-rebalance held the whole group without partitions for kgo's
	// default rebalance timeout (60s) in a long run, hence the shorter
	// one, which bounds such a stall. The settings go through the job's
	// configuration, as a deployment's would.
	cfg.InstanceID = *instance
	cfg.SessionTimeout = *session
	cfg.EngineOptions = append(cfg.EngineOptions, runtime.WithSemantics(sem),
		runtime.KgoOpts(kgo.RebalanceTimeout(2**session)))
	if *sinkType != "" {
		if *sinkType == "kafka" {
			var tags *enrichment
			if *tagsTopic != "" {
				tags = newEnrichment(*tagsTopic, *tagsKeys, strings.TrimSuffix(filepath.Base(*out), ".out"))
			}
			return runKafkaSink(ctx, cfg, fs.Args(), sem, *sinkTopic, *instance, *hold, tags)
		}
		if *sinkType == "blob" {
			var levels []string
			if *sinkPartitionBy != "" {
				levels = strings.Split(*sinkPartitionBy, ",")
			}
			return runBlobSink(ctx, cfg, fs.Args(), *sinkURL, *sinkFormat, levels, roll, *hold)
		}
		return runSink(ctx, cfg, fs.Args(), *sinkType, *dsn, *table, *sinkTable, *sinkDir, *hold)
	}
	h := &handler{out: f, hold: *hold}
	// Each completed batch's offsets outcome, so the driver can tell a
	// repeat of a batch that was never stored (allowed at-least-once)
	// from one of a stored batch (never).
	cfg.EngineOptions = append(cfg.EngineOptions, runtime.Listener(outcomes{h}))
	return runtime.RunMain(ctx, seqjob.JobName, &cfg.JobConfig, fs.Args(), os.Stderr, func(ctx context.Context) error {
		if *store == "postgres" {
			// Here, once RunMain has applied --group, so the store keys
			// its rows by the group the job runs in.
			pg, err := offsets.NewPostgres(ctx, *dsn, cfg.Group, offsets.Table(*table))
			if err != nil {
				return err
			}
			defer pg.Close()
			cfg.EngineOptions = append(cfg.EngineOptions, runtime.WithOffsetStore(pg))
		}
		return seqjob.Run(ctx, cfg, h)
	})
}

// freezeAsked is when SIGUSR1 came (Unix nanoseconds, 0 for never): the
// driver asks the job to freeze in its next batch with records, within
// freezeWithin (see freezeIfAsked).
var freezeAsked atomic.Int64

// freezeWithin bounds how late the job honours a freeze: a driver that
// saw no freeze by then stops the job itself, and a stale request must
// not freeze it again later.
const freezeWithin = 3 * time.Second

func watchFreezes() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	go func() {
		for range c {
			freezeAsked.Store(time.Now().UnixNano())
		}
	}()
}

// freezeIfAsked stops the process (SIGSTOP, as the driver would) if the
// driver asked for it, at the point of a batch where it calls it: a sink
// handler calls it once its output is written and before it returns, so
// the process freezes with a batch in flight whose commit comes only when
// the driver resumes it (SIGCONT), after the group gave its partitions
// to the other replica: a zombie, which its sink must fence. A freeze
// the driver makes by itself falls anywhere, often between batches.
func freezeIfAsked() {
	at := freezeAsked.Swap(0)
	if at != 0 && time.Since(time.Unix(0, at)) < freezeWithin {
		stopSelf()
	}
}

// outcomes writes a line per completed batch: C <batch> <offsets outcome>.
type outcomes struct{ h *handler }

func (outcomes) BatchSubmitted(runtime.BatchInfo) {}
func (outcomes) BatchStarted(runtime.BatchInfo)   {}
func (o outcomes) BatchCompleted(i runtime.BatchInfo) {
	o.h.write(fmt.Appendf(nil, "C %d %s\n", i.ID, i.Offsets.Label()))
}

func semanticsOf(s string) (runtime.Semantics, error) {
	switch s {
	case "at-least-once":
		return runtime.AtLeastOnce, nil
	case "at-most-once":
		return runtime.AtMostOnce, nil
	case "exactly-once": // with -sink kafka
		return runtime.ExactlyOnce, nil
	}
	return 0, fmt.Errorf("-semantics %q is not at-least-once, at-most-once or exactly-once", s)
}

// handler appends each batch's records to out and fsyncs before it
// returns. Each partition's lines go in one write, and the file is
// opened for appending, so lines of concurrent tasks never interleave
// and a process killed mid-batch leaves whole partitions of it, at
// most one line cut short.
//
// hold widens the windows a kill must hit to show what the semantics
// allow: at-most-once stores a batch's offsets before the handler runs,
// so a kill during the first pause loses the batch; at-least-once stores
// them after, so a kill during the second makes it handled twice.
type handler struct {
	mu   sync.Mutex // one write at a time, for the line-at-once guarantee
	out  *os.File
	hold time.Duration
}

func (h *handler) write(p []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.out.Write(p)
	return err
}

func (h *handler) ProcessBatch(ctx context.Context, b *seqjob.Batch) error {
	s := b.Sequence
	line := []byte("B " + strconv.FormatInt(s.ID(), 10))
	for _, r := range s.OffsetRanges() {
		line = fmt.Appendf(line, " %s:%d:%d-%d", r.Topic, r.Partition, r.FromOffset, r.UntilOffset)
	}
	if err := h.write(append(line, '\n')); err != nil {
		return fmt.Errorf("batch %d: recording its ranges: %w", s.ID(), err)
	}
	if s.Len() > 0 {
		time.Sleep(h.hold)
	}
	err := s.ForeachPartition(ctx, func(ctx context.Context, p seqjob.SequencePartition) error {
		var buf []byte
		for rec := range p.Records() {
			buf = fmt.Appendf(buf, "R %s %d %d %d\n", rec.Topic, rec.Partition, rec.Offset, rec.Value.Seq)
		}
		if err := h.write(buf); err != nil {
			r := p.OffsetRange()
			return fmt.Errorf("topic %s partition %d offsets %d-%d: recording them: %w", r.Topic, r.Partition, r.FromOffset, r.UntilOffset, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := h.out.Sync(); err != nil {
		return fmt.Errorf("batch %d: fsync: %w", s.ID(), err)
	}
	if s.Len() > 0 {
		time.Sleep(h.hold)
	}
	return nil
}
