package runtime

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/runtime/config"
)

// probeInterval is the value of the setting TestOneEntryAddsASetting adds:
// a test cannot add a field to config.Job, so its entry's Value points
// here.
var probeInterval time.Duration

// TestOneEntryAddsASetting: one entry appended to config.Settings is a
// spec key with its default and checks, a property of the JSON Schema, a
// flag and an environment variable over the spec's value, a line of
// --help and a row of the README's table: nothing else is to be written
// for a setting but the config.Job field it fills.
func TestOneEntryAddsASetting(t *testing.T) {
	probe := config.Setting{
		Key:      "batch.probeInterval",
		Value:    func(*config.Job) any { return &probeInterval },
		Default:  7 * time.Second,
		Help:     "time between two probes of the sink",
		Positive: true,
	}
	table := append(config.Settings(), probe)
	const minimal = "version: 1\nname: anomaly-detector\nstreams: [{name: s, subscribe: [t], value: a.B}]\n"
	noEnv := func(string) (string, bool) { return "", false }

	// The spec: its default, its value, its checks, its suggestion.
	probeInterval = 0
	if _, err := spec.ParseWithSettings("s.yaml", []byte(minimal), noEnv, table); err != nil || probeInterval != 7*time.Second {
		t.Fatalf("a spec without the key: %v, value %v, want the default 7s", err, probeInterval)
	}
	if _, err := spec.ParseWithSettings("s.yaml", []byte(minimal+"batch: {probeInterval: 3s}\n"), noEnv, table); err != nil || probeInterval != 3*time.Second {
		t.Fatalf("batch.probeInterval: 3s: %v, value %v", err, probeInterval)
	}
	for tail, want := range map[string]string{
		"batch: {probeInterval: 0s}\n": "s.yaml:4:24: batch.probeInterval: must be > 0, got 0s",
		"batch: {probeIntervl: 3s}\n":  `s.yaml:4:9: unknown key "probeIntervl" in batch (did you mean "probeInterval"?)`,
	} {
		_, err := spec.ParseWithSettings("s.yaml", []byte(minimal+tail), noEnv, table)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %s", strings.TrimSpace(tail), err, want)
		}
	}
	if _, err := spec.Parse("s.yaml", []byte(minimal+"batch: {probeInterval: 3s}\n"), noEnv); err == nil {
		t.Error("the key is accepted without its entry")
	}

	// The JSON Schema.
	schema, err := spec.SchemaWithSettings(spec.JSONSchema, table)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties map[string]struct {
			Properties map[string]map[string]any
		}
	}
	if err := json.Unmarshal(schema, &doc); err != nil {
		t.Fatal(err)
	}
	node := doc.Properties["batch"].Properties["probeInterval"]
	if node["default"] != "7s" || node["$ref"] != "#/$defs/duration" || node["description"] != probe.Help {
		t.Errorf("the JSON Schema's batch.probeInterval is %v", node)
	}

	// The flag and the variable, over the spec's value; --help.
	defer func(s []setting) { settings = s }(settings)
	settings = runtimeSettings(table)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want time.Duration
	}{
		{nil, nil, 3 * time.Second},
		{nil, map[string]string{"ANOMALY_DETECTOR_BATCH_PROBE_INTERVAL": "11s"}, 11 * time.Second},
		{[]string{"--batch-probe-interval", "9s"}, map[string]string{"ANOMALY_DETECTOR_BATCH_PROBE_INTERVAL": "11s"}, 9 * time.Second},
	} {
		probeInterval = 3 * time.Second // the spec's
		if _, code, out := mainConfig(t, specConfig(), tc.args, tc.env); code != 0 || probeInterval != tc.want {
			t.Errorf("%v %v: exit %d, value %v, want %v:\n%s", tc.args, tc.env, code, probeInterval, tc.want, out)
		}
	}
	if _, code, out := mainConfig(t, specConfig(), []string{"--batch-probe-interval", "0s"}, nil); code != 2 || !strings.Contains(out, `invalid flag --batch-probe-interval (env ANOMALY_DETECTOR_BATCH_PROBE_INTERVAL, spec key batch.probeInterval): "0s" is not positive`) {
		t.Errorf("--batch-probe-interval 0s: exit %d:\n%s", code, out)
	}
	probeInterval = 7 * time.Second
	_, _, help := mainConfig(t, specConfig(), []string{"--help"}, nil)
	for _, w := range []string{"--batch-probe-interval duration", probe.Help + " (default 7s)", "env ANOMALY_DETECTOR_BATCH_PROBE_INTERVAL, spec key batch.probeInterval"} {
		if !strings.Contains(help, w) {
			t.Errorf("--help lacks %q:\n%s", w, help)
		}
	}
	// The README's table.
	var readme strings.Builder
	writeSettingsTable(&readme, "anomaly-detector", table)
	if row := "| `--batch-probe-interval` | `ANOMALY_DETECTOR_BATCH_PROBE_INTERVAL` | `batch.probeInterval` | duration | `7s` | " + probe.Help + " |"; !strings.Contains(readme.String(), row) {
		t.Errorf("the README's table lacks %s:\n%s", row, readme.String())
	}
}
