package templates

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/config"
)

// runtimeVariables are the environment variables a generated job named
// job reads, as its --help lists them: the runtime's own names.
func runtimeVariables(t *testing.T, job string) []string {
	t.Helper()
	cfg := runtime.DefaultJobConfig()
	var help bytes.Buffer
	if code := runtime.RunMain(context.Background(), job, &cfg, []string{"--help"}, &help, nil); code != 0 {
		t.Fatalf("%s --help: exit %d\n%s", job, code, help.String())
	}
	var vars []string
	for _, m := range regexp.MustCompile(`(?m)^\s+env (\w+), `).FindAllStringSubmatch(help.String(), -1) {
		vars = append(vars, m[1])
	}
	if len(vars) < 40 {
		t.Fatalf("%s --help lists %d variables:\n%s", job, len(vars), help.String())
	}
	return vars
}

var reference = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// checkSpecVariables checks that each ${VAR} of the spec is the runtime's
// variable of the key it is the value of (config.EnvName), and one that
// the job's --help lists.
func checkSpecVariables(t *testing.T, file string, spec []byte) (job string) {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	job, _ = doc["name"].(string)
	vars := runtimeVariables(t, job)
	n := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(strings.TrimPrefix(path+"."+k, "."), e)
			}
		case []any:
			for _, e := range v {
				walk(path, e)
			}
		case string:
			for _, m := range reference.FindAllStringSubmatch(v, -1) {
				n++
				if want := config.EnvName(job, path); m[1] != want {
					t.Errorf("%s: %s reads ${%s}; the job's own variable of %s is %s (--%s)", file, path, m[1], path, want, config.FlagName(path))
				}
				if !slices.Contains(vars, m[1]) {
					t.Errorf("%s: %s reads ${%s}, which is not among the variables %s --help lists", file, path, m[1], job)
				}
			}
		}
	}
	walk("", doc)
	if n == 0 && strings.Contains(string(spec), "${") {
		t.Errorf("%s: found none of its ${...} references", file)
	}
	return job
}

// TestSpecVariablesAreTheRuntimes: every ${VAR} in the templates' and the
// examples' specs is the variable the running job itself reads for that
// setting (its EnvPrefix and the flag's name), and every variable of the
// job's that a template's manifest sets is one the job reads; so one name
// works in the spec, the manifest, --help and the README. A variable of
// another name would be read by the spec alone: the flag's variable
// would not override it, and a typo in it would leave the job on the
// spec's default (a second warehouse in another directory).
func TestSpecVariablesAreTheRuntimes(t *testing.T) {
	for _, tmpl := range List {
		t.Run(tmpl.Name, func(t *testing.T) {
			v := Vars{Job: tmpl.Name, Module: "example.com/" + tmpl.Name, Package: strings.ReplaceAll(tmpl.Name, "-", ""), Version: "v0.0.0"}
			files, err := Render(tmpl.Name, v)
			if err != nil {
				t.Fatal(err)
			}
			vars := runtimeVariables(t, tmpl.Name)
			// The job's own settings (runtime.Setting) are read as the
			// runtime's are, but only the job's binary has them.
			for _, f := range files {
				if strings.HasSuffix(f.Path, ".go") {
					for _, m := range regexp.MustCompile(`runtime\.Setting\("([^"]+)"`).FindAllStringSubmatch(string(f.Data), -1) {
						vars = append(vars, config.EnvName(tmpl.Name, m[1]))
					}
				}
			}
			// So are the settings the generated code declares of each value
			// of the spec (values.NAME.interval and values.NAME.maxAge).
			for _, f := range files {
				if f.Path == "streamgen.yaml" {
					for _, name := range specValues(f.Data) {
						vars = append(vars, config.EnvName(tmpl.Name, "values."+name+".interval"), config.EnvName(tmpl.Name, "values."+name+".maxAge"))
					}
				}
			}
			for _, f := range files {
				switch {
				case f.Path == "streamgen.yaml":
					checkSpecVariables(t, tmpl.Name+"/"+f.Path, f.Data)
				case strings.HasPrefix(f.Path, "deploy/"):
					for _, m := range regexp.MustCompile(`(?m)^\s*- name: (`+v.EnvPrefix()+`_\w+)$`).FindAllStringSubmatch(string(f.Data), -1) {
						if !slices.Contains(vars, m[1]) {
							t.Errorf("%s/%s sets %s, which the job does not read (its --help lists no such variable)", tmpl.Name, f.Path, m[1])
						}
					}
				}
			}
		})
	}
	specs, err := filepath.Glob("../examples/*/streamgen.yaml")
	if err != nil || len(specs) == 0 {
		t.Fatalf("no example specs: %v", err)
	}
	for _, p := range specs {
		t.Run(filepath.Base(filepath.Dir(p)), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			checkSpecVariables(t, filepath.ToSlash(p), data)
		})
	}
}

// specValues is the names of the values a spec declares (values:).
func specValues(spec []byte) []string {
	block := regexp.MustCompile(`(?m)^values:\n((?:[ #].*\n|\n)*)`).FindSubmatch(spec)
	if block == nil {
		return nil
	}
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s*- name: (\w+)`).FindAllSubmatch(block[1], -1) {
		names = append(names, string(m[1]))
	}
	return names
}
