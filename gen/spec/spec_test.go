package spec

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streamgen/streamgen/runtime/config"
)

var update = flag.Bool("update", false, "rewrite the testdata/errors/*.stderr golden files")

// testEnv is the environment the tests parse with.
func testEnv(k string) (string, bool) {
	v, ok := map[string]string{
		"SCHEMA_REGISTRY_URL": "http://registry:8081",
		"EMPTY":               "",
	}[k]
	return v, ok
}

func parseFile(t *testing.T, path string) (*Spec, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(path, data, testEnv)
}

func TestParseFull(t *testing.T) {
	const file = "testdata/valid/full.yaml"
	s, err := parseFile(t, file)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	pos := func(line, col int) Pos { return Pos{File: file, Line: line, Col: col} }
	want := &Spec{
		File:    file,
		Dir:     "testdata/valid",
		Version: 1,
		Name:    "impressions-etl",
		Package: "impressionsetl",
		Output:  "./impressionsetl",
		Schemas: Schemas{
			Files:    []string{"../schemas/*.avsc"},
			FilesPos: []Pos{pos(6, 11)},
			Registry: &Registry{
				URL:     "http://registry:8081",
				URLText: "${SCHEMA_REGISTRY_URL}",
				Subjects: []Subject{
					{Name: "impressions-value", Pos: pos(9, 16)},
					{Name: "clicks-value", Version: 3, Pos: pos(9, 35)},
				},
			},
		},
		Streams: []Stream{
			{
				Name:            "impressions",
				Subscribe:       []string{"impressions"},
				StartingOffsets: map[string]map[int32]int64{"impressions": {0: 36892229}},
				Key:             "string",
				Value:           "com.example.ads.Impression",
				Encoding:        "confluent",
				Pos:             pos(11, 5), KeyPos: pos(14, 10), ValuePos: pos(15, 12),
			},
			{
				Name:     "clicks",
				Assign:   map[string][]int32{"clicks": {0, 1, 2}},
				Key:      "com.example.ads.ClickKey",
				Value:    "com.example.ads.Click",
				Encoding: "raw",
				Pos:      pos(17, 5), KeyPos: pos(20, 10), ValuePos: pos(19, 12),
			},
			{
				Name:     "views",
				Pattern:  "^views-.*",
				Key:      "none",
				Value:    "com.example.ads.View",
				Encoding: "confluent",
				Pos:      pos(22, 5), KeyPos: pos(22, 5), ValuePos: pos(24, 12),
			},
		},
		Job: config.Job{
			Brokers:                  []string{"${KAFKA_BROKERS:-localhost:9092}"},
			Group:                    "impressions-etl",
			RegistryURL:              "${SCHEMA_REGISTRY_URL}",
			StartFrom:                config.StartAt(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)),
			ResetTo:                  config.ResetLatest,
			Isolation:                config.ReadUncommitted,
			InstanceID:               "${POD_NAME}",
			SessionTimeout:           10 * time.Second,
			OutageLimit:              2 * time.Minute,
			TLS:                      true,
			TLSCA:                    "/etc/ca.pem",
			TLSCert:                  "${TLS_CERT}",
			TLSKey:                   "${TLS_KEY}",
			SASLMechanism:            "SCRAM-SHA-512",
			SASLUsername:             "${KAFKA_USER}",
			SASLPassword:             "${KAFKA_PASSWORD}",
			BatchInterval:            10 * time.Second,
			MaxRatePerPartition:      1000,
			MinRatePerPartition:      10,
			Backpressure:             true,
			BackpressureInitialRate:  500,
			BackpressureProportional: 1.5,
			BackpressureIntegral:     0.3,
			BackpressureDerived:      0.1,
			BackpressureMinRate:      50,
			Location:                 config.LocationFixed,
			LocationFixed:            map[string]string{"impressions/0": "worker-a", "clicks/1": "worker-b"},
			Workers:                  8,
			Semantics:                config.ExactlyOnce,
			OffsetsStore:             config.StorePostgres,
			OffsetsDSN:               "${PG_DSN}",
			OffsetsTable:             "ops.offsets",
			SinkType:                 config.SinkPostgres,
			SinkDSN:                  "${PG_DSN}",
			SinkTable:                "ads.impressions",
			SinkFormat:               "avro",
			SinkRollMaxRecords:       1_000_000,
			SinkRollMaxBytes:         128 << 20,
			SinkRollMaxOpen:          90 * time.Minute,
			SinkRollLateness:         5 * time.Minute,
			SinkRollMaxOpenFiles:     64,
			MaxFailures:              3,
			RetryBackoff:             500 * time.Millisecond,
			OnDecodeError:            config.DeadLetterBadRecords,
			DeadLetterTopic:          "impressions-dlq",
			ShutdownTimeout:          30 * time.Second,
			StatusAddr:               "${STATUS_ADDR:-:9090}",
		},
		PackagePos: pos(3, 10),
		OutputPos:  pos(4, 9),
	}
	s.positions = nil
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Parse mismatch\n got: %+v\nwant: %+v", s, want)
	}
	if got, want := s.OutputDir(), filepath.Join("testdata", "valid", "impressionsetl"); got != want {
		t.Errorf("OutputDir() = %q; want %q", got, want)
	}
}

