// Package schema loads Avro schema files with hamba/avro and resolves them,
// together with a job spec, into the model that Go emission reads.
package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/gen/names"
)

// Error is a schema problem at a place in a file.
type Error struct {
	File      string
	Line, Col int    // 0 when unknown
	Path      string // JSON path in the file, e.g. $.fields[2].type
	Msg       string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors are all problems found; it is never empty when returned as error.
type Errors []*Error

func (l Errors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Source is one schema document.
type Source struct {
	Name string // file path as shown to users, or registry subject
	Data []byte
}

// Set is the named types of a set of sources, parsed by hamba/avro.
type Set struct {
	// Named lists every record, enum and fixed type in definition order.
	Named []avro.NamedSchema
	// Origin maps a full name to the source that defines it.
	Origin map[string]string
}

// Lookup returns the named type with the given full name.
func (s *Set) Lookup(fullName string) avro.NamedSchema {
	for _, n := range s.Named {
		if n.FullName() == fullName {
			return n
		}
	}
	return nil
}

// ReadFiles expands the globs (relative to dir) and reads the files, in a
// stable order. display turns a path into what error messages show.
func ReadFiles(dir string, globs []string) ([]Source, error) {
	var srcs []Source
	seen := map[string]bool{}
	for _, g := range globs {
		pat := g
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(dir, pat)
		}
		matches, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("schemas.files: bad pattern %q: %w", g, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("schemas.files: %q matches no file (looked in %s)", g, filepath.Dir(pat))
		}
		sort.Strings(matches)
		for _, m := range matches {
			if seen[m] {
				continue
			}
			seen[m] = true
			data, err := os.ReadFile(m)
			if err != nil {
				return nil, err
			}
			srcs = append(srcs, Source{Name: m, Data: data})
		}
	}
	return srcs, nil
}

// Defines returns the full names of the named types a schema document
// defines, in no particular order; nil when it is not JSON (Load says so).
func Defines(data []byte) []string {
	t, err := parseTree(data)
	if err != nil {
		return nil
	}
	c := checker{src: &Source{Data: data}, defs: map[string]def{}}
	c.define(t, "", "$")
	names := make([]string, 0, len(c.defs))
	for n := range c.defs {
		names = append(names, n)
	}
	return names
}

// Load checks and parses the sources. Named types may refer to types of
// other sources in any order. All problems found are returned as Errors.
func Load(srcs []Source) (*Set, error) {
	c := checker{defs: map[string]def{}}
	trees := make([]*node, len(srcs))
	for i, src := range srcs {
		t, err := parseTree(src.Data)
		if err != nil {
			je := err.(*jsonError)
			line, col := lineCol(src.Data, je.off)
			c.errs = append(c.errs, &Error{File: src.Name, Line: line, Col: col, Msg: je.msg})
			continue
		}
		trees[i] = t
		c.src = &srcs[i]
		c.define(t, "", "$")
	}
	for i, t := range trees {
		if t != nil {
			c.src = &srcs[i]
			c.refs(t, "", "$")
		}
	}
	if len(c.errs) > 0 {
		return nil, c.errs
	}

	// hamba resolves references through a cache, so a file must be parsed
	// after the files it refers to: parse what can be, then retry the rest.
	cache := &avro.SchemaCache{}
	parsed := make([]avro.Schema, len(srcs))
	pending := make([]int, len(srcs))
	for i := range pending {
		pending[i] = i
	}
	for len(pending) > 0 {
		var next []int
		var lastErr map[int]error = map[int]error{}
		for _, i := range pending {
			s, err := avro.ParseBytesWithCache(srcs[i].Data, "", cache)
			if err != nil {
				lastErr[i] = err
				next = append(next, i)
				continue
			}
			parsed[i] = s
		}
		if len(next) == len(pending) {
			var errs Errors
			for _, i := range next {
				errs = append(errs, c.explain(&srcs[i], trees[i], lastErr[i]))
			}
			return nil, errs
		}
		pending = next
	}

	set := &Set{Origin: map[string]string{}}
	seen := map[string]bool{}
	for i, s := range parsed {
		collect(s, seen, func(n avro.NamedSchema) {
			set.Named = append(set.Named, n)
			if d, ok := c.defs[n.FullName()]; ok {
				set.Origin[n.FullName()] = d.file
			} else {
				set.Origin[n.FullName()] = srcs[i].Name
			}
		})
	}
	return set, nil
}

// collect walks a parsed schema and reports each named type once, in
// depth-first definition order.
func collect(s avro.Schema, seen map[string]bool, fn func(avro.NamedSchema)) {
	switch t := s.(type) {
	case *avro.RefSchema:
		collect(t.Schema(), seen, fn)
	case *avro.RecordSchema:
		if seen[t.FullName()] {
			return
		}
		seen[t.FullName()] = true
		fn(t)
		for _, f := range t.Fields() {
			collect(f.Type(), seen, fn)
		}
	case *avro.EnumSchema:
		if !seen[t.FullName()] {
			seen[t.FullName()] = true
			fn(t)
		}
	case *avro.FixedSchema:
		if !seen[t.FullName()] {
			seen[t.FullName()] = true
			fn(t)
		}
	case *avro.ArraySchema:
		collect(t.Items(), seen, fn)
	case *avro.MapSchema:
		collect(t.Values(), seen, fn)
	case *avro.UnionSchema:
		for _, b := range t.Types() {
			collect(b, seen, fn)
		}
	}
}

type def struct {
	file      string
	line, col int
	n         *node  // the definition
	ns        string // the namespace names inside it resolve in
}

// checker validates the structure of schema documents before hamba parses
// them, because hamba's errors name neither the file nor the place.
type checker struct {
	src  *Source
	defs map[string]def
	errs Errors
}

func (c *checker) errorf(n *node, path, format string, args ...any) {
	line, col := lineCol(c.src.Data, n.off)
	c.errs = append(c.errs, &Error{File: c.src.Name, Line: line, Col: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

var primitives = []string{"null", "boolean", "int", "long", "float", "double", "bytes", "string"}

func fullName(ns, name string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

// nameOf returns the full name and namespace a named type declares.
func nameOf(n *node, ns string) (full, childNS string) {
	name := n.field("name")
	if name == nil || name.kind != 's' {
		return "", ns
	}
	if nsn := n.field("namespace"); nsn != nil && nsn.kind == 's' {
		ns = nsn.str
	}
	full = fullName(ns, name.str)
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full, full[:i]
	}
	return full, ""
}

// define records the named types a document defines (first pass).
func (c *checker) define(n *node, ns, path string) {
	switch n.kind {
	case '[':
		for i, b := range n.arr {
			c.define(b, ns, fmt.Sprintf("%s[%d]", path, i))
		}
	case '{':
		t := n.field("type")
		if t == nil {
			return
		}
		if t.kind != 's' {
			c.define(t, ns, path+".type")
			return
		}
		switch t.str {
		case "record", "error", "enum", "fixed":
			full, childNS := nameOf(n, ns)
			if full != "" {
				line, col := lineCol(c.src.Data, n.off)
				if d, dup := c.defs[full]; dup {
					hint := ""
					if strings.HasPrefix(c.src.Name, "registry ") != strings.HasPrefix(d.file, "registry ") {
						hint = "; schemas.files replaces a registry subject only when the files define every type the subject's schema does"
					}
					c.errorf(n, path, "type %q is defined twice (first at %s:%d:%d)%s", full, d.file, d.line, d.col, hint)
				} else {
					c.defs[full] = def{file: c.src.Name, line: line, col: col, n: n, ns: childNS}
				}
			}
			if fields := n.field("fields"); fields != nil && fields.kind == '[' {
				for i, f := range fields.arr {
					if ft := f.field("type"); ft != nil {
						c.define(ft, childNS, fmt.Sprintf("%s.fields[%d].type", path, i))
					}
				}
			}
		case "array":
			if it := n.field("items"); it != nil {
				c.define(it, ns, path+".items")
			}
		case "map":
			if v := n.field("values"); v != nil {
				c.define(v, ns, path+".values")
			}
		}
	}
}

// refs checks structure and that every referenced name is defined.
func (c *checker) refs(n *node, ns, path string) {
	switch n.kind {
	case 's':
		if slices.Contains(primitives, n.str) {
			return
		}
		if _, ok := c.defs[fullName(ns, n.str)]; ok {
			return
		}
		if _, ok := c.defs[n.str]; ok {
			return
		}
		msg := fmt.Sprintf("unknown type %q", n.str)
		if s := names.Suggest(n.str, primitives); s != "" && !strings.Contains(n.str, ".") {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else if s := names.Suggest(fullName(ns, n.str), c.known()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		c.errorf(n, path, "%s", msg)
	case '[':
		if len(n.arr) == 0 {
			c.errorf(n, path, "a union needs at least one branch")
		}
		for i, b := range n.arr {
			if b.kind == '[' {
				c.errorf(b, fmt.Sprintf("%s[%d]", path, i), "a union may not contain a union directly")
				continue
			}
			c.refs(b, ns, fmt.Sprintf("%s[%d]", path, i))
		}
	case '{':
		t := n.field("type")
		if t == nil {
			c.errorf(n, path, `a schema object needs a "type"`)
			return
		}
		if t.kind != 's' {
			c.refs(t, ns, path+".type")
			return
		}
		switch t.str {
		case "record", "error":
			full, childNS := c.needName(n, ns, path)
			fields := n.field("fields")
			if fields == nil || fields.kind != '[' {
				c.errorf(n, path, "record %q needs a \"fields\" array", full)
				return
			}
			seen := map[string]bool{}
			for i, f := range fields.arr {
				fp := fmt.Sprintf("%s.fields[%d]", path, i)
				fn := f.field("name")
				if f.kind != '{' || fn == nil || fn.kind != 's' {
					c.errorf(f, fp, "a field needs a \"name\" string")
					continue
				}
				if seen[fn.str] {
					c.errorf(fn, fp+".name", "record %q has two fields named %q", full, fn.str)
				}
				seen[fn.str] = true
				ft := f.field("type")
				if ft == nil {
					c.errorf(f, fp, "field %q needs a \"type\"", fn.str)
					continue
				}
				c.refs(ft, childNS, fp+".type")
				if d := f.field("default"); d != nil {
					c.checkDefault(d, ft, childNS, fmt.Sprintf("field %q", fn.str), fp+".default")
				}
			}
		case "enum":
			full, _ := c.needName(n, ns, path)
			syms := n.field("symbols")
			if syms == nil || syms.kind != '[' || len(syms.arr) == 0 {
				c.errorf(n, path, "enum %q needs a non-empty \"symbols\" array", full)
				return
			}
			for i, s := range syms.arr {
				if s.kind != 's' {
					c.errorf(s, fmt.Sprintf("%s.symbols[%d]", path, i), "an enum symbol must be a string, not %s", s.describe())
				}
			}
		case "fixed":
			full, _ := c.needName(n, ns, path)
			if sz := n.field("size"); sz == nil || sz.kind != 'n' {
				c.errorf(n, path, "fixed %q needs a numeric \"size\"", full)
			}
		case "array":
			it := n.field("items")
			if it == nil {
				c.errorf(n, path, `an array needs "items"`)
				return
			}
			c.refs(it, ns, path+".items")
		case "map":
			v := n.field("values")
			if v == nil {
				c.errorf(n, path, `a map needs "values"`)
				return
			}
			c.refs(v, ns, path+".values")
		default:
			c.refs(t, ns, path+".type")
		}
	default:
		c.errorf(n, path, "a schema must be a type name, an object or a union array, not %s", n.describe())
	}
}

func (c *checker) needName(n *node, ns, path string) (string, string) {
	full, childNS := nameOf(n, ns)
	if full == "" {
		c.errorf(n, path, `a named type needs a "name" string`)
	}
	return full, childNS
}

func (c *checker) known() []string {
	k := make([]string, 0, len(c.defs)+len(primitives))
	for n := range c.defs {
		k = append(k, n)
	}
	sort.Strings(k)
	return append(k, primitives...)
}

// explain turns a hamba parse error into an Error at the best place we can
// find: hamba names a field or a type, but not where it is.
func (c *checker) explain(src *Source, tree *node, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "avro: ")
	e := &Error{File: src.Name, Msg: msg}
	if tree == nil {
		return e
	}
	// "invalid default for field x. ..." names the field.
	if i := strings.Index(msg, "field "); i >= 0 {
		name := strings.FieldsFunc(msg[i+len("field "):], func(r rune) bool { return r == '.' || r == ' ' || r == ':' })
		if len(name) > 0 {
			if at, path := findField(tree, "$", name[0]); at != nil {
				e.Line, e.Col = lineCol(src.Data, at.off)
				e.Path = path
			}
		}
	}
	return e
}

// findField finds the first record field with the given name.
func findField(n *node, path, name string) (*node, string) {
	switch n.kind {
	case '[':
		for i, b := range n.arr {
			if at, p := findField(b, fmt.Sprintf("%s[%d]", path, i), name); at != nil {
				return at, p
			}
		}
	case '{':
		if fields := n.field("fields"); fields != nil && fields.kind == '[' {
			for i, f := range fields.arr {
				fp := fmt.Sprintf("%s.fields[%d]", path, i)
				if fn := f.field("name"); fn != nil && fn.str == name {
					return f, fp
				}
				if ft := f.field("type"); ft != nil {
					if at, p := findField(ft, fp+".type", name); at != nil {
						return at, p
					}
				}
			}
		}
		for _, k := range []string{"type", "items", "values"} {
			if v := n.field(k); v != nil && v.kind != 's' {
				if at, p := findField(v, path+"."+k, name); at != nil {
					return at, p
				}
			}
		}
	}
	return nil, ""
}
