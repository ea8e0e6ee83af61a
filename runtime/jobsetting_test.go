package runtime

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestJobSettings: a setting the job declares with Setting is read from
// its flag, else its variable under the job's prefix, else its default;
// --help lists it; and its variable is not warned of as unread.
func TestJobSettings(t *testing.T) {
	saved := slices.Clone(settings)
	t.Cleanup(func() { settings = saved })
	file := Setting("model.file", "model.json", "the JSON file of the anomaly model")
	every := Setting("model.reloadInterval", 30*time.Second, "how often the model is loaded again")

	run := func(args []string, env map[string]string) (int, string) {
		*file, *every = "model.json", 30*time.Second
		var stderr bytes.Buffer
		cfg := specConfig()
		code := runMainEnv(context.Background(), "anomaly-detector", &cfg, args,
			func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			func() []string {
				var out []string
				for k, v := range env {
					out = append(out, k+"="+v)
				}
				return out
			}, &stderr, false, func(context.Context) error { return nil })
		return code, stderr.String()
	}

	if code, out := run([]string{"--model-file", "/etc/models/m.json"}, map[string]string{"ANOMALY_DETECTOR_MODEL_FILE": "env.json", "ANOMALY_DETECTOR_MODEL_RELOAD_INTERVAL": "5s"}); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	} else if strings.Contains(out, "reads no variable") {
		t.Errorf("the job's own variables were warned of as unread:\n%s", out)
	}
	if *file != "/etc/models/m.json" || *every != 5*time.Second {
		t.Errorf("model.file %q, model.reloadInterval %v; want the flag's and the variable's", *file, *every)
	}
	if code, out := run(nil, nil); code != 0 || *file != "model.json" || *every != 30*time.Second {
		t.Errorf("without flag or variable: exit %d, %q, %v; want the defaults\n%s", code, *file, *every, out)
	}
	if code, out := run([]string{"--model-reload-interval", "soon"}, nil); code != 2 || !strings.Contains(out, "model-reload-interval") {
		t.Errorf("a bad value: exit %d, %s; want 2 naming the flag", code, out)
	}
	code, out := run([]string{"--help"}, nil)
	for _, want := range []string{"--model-file string", `the JSON file of the anomaly model (default "model.json")`, "env ANOMALY_DETECTOR_MODEL_FILE, setting model.file", "--model-reload-interval duration"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help (exit %d) lacks %q:\n%s", code, want, out)
		}
	}
}

// TestSettingRefusesATakenFlag: a job setting cannot shadow the runtime's.
func TestSettingRefusesATakenFlag(t *testing.T) {
	saved := slices.Clone(settings)
	t.Cleanup(func() { settings = saved })
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "--batch-interval is taken by setting batch.interval") {
			t.Errorf("Setting(batch.interval) recovered %v, want a panic naming the taken flag", r)
		}
	}()
	Setting("batch.interval", time.Second, "")
}
