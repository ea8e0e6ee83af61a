package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/runtime/config"
)

// envOf is a lookup over m, so tests set variables without os.Setenv.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// specConfig is a configuration as a generated DefaultConfig makes it,
// with the status server off.
func specConfig() JobConfig {
	c := DefaultJobConfig()
	c.Brokers = []string{"spec:9092"}
	c.Group = "spec-group"
	c.BatchInterval = 5 * time.Second
	c.Workers = 3
	c.MaxRatePerPartition = 100
	c.OnDecodeError = config.FailOnDecodeError
	c.StatusAddr = ""
	c.ExpandEnv(envOf(nil))
	return c
}

// mainConfig runs runMain with a run that only returns, and the
// configuration run saw.
func mainConfig(t *testing.T, cfg JobConfig, args []string, env map[string]string) (JobConfig, int, string) {
	t.Helper()
	var out bytes.Buffer
	var got JobConfig
	code := runMain(context.Background(), "anomaly-detector", &cfg, args, envOf(env), &out, false, func(context.Context) error {
		got = cfg
		return nil
	})
	return got, code, out.String()
}

func TestSettingsPrecedence(t *testing.T) {
	// Each kind of value: flag over env over spec.
	for _, tc := range []struct {
		flag, env     string
		flagV, envV   string
		get           func(c JobConfig) any
		spec, fromEnv any
		fromFlag      any
	}{
		{"batch-interval", "ANOMALY_DETECTOR_BATCH_INTERVAL", "250ms", "2s",
			func(c JobConfig) any { return c.BatchInterval }, 5 * time.Second, 2 * time.Second, 250 * time.Millisecond},
		{"workers", "ANOMALY_DETECTOR_WORKERS", "7", "5",
			func(c JobConfig) any { return c.Workers }, 3, 5, 7},
		{"batch-max-rate-per-partition", "ANOMALY_DETECTOR_BATCH_MAX_RATE_PER_PARTITION", "9000", "500",
			func(c JobConfig) any { return c.MaxRatePerPartition }, int64(100), int64(500), int64(9000)},
		{"on-decode-error", "ANOMALY_DETECTOR_ON_DECODE_ERROR", "fail", "skip",
			func(c JobConfig) any { return c.OnDecodeError }, config.FailOnDecodeError, config.SkipBadRecords, config.FailOnDecodeError},
		{"start-from", "ANOMALY_DETECTOR_START_FROM", "timestamp:2026-01-02T03:04:05Z", "latest",
			func(c JobConfig) any { return c.StartFrom }, config.StartCommitted(), config.StartLatest(), config.StartAt(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))},
		{"brokers", "ANOMALY_DETECTOR_BROKERS", "f1:1, f2:2", "e1:1,e2:2,,",
			func(c JobConfig) any { return c.Brokers }, []string{"spec:9092"}, []string{"e1:1", "e2:2"}, []string{"f1:1", "f2:2"}},
		{"group", "ANOMALY_DETECTOR_GROUP", "flag-group", "env-group",
			func(c JobConfig) any { return c.Group }, "spec-group", "env-group", "flag-group"},
		{"tls-insecure-skip-verify", "ANOMALY_DETECTOR_TLS_INSECURE_SKIP_VERIFY", "false", "true",
			func(c JobConfig) any { return c.TLSInsecureSkipVerify }, false, true, false},
		{"location-fixed", "ANOMALY_DETECTOR_LOCATION_FIXED", "t/0=a", "t/1=b,t/2=c",
			func(c JobConfig) any { return c.LocationFixed }, map[string]string(nil), map[string]string{"t/1": "b", "t/2": "c"}, map[string]string{"t/0": "a"}},
		{"status-addr", "ANOMALY_DETECTOR_STATUS_ADDR", "", "",
			func(c JobConfig) any { return c.StatusAddr }, "", "", ""},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			env := map[string]string{tc.env: tc.envV}
			for _, step := range []struct {
				name string
				args []string
				env  map[string]string
				want any
			}{
				{"spec", nil, nil, tc.spec},
				{"env", nil, env, tc.fromEnv},
				{"flag", []string{"--" + tc.flag + "=" + tc.flagV}, env, tc.fromFlag},
			} {
				got, code, out := mainConfig(t, specConfig(), step.args, step.env)
				if code != 0 {
					t.Fatalf("%s: exit %d:\n%s", step.name, code, out)
				}
				if v := tc.get(got); !reflect.DeepEqual(v, step.want) {
					t.Errorf("%s: got %#v, want %#v", step.name, v, step.want)
				}
			}
		})
	}
}

