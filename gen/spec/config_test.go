package spec

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamgen/streamgen/runtime/config"
)

// setting ties a spec key to its config.Job field.
type setting struct {
	path string
	get  func(config.Job) any
}

// settings are the spec keys with a default, each with its field of
// config.Job. TestConfigAgreement fails when the JSON Schema gives a
// default to a key missing here, so the list cannot fall behind.
var settings = []setting{
	{"kafka.brokers", func(j config.Job) any { return j.Brokers }},
	{"kafka.startFrom", func(j config.Job) any { return j.StartFrom }},
	{"kafka.resetTo", func(j config.Job) any { return j.ResetTo }},
	{"kafka.isolation", func(j config.Job) any { return j.Isolation }},
	{"kafka.sessionTimeout", func(j config.Job) any { return j.SessionTimeout }},
	{"kafka.outageLimit", func(j config.Job) any { return j.OutageLimit }},
	{"kafka.tls.enabled", func(j config.Job) any { return j.TLS }},
	{"kafka.tls.insecureSkipVerify", func(j config.Job) any { return j.TLSInsecureSkipVerify }},
	{"kafka.sasl.mechanism", func(j config.Job) any { return j.SASLMechanism }},
	{"batch.interval", func(j config.Job) any { return j.BatchInterval }},
	{"batch.maxRatePerPartition", func(j config.Job) any { return j.MaxRatePerPartition }},
	{"batch.minRatePerPartition", func(j config.Job) any { return j.MinRatePerPartition }},
	{"batch.backpressure.enabled", func(j config.Job) any { return j.Backpressure }},
	{"batch.backpressure.initialRate", func(j config.Job) any { return j.BackpressureInitialRate }},
	{"batch.backpressure.proportional", func(j config.Job) any { return j.BackpressureProportional }},
	{"batch.backpressure.integral", func(j config.Job) any { return j.BackpressureIntegral }},
	{"batch.backpressure.derived", func(j config.Job) any { return j.BackpressureDerived }},
	{"batch.backpressure.minRate", func(j config.Job) any { return j.BackpressureMinRate }},
	{"location.strategy", func(j config.Job) any { return j.Location }},
	{"workers", func(j config.Job) any { return j.Workers }},
	{"semantics", func(j config.Job) any { return j.Semantics }},
	{"offsets.store", func(j config.Job) any { return j.OffsetsStore }},
	{"offsets.table", func(j config.Job) any { return j.OffsetsTable }},
	{"sink.type", func(j config.Job) any { return j.SinkType }},
	{"retries.maxFailures", func(j config.Job) any { return j.MaxFailures }},
	{"retries.backoff", func(j config.Job) any { return j.RetryBackoff }},
	{"onDecodeError", func(j config.Job) any { return j.OnDecodeError }},
	{"shutdown.timeout", func(j config.Job) any { return j.ShutdownTimeout }},
	{"status.addr", func(j config.Job) any { return j.StatusAddr }},
}

// schemaProps walks the JSON Schema's properties (streams excluded) and
// returns each key's node by dotted path.
func schemaProps(t *testing.T) map[string]map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(JSONSchema, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	var walk func(prefix string, n map[string]any)
	walk = func(prefix string, n map[string]any) {
		props, _ := n["properties"].(map[string]any)
		for k, v := range props {
			node := v.(map[string]any)
			out[prefix+k] = node
			walk(prefix+k+".", node)
		}
	}
	walk("", doc)
	return out
}

// asSchemaValue is how a config value is written in the spec (and so in
// the JSON Schema's default): words for enums, Go durations, JSON numbers.
func asSchemaValue(t *testing.T, v any) any {
	t.Helper()
	switch v := v.(type) {
	case encoding.TextMarshaler:
		b, err := v.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	case time.Duration:
		return v.String()
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case []string:
		out := make([]any, len(v))
		for i, s := range v {
			out[i] = s
		}
		return out
	}
	return v
}

