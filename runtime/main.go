package runtime

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/streamgen/streamgen/internal/suggest"
	"github.com/streamgen/streamgen/runtime/config"
)

// This file owns Main: a generated job as a program, from its flags,
// environment and spec to its exit code.

// Main runs a generated job as a program and exits: it reads every
// runtime setting from its flag, else its environment variable (the job's
// EnvPrefix and the flag's name), else the configuration DefaultConfig
// filled from the spec; logs with log/slog, in one format, naming the job
// on every line (slog's default logger, so the handler's log.Printf too);
// serves status on StatusAddr; and turns SIGINT and SIGTERM into a
// graceful stop. run is the generated Run bound to the job's handler and
// configuration. --help lists the settings.
func Main(name string, cfg *JobConfig, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(runMainEnv(ctx, name, cfg, os.Args[1:], os.LookupEnv, os.Environ, os.Stderr, true, run))
}

// RunMain is Main without the process: it returns the exit code (0 after
// a clean stop, 1 on failure, 2 on a usage error: an unknown flag or a
// bad value of a flag or environment variable). It reads the environment
// with os.LookupEnv, and leaves slog's default logger alone.
func RunMain(ctx context.Context, name string, cfg *JobConfig, args []string, stderr io.Writer, run func(ctx context.Context) error) int {
	return runMainEnv(ctx, name, cfg, args, os.LookupEnv, os.Environ, stderr, false, run)
}

func runMain(ctx context.Context, name string, cfg *JobConfig, args []string, lookup func(string) (string, bool), stderr io.Writer, setDefault bool, run func(ctx context.Context) error) int {
	return runMainEnv(ctx, name, cfg, args, lookup, nil, stderr, setDefault, run)
}