func TestOldFlagNamesStillWork(t *testing.T) {
	got, code, out := mainConfig(t, specConfig(), []string{"-brokers", "a:1", "-group", "g", "-registry", "http://r", "-status-addr", "",
		"-interval", "1s", "-max-rate", "5", "-start-from", "earliest", "-workers", "2"}, nil)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if got.Brokers[0] != "a:1" || got.Group != "g" || got.RegistryURL != "http://r" || got.BatchInterval != time.Second ||
		got.MaxRatePerPartition != 5 || got.StartFrom != config.StartEarliest() || got.Workers != 2 {
		t.Errorf("old flags not applied: %+v", got.Job)
	}
}

// TestSpecTemplateUnderEnv: the spec's ${VAR} still works, the job's
// variable beats it, and an unset ${VAR} the job's variable replaces is no
// error.
func TestSpecTemplateUnderEnv(t *testing.T) {
	spec := func(env map[string]string) JobConfig {
		c := DefaultJobConfig()
		c.Brokers = []string{"${MY_BROKERS}"}
		c.Group = "${MY_GROUP:-g}"
		c.StatusAddr = ""
		c.ExpandEnv(envOf(env))
		return c
	}
	env := map[string]string{"MY_BROKERS": "mine:1"}
	got, code, out := mainConfig(t, spec(env), nil, env)
	if code != 0 || got.Brokers[0] != "mine:1" || got.Group != "g" {
		t.Errorf("spec's ${MY_BROKERS}: exit %d, %v %q\n%s", code, got.Brokers, got.Group, out)
	}
	env = map[string]string{"ANOMALY_DETECTOR_BROKERS": "job:1"}
	got, code, out = mainConfig(t, spec(env), nil, env)
	if code != 0 || got.Brokers[0] != "job:1" {
		t.Errorf("job's variable over an unset ${MY_BROKERS}: exit %d, %v\n%s", code, got.Brokers, out)
	}

	// Unset, and nothing else: the hint names the spec's variable.
	_, code, out = mainConfig(t, spec(nil), nil, nil)
	if code != 1 || !strings.Contains(out, "set MY_BROKERS, which the spec's kafka.brokers reads, or --brokers or ANOMALY_DETECTOR_BROKERS") {
		t.Errorf("unset ${MY_BROKERS}: exit %d:\n%s", code, out)
	}
	// Without a spec variable, the job's own.
	c := specConfig()
	_, code, out = mainConfig(t, c, []string{"--brokers", ""}, nil)
	if code != 1 || !strings.Contains(out, "no broker given (set --brokers or ANOMALY_DETECTOR_BROKERS)") {
		t.Errorf("no brokers: exit %d:\n%s", code, out)
	}
}

func TestMultipleConfigErrorsOnePerLine(t *testing.T) {
	c := specConfig()
	c.Brokers = nil
	c.OnDecodeError = config.DeadLetterBadRecords
	c.RegistryToken, c.RegistryUsername = "t", "u"
	_, code, out := mainConfig(t, c, nil, nil)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var errLines int
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if strings.Contains(l, "invalid configuration") {
			errLines++
			if strings.Contains(l, `\n`) {
				t.Errorf("an escaped newline in %s", l)
			}
		}
	}
	if errLines != 3 {
		t.Errorf("%d error lines, want 3 (brokers, dead-letter, registry credentials):\n%s", errLines, out)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "msg=stopped") {
		t.Errorf("last line %q is not the stopped line", last)
	}
}

