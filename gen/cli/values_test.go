package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValueLoaders: a spec's value needs its loader, LoadNAME, in a file
// of the generated package's own. Without it, or with one of another
// shape, generate fails at the value's line, showing the function to
// write, and writes nothing; with it, the generated Batch holds the
// loader's type and Run loads it.
func TestValueLoaders(t *testing.T) {
	dir := setup(t)
	spec := filepath.Join(dir, "streamgen.yaml")
	write(t, spec, testSpec+"values:\n  - name: model\n    interval: 1h\n")
	pkg := filepath.Join(dir, "clicks")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	generate := func() (int, string) {
		t.Helper()
		code, _, errs := run(t, "generate", "-spec", spec)
		return code, errs
	}

	code, errs := generate()
	for _, want := range []string{spec + `:10:5: value "model": package clicks has no func LoadModel in its own files`, "func LoadModel(ctx context.Context) (Model, error)"} {
		if code != 1 || !strings.Contains(errs, want) {
			t.Errorf("without a loader: exit %d, stderr lacks %q:\n%s", code, want, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(pkg, "streams.go")); !os.IsNotExist(err) {
		t.Error("output written despite errors")
	}

	for src, want := range map[string]string{
		"package clicks\nfunc LoadModel() (int, error) { return 0, nil }\n":                                                               "does not take one context.Context",
		"package clicks\nimport \"context\"\nfunc LoadModel(context.Context) int { return 0 }\n":                                          "does not return a value and an error",
		"package clicks\nimport (\"context\"; \"regexp\")\nfunc LoadModel(context.Context) (*regexp.Regexp, error) { return nil, nil }\n": "returns *regexp.Regexp, a type of another package",
	} {
		write(t, filepath.Join(pkg, "model.go"), src)
		if code, errs := generate(); code != 1 || !strings.Contains(errs, want) || !strings.Contains(errs, "model.go:") {
			t.Errorf("loader %q: exit %d, stderr lacks the file and %q:\n%s", src, code, want, errs)
		}
	}

	write(t, filepath.Join(pkg, "model.go"), "package clicks\n\nimport \"context\"\n\ntype Model struct{ Factor float64 }\n\nfunc LoadModel(ctx context.Context) (*Model, error) { return &Model{}, nil }\n")
	if code, errs := generate(); code != 0 {
		t.Fatalf("with its loader: exit %d:\n%s", code, errs)
	}
	streams, err := os.ReadFile(filepath.Join(pkg, "streams.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\tModel *Model\n",
		`ModelInterval = sgruntime.Setting("values.model.interval", sgtime.Hour,`,
		`ModelMaxAge   = sgruntime.Setting("values.model.maxAge", sgtime.Duration(0),`,
		`modelValue := sgside.NewValue("model", LoadModel, sgside.Interval(*ModelInterval), sgside.MaxAge(*ModelMaxAge))`,
		"Model:  modelValue.Get(),",
	} {
		if !strings.Contains(string(streams), want) {
			t.Errorf("streams.go lacks %q", want)
		}
	}
}
