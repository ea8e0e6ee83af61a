// Package gen is the generator pipeline: spec → schemas → model → Go files.
// It holds no runtime behaviour.
package gen

import (
	"context"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/streamgen/streamgen/gen/golang"
	"github.com/streamgen/streamgen/gen/registry"
	"github.com/streamgen/streamgen/gen/schema"
	"github.com/streamgen/streamgen/gen/spec"
)

// ModulePath is streamgen's module.
const ModulePath = "github.com/streamgen/streamgen"

// Version is the version of streamgen this binary was built from: the
// module's version when streamgen is a dependency (go run from a user's
// module), else the main module's; "devel" for a build from a checkout.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := ""
	if bi.Main.Path == ModulePath {
		v = bi.Main.Version
		if bi.Main.Replace != nil {
			v = "devel" // go tool in a module that replaces streamgen with a checkout
		}
	}
	for _, d := range bi.Deps {
		if d.Path == ModulePath {
			v = d.Version
			if d.Replace != nil {
				v = "devel"
			}
		}
	}
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return v
}

// File is a generated file and where it goes.
type File struct {
	Path string // the output directory joined with the file name
	Data []byte
	// Lock marks streamgen.lock, next to the spec: generate keeps in it
	// the value schemas of raw and single-object streams (pinStreams).
	Lock bool
}

// Options tune Generate.
type Options struct {
	// Refresh reads registry schemas from the registry even when
	// streamgen.lock pins them.
	Refresh bool
}

// Sources reads the schema documents the spec names: the files its globs
// match and, with a registry, the subjects it lists — from the versions
// pinned in streamgen.lock when there is one (offline, reproducible), else
// from the registry.
//
// A type defined in both is taken from the files: they hold the versions
// about to be registered, which streamgen check compares with the
// registry's. A registry schema whose every named type the files define
// is therefore left out; one that shares only some of its types with the
// files is an error ("defined twice"), since the two cannot be combined.
// generate and check read the same sources, so they agree on the layout.
func Sources(ctx context.Context, sp *spec.Spec, refresh bool) ([]schema.Source, error) {
	return sources(ctx, sp, refresh, false)
}

// sources is Sources; offline, the registry is never asked: subjects that
// streamgen.lock does not pin are left out.
func sources(ctx context.Context, sp *spec.Spec, refresh, offline bool) ([]schema.Source, error) {
	var srcs []schema.Source
	if len(sp.Schemas.Files) > 0 {
		files, err := schema.ReadFiles(sp.Dir, sp.Schemas.Files)
		if err != nil {
			pos := spec.Pos{File: sp.File}
			if len(sp.Schemas.FilesPos) > 0 {
				pos = sp.Schemas.FilesPos[0]
			}
			return nil, spec.ErrorList{sp.Errorf(pos, "%v", err)}
		}
		srcs = files
	}
	if reg := sp.Schemas.Registry; reg != nil && len(reg.Subjects) > 0 {
		var fetched []registry.Schema
		var err error
		if !refresh {
			fetched, err = registry.Locked(sp)
		}
		if err == nil && fetched == nil && !offline {
			var c *registry.Client
			if c, err = registry.New(reg); err == nil {
				fetched, err = c.Fetch(ctx, reg.Subjects)
			}
		}
		if err != nil {
			return nil, err
		}
		inFiles := map[string]bool{}
		for _, f := range srcs {
			for _, n := range schema.Defines(f.Data) {
				inFiles[n] = true
			}
		}
		for _, f := range fetched {
			defines := schema.Defines([]byte(f.Text))
			if len(defines) > 0 && !slices.ContainsFunc(defines, func(n string) bool { return !inFiles[n] }) {
				continue // the files hold a newer version of each of its types
			}
			srcs = append(srcs, schema.Source{Name: f.Label(), Data: []byte(f.Text)})
		}
	}
	if len(srcs) == 0 {
		return nil, spec.ErrorList{sp.Errorf(spec.Pos{File: sp.File, Line: 1, Col: 1}, "no schemas: list files in schemas.files or subjects in schemas.registry.subjects")}
	}
	return srcs, nil
}

// Generate runs the pipeline for a loaded spec and returns the files it
// produces; it writes nothing, so a failure leaves no half-written output.
// A spec whose settings the runtime cannot run yet (Spec.Unsupported) is
// an error.
func Generate(ctx context.Context, sp *spec.Spec, opts Options) ([]File, error) {
	// A job the runtime would run without its sink, or with another
	// guarantee than the spec asks for, is refused, not generated.
	if err := sp.Unsupported(); err != nil {
		return nil, err
	}
	srcs, err := Sources(ctx, sp, opts.Refresh)
	if err != nil {
		return nil, err
	}
	set, err := schema.Load(srcs)
	if err != nil {
		return nil, err
	}
	sources := []string{filepath.Base(sp.File)}
	for _, s := range srcs {
		if strings.HasPrefix(s.Name, "registry ") {
			sources = append(sources, s.Name)
			continue
		}
		rel, err := filepath.Rel(sp.Dir, s.Name)
		if err != nil {
			rel = s.Name
		}
		sources = append(sources, filepath.ToSlash(rel))
	}
	for _, st := range sp.Streams {
		if st.WriterSchema != "" && !slices.Contains(sources, filepath.ToSlash(st.WriterSchema)) {
			sources = append(sources, filepath.ToSlash(st.WriterSchema)+" (writer of "+st.Name+")")
		}
	}
	pkg, err := schema.Build(sp, set, sources)
	if err != nil {
		return nil, err
	}
	if err := loaders(sp, pkg); err != nil {
		return nil, err
	}
	lock, err := pinStreams(sp, pkg)
	if err != nil {
		return nil, err
	}
	files, err := golang.Generate(pkg)
	if err != nil {
		return nil, err
	}
	out := make([]File, len(files))
	for i, f := range files {
		out[i] = File{Path: filepath.Join(sp.OutputDir(), f.Name), Data: f.Data}
	}
	if lock != nil {
		out = append(out, *lock)
	}
	return out, nil
}