func TestBadValueExits2NamingTheSetting(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{env: map[string]string{"ANOMALY_DETECTOR_BATCH_INTERVAL": "soon"},
			want: []string{"env ANOMALY_DETECTOR_BATCH_INTERVAL (flag --batch-interval, spec key batch.interval)", `"soon" is not a duration`}},
		{args: []string{"--batch-interval", "0s"},
			want: []string{"flag --batch-interval (env ANOMALY_DETECTOR_BATCH_INTERVAL, spec key batch.interval)", `"0s" is not positive`}},
		{args: []string{"--interval", "-1s"},
			want: []string{"flag --interval (env ANOMALY_DETECTOR_BATCH_INTERVAL", "not positive"}},
		{args: []string{"--workers", "many"},
			want: []string{"flag --workers (env ANOMALY_DETECTOR_WORKERS", `"many" is not an integer`}},
		{env: map[string]string{"ANOMALY_DETECTOR_WORKERS": "-2"},
			want: []string{"env ANOMALY_DETECTOR_WORKERS", `"-2" is negative`}},
		{env: map[string]string{"ANOMALY_DETECTOR_ON_DECODE_ERROR": "ignore"},
			want: []string{"env ANOMALY_DETECTOR_ON_DECODE_ERROR (flag --on-decode-error, spec key onDecodeError)", "ignore", "dead-letter"}},
		{args: []string{"--tls=maybe"},
			want: []string{"flag --tls (env ANOMALY_DETECTOR_TLS, spec key kafka.tls.enabled)", "not true or false"}},
		{args: []string{"--log-format", "xml"},
			want: []string{"flag --log-format (env ANOMALY_DETECTOR_LOG_FORMAT, setting log.format)", `"xml" is not text or json`}},
		{args: []string{"--location-fixed", "t/0"},
			want: []string{"flag --location-fixed", `"t/0" is not key=value`}},
		{args: []string{"--no-such-flag"}, want: []string{"no-such-flag", "--help"}},
		{args: []string{"stray"}, want: []string{`unexpected argument "stray"`}},
	} {
		_, code, out := mainConfig(t, specConfig(), tc.args, tc.env)
		if code != 2 {
			t.Errorf("%v %v: exit %d, want 2:\n%s", tc.args, tc.env, code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v %v: output lacks %q:\n%s", tc.args, tc.env, w, out)
			}
		}
	}
	// Every bad value is reported, one a line, not only the first.
	_, code, out := mainConfig(t, specConfig(), []string{"--workers", "x"}, map[string]string{"ANOMALY_DETECTOR_RETRIES_BACKOFF": "y"})
	if code != 2 || !strings.Contains(out, "--workers") || !strings.Contains(out, "ANOMALY_DETECTOR_RETRIES_BACKOFF") {
		t.Errorf("two bad values: exit %d:\n%s", code, out)
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	c := specConfig()
	c.SASLPassword, c.RegistryPassword, c.RegistryToken, c.SinkDSN = "pw-sasl", "pw-registry", "tok-registry", "postgres://u:pw-dsn@h/db"
	_, code, out := mainConfig(t, c, []string{"--help"}, nil)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, s := range settings {
		f := flagName(s.key)
		for _, w := range []string{"--" + f + " ", envName("ANOMALY_DETECTOR_", f), s.key} {
			if !strings.Contains(out, w) {
				t.Errorf("--help lacks %q", w)
			}
		}
	}
	for _, w := range []string{`default "spec:9092"`, "default 5s", "also --interval", "default WARN", "fail, skip, dead-letter"} {
		if !strings.Contains(out, w) {
			t.Errorf("--help lacks %q", w)
		}
	}
	for _, secret := range []string{"pw-sasl", "pw-registry", "tok-registry", "pw-dsn"} {
		if strings.Contains(out, secret) {
			t.Errorf("--help shows the secret %q", secret)
		}
	}
	// Semantics, offsets.store and sink.type are generated wiring, no flags.
	for _, k := range []string{"--semantics", "--offsets-store", "--sink-type"} {
		if strings.Contains(out, k) {
			t.Errorf("--help lists %s", k)
		}
	}
}

func TestFlagAndEnvNames(t *testing.T) {
	for key, want := range map[string]string{
		"kafka.brokers": "brokers", "kafka.startFrom": "start-from", "kafka.tls.enabled": "tls",
		"batch.maxRatePerPartition": "batch-max-rate-per-partition", "schemas.registry.url": "registry-url",
		"onDecodeError": "on-decode-error", "kafka.outageLimit": "outage-limit", "status.addr": "status-addr",
	} {
		if got := flagName(key); got != want {
			t.Errorf("flagName(%q) = %q, want %q", key, got, want)
		}
	}
	for job, want := range map[string]string{"anomaly-detector": "ANOMALY_DETECTOR_", "etl.v2 -- x": "ETL_V2_X_", "Ä": "STREAMGEN_", "seqjob": "SEQJOB_"} {
		if got := config.EnvPrefix(job); got != want {
			t.Errorf("EnvPrefix(%q) = %q, want %q", job, got, want)
		}
	}
	seen := map[string]string{}
	for _, s := range settings {
		f := flagName(s.key)
		if other, dup := seen[f]; dup {
			t.Errorf("settings %s and %s share the flag --%s", s.key, other, f)
		}
		seen[f] = s.key
		(&s).kind(&target{JobConfig: &JobConfig{}, Log: &logSettings{}}) // panics on a field of a type set cannot parse
	}
}

func TestStatusPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ran := false
	var out bytes.Buffer
	cfg := specConfig()
	code := runMain(context.Background(), "anomaly-detector", &cfg, []string{"--status-addr", ln.Addr().String()}, envOf(nil), &out, false,
		func(context.Context) error { ran = true; return nil })
	if code != 1 || ran {
		t.Fatalf("exit %d, ran %v:\n%s", code, ran, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.Contains(out.String(), "status server cannot listen") || !strings.Contains(out.String(), ln.Addr().String()) ||
		!strings.Contains(out.String(), "address already in use") || !strings.Contains(out.String(), "set --status-addr or ANOMALY_DETECTOR_STATUS_ADDR (spec key status.addr) to a free port, :0 for any") {
		t.Errorf("no clear error:\n%s", out.String())
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "msg=stopped") || !strings.Contains(last, "job=anomaly-detector") {
		t.Errorf("last line %q is not the stopped line", last)
	}
}

// syncBuffer is a bytes.Buffer for the log, written by the engine's
// goroutines while the test reads it at the end.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runJob runs runMain over a real engine: one stream "events" subscribed
// to testTopic, values decoded by picky with the configuration's
// onDecodeError, until records records were handled and then two empty
// batches completed. It returns the exit code, the log and the
// configuration the job ran with.
func runJob(t *testing.T, brokers []string, args []string, env map[string]string, records int) (int, string, JobConfig) {
	t.Helper()
	cfg := DefaultJobConfig()
	cfg.Brokers = brokers
	cfg.Group = "spec-group"
	cfg.StatusAddr = ""
	cfg.ExpandEnv(envOf(env))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out syncBuffer
	var mu sync.Mutex
	handled, empty := 0, 0
	done := make(chan struct{})
	code := runMain(ctx, "anomaly-detector", &cfg, args, envOf(env), &out, false, func(ctx context.Context) error {
		opts, err := cfg.EngineOpts()
		if err != nil {
			return err
		}
		sopts, err := cfg.StreamOpts()
		if err != nil {
			return err
		}
		e, err := New(append(opts, JobName("anomaly-detector"))...)
		if err != nil {
			return err
		}
		s, err := NewStream[[]byte, string](e, "events", Subscribe(testTopic), nil, picky, sopts...)
		if err != nil {
			return err
		}
		ctx, stop := context.WithCancel(ctx)
		defer stop()
		return e.Run(ctx, func(_ context.Context, bs *JobBatch) error {
			n := s.Batch(bs).Len()
			mu.Lock()
			defer mu.Unlock()
			handled += n
			if handled >= records && n == 0 {
				if empty++; empty == 2 {
					close(done)
					stop()
				}
			}
			return nil
		})
	})
	select {
	case <-done:
	default:
		t.Fatalf("the job stopped before handling %d records and two empty batches (exit %d, %d handled):\n%s", records, code, handled, out.String())
	}
	return code, out.String(), cfg
}

func TestJSONLogsNameTheJobOnEveryLine(t *testing.T) {
	brokers, cl := kafkatest.Cluster(t, 1, testTopic)
	kafkatest.Produce(t, cl, testTopic, 1, 10) // value 3 is bad: left out by skip
	code, out, _ := runJob(t, brokers, []string{"--group", "flag-group", "--on-decode-error", "skip", "--log-format", "json"},
		map[string]string{"ANOMALY_DETECTOR_BATCH_INTERVAL": "100ms", "ANOMALY_DETECTOR_START_FROM": "earliest"}, 9)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	msgs := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("not a JSON line: %s", l)
		}
		if rec["job"] != "anomaly-detector" {
			t.Errorf("no job: %s", l)
		}
		msgs[rec["msg"].(string)] = rec
	}
	if s := msgs["starting"]; s == nil || s["group"] != "flag-group" || !strings.Contains(strings.Join(anyStrings(s["streams"]), ","), "events") {
		t.Errorf("start line without the real group and streams: %v", s)
	}
	if bad := msgs["record left out of its batch"]; bad == nil || bad["level"] != "WARN" || bad["offset"] != 3.0 {
		t.Errorf("the decode policy's warning is not in the job's log: %v", bad)
	}
	if msgs["batch done"] == nil || msgs["stopped"] == nil {
		t.Errorf("no batch or stopped line:\n%s", out)
	}
}

func anyStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, s := range l {
		out = append(out, s.(string))
	}
	return out
}

func TestEmptyBatchesAtDebugOnly(t *testing.T) {
	brokers, cl := kafkatest.Cluster(t, 1, testTopic)
	kafkatest.Produce(t, cl, testTopic, 1, 3)
	env := map[string]string{"ANOMALY_DETECTOR_BATCH_INTERVAL": "100ms", "ANOMALY_DETECTOR_START_FROM": "earliest"}
	count := func(out, level string) (empty, nonEmpty int) {
		for _, l := range strings.Split(out, "\n") {
			if !strings.Contains(l, "msg=\"batch done\"") {
				continue
			}
			if strings.Contains(l, " records=0 ") {
				if !strings.Contains(l, "level=DEBUG") {
					t.Errorf("an empty batch not at debug: %s", l)
				}
				empty++
			} else {
				if !strings.Contains(l, "level=INFO") {
					t.Errorf("a batch with records not at info: %s", l)
				}
				nonEmpty++
			}
		}
		return
	}
	_, out, _ := runJob(t, brokers, nil, env, 3)
	if e, n := count(out, "INFO"); e != 0 || n == 0 {
		t.Errorf("at info: %d empty, %d non-empty batch lines, want 0 and some:\n%s", e, n, out)
	}
	env["ANOMALY_DETECTOR_GROUP"] = "second" // reads the records again
	_, out, _ = runJob(t, brokers, []string{"--log-level", "debug"}, env, 3)
	if e, n := count(out, "DEBUG"); e < 2 || n == 0 {
		t.Errorf("at debug: %d empty, %d non-empty batch lines, want >= 2 and some:\n%s", e, n, out)
	}
}

// TestSecretsNeverLogged runs a job authenticating with SASL, with every
// log at debug (the Kafka client's too), registry credentials set, and
// checks that no secret shows in its output, nor in --help's.
func TestSecretsNeverLogged(t *testing.T) {
	const saslPass, regPass, fallbackPass, dsnPass = "sasl-PW-0f3c", "reg-PW-77a1", "fallback-PW-19d2", "dsn-PW-5b5e"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, testTopic),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "etl", saslPass))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mech, _ := (&JobConfig{Job: config.Job{SASLMechanism: "SCRAM-SHA-256", SASLUsername: "etl", SASLPassword: saslPass}}).saslMechanism()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(mech), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	kafkatest.Produce(t, cl, testTopic, 1, 3)

	env := map[string]string{
		"ANOMALY_DETECTOR_BATCH_INTERVAL": "100ms", "ANOMALY_DETECTOR_START_FROM": "earliest",
		"ANOMALY_DETECTOR_SASL_MECHANISM": "SCRAM-SHA-256", "ANOMALY_DETECTOR_SASL_USERNAME": "etl",
		"ANOMALY_DETECTOR_SASL_PASSWORD":     saslPass,
		"ANOMALY_DETECTOR_REGISTRY_PASSWORD": regPass, "ANOMALY_DETECTOR_REGISTRY_USERNAME": "sr",
		"SCHEMA_REGISTRY_PASSWORD": fallbackPass, "SCHEMA_REGISTRY_USERNAME": "fallback",
		"ANOMALY_DETECTOR_OFFSETS_DSN": "postgres://u:" + dsnPass + "@127.0.0.1/db",
	}
	code, out, cfg := runJob(t, c.ListenAddrs(), []string{"--log-level", "debug", "--log-kafka-level", "debug"}, env, 3)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// The secrets were used: the job authenticated, and has the job's
	// registry credentials rather than SCHEMA_REGISTRY_*.
	if cfg.SASLPassword != saslPass || cfg.RegistryPassword != regPass || cfg.RegistryUsername != "sr" {
		t.Errorf("secrets not applied: sasl %v, registry %q %v", cfg.SASLPassword == saslPass, cfg.RegistryUsername, cfg.RegistryPassword == regPass)
	}
	if !strings.Contains(out, "logger=kafka") {
		t.Errorf("no Kafka client line at debug:\n%s", out)
	}
	// Bad values of secret settings are reported without the value; the
	// flag, the env and --help never print one.
	for _, args := range [][]string{
		{"--sasl-password", saslPass, "--offsets-dsn", "postgres://u:" + dsnPass + "@h/db", "--workers", "x"},
		{"--sasl-password", saslPass, "--help"},
	} {
		_, _, o := mainConfig(t, specConfig(), args, env)
		out += o
	}
	for _, s := range []string{saslPass, regPass, fallbackPass, dsnPass} {
		if strings.Contains(out, s) {
			t.Errorf("the secret %q is in the output", s)
		}
	}
}

