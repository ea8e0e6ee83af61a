package runtime

import (
	"context"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/streamgen/streamgen/runtime/config"
)

// TestUnknownFlagSuggestsTheFlag: a misspelled flag is named with two
// dashes, with the flag it may be a misspelling of, exit code 2.
func TestUnknownFlagSuggestsTheFlag(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"--brokrs=a:1", "anomaly-detector: unknown flag --brokrs (did you mean --brokers?)"},
		{"-batch-intervall=1s", "unknown flag --batch-intervall (did you mean --batch-interval?)"},
		{"--on-decode-eror=skip", "(did you mean --on-decode-error?)"},
		{"--zzz=1", "anomaly-detector: unknown flag --zzz\n"},
	} {
		_, code, out := mainConfig(t, specConfig(), []string{tc.arg}, nil)
		if code != 2 || !strings.Contains(out, tc.want) || !strings.Contains(out, "--help for the list of settings") {
			t.Errorf("%s: exit %d, output\n%s\nwant exit 2 and %q", tc.arg, code, out, tc.want)
		}
	}
}

// goField matches the name of a config.Job field in a message.
var goField = func() *regexp.Regexp {
	var names []string
	typ := reflect.TypeFor[config.Job]()
	for i := range typ.NumField() {
		names = append(names, typ.Field(i).Name)
	}
	return regexp.MustCompile(`\b(config |JobConfig\.)?(` + strings.Join(names, "|") + `)\b`)
}()

// TestConfigurationErrorsNameSettingsNotFields: every problem a running
// job reports about its configuration names the spec key, the flag and
// the job's variable, never a Go field (DeadLetterTopic, SinkType).
func TestConfigurationErrorsNameSettingsNotFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(c *JobConfig)
		args []string
		want []string
	}{
		{"dead-letter without topic", nil, []string{"--on-decode-error", "dead-letter"},
			[]string{`onDecodeError (--on-decode-error, env ANOMALY_DETECTOR_ON_DECODE_ERROR): "dead-letter" needs the topic`, "--dead-letter-topic or ANOMALY_DETECTOR_DEAD_LETTER_TOPIC (spec key deadLetterTopic)"}},
		{"no broker", func(c *JobConfig) { c.Brokers = nil }, nil, []string{"kafka.brokers: no broker given (set --brokers or ANOMALY_DETECTOR_BROKERS)"}},
		{"bad location key", func(c *JobConfig) {
			c.Location, c.LocationFixed = config.LocationFixed, map[string]string{"t": "w"}
		}, nil, []string{`location.fixed (--location-fixed, env ANOMALY_DETECTOR_LOCATION_FIXED): key "t" is not topic/partition`}},
		{"unset spec variable", func(c *JobConfig) { c.Group = "${NOT_SET_HERE}"; c.ExpandEnv(envOf(nil)) }, nil,
			[]string{"kafka.group (--group, env ANOMALY_DETECTOR_GROUP): environment variable NOT_SET_HERE is not set"}},
		{"postgres sink at-least-once", func(c *JobConfig) {
			c.SinkType, c.SinkDSN, c.SinkTable, c.OffsetsStore = config.SinkPostgres, "postgres://x/y", "t", config.StorePostgres
		}, nil, []string{`sink.type: "postgres" commits each batch's output`}},
		{"token and password", func(c *JobConfig) { c.RegistryToken, c.RegistryPassword = "t", "p" }, nil,
			[]string{"schemas.registry.token (--registry-token, env ANOMALY_DETECTOR_REGISTRY_TOKEN): set either a token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := specConfig()
			if tc.set != nil {
				tc.set(&c)
			}
			_, code, out := mainConfig(t, c, tc.args, nil)
			out = strings.ReplaceAll(out, `\"`, `"`)
			if code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the log lacks %q:\n%s", w, out)
				}
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, "invalid configuration") {
					if m := goField.FindString(line); m != "" {
						t.Errorf("a message names the Go field %q:\n%s", m, line)
					}
				}
			}
		})
	}
}