// runMainEnv is runMain that also warns of the variables in environ
// (nil: none) that look like the job's but that it does not read.
func runMainEnv(ctx context.Context, name string, cfg *JobConfig, args []string, lookup func(string) (string, bool), environ func() []string, stderr io.Writer, setDefault bool, run func(ctx context.Context) error) int {
	logs := defaultLogSettings()
	t := &target{JobConfig: cfg, Log: &logs}
	prefix := config.EnvPrefix(name)
	cfg.envPrefix = prefix
	if code, ok := applySettings(name, prefix, t, args, lookup, stderr); !ok {
		return code
	}

	log := slog.New(logs.handler(stderr, logs.Level)).With("job", name)
	kafkaLog := slog.New(logs.handler(stderr, logs.KafkaLevel)).With("job", name, "logger", "kafka")
	if setDefault {
		slog.SetDefault(log)
	}
	if environ != nil {
		warnUnreadVariables(log, prefix, cfg, environ())
	}
	failed := func(msg string, args ...any) int {
		log.Error(msg, args...)
		log.Error("stopped", "exit_code", 1)
		return 1
	}
	if err := cfg.Validate(); err != nil {
		// One line each: a joined error would be one line with \n in it.
		for _, e := range unjoin(err) {
			log.Error("invalid configuration", "err", e)
		}
		log.Error("stopped", "exit_code", 1)
		return 1
	}

	status := NewStatus(name)
	// Before the caller's options, which win.
	batches := &batchLogger{log: log}
	sides := &mainSides{} // UseSideInputs
	ctx = context.WithValue(ctx, mainSidesKey{}, sides)
	cfg.EngineOptions = append([]Opt{status.Attach(), Listener(batches), Logger(log),
		KgoOpts(kgo.WithLogger(quietRetries{kslog.New(kafkaLog)})), sides.opt()}, cfg.EngineOptions...)
	if cfg.StatusAddr != "" {
		ln, err := net.Listen("tcp", cfg.StatusAddr)
		if err != nil {
			// Most often a second job on the same machine: say how to
			// run it beside the first.
			return failed("status server cannot listen", "addr", cfg.StatusAddr, "err", err,
				"hint", "another process has this port (a second job on this machine?): set "+cfg.Describe("status.addr")+" to a free port, :0 for any, or \"\" for no status server")
		}
		srv := &http.Server{Handler: status, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("serving status", "addr", ln.Addr().String())
	}
	if err := status.Watch(run)(ctx); err != nil {
		if id, ok := batches.failedWith(err); ok {
			// The batch's error is in its "batch failed" line: once.
			log.Error("stopped", "cause", fmt.Sprintf("batch %d failed", id), "exit_code", 1)
		} else {
			log.Error("stopped", "err", err, "exit_code", 1)
		}
		return 1
	}
	log.Info("stopped")
	return 0
}

// applySettings parses the flags and applies every setting from its flag,
// else its environment variable. It prints --help, or the usage errors
// one per line, and returns the exit code and false when the job must not
// run.
func applySettings(name, prefix string, t *target, args []string, lookup func(string) (string, bool), stderr io.Writer) (int, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the errors are written below, with a suggestion
	fs.Usage = func() {}     // the full list only for --help, not after each mistake
	given := make([]rawFlag, len(settings))
	var flags []string
	for i := range settings {
		given[i].name, given[i].bool = flagName(settings[i].key), settings[i].kind(t) == "bool"
		fs.Var(&given[i], flagName(settings[i].key), settings[i].help)
		flags = append(flags, flagName(settings[i].key))
		for _, a := range settings[i].aliases {
			fs.Var(&aliasFlag{&given[i], a}, a, "alias of --"+flagName(settings[i].key))
			flags = append(flags, a)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(stderr, name, prefix, t)
			return 0, false
		}
		fmt.Fprintf(stderr, "%s: %s\n", name, flagError(err, flags))
		fmt.Fprintf(stderr, "run %s --help for the list of settings\n", name)
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q; run %s --help for the list of settings\n", name, fs.Arg(0), name)
		return 2, false
	}

	value := func(i int) (v, flagUsed string, ok bool) {
		if given[i].set {
			return given[i].value, given[i].name, true // the name it was given by
		}
		v, ok = lookup(envName(prefix, flagName(settings[i].key)))
		return v, "", ok
	}
	// The job's registry credentials are one setting: given by a flag or
	// the job's variables, none of SCHEMA_REGISTRY_* is kept.
	if t.registryFromEnv {
		for i := range settings {
			switch settings[i].key {
			case "schemas.registry.username", "schemas.registry.password", "schemas.registry.token":
				if _, _, ok := value(i); ok {
					t.RegistryUsername, t.RegistryPassword, t.RegistryToken = "", "", ""
				}
			}
		}
	}
	bad := false
	for i := range settings {
		s := &settings[i]
		v, flagUsed, ok := value(i)
		if !ok {
			continue
		}
		if err := s.set(t, v); err != nil {
			fmt.Fprintf(stderr, "%s: invalid %s: %v\n", name, s.source(prefix, flagUsed), err)
			bad = true
			continue
		}
		if f := s.fieldName(t); f != "" {
			delete(t.expandErrs, f) // the spec's ${VAR} is not used
			if f == "Brokers" {
				t.brokerVars = nil
			}
		}
	}
	if bad {
		fmt.Fprintf(stderr, "run %s --help for the list of settings\n", name)
		return 2, false
	}
	return 0, true
}

// warnUnreadVariables logs each variable of environ with the job's prefix
// that neither the job nor its spec reads, with the one it may be a
// misspelling or an old name of: set, it changes nothing, and the job
// runs on the default it was meant to replace.
func warnUnreadVariables(log *slog.Logger, prefix string, cfg *JobConfig, environ []string) {
	var known []string
	for i := range settings {
		known = append(known, envName(prefix, flagName(settings[i].key)))
	}
	for _, kv := range environ {
		v, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(v, prefix) || slices.Contains(known, v) || cfg.specVars[v] {
			continue
		}
		args := []any{"var", v}
		if s := suggest.Closest(v, known); s != "" {
			args = append(args, "did_you_mean", s)
		}
		log.Warn("environment variable set, but the job reads no variable of that name", args...)
	}
}

// flagError is the flag package's error err, an unknown flag named with
// two dashes and the known one it may be a misspelling of.
func flagError(err error, flags []string) string {
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		f = strings.TrimLeft(f, "-")
		msg = "unknown flag --" + f
		if s := suggest.Closest(f, flags); s != "" {
			msg += fmt.Sprintf(" (did you mean --%s?)", s)
		}
	}
	return msg
}

