package runtime

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
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
	if err := status.Watch(run)(ctx); err != nil {
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