func TestParseMinimalDefaults(t *testing.T) {
	const file = "testdata/valid/minimal.yaml"
	s, err := parseFile(t, file)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	namePos := Pos{File: file, Line: 2, Col: 7}
	want := &Spec{
		File:    file,
		Dir:     "testdata/valid",
		Version: 1,
		Name:    "anomaly-detector",
		Package: "anomalydetector",
		Output:  "./anomalydetector",
		Streams: []Stream{{
			Name:      "impressions",
			Subscribe: []string{"impressions"},
			Key:       "none",
			Value:     "com.example.ads.Impression",
			Encoding:  "confluent",
			Pos:       Pos{file, 4, 5}, KeyPos: Pos{file, 4, 5}, ValuePos: Pos{file, 6, 12},
		}},
		Job: func() config.Job {
			j := config.Default()
			j.Group = "anomaly-detector"
			return j
		}(),
		PackagePos: namePos,
		OutputPos:  namePos,
	}
	s.positions = nil
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Parse mismatch\n got: %+v\nwant: %+v", s, want)
	}
}

// TestDerivedDefaults covers defaults that follow from other values.
func TestDerivedDefaults(t *testing.T) {
	const head = "version: 1\nname: etl\nstreams: [{name: s, subscribe: [t], value: a.B}]\n"
	tests := []struct {
		name, yaml string
		check      func(*Spec) bool
	}{
		{"exactly-once files: offsets follow the sink",
			"semantics: exactly-once\nsink: {type: files, dir: /out}\n",
			func(s *Spec) bool { return s.Job.OffsetsStore == config.StoreFiles && s.Job.OffsetsDir == "/out" }},
		{"exactly-once postgres: offsets follow the sink",
			"semantics: exactly-once\nsink: {type: postgres, dsn: \"${DSN}\", table: t}\n",
			func(s *Spec) bool { return s.Job.OffsetsStore == config.StorePostgres && s.Job.OffsetsDSN == "${DSN}" }},
		{"exactly-once kafka",
			"semantics: exactly-once\nsink: {type: kafka, topic: out}\n",
			func(s *Spec) bool { return s.Job.OffsetsStore == config.StoreKafka }},
		{"exactly-once files, same dir written twice",
			"semantics: exactly-once\nsink: {type: files, dir: /out/}\noffsets: {store: files, dir: /out}\n",
			func(s *Spec) bool { return s.Job.OffsetsDir == "/out" }},
		{"at-least-once keeps the kafka store",
			"sink: {type: files, dir: /out}\n",
			func(s *Spec) bool { return s.Job.OffsetsStore == config.StoreKafka }},
		{"shutdown timeout 0 is left to the runtime (10 intervals)",
			"batch: {interval: 2s}\n",
			func(s *Spec) bool { return s.Job.ShutdownTimeout == 0 }},
		{"explicit package drives output",
			"package: myjob\n",
			func(s *Spec) bool {
				return s.Output == "./myjob" && s.PackagePos.Line == 4 && s.OutputPos == s.PackagePos
			}},
		{"null sections keep defaults",
			"kafka:\nbatch: ~\n",
			func(s *Spec) bool {
				return s.Job.Brokers[0] == "localhost:9092" && s.Job.BatchInterval == 5*time.Second
			}},
		{"explicit group with assign and kafka store",
			"kafka: {group: \"${GROUP}\"}\n",
			func(s *Spec) bool { return s.Job.Group == "${GROUP}" }},
		{"x- extension keys are unknown keys too",
			"x-common: &dir /data\n",
			nil},
		{"subject versions",
			"schemas: {registry: {url: \"${EMPTY:-http://localhost:8081}\", subjects: [a, b@latest, c@12]}}\n",
			func(s *Spec) bool {
				r := s.Schemas.Registry
				return r.URL == "http://localhost:8081" && r.Subjects[0].Version == 0 && r.Subjects[1].Version == 0 && r.Subjects[2].Version == 12
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("streamgen.yaml", []byte(head+tt.yaml), testEnv)
			if tt.check == nil {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !tt.check(s) {
				t.Errorf("unexpected spec: %+v", s)
			}
		})
	}
}

func TestAliases(t *testing.T) {
	y := `version: 1
name: etl
streams:
  - &base {name: a, subscribe: [a], value: x.A}
sink: {type: files, dir: &d /data}
offsets: {store: files, dir: *d}
`
	s, err := Parse("streamgen.yaml", []byte(y), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if s.Job.OffsetsDir != "/data" || s.Streams[0].Name != "a" {
		t.Errorf("aliases not resolved: %+v", s)
	}
}

// TestEnvExpansion checks that generation-time values are expanded and
// runtime values are kept as written, so no secret reaches generated code.
func TestEnvExpansion(t *testing.T) {
	y := `version: 1
name: etl
schemas:
  files: ["${SCHEMA_DIR:-../schemas}/*.avsc"]
  registry: {url: "${X}", subjects: ["${SUBJ:-impressions-value}@2"]}
streams: [{name: s, subscribe: [t], value: a.B}]
kafka:
  brokers: ["${KAFKA_BROKERS:-localhost:9092}"]
  group: "${GROUP}"
  sasl: {mechanism: "${MECH}", username: u, password: "${KAFKA_PASSWORD}"}
sink: {type: postgres, dsn: "${PG_DSN}", table: "${TABLE}"}
status: {addr: "${STATUS_ADDR}"}
deadLetterTopic: "${DLQ}"
onDecodeError: dead-letter
`
	env := map[string]string{
		"X":              "http://sr.example:8081",
		"KAFKA_BROKERS":  "must-not-be-used:1",
		"KAFKA_PASSWORD": "s3cret",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	s, err := Parse("streamgen.yaml", []byte(y), lookup)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ got, want string }{
		{s.Schemas.Files[0], "../schemas/*.avsc"},
		{s.Schemas.Registry.URL, "http://sr.example:8081"},
		{s.Schemas.Registry.Subjects[0].Name, "impressions-value"},
		{s.Job.Brokers[0], "${KAFKA_BROKERS:-localhost:9092}"},
		{s.Job.Group, "${GROUP}"},
		{s.Job.SASLMechanism, "${MECH}"},
		{s.Job.SASLPassword, "${KAFKA_PASSWORD}"},
		{s.Job.SinkDSN, "${PG_DSN}"},
		{s.Job.SinkTable, "${TABLE}"},
		{s.Job.OffsetsDSN, ""},
		{s.Job.StatusAddr, "${STATUS_ADDR}"},
		{s.Job.DeadLetterTopic, "${DLQ}"},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: got %q; want %q", i, c.got, c.want)
		}
	}
	if s.Schemas.Registry.Subjects[0].Version != 2 {
		t.Errorf("subject version = %d; want 2", s.Schemas.Registry.Subjects[0].Version)
	}
}

// TestErrors compares each testdata/errors/<case>.yaml's ErrorList with
// <case>.stderr. Run with -update to rewrite the golden files.
func TestErrors(t *testing.T) {
	cases, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no error cases: %v", err)
	}
	for _, file := range cases {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			s, err := parseFile(t, file)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", s)
			}
			if s != nil {
				t.Errorf("Parse returned a spec with an error")
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, want ErrorList", err)
			}
			for i := 1; i < len(list); i++ {
				a, b := list[i-1].Pos, list[i].Pos
				if a.Line > b.Line || a.Line == b.Line && a.Col > b.Col {
					t.Errorf("errors not sorted: %v before %v", a, b)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".stderr"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Setenv("SCHEMA_REGISTRY_URL", "http://from-env:8081")
	s, err := Load("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Schemas.Registry.URL != "http://from-env:8081" {
		t.Errorf("registry URL = %q; want it from the environment", s.Schemas.Registry.URL)
	}
	_, err = Load("testdata/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "testdata/does-not-exist.yaml") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func TestErrorTypes(t *testing.T) {
	var l ErrorList
	if l.Err() != nil {
		t.Error("empty ErrorList.Err() != nil")
	}
	s := &Spec{File: "a/streamgen.yaml"}
	l = append(l, s.Errorf(Pos{Line: 3, Col: 7}, "bad %s", "thing"), &Error{Pos: Pos{File: "x.yaml"}, Msg: "whole file"})
	if got, want := l.Err().Error(), "a/streamgen.yaml:3:7: bad thing\nx.yaml: whole file"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

// TestTables: a table's keys are decoded, with their defaults.
func TestTables(t *testing.T) {
	src := `version: 1
name: etl
streams: [{name: impressions, subscribe: [impressions], value: com.example.ads.Impression}]
tables:
  - {name: campaigns, topic: campaign-names, value: com.example.ads.Campaign}
  - {name: budgets, topic: budgets, key: int64, value: com.example.ads.Budget, encoding: raw,
     maxEntries: 10, maxBytes: 2048, catchUpTimeout: 30s, onDecodeError: skip}
`
	s, err := Parse("s.yaml", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tables) != 2 {
		t.Fatalf("%d tables", len(s.Tables))
	}
	c, b := s.Tables[0], s.Tables[1]
	if c.Name != "campaigns" || c.Topic != "campaign-names" || c.Key != "string" || c.Value != "com.example.ads.Campaign" ||
		c.Encoding != "confluent" || c.OnDecodeError != "fail" || c.MaxEntries != 0 || c.CatchUpTimeout != 0 {
		t.Errorf("defaults: %+v", c)
	}
	if b.Key != "int64" || b.Encoding != "raw" || b.MaxEntries != 10 || b.MaxBytes != 2048 || b.CatchUpTimeout != 30*time.Second || b.OnDecodeError != "skip" {
		t.Errorf("set: %+v", b)
	}
}

// TestValues: a value's keys are decoded, with their defaults.
func TestValues(t *testing.T) {
	src := `version: 1
name: detector
streams: [{name: impressions, subscribe: [impressions], value: com.example.ads.Impression}]
values:
  - {name: model}
  - {name: blocked, interval: 1h, maxAge: 3h, onStale: continue}
`
	s, err := Parse("s.yaml", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Values) != 2 {
		t.Fatalf("%d values", len(s.Values))
	}
	m, b := s.Values[0], s.Values[1]
	if m.Name != "model" || m.Interval != 5*time.Minute || m.MaxAge != 0 || m.OnStale != "fail" || m.Pos.Line != 5 {
		t.Errorf("defaults: %+v", m)
	}
	if b.Name != "blocked" || b.Interval != time.Hour || b.MaxAge != 3*time.Hour || b.OnStale != "continue" {
		t.Errorf("set: %+v", b)
	}
}

// TestBlobSink: a blob sink spec takes its url, format and Hive levels,
// and with exactly-once its offsets are the sink's (offsets.store blob).
func TestBlobSink(t *testing.T) {
	src := `version: 1
name: etl
streams:
  - name: impressions
    subscribe: [impressions]
    value: com.example.ads.Impression
semantics: exactly-once
sink: {type: blob, url: "s3://warehouse?region=eu-west-1", format: parquet, partitionBy: ["timestamp:hour", geo.country]}
`
	s, err := Parse("streamgen.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	j := s.Job
	if j.SinkType != config.SinkBlob || j.OffsetsStore != config.StoreBlob || j.SinkURL != "s3://warehouse?region=eu-west-1" ||
		j.SinkFormat != "parquet" || !reflect.DeepEqual(j.SinkPartitionBy, []string{"timestamp:hour", "geo.country"}) {
		t.Errorf("job %+v: want the blob sink's settings and offsets.store blob", j)
	}
}