// rawFlag keeps a flag's value as given; applySettings parses it, after
// the environment's, so that flags win and every error names both.
type rawFlag struct {
	value, name string
	set, bool   bool
}

func (f *rawFlag) String() string { return "" }
func (f *rawFlag) Set(v string) error {
	f.value, f.set = v, true
	return nil
}
func (f *rawFlag) IsBoolFlag() bool { return f.bool }

// aliasFlag is an older name of a flag.
type aliasFlag struct {
	*rawFlag
	name string
}

func (a *aliasFlag) Set(v string) error {
	a.rawFlag.name = a.name
	return a.rawFlag.Set(v)
}

// handler is the slog handler of the format, at level.
func (l *logSettings) handler(w io.Writer, level slog.Level) slog.Handler {
	o := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.NewJSONHandler(w, o)
	}
	return slog.NewTextHandler(w, o)
}

// unjoin is the errors an errors.Join holds, recursively, or err.
func unjoin(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}

// batchLogger logs each completed batch, and remembers the last failed
// one so the job's last line does not repeat its error.
type batchLogger struct {
	log        *slog.Logger
	mu         sync.Mutex
	failedID   int64
	failedText string
}

func (*batchLogger) BatchSubmitted(BatchInfo) {}
func (*batchLogger) BatchStarted(BatchInfo)   {}
func (l *batchLogger) BatchCompleted(i BatchInfo) {
	if i.Err != nil && !i.endsRun() {
		l.log.Warn("batch failed; the job goes on", "batch", i.ID, "records", i.Records, "offsets", i.Offsets.String(), "err", i.Err)
		return
	}
	if i.Err != nil {
		l.log.Error("batch failed", "batch", i.ID, "err", i.Err)
		l.mu.Lock()
		l.failedID, l.failedText = i.ID, i.Err.Error()
		l.mu.Unlock()
		return
	}
	switch i.Offsets {
	case OffsetsStored, OffsetsByHandler:
	default:
		// Not "done": a restart (or the partitions' next owner) may
		// read it again.
		l.log.Warn("batch handled, its offsets not stored", "batch", i.ID, "records", i.Records, "offsets", i.Offsets.String())
		return
	}
	level := slog.LevelInfo
	if i.Records == 0 {
		level = slog.LevelDebug // an idle job's log is not a line per interval
	}
	l.log.Log(context.Background(), level, "batch done", "batch", i.ID, "records", i.Records, "scheduling_delay", i.SchedulingDelay, "processing_time", i.ProcessingTime)
}

// failedWith reports the failed batch whose error err (Run's) is, if one
// was logged.
func (l *batchLogger) failedWith(err error) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failedID, l.failedText != "" && strings.HasSuffix(err.Error(), l.failedText)
}

// quietRetries is the Kafka client's logger with its warning for every
// failed attempt to connect lowered to debug: the engine reports an outage
// once as it begins and once as it ends (health.go), so a broker that
// cannot be reached (down, or a mistyped address) is one line, not one a
// retry.
type quietRetries struct{ kgo.Logger }

func (q quietRetries) Log(level kgo.LogLevel, msg string, kv ...any) {
	if level == kgo.LogLevelWarn && msg == "unable to open connection to broker" {
		level = kgo.LogLevelDebug
	}
	q.Logger.Log(level, msg, kv...)
}
