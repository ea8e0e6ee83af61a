package spec

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/streamgen/streamgen/runtime/config"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	const url = "streamgen.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return sch
}

// validateYAML validates a YAML spec against the JSON Schema.
func validateYAML(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("YAMLToJSON: %v", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatalf("unmarshal %s: %v", js, err)
	}
	return sch.Validate(v)
}

// TestJSONSchemaAcceptsSamples validates every sample spec in the
// repository, plus this package's valid testdata, against the schema; each
// must also pass Parse, so the two stay in step.
func TestJSONSchemaAcceptsSamples(t *testing.T) {
	sch := compileSchema(t)
	var files []string
	for _, pat := range []string{
		"testdata/valid/*.yaml",
		"../../examples/*/streamgen.yaml",
		"../../templates/*/streamgen.yaml",
		"../../generated_test/cases/*/streamgen.yaml",
	} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 2 {
		t.Fatalf("found only %d sample specs; testdata/valid is missing", len(files))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateYAML(t, sch, data); err != nil {
				t.Errorf("schema rejects %s: %v", f, err)
			}
			// Samples elsewhere in the tree may use variables the test
			// environment lacks; give every generation-time one a value.
			lookup := func(string) (string, bool) { return "http://localhost:8081", true }
			if _, err := Parse(f, data, lookup); err != nil {
				t.Errorf("Parse rejects %s:\n%v", f, err)
			}
		})
	}
}

func TestJSONSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	const head = "version: 1\nname: etl\n"
	const stream = "streams: [{name: s, subscribe: [t], value: a.B}]\n"
	tests := map[string]string{
		"unknown top-level key": head + stream + "frobnicate: 1\n",
		"unknown stream key":    head + "streams: [{name: s, subcribe: [t], value: a.B}]\n",
		"wrong version":         "version: 2\nname: etl\n" + stream,
		"missing name":          "version: 1\n" + stream,
		"no streams":            head + "streams: []\n",
		"two strategies":        head + "streams: [{name: s, subscribe: [t], pattern: x, value: a.B}]\n",
		"no strategy":           head + "streams: [{name: s, value: a.B}]\n",
		"bad enum":              head + stream + "semantics: exactly-onc\n",
		"string for integer":    head + stream + "workers: many\n",
		"map for list":          head + "streams: [{name: s, subscribe: {t: 1}, value: a.B}]\n",
		"bad duration":          head + stream + "batch: {interval: 5}\n",
		"negative rate":         head + stream + "batch: {maxRatePerPartition: -1}\n",
		"bad job name":          "version: 1\nname: Bad Name\n" + stream,
		"bad sasl mechanism":    head + stream + "kafka: {sasl: {mechanism: GSSAPI}}\n",
		"bad subject version":   head + stream + "schemas: {registry: {url: x, subjects: [a@0]}}\n",
		"keyword package":       head + stream + "package: func\n",
		"bad startFrom":         head + stream + "kafka: {startFrom: beginning}\n",
	}
	for name, y := range tests {
		t.Run(name, func(t *testing.T) {
			if err := validateYAML(t, sch, []byte(y)); err == nil {
				t.Errorf("schema accepts:\n%s", y)
			}
		})
	}
	// Runtime values holding references are strings, and accepted.
	ok := head + stream + `kafka:
  brokers: ["${KAFKA_BROKERS:-localhost:9092}"]
  group: "${GROUP}"
  sasl: {mechanism: "${SASL_MECHANISM}", username: "${U}", password: "${P}"}
sink: {type: postgres, dsn: "${PG_DSN}", table: "${TABLE}"}
status: {addr: "${STATUS_ADDR:-:8080}"}
schemas: {files: ["${SCHEMA_DIR:-.}/*.avsc"], registry: {url: "${SR}", subjects: ["${SUBJECT}"]}}
`
	if err := validateYAML(t, sch, []byte(ok)); err != nil {
		t.Errorf("schema rejects references: %v", err)
	}
}

// TestJSONSchemaRejectsErrorCases checks the error cases that are about a
// single value's shape, which the schema can see too.
func TestJSONSchemaRejectsErrorCases(t *testing.T) {
	sch := compileSchema(t)
	for _, name := range []string{"unknown_key", "wrong_type", "bad_enum", "missing_required", "bad_duration", "many_errors", "empty"} {
		data, err := os.ReadFile(filepath.Join("testdata", "errors", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := validateYAML(t, sch, data); err == nil {
			t.Errorf("schema accepts testdata/errors/%s.yaml", name)
		}
	}
	// A stream's value is a record, for the schema as for Parse.
	primitive := []byte("version: 1\nname: etl\nstreams: [{name: s, subscribe: [t], value: string}]\n")
	if err := validateYAML(t, sch, primitive); err == nil {
		t.Error("schema accepts value: string")
	}
	if _, err := Parse("s.yaml", primitive, testEnv); err == nil || !strings.Contains(err.Error(), "a stream's value must be an Avro record") {
		t.Errorf("Parse of value: string: %v", err)
	}
	if !strings.Contains(string(JSONSchema), "2020-12") {
		t.Error("schema does not declare draft 2020-12")
	}
}

// TestJSONSchemaIsTheSettingsTable: the properties of the job's settings
// in streamgen.schema.json (type, default, enum, description) are the
// ones config.Settings gives them. Editors fetch the file, so it is
// committed; -update rewrites it from the table.
func TestJSONSchemaIsTheSettingsTable(t *testing.T) {
	want, err := SchemaWithSettings(JSONSchema, config.Settings())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("streamgen.schema.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(JSONSchema, want) {
		t.Errorf("streamgen.schema.json is not the settings table's; run go test ./gen/spec -run JSONSchemaIsTheSettingsTable -update, and review the diff:\n%s", firstDiff(string(JSONSchema), string(want)))
	}
}

// firstDiff is the first line where got and want differ, with their
// line number.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got %s\nwant %s", i+1, gl, wl)
		}
	}
	return ""
}
