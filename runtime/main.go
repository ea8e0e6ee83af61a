package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Main runs a generated job as a program and exits: it reads flags over
// the configuration (which DefaultConfig filled from the spec and the
// environment), serves status on StatusAddr, logs each batch, and turns
// SIGINT and SIGTERM into a graceful stop. run is the generated Run bound
// to the job's handler and configuration.
func Main(name string, cfg *JobConfig, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(RunMain(ctx, name, cfg, os.Args[1:], os.Stderr, run))
}

// RunMain is Main without the process: it returns the exit code (0 after
// a clean stop, 1 on failure, 2 on a usage error). Tests call it.
func RunMain(ctx context.Context, name string, cfg *JobConfig, args []string, stderr io.Writer, run func(ctx context.Context) error) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", strings.Join(cfg.Brokers, ","), "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&cfg.Group, "group", cfg.Group, "consumer group id")
	fs.StringVar(&cfg.RegistryURL, "registry", cfg.RegistryURL, "schema registry URL")
	fs.StringVar(&cfg.StatusAddr, "status-addr", cfg.StatusAddr, `status server address; "" turns it off`)
	fs.DurationVar(&cfg.BatchInterval, "interval", cfg.BatchInterval, "batch interval")
	fs.Int64Var(&cfg.MaxRatePerPartition, "max-rate", cfg.MaxRatePerPartition, "records per second per partition, 0 = unlimited")
	fs.TextVar(&cfg.StartFrom, "start-from", cfg.StartFrom, "committed, earliest, latest or timestamp:RFC3339")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "partition tasks run at once, 0 = GOMAXPROCS")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg.Brokers = nil
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("job", name)
	if err := cfg.Validate(); err != nil {
		log.Error("invalid configuration", "err", err)
		return 1
	}

	status := NewStatus(name)
	cfg.EngineOptions = append(cfg.EngineOptions, status.Attach(), Listener(batchLogger{log}), Logger(log))
	if cfg.StatusAddr != "" {
		ln, err := net.Listen("tcp", cfg.StatusAddr)
		if err != nil {
			log.Error("status server", "addr", cfg.StatusAddr, "err", err)
			return 1
		}
		srv := &http.Server{Handler: status, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("serving status", "addr", ln.Addr().String())
	}
	log.Info("starting", "brokers", cfg.Brokers, "group", cfg.Group, "interval", cfg.BatchInterval)
	if err := run(ctx); err != nil {
		log.Error("stopped on error", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

type batchLogger struct{ log *slog.Logger }

func (batchLogger) BatchSubmitted(BatchInfo) {}
func (batchLogger) BatchStarted(BatchInfo)   {}
func (l batchLogger) BatchCompleted(i BatchInfo) {
	if i.Err != nil {
		l.log.Error("batch failed", "batch", i.ID, "err", i.Err)
		return
	}
	l.log.Info("batch done", "batch", i.ID, "records", i.Records, "scheduling_delay", i.SchedulingDelay, "processing_time", i.ProcessingTime)
}

// Status serves the state of a job's engine over HTTP, from the engine's
// Snapshot: "/" as text in the shape of Spark's batch page, "/status.json"
// as JSON and "/healthz" for probes (503 after a failed batch).
type Status struct {
	name   string
	engine atomic.Pointer[Engine]
}

// NewStatus serves the job name's status once Attach's option has been
// given to its engine.
func NewStatus(name string) *Status { return &Status{name: name} }

// Attach is the engine option that makes s serve that engine's state.
func (s *Status) Attach() Opt {
	return optFunc(func(c *engineCfg) { c.onNew = append(c.onNew, s.engine.Store) })
}

// Snapshot is the attached engine's snapshot, empty before one is.
func (s *Status) Snapshot() Snapshot {
	if e := s.engine.Load(); e != nil {
		return e.Snapshot()
	}
	return Snapshot{Job: s.name}
}

func (s *Status) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	snap := s.Snapshot()
	batches := snap.Batches
	switch r.URL.Path {
	case "/healthz":
		if n := len(batches); n > 0 && batches[n-1].Err != nil {
			http.Error(w, "last batch failed: "+batches[n-1].Err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	case "/status.json":
		type jsonBatch struct {
			BatchInfo
			Err string `json:",omitempty"`
		}
		out := make([]jsonBatch, len(batches))
		for i, b := range batches {
			out[i].BatchInfo = b
			if b.Err != nil {
				out[i].Err = b.Err.Error()
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"job": s.name, "batches": out, "partitions": snap.Partitions})
	case "/":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		batches = batches[max(len(batches)-100, 0):]
		fmt.Fprintf(w, "%s: last %d batches\n", s.name, len(batches))
		for i := len(batches) - 1; i >= 0; i-- {
			WriteBatchPage(w, batches[i])
		}
	default:
		http.NotFound(w, r)
	}
}

// WriteBatchPage writes one batch as Spark's batch page does: its delays
// and the offset range of every partition it read.
func WriteBatchPage(w io.Writer, b BatchInfo) {
	fmt.Fprintf(w, "\nBatch %d at %s\n", b.ID, b.Time.Format(time.RFC3339))
	fmt.Fprintf(w, "Input data size: %d records\nScheduling delay: %s\nProcessing time: %s\nTotal delay: %s\n",
		b.Records, b.SchedulingDelay.Round(time.Millisecond), b.ProcessingTime.Round(time.Millisecond), b.TotalDelay.Round(time.Millisecond))
	if b.BadRecords > 0 {
		fmt.Fprintf(w, "Records left out by onDecodeError: %d\n", b.BadRecords)
	}
	if b.Err != nil {
		fmt.Fprintf(w, "Failed: %v\n", b.Err)
	}
	for _, stream := range slices.Sorted(maps.Keys(b.Ranges)) {
		for _, r := range b.Ranges[stream] {
			fmt.Fprintf(w, "  %-14s %s\n", stream, r)
		}
	}
}