// TestExactlyOnceSinkLocationHasNoSilentDefault: a files, postgres or
// kafka sink whose location is unset, or a spec ${VAR} without a default
// that is unset, stops the job before it starts, naming the flag, the
// variable and the spec key; the flag or the variable, or a value set in
// code, is enough.
func TestExactlyOnceSinkLocationHasNoSilentDefault(t *testing.T) {
	files := func(dir string) JobConfig {
		c := specConfig()
		c.Semantics, c.SinkType, c.OffsetsStore = config.ExactlyOnce, config.SinkFiles, config.StoreFiles
		c.SinkDir, c.OffsetsDir = dir, dir // the spec's offsets.dir is the sink's
		c.ExpandEnv(envOf(nil))
		return c
	}
	const want = "sink.dir is not set, and the job does not start without it: the files sink's published files are the job's offsets, so another directory would start over from the first offset; set --sink-dir or ANOMALY_DETECTOR_SINK_DIR (spec key sink.dir)"
	for _, c := range []JobConfig{files(""), files("${ANOMALY_DETECTOR_SINK_DIR}")} {
		_, code, out := mainConfig(t, c, nil, nil)
		if code != 1 || strings.Count(out, "invalid configuration") != 1 || !strings.Contains(out, want) {
			t.Errorf("sink.dir %q: exit %d, want 1 and one line %q:\n%s", c.SinkDir, code, want, out)
		}
	}
	for _, step := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--sink-dir", "/data/w"}, nil},
		{nil, map[string]string{"ANOMALY_DETECTOR_SINK_DIR": "/data/w"}},
	} {
		got, code, out := mainConfig(t, files("${ANOMALY_DETECTOR_SINK_DIR}"), step.args, step.env)
		if code != 0 || got.SinkDir != "/data/w" {
			t.Errorf("%v %v: exit %d, sink dir %q:\n%s", step.args, step.env, code, got.SinkDir, out)
		}
	}
	// --help says there is no default.
	if _, code, out := mainConfig(t, files("${ANOMALY_DETECTOR_SINK_DIR}"), []string{"--help"}, nil); code != 0 ||
		!strings.Contains(out, "directory of the files sink (no default: the spec reads ${ANOMALY_DETECTOR_SINK_DIR}, which is not set)") ||
		!strings.Contains(out, "(the sink's: with this sink it is --sink-dir)") {
		t.Errorf("--help: exit %d:\n%s", code, out)
	}
	// In code, as a test sets it after DefaultConfig.
	c := files("${ANOMALY_DETECTOR_SINK_DIR}")
	c.SinkDir, c.OffsetsDir = "/data/w", "/data/w"
	if err := c.Validate(); err != nil {
		t.Errorf("a directory set in code: %v", err)
	}

	for _, tc := range []struct {
		set  func(c *JobConfig)
		want string
	}{
		{func(c *JobConfig) {
			c.Semantics, c.SinkType, c.OffsetsStore, c.SinkTable = config.ExactlyOnce, config.SinkPostgres, config.StorePostgres, "t"
		}, "sink.dsn is not set, and the job does not start without it"},
		{func(c *JobConfig) { c.SinkType = config.SinkKafka }, "sink.topic is not set, and the job does not start without it"},
	} {
		c := NewJobConfig("anomaly-detector")
		c.Brokers, c.BatchInterval = []string{"k:1"}, time.Second
		tc.set(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want %q", err, tc.want)
		}
	}
}

// TestUnreadJobVariablesAreWarnedOf: a variable with the job's prefix
// that neither the job nor its spec reads (a typo, an old name) is logged
// once, with the variable it may be meant as; the job's own and the
// spec's are not.
func TestUnreadJobVariablesAreWarnedOf(t *testing.T) {
	env := map[string]string{"ANOMALY_DETECTOR_BROKRS": "x:1", "ANOMALY_DETECTOR_BROKERS": "b:1", "ANOMALY_DETECTOR_CUSTOM": "g", "OTHER": "1"}
	c := specConfig()
	c.Group = "${ANOMALY_DETECTOR_CUSTOM:-g}"
	c.ExpandEnv(envOf(env))
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	var out strings.Builder
	code := runMainEnv(context.Background(), "anomaly-detector", &c, nil, envOf(env), func() []string { return environ }, &out, false, func(context.Context) error { return nil })
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	if n := strings.Count(out.String(), "environment variable set, but the job reads no variable of that name"); n != 1 ||
		!strings.Contains(out.String(), "var=ANOMALY_DETECTOR_BROKRS did_you_mean=ANOMALY_DETECTOR_BROKERS") {
		t.Errorf("want one warning, of ANOMALY_DETECTOR_BROKRS:\n%s", out.String())
	}
}
