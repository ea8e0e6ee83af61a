// Package cli is the streamgen command line. cmd/streamgen calls Main; tests
// call it in-process with their own arguments and writers.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/streamgen/streamgen/gen"
	"github.com/streamgen/streamgen/gen/registry"
	"github.com/streamgen/streamgen/gen/spec"
)

const usage = `streamgen generates typed Go stream jobs from Avro schemas and a job spec.

Usage:
  streamgen generate [-spec streamgen.yaml] [-check] [-refresh]
                                  generate the package the spec describes
  streamgen schemas pull [-spec streamgen.yaml] [-dir schemas/registry]
                                  pin the registry subjects in files and streamgen.lock
  streamgen check [-spec streamgen.yaml] [-against OLD.avsc]... [-locked] [-level L]
                                  check local schemas against the registry's versions,
                                  or offline against files or streamgen.lock's pins;
                                  exit 0 compatible, 1 incompatible, 3 could not check
  streamgen init [-module PATH] [-name JOB] [-replace CHECKOUT] [-force] TEMPLATE DIR
                                  start a project from a template (streamgen init -h lists them)
  streamgen dev [-spec streamgen.yaml] [-sample N] [-rate R] [-port 9092] [-registry-port 8081]
                                  run a local Kafka and schema registry for the job, with sample records
  streamgen schema                                      print the JSON Schema of streamgen.yaml
  streamgen version                                     print the version

Run "streamgen COMMAND -h" for a command's flags.
`

// Main runs the command line and returns the process exit code: 0 on
// success, 1 when the command failed, 2 for a usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "generate":
		return generate(args[1:], stdout, stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "schemas":
		if len(args) < 2 || args[1] != "pull" {
			fmt.Fprintf(stderr, "streamgen schemas: want \"schemas pull\"\n\n%s", usage)
			return 2
		}
		return pull(args[2:], stdout, stderr)
	case "init":
		return initProject(args[1:], stdout, stderr)
	case "dev":
		return dev(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "streamgen %s\n", gen.Version())
		return 0
	case "schema":
		stdout.Write(spec.JSONSchema)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "streamgen: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func generate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "streamgen.yaml", "the job spec")
	check := fs.Bool("check", false, "write nothing; exit 1 listing the files that would change (for CI)")
	refresh := fs.Bool("refresh", false, "read registry subjects from the registry even when streamgen.lock pins them, and pin the versions read in streamgen.lock")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "streamgen generate: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	sp, err := spec.Load(*specPath)
	if err != nil {
		return fail(stderr, err)
	}
	if *refresh && !*check && sp.Schemas.Registry != nil {
		// With a lock, -refresh pins again (as schemas pull does, in the
		// lock's directory) and generates from the new pins, so that the
		// next plain generate builds the same.
		dir, locked, err := registry.PinnedDir(sp)
		if err != nil {
			return fail(stderr, err)
		}
		if locked {
			pulled, err := registry.Pull(context.Background(), sp, dir)
			if err != nil {
				return fail(stderr, err)
			}
			printPulled(stdout, stderr, pulled)
			*refresh = false
		}
	}
	files, err := gen.Generate(context.Background(), sp, gen.Options{Refresh: *refresh})
	if err != nil {
		return fail(stderr, err)
	}
	changes, err := gen.Plan(files)
	if err != nil {
		return fail(stderr, err)
	}
	var changed []string
	headerOnly := true
	for _, c := range changes {
		if c.Action == "unchanged" {
			continue
		}
		line := c.Action + " " + display(c.Path)
		if c.Note != "" {
			line += " (" + c.Note + ")"
		}
		changed = append(changed, line)
		headerOnly = headerOnly && c.Note != ""
	}
	if *check {
		if len(changed) == 0 {
			return 0
		}
		what := "generated code is out of date"
		if headerOnly {
			what = "generated code differs from this streamgen's only in the header (an older streamgen wrote its version there)"
		}
		fmt.Fprintf(stderr, "streamgen: %s; run streamgen generate (go generate ./...):\n  %s\n", what, strings.Join(changed, "\n  "))
		return 1
	}
	if err := gen.Write(files, changes); err != nil {
		return fail(stderr, err)
	}
	var wrote, removed, same []string
	for _, c := range changes {
		switch c.Action {
		case "write":
			wrote = append(wrote, display(c.Path))
		case "remove":
			removed = append(removed, display(c.Path))
		default:
			same = append(same, display(c.Path))
		}
	}
	if len(wrote) > 0 {
		fmt.Fprintf(stdout, "wrote %s\n", strings.Join(wrote, " "))
	}
	if len(removed) > 0 {
		fmt.Fprintf(stdout, "removed %s\n", strings.Join(removed, " "))
	}
	if len(wrote) == 0 && len(removed) == 0 {
		fmt.Fprintf(stdout, "unchanged %s\n", strings.Join(same, " "))
	}
	return 0
}

func display(p string) string { return filepath.ToSlash(filepath.Clean(p)) }

