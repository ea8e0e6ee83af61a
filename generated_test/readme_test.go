package generated_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readme returns the repository's README.
func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// readmeBlock returns the body of the fenced block right after the
// "<!-- readme-test: NAME -->" marker.
func readmeBlock(t *testing.T, name string) string {
	t.Helper()
	marker := "<!-- readme-test: " + name + " -->\n```"
	_, after, ok := strings.Cut(readme(t), marker)
	if !ok {
		t.Fatalf("README.md lacks a block marked %q", name)
	}
	_, body, _ := strings.Cut(after, "\n")
	body, _, ok = strings.Cut(body, "```\n")
	if !ok {
		t.Fatalf("README.md: block %q is not terminated", name)
	}
	return body
}

// TestReadmeUsingItInAModuleOfYourOwn follows the README's "Using it" in a
// module outside this repository: the go.mod that `go get -tool` writes
// (the tool directive, streamgen's requirements; a replace points at this
// checkout instead of a release), the README's streamgen.yaml, main.go
// and records snippet, then `go generate ./...`, `go build`, `go vet` and
// `go tool streamgen generate -check`. It runs offline from the module
// cache this repository's go.sum already needs.
func TestReadmeUsingItInAModuleOfYourOwn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module of its own")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	checkout, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	put := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("go.mod", userGoMod(t, checkout))
	sum, err := os.ReadFile(filepath.Join(checkout, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	put("go.sum", string(sum))
	schema, err := os.ReadFile(filepath.Join(checkout, "schemas", "impression.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	put("impression.avsc", string(schema))
	put("streamgen.yaml", readmeBlock(t, "streamgen.yaml"))
	put("main.go", readmeBlock(t, "main.go"))
	put("records.go", "package main\n\nimport \"example.com/shop/ads\"\n\n"+readmeBlock(t, "records.go"))

	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// With -mod=mod the go command may say it is looking for the module of
	// the package that is not generated yet (whether it does depends on
	// the module cache); a user's default -mod=readonly does not. That
	// line is the go command's, not streamgen's.
	out := regexp.MustCompile(`(?m)^go: finding module for package .*\n`).ReplaceAllString(goCmd("generate", "./..."), "")
	console := regexp.MustCompile("(?m)^\\$ go generate \\./\\.\\.\\.\n(.*)\n").FindStringSubmatch(readme(t))
	if console == nil || strings.TrimSpace(out) != console[1] {
		t.Errorf("go generate printed %q; the README shows %q", out, console)
	}
	goCmd("build", "./...")
	goCmd("vet", "./...")
	goCmd("tool", "streamgen", "generate", "-check")
	if v := goCmd("tool", "streamgen", "version"); !strings.HasPrefix(v, "streamgen ") {
		t.Errorf("go tool streamgen version: %q", v)
	}
}

// userGoMod is the go.mod `go get -tool github.com/streamgen/streamgen/cmd/streamgen`
// writes in a new module: the tool directive, streamgen, and (as indirect
// requirements) the modules streamgen requires. A replace stands in for
// the release.
func userGoMod(t *testing.T, checkout string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(checkout, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("module example.com/shop\n\n")
	// go get raises the go line to streamgen's: a lower one would make
	// every command want to update go.mod.
	b.WriteString(regexp.MustCompile(`(?m)^go .*$`).FindString(string(data)) + "\n\n")
	b.WriteString("require github.com/streamgen/streamgen v0.0.0\n\nrequire (\n")
	for _, m := range regexp.MustCompile(`(?m)^\t(\S+ v\S+)`).FindAllStringSubmatch(string(data), -1) {
		b.WriteString("\t" + m[1] + " // indirect\n")
	}
	b.WriteString(")\n\nreplace github.com/streamgen/streamgen => " + checkout + "\n\ntool github.com/streamgen/streamgen/cmd/streamgen\n")
	return b.String()
}

// TestReadmeExcerptsAreVerbatim: a README block marked as an excerpt of a
// file of the repository (which is compiled and run) is a part of it.
func TestReadmeExcerptsAreVerbatim(t *testing.T) {
	matches := regexp.MustCompile(`<!-- readme-test: excerpt of (\S+) -->`).FindAllStringSubmatch(readme(t), -1)
	if len(matches) == 0 {
		t.Fatal("no excerpts found")
	}
	for _, m := range matches {
		src, err := os.ReadFile(filepath.Join("..", m[1]))
		if err != nil {
			t.Fatal(err)
		}
		if block := readmeBlock(t, "excerpt of "+m[1]); !strings.Contains(string(src), block) {
			t.Errorf("the README's excerpt of %s is not in it:\n%s", m[1], block)
		}
	}
}

// TestReadmeNamesFilesThatExist: every relative link, and every .md file
// the README mentions, exists in the repository.
func TestReadmeNamesFilesThatExist(t *testing.T) {
	text := regexp.MustCompile("(?s)```.*?```").ReplaceAllString(readme(t), "")
	var paths []string
	for _, m := range regexp.MustCompile(`\]\(([^)\s#]+)\)`).FindAllStringSubmatch(text, -1) {
		if !strings.Contains(m[1], "://") {
			paths = append(paths, m[1])
		}
	}
	for _, m := range regexp.MustCompile(`\b[\w-]+\.md\b`).FindAllString(text, -1) {
		paths = append(paths, m)
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join("..", p)); err != nil {
			t.Errorf("the README names %s, which is not in the repository", p)
		}
	}
}

// TestUseCasesAreNamedForWhatTheyAre: the README, the examples, the
// generator and its tests name the use cases ("the warehouse ETL", "the
// anomaly detector"); a word for where they came from means nothing to a
// user.
func TestUseCasesAreNamedForWhatTheyAre(t *testing.T) {
	word := "se" + "ed" // not spelled out, so that this file does not match
	bad := regexp.MustCompile(`(?i)\bthe ` + word + `\b|\b` + word + `'s\b`)
	var files []string
	for _, root := range []string{"../README.md", "../examples", "../gen", "../cmd", "."} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && regexp.MustCompile(`\.(go|md|yaml|avsc|txt)$`).MatchString(p) {
				files = append(files, p)
			}
			return nil
		})
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if bad.MatchString(line) {
				t.Errorf("%s:%d: %s", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// TestExampleSpecsSayWhatTheirJobsDo: an example whose spec declares an
// output sink or exactly-once runs that job (its main calls the generated
// Main or Run); otherwise the spec would promise what the example does
// not do.
func TestExampleSpecsSayWhatTheirJobsDo(t *testing.T) {
	specs, err := filepath.Glob("../examples/*/streamgen.yaml")
	if err != nil || len(specs) == 0 {
		t.Fatalf("no example specs: %v", err)
	}
	promises := regexp.MustCompile(`(?m)^(semantics: exactly-once|sink:)`)
	runs := regexp.MustCompile(`\.(Main|Run)\(`)
	for _, spec := range specs {
		data, err := os.ReadFile(spec)
		if err != nil {
			t.Fatal(err)
		}
		if p := promises.Find(data); p != nil {
			main, _ := os.ReadFile(filepath.Join(filepath.Dir(spec), "main.go"))
			if !runs.Match(main) {
				t.Errorf("%s declares %q, but its main.go does not run the job", spec, p)
			}
		}
	}
}
