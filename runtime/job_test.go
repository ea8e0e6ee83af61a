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
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestJobConfigExpandEnv(t *testing.T) {
	c := JobConfig{
		Brokers:       []string{"${KAFKA_BROKERS:-localhost:9092}", "extra:9092"},
		SASLPassword:  "${KAFKA_PASSWORD}",
		OffsetsDSN:    "postgres://u@${PGHOST:-localhost}/test",
		BatchInterval: time.Second,
	}
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
	c := JobConfig{SASLPassword: "${KAFKA_PASSWORD}", StartFrom: "yesterday", Semantics: "exactly-once", Location: "near"}
	c.ExpandEnv(env(nil))
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken configuration")
	}
	for _, want := range []string{"SASLPassword", "KAFKA_PASSWORD", "no broker given", "BatchInterval", `StartFrom: "yesterday"`, `Semantics: "exactly-once" is not supported by this runtime yet`, `Location: "near"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestJobConfigOptions(t *testing.T) {
	c := JobConfig{Brokers: []string{"x:1"}, BatchInterval: time.Second, StartFrom: "timestamp:2026-01-02T03:04:05Z",
		ResetTo: "error", Location: "fixed", LocationFixed: map[string]string{"t/3": "w1"}, SASLMechanism: "SCRAM-SHA-512", SASLUsername: "u"}
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
	cfg := JobConfig{Brokers: []string{"unused:1"}, BatchInterval: time.Second}
	var stderr bytes.Buffer
	ran := make(chan JobConfig, 1)
	code := RunMain(context.Background(), "job", &cfg, []string{"--brokers", "a:1,b:2", "--group", "g2", "--status-addr", addr, "--interval", "250ms"}, &stderr, func(ctx context.Context) error {
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
	if strings.Join(got.Brokers, ",") != "a:1,b:2" || got.Group != "g2" || got.BatchInterval != 250*time.Millisecond {
		t.Errorf("flags not applied: %+v", got)
	}
	if len(got.EngineOptions) == 0 {
		t.Error("Main added no status listener")
	}

	if code := RunMain(context.Background(), "job", &JobConfig{}, []string{"--nope"}, io.Discard, nil); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code := RunMain(context.Background(), "job", &JobConfig{BatchInterval: time.Second}, nil, io.Discard, nil); code != 1 {
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
		e.record(BatchInfo{ID: int64(i), Records: 10 * i, Ranges: map[string][]OffsetRange{"imps": {{Topic: "imps", Partition: 1, FromOffset: 5, UntilOffset: 9}}}})
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
		policy, topic, want string
	}{
		{"dead-letter", "", "config OnDecodeError: dead-letter needs DeadLetterTopic"},
		{"drop", "", `config OnDecodeError: "drop" is not fail, skip or dead-letter`},
	} {
		c := JobConfig{Brokers: []string{"k:9092"}, BatchInterval: time.Second, OnDecodeError: tc.policy, DeadLetterTopic: tc.topic}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want %q", tc.policy, err, tc.want)
		}
	}
	c := JobConfig{Brokers: []string{"k:9092"}, BatchInterval: time.Second, OnDecodeError: "dead-letter", DeadLetterTopic: "${DLQ:-bad}"}
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
	if err := lookup(JobConfig{RegistryCA: ca}); err != nil {
		t.Fatalf("with RegistryCA: %v", err)
	}
	if err := lookup(JobConfig{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without RegistryCA: %v, want a certificate error", err)
	}
	if _, err := (&JobConfig{RegistryCA: filepath.Join(t.TempDir(), "missing.pem")}).RegistryOpts(); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("missing CA file: %v", err)
	}
}

// TestRegistryCredentialsFromEnvAreVerbatim: credentials taken from the
// environment are secrets, not templates: "$$" and "${...}" in them stay
// as they are, however often ExpandEnv runs; a token wins over a username
// and password set beside it; a bad template in a secret is reported
// without quoting it.
func TestRegistryCredentialsFromEnvAreVerbatim(t *testing.T) {
	c := JobConfig{Brokers: []string{"k:9092"}, BatchInterval: time.Second}
	lookup := env(map[string]string{"SCHEMA_REGISTRY_USERNAME": "svc", "SCHEMA_REGISTRY_PASSWORD": "pa$$w${HOME}rd"})
	c.ExpandEnv(lookup)
	c.ExpandEnv(lookup)
	if c.RegistryUsername != "svc" || c.RegistryPassword != "pa$$w${HOME}rd" {
		t.Errorf("credentials %q / %q, want the environment's verbatim", c.RegistryUsername, c.RegistryPassword)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	c = JobConfig{Brokers: []string{"k:9092"}, BatchInterval: time.Second}
	c.ExpandEnv(env(map[string]string{"SCHEMA_REGISTRY_USERNAME": "svc", "SCHEMA_REGISTRY_PASSWORD": "pw", "SCHEMA_REGISTRY_TOKEN": "tok"}))
	if c.RegistryToken != "tok" || c.RegistryUsername != "" || c.RegistryPassword != "" {
		t.Errorf("with all three set: token %q, user %q", c.RegistryToken, c.RegistryUsername)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate with all three in the environment: %v", err)
	}

	c = JobConfig{Brokers: []string{"k:9092"}, BatchInterval: time.Second, SASLPassword: "s3cr${et"}
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