// TestConfigAgreement: the spec loader, the JSON Schema and the README's
// reference spec agree with runtime/config, the one definition of the
// job's configuration: the same words for every enum, the same default
// for every key.
func TestConfigAgreement(t *testing.T) {
	def := config.Default()
	props := schemaProps(t)

	// Defaults: the JSON Schema's, and the spec loader's.
	known := map[string]bool{}
	for _, s := range settings {
		known[s.path] = true
		node, ok := props[s.path]
		if !ok {
			t.Errorf("the JSON Schema has no key %s", s.path)
			continue
		}
		got, ok := node["default"]
		if !ok {
			t.Errorf("the JSON Schema gives %s no default; config.Default has %v", s.path, s.get(def))
			continue
		}
		if want := asSchemaValue(t, s.get(def)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the JSON Schema's default is %v, config.Default's %v", s.path, got, want)
		}
	}
	for path, node := range props {
		if _, ok := node["default"]; ok && !known[path] {
			t.Errorf("the JSON Schema gives %s a default, but this test does not know its config.Job field", path)
		}
	}
	const minimal = "version: 1\nname: etl\nstreams: [{name: s, subscribe: [t], value: a.B}]\n"
	s, err := Parse("s.yaml", []byte(minimal), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	job := s.Job
	if job.Group != "etl" {
		t.Errorf("group = %q, want the job name", job.Group)
	}
	job.Group = ""
	if !reflect.DeepEqual(job, def) {
		t.Errorf("a spec that sets nothing is not config.Default:\n got %+v\nwant %+v", job, def)
	}

	// The README's reference spec writes every default out, beside a
	// few example values; the rest must be config.Default's.
	readme, err := Parse("README.md", []byte(readmeBlock(t, "<!-- reference spec: gen/spec/readme_test.go parses this block -->")), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	job = readme.Job
	job.Brokers, job.Group, job.RegistryURL = def.Brokers, def.Group, def.RegistryURL
	if !reflect.DeepEqual(job, def) {
		t.Errorf("the README's reference spec shows other defaults than config.Default:\n got %+v\nwant %+v", job, def)
	}

	// Enums: the words config accepts are the JSON Schema's enum and the
	// spec loader's, and the loader names them all on a wrong one.
	for _, e := range []struct {
		path  string
		names []string
	}{
		{"semantics", def.Semantics.Names()}, {"kafka.resetTo", def.ResetTo.Names()}, {"kafka.isolation", def.Isolation.Names()},
		{"location.strategy", def.Location.Names()}, {"onDecodeError", def.OnDecodeError.Names()},
		{"offsets.store", def.OffsetsStore.Names()}, {"sink.type", def.SinkType.Names()},
	} {
		var schemaEnum []string
		for _, v := range props[e.path]["enum"].([]any) {
			schemaEnum = append(schemaEnum, v.(string))
		}
		if !reflect.DeepEqual(sortedCopy(schemaEnum), sortedCopy(e.names)) {
			t.Errorf("%s: the JSON Schema's enum is %v, config's %v", e.path, schemaEnum, e.names)
		}
		for _, n := range e.names {
			if _, err := Parse("s.yaml", []byte(minimal+keyYAML(e.path, n)), testEnv); err != nil && strings.Contains(err.Error(), "invalid value") {
				t.Errorf("%s: the spec loader rejects %q: %v", e.path, n, err)
			}
		}
		_, err := Parse("s.yaml", []byte(minimal+keyYAML(e.path, "bogus")), testEnv)
		if want := fmt.Sprintf("%s: invalid value \"bogus\"; want %s", e.path, config.OrList(e.names)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: the spec loader says %v, want %q", e.path, err, want)
		}
	}
	// kafka.startFrom is a pattern in the schema: its words are there.
	pattern := props["kafka.startFrom"]["pattern"].(string)
	for _, w := range startWords {
		if !strings.Contains(pattern, w) {
			t.Errorf("the JSON Schema's kafka.startFrom pattern %s lacks %q", pattern, w)
		}
	}
}

func sortedCopy(xs []string) []string { return slices.Sorted(slices.Values(xs)) }

// keyYAML writes a dotted key as nested flow mappings: a.b: v → a: {b: v}.
func keyYAML(path, v string) string {
	parts := strings.Split(path, ".")
	out := fmt.Sprintf("%q", v)
	for i := len(parts) - 1; i > 0; i-- {
		out = "{" + parts[i] + ": " + out + "}"
	}
	return parts[0] + ": " + out + "\n"
}

// TestUnsupportedIsPositioned: a setting the runtime cannot run is
// reported where the file writes it; settings it can run are not.
func TestUnsupportedIsPositioned(t *testing.T) {
	const head = "version: 1\nname: etl\nstreams: [{name: s, subscribe: [t], value: a.B}]\n"
	for tail, want := range map[string]string{
		"offsets: {store: postgres, dsn: db}\n":                                  "",
		"semantics: exactly-once\nsink: {type: files, dir: out}\n":               "",
		"sink: {type: kafka, topic: out}\n":                                      "",
		"offsets: {store: postgres, dsn: db}\nsink: {type: kafka, topic: out}\n": `s.yaml:4:18: offsets.store: "postgres": the kafka sink commits the offsets itself`,
		"semantics: at-most-once\n":                                              "",
		"offsets: {store: kafka}\nsink: {type: none}\n":                          "",
	} {
		s, err := Parse("s.yaml", []byte(head+tail), testEnv)
		if err != nil {
			t.Fatalf("%s: %v", tail, err)
		}
		err = s.Unsupported()
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", tail, err)
		case want != "" && (err == nil || !strings.HasPrefix(err.Error(), want)):
			t.Errorf("%s: %v, want %s", tail, err, want)
		}
	}
}

// TestJobMapsEverySetting: Spec.Job carries every setting a spec can
// write. testdata/valid/full.yaml writes nearly all of them, each away
// from its default; the fields it leaves alone are listed.
func TestJobMapsEverySetting(t *testing.T) {
	s, err := parseFile(t, "testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	unset := map[string]bool{
		// Generation-time credentials never reach the job.
		"RegistryUsername": true, "RegistryPassword": true, "RegistryToken": true,
		// Not written in full.yaml, or written as the default.
		"RegistryCA": true, "RegistryCert": true, "RegistryKey": true, "RegistryInsecureSkipVerify": true,
		"TLSInsecureSkipVerify": true, "OffsetsDir": true, "SinkDir": true, "SinkTopic": true, "SinkTransactionalID": true,
	}
	job, def := reflect.ValueOf(s.Job), reflect.ValueOf(config.Default())
	for i := range job.NumField() {
		name := job.Type().Field(i).Name
		same := reflect.DeepEqual(job.Field(i).Interface(), def.Field(i).Interface())
		if same != unset[name] {
			t.Errorf("%s: %v (default %v): Spec.Job does not carry what full.yaml writes, or the list of unset fields is stale", name, job.Field(i), def.Field(i))
		}
	}
}