// fail prints an error: one line per problem, each starting with its
// file:line:col when it has one.
func fail(stderr io.Writer, err error) int {
	var list interface{ Unwrap() []error }
	if errors.As(err, &list) {
		for _, e := range list.Unwrap() {
			fmt.Fprintln(stderr, e)
		}
		return 1
	}
	fmt.Fprintln(stderr, err)
	return 1
}

// The exit codes of streamgen check, for CI: a script can tell a schema
// change to fix from a check that did not run.
const (
	// CheckCompatible: every local schema reads (and, by level, is read
	// by) every version it was compared with.
	CheckCompatible = 0
	// CheckIncompatible: at least one incompatibility, each printed.
	CheckIncompatible = 1
	// CheckUsage: the command line was wrong.
	CheckUsage = 2
	// CheckCouldNotCheck: the check did not run or did not finish: the
	// registry unreachable or refusing, the spec or a schema invalid, a
	// file missing, a subject with no local schema.
	CheckCouldNotCheck = 3
)

// files is a flag given once per file.
type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "streamgen.yaml", "the job spec")
	var against files
	fs.Var(&against, "against", "check against this .avsc file (an earlier version) instead of the registry; repeat for more files")
	locked := fs.Bool("locked", false, "check against the versions streamgen.lock pins instead of the registry")
	level := fs.String("level", "BACKWARD", "for -against and -locked: "+strings.Join(gen.Levels, ", ")+" (every version given is checked)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: streamgen check [-spec streamgen.yaml] [-against OLD.avsc]... [-locked] [-level BACKWARD]

Checks the local schemas against the registry's versions of each subject
(the default when the spec has schemas.registry), or, offline, against
.avsc files (-against) or the versions streamgen.lock pins (-locked, the
default without a registry).

Exit codes: 0 compatible, 1 incompatible, 2 usage error, 3 could not check
(registry unreachable, invalid spec or schema, missing file).

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return CheckUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "streamgen check: unexpected argument %q\n", fs.Arg(0))
		return CheckUsage
	}
	sp, err := spec.Load(*specPath)
	if err != nil {
		fail(stderr, err)
		return CheckCouldNotCheck
	}
	offline := len(against) > 0 || *locked
	if !offline && sp.Schemas.Registry == nil {
		// No registry to ask: the pinned versions, if there are any.
		lock, err := registry.ReadLock(sp)
		if err != nil {
			fail(stderr, err)
			return CheckCouldNotCheck
		}
		if lock == nil {
			fmt.Fprintf(stderr, "streamgen check: nothing to check against: %s has no schemas.registry and there is no %s; give -against OLD.avsc\n", sp.File, registry.LockFile)
			return CheckCouldNotCheck
		}
		offline, *locked = true, true
	}
	var findings []gen.Finding
	what := "the registry"
	if offline {
		findings, err = gen.CheckOffline(context.Background(), sp, gen.OfflineCheck{Against: against, Locked: *locked, Level: *level})
		var parts []string
		if len(against) > 0 {
			parts = append(parts, strings.Join(against, ", "))
		}
		if *locked {
			parts = append(parts, "the versions "+registry.LockFile+" pins")
		}
		what = strings.Join(parts, " and ")
	} else {
		findings, err = gen.Check(context.Background(), sp)
	}
	if err != nil {
		fail(stderr, err)
		return CheckCouldNotCheck
	}
	code := CheckCompatible
	for _, f := range findings {
		fmt.Fprintln(stderr, f)
		switch {
		case !f.Unchecked:
			code = CheckIncompatible
		case code == CheckCompatible:
			code = CheckCouldNotCheck
		}
	}
	if code == CheckCompatible {
		fmt.Fprintf(stdout, "schemas are compatible with %s\n", what)
	}
	return code
}

func pull(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("schemas pull", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "streamgen.yaml", "the job spec")
	dir := fs.String("dir", registry.DefaultDir, "where to write the schemas, relative to the spec (default: where streamgen.lock pins them, else "+registry.DefaultDir+")")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	sp, err := spec.Load(*specPath)
	if err != nil {
		return fail(stderr, err)
	}
	dirSet := false
	fs.Visit(func(f *flag.Flag) { dirSet = dirSet || f.Name == "dir" })
	if !dirSet && sp.Schemas.Registry != nil {
		// Pin again where the lock pins.
		if locked, ok, err := registry.PinnedDir(sp); err == nil && ok {
			*dir = locked
		}
	}
	pulled, err := registry.Pull(context.Background(), sp, *dir)
	if err != nil {
		return fail(stderr, err)
	}
	printPulled(stdout, stderr, pulled)
	return 0
}

func printPulled(stdout, stderr io.Writer, p *registry.Pulled) {
	for _, l := range []struct {
		w     io.Writer
		what  string
		paths []string
	}{
		{stdout, "wrote", p.Written},
		{stdout, "removed", p.Removed},
		{stderr, "kept, though no longer pinned, because edited since pulled:", p.Kept},
	} {
		if len(l.paths) == 0 {
			continue
		}
		shown := make([]string, len(l.paths))
		for i, p := range l.paths {
			shown[i] = display(p)
		}
		fmt.Fprintf(l.w, "%s %s\n", l.what, strings.Join(shown, " "))
	}
}
