package gen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/spec"
)

// loaders finds, in the hand-written files of the output package, the
// function that loads each of the spec's values,
//
//	func LoadNAME(ctx context.Context) (T, error)
//
// and fills the value's Type with T as written there: the generated Batch
// holds a T. A missing or misshapen loader is an error at the value's
// line that shows the function to write.
func loaders(sp *spec.Spec, pkg *model.Package) error {
	if len(pkg.Values) == 0 {
		return nil
	}
	dir := sp.OutputDir()
	funcs, err := handWrittenFuncs(dir)
	if err != nil {
		return err
	}
	var errs spec.ErrorList
	for i, v := range pkg.Values {
		fail := func(format string, args ...any) {
			errs = append(errs, &spec.Error{Pos: sp.Values[i].Pos, Msg: fmt.Sprintf("value %q: ", v.Name) + fmt.Sprintf(format, args...)})
		}
		fn, ok := funcs[v.Loader]
		if !ok {
			fail("package %s has no func %s in its own files (%s); write the loader there, for example in %s:\n\n\tfunc %s(ctx context.Context) (%s, error)\n\nwhere %s is the value's type, declared in the package too",
				pkg.Name, v.Loader, filepath.ToSlash(dir), filepath.ToSlash(filepath.Join(dir, v.Name+".go")), v.Loader, v.GoName, v.GoName)
			continue
		}
		typ, why := loaderResult(fn.decl, fn.contextName)
		if why != "" {
			fail("%s:%d: func %s %s; it must be func %s(ctx context.Context) (T, error), T a type of package %s", fn.file, fn.line, v.Loader, why, v.Loader, pkg.Name)
			continue
		}
		v.Type = typ
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// loaderFunc is a package-level function of a hand-written file.
type loaderFunc struct {
	decl *ast.FuncDecl
	file string
	line int
	// contextName is the name the file imports package context under
	// ("" if it does not).
	contextName string
}

// handWrittenFuncs parses the package's hand-written files (not its
// tests, not the generated ones) for their package-level functions.
func handWrittenFuncs(dir string) (map[string]loaderFunc, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	fset := token.NewFileSet()
	funcs := map[string]loaderFunc{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if isGenerated(data) {
			continue
		}
		f, err := parser.ParseFile(fset, path, data, parser.SkipObjectResolution)
		if err != nil {
			return nil, err // names the file and line
		}
		ctxName := ""
		for _, im := range f.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); p == "context" {
				ctxName = "context"
				if im.Name != nil {
					ctxName = im.Name.Name
				}
			}
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				funcs[fd.Name.Name] = loaderFunc{decl: fd, file: filepath.ToSlash(path), line: fset.Position(fd.Pos()).Line, contextName: ctxName}
			}
		}
	}
	return funcs, nil
}

// loaderResult is the type a loader returns, as written, or why fn is not
// a loader.
func loaderResult(fn *ast.FuncDecl, contextName string) (typ, why string) {
	t := fn.Type
	if t.TypeParams != nil {
		return "", "has type parameters"
	}
	params := fieldTypes(t.Params)
	if len(params) != 1 || contextName == "" || types.ExprString(params[0]) != contextName+".Context" {
		return "", "does not take one context.Context"
	}
	results := fieldTypes(t.Results)
	if len(results) != 2 || types.ExprString(results[1]) != "error" {
		return "", "does not return a value and an error"
	}
	qualified := false
	ast.Inspect(results[0], func(n ast.Node) bool {
		if _, ok := n.(*ast.SelectorExpr); ok {
			qualified = true
		}
		return !qualified
	})
	if qualified {
		return "", fmt.Sprintf("returns %s, a type of another package; declare one in this package (type %s = %s will do)",
			types.ExprString(results[0]), "T", types.ExprString(results[0]))
	}
	return types.ExprString(results[0]), ""
}

// fieldTypes is the type of each parameter or result of a list, one per
// name.
func fieldTypes(fl *ast.FieldList) []ast.Expr {
	if fl == nil {
		return nil
	}
	var out []ast.Expr
	for _, f := range fl.List {
		n := max(len(f.Names), 1)
		for range n {
			out = append(out, f.Type)
		}
	}
	return out
}
