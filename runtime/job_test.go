package runtime

import (
	"bytes"
	"context"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/runtime/config"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestJobConfigExpandEnv(t *testing.T) {
	c := JobConfig{Job: config.Job{
		Brokers:       []string{"${KAFKA_BROKERS:-localhost:9092}", "extra:9092"},
		SASLPassword:  "${KAFKA_PASSWORD}",
		OffsetsDSN:    "postgres://u@${PGHOST:-localhost}/test",
		BatchInterval: time.Second,
	}}
	c.ExpandEnv(env(map[string]string{"KAFKA_BROKERS": "a:1, b:2", "KAFKA_PASSWORD": "s3cr$t"}))
	if got := strings.Join(c.Brokers, " "); got != "a:1 b:2 extra:9092" {
		t.Errorf("Brokers = %q", got)
	}
	if c.SASLPassword != "s3cr$t" || c.OffsetsDSN != "postgres://u@localhost/test" {
		t.Errorf("expanded %q %q", c.SASLPassword, c.OffsetsDSN)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestJobConfigValidateNamesProblems(t *testing.T) {
	c := JobConfig{Job: config.Job{SASLPassword: "${KAFKA_PASSWORD}", Location: config.Location(9), SinkType: config.SinkKafka, OffsetsStore: config.StorePostgres}}
	c.ExpandEnv(env(nil))
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken configuration")
	}
	for _, want := range []string{"kafka.sasl.password (--sasl-password): environment variable KAFKA_PASSWORD is not set", "no broker given", "batch.interval (--batch-interval): 0s is not positive", "location.strategy (--location-strategy): 9 is not a valid value", `offsets.store: "postgres": the kafka sink commits the offsets itself`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestJobConfigOptions(t *testing.T) {
	c := JobConfig{Job: config.Job{Brokers: []string{"x:1"}, BatchInterval: time.Second, StartFrom: config.StartAt(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		ResetTo: config.ResetError, Location: config.LocationFixed, LocationFixed: map[string]string{"t/3": "w1"}, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u"}}
	if _, err := c.EngineOpts(); err != nil {
		t.Fatalf("EngineOpts: %v", err)
	}
	if _, err := c.StreamOpts(); err != nil {
		t.Fatalf("StreamOpts: %v", err)
	}
	c.LocationFixed = map[string]string{"t": "w1"}
	if _, err := c.StreamOpts(); err == nil || !strings.Contains(err.Error(), `key "t" is not topic/partition`) {
		t.Errorf("bad fixed key: %v", err)
	}
	c.LocationFixed = nil
	c.SASLMechanism = "GSSAPI"
	if _, err := c.EngineOpts(); err == nil || !strings.Contains(err.Error(), "GSSAPI") {
		t.Errorf("bad mechanism: %v", err)
	}
}

func TestRunMainFlagsStatusAndCleanStop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := JobConfig{Job: config.Job{Brokers: []string{"unused:1"}, BatchInterval: time.Second}}
	var stderr bytes.Buffer
	ran := make(chan JobConfig, 1)
	code := RunMain(context.Background(), "job", &cfg, []string{"--brokers", "a:1,b:2", "--group", "g2", "--status-addr", addr, "--interval", "250ms", "--start-from", "timestamp:2026-01-02T03:04:05Z"}, &stderr, func(ctx context.Context) error {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
			t.Errorf("healthz: %d %q", resp.StatusCode, body)
		}
		ran <- cfg
		return nil
	})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got := <-ran
	if strings.Join(got.Brokers, ",") != "a:1,b:2" || got.Group != "g2" || got.BatchInterval != 250*time.Millisecond ||
		got.StartFrom != config.StartAt(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("flags not applied: %+v", got)
	}
	if len(got.EngineOptions) == 0 {
		t.Error("Main added no status listener")
	}

	if code := RunMain(context.Background(), "job", &JobConfig{}, []string{"--nope"}, io.Discard, nil); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code := RunMain(context.Background(), "job", &JobConfig{}, []string{"--start-from", "yesterday"}, io.Discard, nil); code != 2 {
		t.Errorf("bad --start-from: exit %d, want 2", code)
	}
	if code := RunMain(context.Background(), "job", &JobConfig{Job: config.Job{BatchInterval: time.Second}}, nil, io.Discard, nil); code != 1 {
		t.Errorf("no brokers: exit %d, want 1", code)
	}
}

func TestStatusPages(t *testing.T) {
	s := NewStatus("job")
	e, err := New(Brokers("k:9092"), RetainedBatches(2), s.Attach())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		e.rec.record(BatchInfo{ID: int64(i), Records: 10 * i, Ranges: map[string][]OffsetRange{"imps": {{Topic: "imps", Partition: 1, FromOffset: 5, UntilOffset: 9}}}})
	}
	batches := s.Snapshot().Batches
	if got := len(batches); got != 2 {
		t.Errorf("kept %d batches, want 2", got)
	}
	var b bytes.Buffer
	WriteBatchPage(&b, batches[1])
	for _, want := range []string{"Batch 2", "Input data size: 20 records", "topic: imps partition: 1 offsets: 5 to 9"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("batch page lacks %q:\n%s", want, b.String())
		}
	}
}

func TestJobConfigDecodePolicyAndRegistryCredentials(t *testing.T) {
	for _, tc := range []struct {
		policy      config.DecodePolicy
		topic, want string
	}{
		{config.DeadLetterBadRecords, "", `onDecodeError (--on-decode-error): "dead-letter" needs the topic the undecodable records go to: set --dead-letter-topic (spec key deadLetterTopic)`},
		{config.DecodePolicy(7), "", "onDecodeError (--on-decode-error): 7 is not a valid value"},
	} {
		c := JobConfig{Job: config.Job{Brokers: []string{"k:9092"}, BatchInterval: time.Second, OnDecodeError: tc.policy, DeadLetterTopic: tc.topic}}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want %q", tc.policy, err, tc.want)
		}
	}
	c := JobConfig{Job: config.Job{Brokers: []string{"k:9092"}, BatchInterval: time.Second, OnDecodeError: config.DeadLetterBadRecords, DeadLetterTopic: "${DLQ:-bad}"}}
	c.ExpandEnv(env(map[string]string{"SCHEMA_REGISTRY_USERNAME": "svc", "SCHEMA_REGISTRY_PASSWORD": "pw"}))
	if c.DeadLetterTopic != "bad" || c.RegistryUsername != "svc" || c.RegistryPassword != "pw" {
		t.Errorf("expanded DeadLetterTopic %q, registry user %q", c.DeadLetterTopic, c.RegistryUsername)
	}
	opts, err := c.StreamOpts()
	if err != nil {
		t.Fatal(err)
	}
	var sc streamCfg
	for _, o := range opts {
		o.applyStream(&sc)
	}
	if sc.onBad != DeadLetterBadRecords || sc.deadLetterTopic != "bad" {
		t.Errorf("stream config %v %q, want dead-letter to bad", sc.onBad, sc.deadLetterTopic)
	}
	if ro, err := c.RegistryOpts(); err != nil || len(ro) != 1 {
		t.Errorf("RegistryOpts: %d options, %v; want basic auth", len(ro), err)
	}
	c.RegistryToken = "tok"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "either a token or a username and password") {
		t.Errorf("Validate with token and password = %v", err)
	}
}