// updateReadme rewrites the README's table of settings.
var updateReadme = flag.Bool("update", false, "rewrite the README's settings table")

// TestReadmeDocumentsEverySetting: "Running a job" has the table of the
// job's settings written from config.Settings (-update rewrites it) and
// names Main's log settings, and its example of a bad value is what the
// job prints.
func TestReadmeDocumentsEverySetting(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	before, rest, ok1 := strings.Cut(readme, readmeTableStart)
	table, after, ok2 := strings.Cut(rest, readmeTableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README has no settings table between %q and %q", readmeTableStart, readmeTableEnd)
	}
	var want strings.Builder
	writeSettingsTable(&want, "anomaly-detector", config.Settings())
	if *updateReadme {
		readme = before + readmeTableStart + want.String() + readmeTableEnd + after
		if err := os.WriteFile("../README.md", []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if table != want.String() {
		t.Errorf("README's settings table is not config.Settings'; run go test ./runtime -run ReadmeDocumentsEverySetting -update and review the diff. Want:\n%s", want.String())
	}
	for _, s := range logSettingRows {
		if f := flagName(s.key); !strings.Contains(readme, "`--"+f+"`") {
			t.Errorf("README does not name the setting %s (--%s)", s.key, f)
		}
	}
	_, code, out := mainConfig(t, specConfig(), nil, map[string]string{"ANOMALY_DETECTOR_BATCH_INTERVAL": "soon"})
	first, _, _ := strings.Cut(out, "\n")
	if code != 2 || !strings.Contains(readme, "\n"+first+"\n") {
		t.Errorf("README's example of a bad value is not what the job prints:\n%s", first)
	}
}

// A failed batch that ends the job is logged once, in its "batch failed"
// line; the "stopped" line names the batch instead of repeating the error.
func TestFailedBatchErrorLoggedOnce(t *testing.T) {
	brokers, cl := kafkatest.Cluster(t, 1, testTopic)
	kafkatest.Produce(t, cl, testTopic, 1, 3)
	cfg := DefaultJobConfig()
	cfg.Brokers, cfg.Group, cfg.StatusAddr = brokers, "g", ""
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out syncBuffer
	code := runMain(ctx, "anomaly-detector", &cfg, []string{"--batch-interval", "50ms", "--start-from", "earliest"}, envOf(nil), &out, false, func(ctx context.Context) error {
		opts, err := cfg.EngineOpts()
		if err != nil {
			return err
		}
		e, err := New(append(opts, JobName("anomaly-detector"))...)
		if err != nil {
			return err
		}
		s, err := NewStream[[]byte, []byte](e, "events", Subscribe(testTopic), nil, nil)
		if err != nil {
			return err
		}
		return e.Run(ctx, func(_ context.Context, b *JobBatch) error {
			if s.Batch(b).Len() > 0 {
				return errors.New("the warehouse refused the rows")
			}
			return nil
		})
	})
	log := out.String()
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, log)
	}
	if n := strings.Count(log, "the warehouse refused the rows"); n != 1 {
		t.Errorf("the batch's error is logged %d times, want once:\n%s", n, log)
	}
	if !regexp.MustCompile(`msg=stopped job=anomaly-detector cause="batch \d+ failed" exit_code=1`).MatchString(log) {
		t.Errorf("no stopped line naming the batch:\n%s", log)
	}
}
