package spec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/streamgen/streamgen/runtime/config"
)

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

// TestConfigAgreement: the spec loader and the README's reference spec
// agree with config.Settings, the one definition of the job's settings:
// a spec that sets nothing is its defaults, the README's shows them, and
// the loader takes every word of every enum and names them all on a
// wrong one. (The JSON Schema's keywords are written from the table:
// TestJSONSchemaIsTheSettingsTable.)
func TestConfigAgreement(t *testing.T) {
	def := config.Default()
	props := schemaProps(t)
	// Every default the JSON Schema states is a setting's.
	known := map[string]bool{}
	for _, s := range config.Settings() {
		known[s.Key] = true
	}
	for path, node := range props {
		if _, ok := node["default"]; ok && !known[path] {
			t.Errorf("the JSON Schema gives %s a default, but config.Settings has no such setting", path)
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
	for _, set := range config.Settings() {
		if _, isEnum := set.Value(&def).(enumValue); !isEnum {
			continue
		}
		e := struct {
			path  string
			names []string
		}{set.Key, set.EnumWords()}
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
		"SinkURL": true, "SinkFormat": true, "SinkPartitionBy": true,
		"SinkRollMaxRecords": true, "SinkRollMaxBytes": true, "SinkRollMaxOpen": true, "SinkRollLateness": true, "SinkRollMaxOpenFiles": true,
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

// TestEverySettingIsASpecKey: the spec takes every key of config.Settings
// but the NotInSpec ones, written as its default. decodeSchemas decodes
// the keys under schemas itself, so a setting added there is caught here
// if it is forgotten.
func TestEverySettingIsASpecKey(t *testing.T) {
	const minimal = "version: 1\nname: etl\nstreams: [{name: s, subscribe: [t], value: a.B}]\n"
	for _, s := range config.Settings() {
		if s.NotInSpec {
			continue
		}
		v, err := json.Marshal(specValue(s.DefaultValue()))
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(s.Key, ".")
		y := string(v)
		for i := len(parts) - 1; i > 0; i-- {
			y = "{" + parts[i] + ": " + y + "}"
		}
		_, err = Parse("s.yaml", []byte(minimal+parts[0]+": "+y+"\n"), testEnv)
		if err != nil && strings.Contains(err.Error(), "unknown key") {
			t.Errorf("%s is no key of the spec: %v", s.Key, err)
		}
	}
}