// TestRegistryOverTLS: a registry behind https with a private CA is read
// with RegistryCA, and refused without it.
func TestRegistryOverTLS(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	id, _, err := reg.RegisterSchema("readings-value", sr.Schema{Schema: `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(reg.Handler())
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(c JobConfig) error {
		opts, err := c.RegistryOpts()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		r, err := NewSchemaRegistry(srv.URL, opts...)
		if err != nil {
			return err
		}
		_, err = r.WriterSchema(ctx, id)
		return err
	}
	if err := lookup(JobConfig{Job: config.Job{RegistryCA: ca}}); err != nil {
		t.Fatalf("with RegistryCA: %v", err)
	}
	if err := lookup(JobConfig{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without RegistryCA: %v, want a certificate error", err)
	}
	if _, err := (&JobConfig{Job: config.Job{RegistryCA: filepath.Join(t.TempDir(), "missing.pem")}}).RegistryOpts(); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("missing CA file: %v", err)
	}
}

// TestRegistryCredentialsFromEnvAreVerbatim: credentials taken from the
// environment are secrets, not templates: "$$" and "${...}" in them stay
// as they are, however often ExpandEnv runs; a token wins over a username
// and password set beside it; a bad template in a secret is reported
// without quoting it.
func TestRegistryCredentialsFromEnvAreVerbatim(t *testing.T) {
	c := JobConfig{Job: config.Job{Brokers: []string{"k:9092"}, BatchInterval: time.Second}}
	lookup := env(map[string]string{"SCHEMA_REGISTRY_USERNAME": "svc", "SCHEMA_REGISTRY_PASSWORD": "pa$$w${HOME}rd"})
	c.ExpandEnv(lookup)
	c.ExpandEnv(lookup)
	if c.RegistryUsername != "svc" || c.RegistryPassword != "pa$$w${HOME}rd" {
		t.Errorf("credentials %q / %q, want the environment's verbatim", c.RegistryUsername, c.RegistryPassword)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	c = JobConfig{Job: config.Job{Brokers: []string{"k:9092"}, BatchInterval: time.Second}}
	c.ExpandEnv(env(map[string]string{"SCHEMA_REGISTRY_USERNAME": "svc", "SCHEMA_REGISTRY_PASSWORD": "pw", "SCHEMA_REGISTRY_TOKEN": "tok"}))
	if c.RegistryToken != "tok" || c.RegistryUsername != "" || c.RegistryPassword != "" {
		t.Errorf("with all three set: token %q, user %q", c.RegistryToken, c.RegistryUsername)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate with all three in the environment: %v", err)
	}

	c = JobConfig{Job: config.Job{Brokers: []string{"k:9092"}, BatchInterval: time.Second, SASLPassword: "s3cr${et"}}
	c.ExpandEnv(env(nil))
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "s3cr") || strings.Contains(err.Error(), "${et") {
		t.Errorf("Validate = %v, want an error that does not quote the secret", err)
	}
}

func TestRecordSourceID(t *testing.T) {
	r := &Record[string, string]{Topic: "entities", Partition: 3, Offset: 1234567}
	if got := r.SourceID(); got != "entities/3/1234567" {
		t.Errorf("SourceID = %q", got)
	}
}

// TestEngineDefaultsAreConfigDefaults: an engine built with no options
// behaves as a spec that sets nothing, and a JobConfig holding
// config.Default configures the same engine: the defaults are written
// once, in config.Default.
func TestEngineDefaultsAreConfigDefaults(t *testing.T) {
	d := config.Default()
	e, err := New(Brokers("k:9092"))
	if err != nil {
		t.Fatal(err)
	}
	c := e.cfg
	if c.interval != d.BatchInterval || c.taskBackoff != d.RetryBackoff || !c.readCommitted ||
		c.maxTaskFailures != d.MaxFailures || c.minRate != d.MinRatePerPartition || c.maxRate != d.MaxRatePerPartition ||
		c.pid != [3]float64{d.BackpressureProportional, d.BackpressureIntegral, d.BackpressureDerived} ||
		c.pidMinRate != float64(d.BackpressureMinRate) || c.semantics != d.Semantics || c.reset != d.ResetTo ||
		c.start != d.StartFrom || c.shutdownTimeout != 10*d.BatchInterval {
		t.Errorf("engine defaults %+v differ from config.Default %+v", c, d)
	}
	if c.interval != 5*time.Second || c.taskBackoff != time.Second {
		t.Errorf("interval %v, task backoff %v; want the spec's 5s and 1s", c.interval, c.taskBackoff)
	}

	jc := DefaultJobConfig()
	jc.Group = "g"
	opts, err := jc.EngineOpts()
	if err != nil {
		t.Fatal(err)
	}
	fromConfig, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	c.group, c.brokers = "g", jc.Brokers
	if got := fromConfig.cfg; got.interval != c.interval || got.taskBackoff != c.taskBackoff || got.readCommitted != c.readCommitted ||
		got.maxTaskFailures != c.maxTaskFailures || got.minRate != c.minRate || got.shutdownTimeout != c.shutdownTimeout ||
		got.workers != c.workers || got.semantics != c.semantics || got.start != c.start || got.reset != c.reset {
		t.Errorf("DefaultJobConfig's engine %+v differs from the option-less engine %+v", got, c)
	}

	jc.Isolation = config.ReadUncommitted
	opts, err = jc.EngineOpts()
	if err != nil {
		t.Fatal(err)
	}
	if e, err := New(opts...); err != nil || e.cfg.readCommitted {
		t.Errorf("Isolation read_uncommitted: readCommitted %v, %v", e.cfg.readCommitted, err)
	}
}

// TestJobConfigAtMostOnce: at-most-once, which the engine runs, is
// accepted; a sink the runtime cannot serve is refused by field, not
// ignored.
func TestJobConfigAtMostOnce(t *testing.T) {
	jc := DefaultJobConfig()
	jc.Semantics = config.AtMostOnce
	opts, err := jc.EngineOpts()
	if err != nil {
		t.Fatalf("at-most-once: %v", err)
	}
	if e, err := New(opts...); err != nil || e.cfg.semantics != AtMostOnce {
		t.Errorf("engine semantics %v, %v", e.cfg.semantics, err)
	}
	jc.SinkType, jc.SinkDir = config.SinkFiles, "/out"
	if _, err := jc.EngineOpts(); err == nil || !strings.Contains(err.Error(), `sink.type: "files" publishes each partition-batch as one file, and the files on disk are the offsets: it runs with semantics exactly-once, not "at-most-once"`) {
		t.Errorf("files sink at-most-once: %v", err)
	}
}
