package golang

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/importer"
	"go/parser"
	"go/printer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/names"
)

// The helpers of the emitter's unit tests: they generate a hand-built
// model, parse and type-check the output against the real runtime
// packages, and look up declarations in it.

// exports maps the import paths generated code may use, and their
// dependencies, to their compiled export data, from one go list -export.
var exports = sync.OnceValues(func() (map[string]string, error) {
	args := append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}}={{.Export}}"}, imports...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // the Makefile's build cache (NOCGO)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("go list -export: %v\n%s", err, ee.Stderr)
		}
		return nil, err
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if path, file, ok := strings.Cut(sc.Text(), "="); ok && file != "" {
			m[path] = file
		}
	}
	return m, sc.Err()
})

// generated is the output of Generate for one model, parsed and
// type-checked.
type generated struct {
	src   map[string]string // by file name
	fset  *token.FileSet
	files map[string]*ast.File
	pkg   *types.Package
}

// generate runs Generate on p and type-checks the files, failing t on any
// error: every emitter's output must at least compile.
func generate(t *testing.T, p *model.Package) *generated {
	t.Helper()
	out, err := Generate(p)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	g := &generated{src: map[string]string{}, fset: token.NewFileSet(), files: map[string]*ast.File{}}
	var afs []*ast.File
	for _, f := range out {
		g.src[f.Name] = string(f.Data)
		af, err := parser.ParseFile(g.fset, f.Name, f.Data, parser.ParseComments)
		if err != nil {
			t.Fatalf("%s does not parse: %v\n%s", f.Name, err, numbered(f.Data))
		}
		g.files[f.Name] = af
		afs = append(afs, af)
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Log("no go command: generated code parsed, not type-checked")
		return g
	}
	exp, err := exports()
	if err != nil {
		t.Fatal(err)
	}
	gc := importer.ForCompiler(g.fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exp[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})
	conf := types.Config{Importer: blankCloud{gc}}
	var errs []string
	conf.Error = func(err error) { errs = append(errs, err.Error()) }
	g.pkg, _ = conf.Check(p.Name, g.fset, afs, nil)
	if len(errs) > 0 {
		var all strings.Builder
		for _, f := range out {
			fmt.Fprintf(&all, "=== %s\n%s", f.Name, numbered(f.Data))
		}
		t.Fatalf("generated code does not type-check:\n%s\n%s", strings.Join(errs, "\n"), all.String())
	}
	return g
}

func numbered(src []byte) string {
	var b strings.Builder
	for i, l := range strings.Split(string(src), "\n") {
		fmt.Fprintf(&b, "%4d %s\n", i+1, l)
	}
	return b.String()
}

// fn returns the source of the function, or method of recv ("T" or
// "*T"), called name; "" when there is none.
func (g *generated) fn(recv, name string) string {
	for _, af := range g.files {
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Name.Name != name || recvName(fd) != recv {
				continue
			}
			var b bytes.Buffer
			// With the file's comments, which a bare FuncDecl does not print.
			if err := format.Node(&b, g.fset, &printer.CommentedNode{Node: fd, Comments: af.Comments}); err != nil {
				panic(err)
			}
			return b.String()
		}
	}
	return ""
}

func recvName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return ""
	}
	switch t := fd.Recv.List[0].Type.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.StarExpr:
		return "*" + t.X.(*ast.Ident).Name
	}
	return "?"
}

// hasMethods fails t unless type name's method set (of *name) has each of
// methods.
func (g *generated) hasMethods(t *testing.T, name string, methods ...string) {
	t.Helper()
	if g.pkg == nil {
		return
	}
	obj := g.pkg.Scope().Lookup(name)
	if obj == nil {
		t.Errorf("no type %s", name)
		return
	}
	ms := types.NewMethodSet(types.NewPointer(obj.Type()))
	for _, m := range methods {
		if ms.Lookup(g.pkg, m) == nil {
			t.Errorf("%s has no method %s", name, m)
		}
	}
}

// typeOf is the type of package-level object name, as Go writes it in
// the package; "" when there is none.
func (g *generated) typeOf(name string) string {
	if g.pkg == nil {
		return ""
	}
	obj := g.pkg.Scope().Lookup(name)
	if obj == nil {
		return ""
	}
	return types.TypeString(obj.Type().Underlying(), types.RelativeTo(g.pkg))
}

// fieldType is the type of field of struct type name.
func (g *generated) fieldType(name, field string) string {
	if g.pkg == nil {
		return ""
	}
	obj := g.pkg.Scope().Lookup(name)
	if obj == nil {
		return ""
	}
	st, ok := obj.Type().Underlying().(*types.Struct)
	if !ok {
		return ""
	}
	for f := range st.Fields() {
		if f.Name() == field {
			return types.TypeString(f.Type(), types.RelativeTo(g.pkg))
		}
	}
	return ""
}

// squash collapses each run of white space to one space, so that gofmt's
// alignment and line breaks do not matter to contains and lacks.
func squash(s string) string { return blanks.ReplaceAllString(s, " ") }

var blanks = regexp.MustCompile(`\s+`)

// contains fails t unless src holds every one of wants, up to white
// space; the packages generated code imports are written by their
// aliases (sgcodec, ...).
func contains(t *testing.T, what, src string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(squash(src), squash(w)) {
			t.Errorf("%s does not contain %q:\n%s", what, w, src)
		}
	}
}

// lacks fails t if src holds one of unwanted.
func lacks(t *testing.T, what, src string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(squash(src), squash(w)) {
			t.Errorf("%s contains %q:\n%s", what, w, src)
		}
	}
}

// Aliases of the packages generated code imports, as it writes them.
var (
	codecAlias   = names.ImportAlias(codecPkg)
	runtimeAlias = names.ImportAlias(runtimePkg)
	configAlias  = names.ImportAlias(configPkg)
	sinkAlias    = names.ImportAlias(sinkPkg)
)

// blankCloud imports the cloud drivers' package, which generated code
// imports blank for its side effect, as the empty package it is to the
// type checker, so that the tests do not compile three cloud SDKs.
type blankCloud struct{ types.Importer }

func (b blankCloud) Import(path string) (*types.Package, error) {
	if path == cloudPkg {
		p := types.NewPackage(path, "cloud")
		p.MarkComplete()
		return p, nil
	}
	return b.Importer.Import(path)
}
