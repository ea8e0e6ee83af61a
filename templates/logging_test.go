package templates

import (
	"regexp"
	"strings"
	"testing"
)

// TestTemplatesLogThroughTheJobsLogger: a template's program writes
// nothing of its own to standard output and makes no logger of its own:
// Main makes the job's logger slog's default (its format, its level, the
// job's name on every line, standard error), and a second logger would
// put lines of another format on another stream beside it.
func TestTemplatesLogThroughTheJobsLogger(t *testing.T) {
	own := regexp.MustCompile(`os\.Stdout|fmt\.Print|slog\.New\(|log\.New\(|slog\.SetDefault`)
	for _, tmpl := range List {
		files, err := Render(tmpl.Name, Vars{Job: tmpl.Name, Module: "example.com/" + tmpl.Name, Package: strings.ReplaceAll(tmpl.Name, "-", ""), Version: "v0.0.0"})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if !strings.HasSuffix(f.Path, ".go") || strings.HasSuffix(f.Path, "_test.go") {
				continue
			}
			for i, line := range strings.Split(string(f.Data), "\n") {
				if m := own.FindString(line); m != "" {
					t.Errorf("%s/%s:%d uses %s; log with slog's default logger (the job's) instead:\n%s", tmpl.Name, f.Path, i+1, m, line)
				}
			}
		}
	}
}
