package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/internal/devenv"
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

// TestReadmeDevExampleIsWhatDevPrints: the README's streamgen dev
// session, in a warehouse ETL project made by init, prints what the
// README shows, word for word but for the ports (free ones here, dev's
// defaults there).
func TestReadmeDevExampleIsWhatDevPrints(t *testing.T) {
	block := readmeBlockAfter(t, "<!-- readme-test: dev (gen/cli/readme_test.go runs it) -->")
	lines := strings.SplitAfter(block, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[1], "$ go tool streamgen dev ") {
		t.Fatalf("the README's dev example does not start with a build and go tool streamgen dev:\n%s", block)
	}
	want, _, _ := strings.Cut(strings.Join(lines[2:], ""), "\n\n$ ")
	dir := filepath.Join(t.TempDir(), "warehouse-etl")
	initInto(t, "etl-warehouse", dir)
	d := startDev(t, append([]string{"-spec", filepath.Join(dir, "streamgen.yaml")}, strings.Fields(strings.TrimPrefix(lines[1], "$ go tool streamgen dev "))...)...)
	got := strings.NewReplacer(d.brokers, fmt.Sprintf("127.0.0.1:%d", devenv.DefaultBrokerPort), d.registryURL, fmt.Sprintf("http://127.0.0.1:%d", devenv.DefaultRegistryPort)).Replace(d.out.String())
	if !strings.HasPrefix(got, want+"\n") {
		t.Errorf("streamgen dev printed:\n%s\nthe README shows:\n%s", got, want)
	}
}

// TestReadmeCheckoutCommandsWork runs the README's commands for building
// against a streamgen checkout, as written, in a new module beside a
// checkout (this one) in ../streamgen: the tool runs, and init makes a
// project whose go.mod replaces streamgen with the checkout.
func TestReadmeCheckoutCommandsWork(t *testing.T) {
	t.Parallel() // builds a module, beside the other tests that do (see templateBinary)
	if testing.Short() {
		t.Skip("resolves a module")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	root := t.TempDir()
	if err := os.Symlink(checkoutDir(t), filepath.Join(root, "streamgen")); err != nil {
		t.Fatal(err)
	}
	shop := filepath.Join(root, "shop")
	if err := os.Mkdir(shop, 0o755); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0", "PWD="+shop)
	sh := func(line string) string {
		t.Helper()
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir, cmd.Env = shop, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		return string(out)
	}
	var last string
	for _, line := range strings.Split(strings.TrimSpace(readmeBlockAfter(t, "<!-- readme-test: checkout (gen/cli/readme_test.go runs it) -->")), "\n") {
		last = sh(line)
	}
	if last != "streamgen devel\n" {
		t.Errorf("the checkout's tool says %q, want streamgen devel", last)
	}
	gomod := readFile(t, filepath.Join(shop, "go.mod"))
	if !strings.Contains(gomod, "\ntool github.com/streamgen/streamgen/cmd/streamgen\n") || !strings.Contains(gomod, "replace github.com/streamgen/streamgen => ../streamgen\n") {
		t.Errorf("go.mod after the README's commands:\n%s", gomod)
	}

	// The README's module, on this go.mod, built as its console shows:
	// go generate, go mod tidy (the tool does not require all the
	// generated code imports), go build, with the go command's default
	// -mod=readonly.
	schema, err := os.ReadFile(filepath.Join(checkoutDir(t), "schemas", "impression.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"impression.avsc": string(schema), "streamgen.yaml": readmeBlockAfter(t, "<!-- readme-test: streamgen.yaml -->"),
		"main.go": readmeBlockAfter(t, "<!-- readme-test: main.go -->")} {
		if err := os.WriteFile(filepath.Join(shop, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	console := regexp.MustCompile(`(?m)^\$ (go generate \./\.\.\.)\n.*\n\$ (go mod tidy)\n\$ (go build \.) && `).FindStringSubmatch(readFile(t, "../../README.md"))
	if console == nil {
		t.Fatal("the README's console no longer shows go generate, go mod tidy, go build")
	}
	for _, line := range console[1:] {
		sh(line)
	}

	out := sh(strings.TrimSpace(readmeBlockAfter(t, "<!-- readme-test: checkout init (gen/cli/readme_test.go runs it) -->")))
	if !strings.Contains(out, "generated "+filepath.Join(shop, "warehouse-etl")) {
		t.Errorf("init from the checkout printed:\n%s", out)
	}
	gomod = readFile(t, filepath.Join(shop, "warehouse-etl", "go.mod"))
	if !strings.Contains(gomod, "replace github.com/streamgen/streamgen => "+filepath.Join(root, "streamgen")+"\n") &&
		!strings.Contains(gomod, "replace github.com/streamgen/streamgen => "+checkoutDir(t)+"\n") {
		t.Errorf("the project's go.mod does not replace streamgen with the checkout:\n%s", gomod)
	}
}
