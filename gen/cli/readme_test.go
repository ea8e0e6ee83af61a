package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/templates"
)

// TestReadmeCheckExampleIsWhatCheckPrints: the finding the README shows
// for streamgen check is one that check prints, word for word: version 1
// of the evolution series registered after version 2, under BACKWARD.
func TestReadmeCheckExampleIsWhatCheckPrints(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), "<!-- check example: gen/cli/check_test.go --> `")
	if !ok {
		t.Fatal("README.md lacks the check example the test marks")
	}
	example, _, _ := strings.Cut(after, "`")

	reg := srfake.New()
	defer reg.Close()
	if _, _, err := reg.RegisterSchema("impressions-value", sr.Schema{Schema: evolution(t, "v2")}); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetCompat("impressions-value", sr.CompatBackward); err != nil {
		t.Fatal(err)
	}
	dir, spec := registryDir(t, reg.URL())
	write(t, filepath.Join(dir, "impression.avsc"), evolution(t, "v1"))
	write(t, spec, strings.Replace(registrySpec, "schemas:\n", "schemas:\n  files: [impression.avsc]\n", 1))
	code, _, errs := run(t, "check", "-spec", spec)
	if code != 1 || !strings.Contains(errs, example+"\n") {
		t.Errorf("check: exit %d, printed:\n%s\nthe README shows:\n%s", code, errs, example)
	}
}

// readmeBlockAfter returns the fenced block (or, for a table, the lines up
// to the next blank line) right after marker in the README.
func readmeBlockAfter(t *testing.T, marker string) string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(data), marker+"\n")
	if !ok {
		t.Fatalf("README.md lacks %q", marker)
	}
	if rest, fenced := strings.CutPrefix(after, "```"); fenced {
		_, body, _ := strings.Cut(rest, "\n")
		body, _, ok = strings.Cut(body, "```\n")
		if !ok {
			t.Fatalf("README.md: the block after %q is not terminated", marker)
		}
		return body
	}
	body, _, _ := strings.Cut(after, "\n\n")
	return body
}

// TestReadmeInitExampleIsWhatInitPrints: the README's `streamgen init`
// command, run as written (with a version to require, since a test binary
// is a development build), prints what the README shows, word for word.
func TestReadmeInitExampleIsWhatInitPrints(t *testing.T) {
	block := readmeBlockAfter(t, "<!-- readme-test: init (gen/cli/readme_test.go runs it) -->")
	command, want, _ := strings.Cut(block, "\n")
	args, ok := strings.CutPrefix(command, "$ go run github.com/streamgen/streamgen/cmd/streamgen@latest ")
	if !ok {
		t.Fatalf("the README's init example starts %q, not the go run of streamgen", command)
	}
	t.Chdir(t.TempDir())
	code, out, errs := run(t, append(strings.Fields(args), "-version", "v0.1.0")...)
	if code != 0 {
		t.Fatalf("streamgen %s: exit %d: %s", args, code, errs)
	}
	if out != want {
		t.Errorf("streamgen %s printed:\n%s\nthe README shows:\n%s", args, out, want)
	}
}

// TestReadmeListsTheTemplates: the README's table of templates names
// every template, in init's order, and no other.
func TestReadmeListsTheTemplates(t *testing.T) {
	table := readmeBlockAfter(t, "<!-- readme-test: templates (gen/cli/readme_test.go checks the names) -->")
	var names []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(table, -1) {
		names = append(names, m[1])
	}
	if !slices.Equal(names, templates.Names()) {
		t.Errorf("the README's table lists templates %v; init has %v", names, templates.Names())
	}
}

// TestReadmeGoGenerateLineIsTheTemplates': the go:generate line the
// README's main.go shows is the one every template's main.go has.
func TestReadmeGoGenerateLineIsTheTemplates(t *testing.T) {
	line := regexp.MustCompile(`(?m)^//go:generate .*$`)
	want := line.FindString(readmeBlockAfter(t, "<!-- readme-test: main.go -->"))
	if want == "" {
		t.Fatal("the README's main.go has no go:generate line")
	}
	for _, tmpl := range templates.List {
		files, err := templates.Render(tmpl.Name, templates.Vars{Job: "j", Module: "example.com/j", Package: "j", Version: "v0.1.0"})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f.Path == "main.go" {
				if got := line.FindString(string(f.Data)); got != want {
					t.Errorf("template %s's main.go has %q; the README shows %q", tmpl.Name, got, want)
				}
			}
		}
	}
}
