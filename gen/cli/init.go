package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/streamgen/streamgen/gen"
	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/templates"
)

// initProject is `streamgen init TEMPLATE DIR`: it writes the template's
// project into DIR and generates its package, so that the project builds
// once `go mod tidy` has filled in go.mod and go.sum.
func initProject(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	module := fs.String("module", "", "the new project's `module` path (default: DIR's base name)")
	job := fs.String("name", "", "the `job`'s name: consumer group, binary, image and Kubernetes names (default: DIR's base name)")
	pkg := fs.String("package", "", "the Go `package` streamgen generates (default: the job's name without '-')")
	version := fs.String("version", "", "the streamgen `version` go.mod requires (default: this streamgen's own)")
	replace := fs.String("replace", "", "a streamgen source checkout at `PATH` for go.mod to build against instead of a release (replace github.com/streamgen/streamgen => PATH)")
	force := fs.Bool("force", false, "write into DIR even when it is not empty, replacing files of the same names")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: streamgen init [flags] TEMPLATE DIR\n\nTemplates:\n")
		for _, t := range templates.List {
			fmt.Fprintf(stderr, "  %-17s %s\n", t.Name, t.Summary)
		}
		fmt.Fprintf(stderr, "\nFlags:\n")
		fs.PrintDefaults()
	}
	// Flags may come before, between or after TEMPLATE and DIR.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 2 {
		fmt.Fprintf(stderr, "streamgen init: want TEMPLATE and DIR, got %d arguments\n", len(pos))
		fs.Usage()
		return 2
	}
	name, dir := pos[0], pos[1]
	tmpl, ok := templates.Lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "streamgen init: no template %q; the templates are %s\n", name, strings.Join(templates.Names(), ", "))
		return 2
	}

	abs, err := filepath.Abs(dir)
	if err != nil {
		return fail(stderr, fmt.Errorf("streamgen init: %w", err))
	}
	base := filepath.Base(abs)
	v := templates.Vars{Job: *job, Module: *module, Package: *pkg, Version: *version}
	if v.Job == "" {
		v.Job = base
	}
	if err := templates.CheckJob(v.Job); err != nil {
		return fail(stderr, fmt.Errorf("streamgen init: %w; name it with -name", err))
	}
	if v.Module == "" {
		v.Module = base
	}
	if !modulePath.MatchString(v.Module) {
		return fail(stderr, fmt.Errorf("streamgen init: %q cannot be a module path (letters, digits and . _ ~ + -, in elements separated by /); give one with -module", v.Module))
	}
	if v.Package == "" {
		v.Package = strings.ReplaceAll(v.Job, "-", "")
	}
	if !token.IsIdentifier(v.Package) || token.IsKeyword(v.Package) || v.Package == "main" {
		return fail(stderr, fmt.Errorf("streamgen init: %q cannot be the generated package's name; name it with -package", v.Package))
	}
	if *replace != "" {
		abs, err := checkout(*replace)
		if err != nil {
			return fail(stderr, fmt.Errorf("streamgen init: -replace: %w", err))
		}
		v.Replace = abs
	}
	if v.Version == "" {
		v.Version = gen.Version()
		if v.Version == "devel" {
			if v.Replace == "" {
				return fail(stderr, errors.New("streamgen init: this streamgen is a development build, so it knows no released version for go.mod to require: give one with -version, or build against a checkout with -replace PATH"))
			}
			v.Version = "v0.0.0" // what the replace directive stands in for
		}
	}

	if !semver.MatchString(v.Version) {
		return fail(stderr, fmt.Errorf("streamgen init: -version %q is not a module version such as v0.3.1", v.Version))
	}

	if !*force {
		if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return fail(stderr, fmt.Errorf("streamgen init: %s is not empty (it holds %s); choose another directory, or pass -force to write into it, replacing files of the same names", dir, entries[0].Name()))
		}
	}
	files, err := templates.Render(tmpl.Name, v)
	if err != nil {
		return fail(stderr, fmt.Errorf("streamgen init: %w", err))
	}
	var wrote []string
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fail(stderr, fmt.Errorf("streamgen init: %w", err))
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return fail(stderr, fmt.Errorf("streamgen init: %w", err))
		}
		wrote = append(wrote, display(p))
	}

	// The generated package too: main.go imports it, so without it
	// `go mod tidy` cannot resolve the project's imports.
	sp, err := spec.Load(filepath.Join(dir, "streamgen.yaml"))
	if err != nil {
		return fail(stderr, err)
	}
	gfiles, err := gen.Generate(context.Background(), sp, gen.Options{})
	if err != nil {
		return fail(stderr, err)
	}
	changes, err := gen.Plan(gfiles)
	if err != nil {
		return fail(stderr, err)
	}
	if err := gen.Write(gfiles, changes); err != nil {
		return fail(stderr, err)
	}
	var generated []string
	for _, c := range changes {
		if c.Action == "write" {
			generated = append(generated, display(c.Path))
		}
	}

	for _, p := range wrote {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	for _, p := range generated {
		fmt.Fprintf(stdout, "generated %s\n", p)
	}
	fmt.Fprint(stdout, "\nNext steps:\n")
	if filepath.Clean(dir) != "." {
		fmt.Fprintf(stdout, "  cd %s\n", dir)
	}
	fmt.Fprint(stdout, `  go mod tidy         # fill in go.mod and go.sum
  go generate ./...   # after changing streamgen.yaml or a schema
  go test ./...       # the job on an in-process Kafka
README.md says how to run the job on your machine (streamgen dev).
`)
	if tmpl.TestNeeds != "" {
		fmt.Fprintf(stdout, "The test needs %s\n", strings.ReplaceAll(tmpl.TestNeeds, "PREFIX", v.EnvPrefix()))
	}
	if v.Replace != "" {
		fmt.Fprintf(stdout, "go.mod builds against %s (-replace): drop the replace line to use a release.\n", v.Replace)
	}
	return 0
}

var (
	// modulePath is what init takes for a module path: the go command's
	// characters, in non-empty elements.
	modulePath = regexp.MustCompile(`^[A-Za-z0-9._~+-]+(/[A-Za-z0-9._~+-]+)*$`)
	// semver is a module version: a release, pre-release or pseudo-version.
	semver = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$`)
)

// checkout returns the absolute directory of the streamgen source checkout
// at dir, or why it is not one.
func checkout(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	data, err := os.ReadFile(filepath.Join(abs, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("%s is not a streamgen checkout: %w", dir, err)
	}
	if !bytes.HasPrefix(data, []byte("module "+gen.ModulePath+"\n")) {
		return "", fmt.Errorf("%s is not a streamgen checkout: its go.mod is not module %s", dir, gen.ModulePath)
	}
	return abs, nil
}
