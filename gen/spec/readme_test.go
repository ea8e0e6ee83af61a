package spec

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/streamgen/streamgen/runtime/config"
)

// readmeBlock returns the fenced block that follows marker in the
// repository's README.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), marker)
	if !ok {
		t.Fatalf("README.md lacks %q", marker)
	}
	_, body, ok := strings.Cut(after, "```yaml\n")
	if !ok {
		t.Fatalf("no yaml block after %q", marker)
	}
	body, _, ok = strings.Cut(body, "```")
	if !ok {
		t.Fatal("unterminated block")
	}
	return body
}

// TestReadmeReferenceSpec: the README's reference spec ("every key, with
// its default") is a valid spec as a user copies it, with no environment
// variable set, for Parse and for the JSON Schema alike, and it does list
// every key the JSON Schema knows.
func TestReadmeReferenceSpec(t *testing.T) {
	block := readmeBlock(t, "<!-- reference spec: gen/spec/readme_test.go parses this block -->")
	nothingSet := func(string) (string, bool) { return "", false }
	s, err := Parse("README.md", []byte(block), nothingSet)
	if err != nil {
		t.Fatalf("the README's reference spec does not parse:\n%v", err)
	}
	if j := s.Job; j.SinkType != config.SinkNone || j.SinkTable != "" || j.DeadLetterTopic != "" || j.LocationFixed != nil {
		t.Errorf("empty values are not the defaults: sink %v, table %q, deadLetterTopic %q, location.fixed %v", j.SinkType, j.SinkTable, j.DeadLetterTopic, j.LocationFixed)
	}
	if r := s.Schemas.Registry; r == nil || r.URLText != "${SCHEMA_REGISTRY_URL}" || len(r.Unset) != 3 {
		t.Errorf("registry settings whose variables are unset are kept for when the registry is contacted: %+v", r)
	}
	if err := validateYAML(t, compileSchema(t), []byte(block)); err != nil {
		t.Errorf("the JSON Schema rejects the README's reference spec: %v", err)
	}

	var doc any
	if err := json.Unmarshal(JSONSchema, &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(any)
	walk = func(n any) {
		switch n := n.(type) {
		case map[string]any:
			if props, ok := n["properties"].(map[string]any); ok {
				for k := range props {
					keys = append(keys, k)
				}
			}
			for _, v := range n {
				walk(v)
			}
		case []any:
			for _, v := range n {
				walk(v)
			}
		}
	}
	walk(doc)
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if !regexp.MustCompile(`(^|[\s{,])` + regexp.QuoteMeta(k) + `:`).MatchString(block) {
			t.Errorf("the README's reference spec does not show key %q", k)
		}
	}
}

// TestEmptyOptionalValuesAreDefaults: writing an optional key's default,
// "" or {}, is the same as leaving the key out.
func TestEmptyOptionalValuesAreDefaults(t *testing.T) {
	const head = "version: 1\nname: etl\nstreams: [{name: s, subscribe: [t], value: a.B}]\n"
	for _, tail := range []string{
		`sink: {type: files, dir: out, dsn: "", table: "", topic: ""}` + "\n" + `deadLetterTopic: ""`,
		`offsets: {store: files, dir: out, dsn: ""}` + "\n" + `location: {strategy: brokers, fixed: {}}`,
	} {
		if _, err := Parse("s.yaml", []byte(head+tail+"\n"), testEnv); err != nil {
			t.Errorf("%s:\n%v", tail, err)
		}
	}
	// Empty is not a value where one is required.
	_, err := Parse("s.yaml", []byte(head+"sink: {type: postgres, dsn: db, table: \"\"}\n"), testEnv)
	if err == nil || !strings.Contains(err.Error(), `sink.type: "postgres" needs sink.table`) {
		t.Errorf("postgres sink with an empty table: %v", err)
	}
}

// TestStatusAddrEmptyIsOff: status.addr "" is not the default but a value,
// the status server off, as the job's --status-addr "" is.
func TestStatusAddrEmptyIsOff(t *testing.T) {
	const head = "version: 1\nname: etl\nstreams: [{name: s, subscribe: [t], value: a.B}]\n"
	s, err := Parse("s.yaml", []byte(head+"status: {addr: \"\"}\n"), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if s.Job.StatusAddr != "" {
		t.Errorf("status.addr \"\" parsed as %q", s.Job.StatusAddr)
	}
	if _, err := Parse("s.yaml", []byte(head+"status: {addr: \"nope\"}\n"), testEnv); err == nil || !strings.Contains(err.Error(), "status.addr") {
		t.Errorf("status.addr nope: %v", err)
	}
}
