package spec

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/streamgen/streamgen/gen/names"
	"github.com/streamgen/streamgen/runtime/config"
)

// Parse parses and validates a spec. filename is used in error positions
// and to set Spec.File and Spec.Dir; lookup resolves the environment
// references of generation-time values (nil means os.LookupEnv). The error
// is an ErrorList holding every problem found, sorted by position.
func Parse(filename string, data []byte, lookup func(string) (string, bool)) (*Spec, error) {
	return ParseWithSettings(filename, data, lookup, config.Settings())
}

// ParseWithSettings is Parse with the job settings of table in place of
// config.Settings(): their keys, defaults and checks. It is for tests
// that add a setting and follow it through the generator.
func ParseWithSettings(filename string, data []byte, lookup func(string) (string, bool), table []config.Setting) (*Spec, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	s := newSpec(filename, table)
	d := &decoder{
		spec:     s,
		settings: table,
		file:     filename,
		lookup:   lookup,
		anchors:  map[string]ast.Node{},
		vals:     map[string]Pos{},
		keys:     map[string]Pos{},
		topics:   map[string]topicUse{},
	}
	if root, ok := d.parse(data); ok {
		d.decodeSpec(root, s)
		d.validate(s)
	}
	d.errs.sort()
	if err := d.errs.Err(); err != nil {
		return nil, err
	}
	s.positions = maps.Clone(d.keys)
	maps.Copy(s.positions, d.vals)
	return s, nil
}

// newSpec returns a Spec holding every default that does not depend on
// other values: the settings' defaults. Decoding overwrites what the file
// sets.
func newSpec(filename string, table []config.Setting) *Spec {
	return &Spec{File: filename, Dir: filepath.Dir(filename), Job: config.DefaultOf(table)}
}

// decoder walks the YAML AST, filling a Spec and collecting errors.
type decoder struct {
	// spec is what the decoder fills; settings are the job settings it
	// decodes (config.Settings).
	spec     *Spec
	settings []config.Setting
	file     string
	lookup   func(string) (string, bool)
	errs     ErrorList
	anchors  map[string]ast.Node
	root     Pos
	// vals and keys hold the value and key positions of every non-null
	// value decoded, by path ("kafka.group", `stream "x": assign`), for
	// cross-field errors.
	vals, keys map[string]Pos
	// topics records which stream consumes each topic.
	topics map[string]topicUse
	// unset, when not nil, takes the errors of generation-time values
	// whose variables are not set, instead of errs: the registry's
	// connection settings, needed only when the registry is contacted.
	unset *ErrorList
	// invalid holds the paths whose value was refused: the rules that
	// span keys skip them, so one mistake is one error, not a cascade of
	// errors about the default left in its place.
	invalid map[string]bool
}

type topicUse struct {
	stream string
	pos    Pos
}

func (d *decoder) errorf(p Pos, format string, args ...any) {
	d.errs = append(d.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// refused records that the value at path was refused.
func (d *decoder) refused(path string) {
	if d.invalid == nil {
		d.invalid = map[string]bool{}
	}
	d.invalid[path] = true
}

func (d *decoder) posOf(n ast.Node) Pos {
	if n == nil || n.GetToken() == nil {
		return d.root
	}
	// A block mapping's token is its first ':'; point at its first key.
	if m, ok := n.(*ast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 {
		return d.posOf(m.Values[0].Key)
	}
	tk := n.GetToken()
	return Pos{File: d.file, Line: tk.Position.Line, Col: tk.Position.Column}
}

// at returns the position of the first path with a known value or key.
func (d *decoder) at(paths ...string) Pos {
	for _, p := range paths {
		if pos, ok := d.vals[p]; ok {
			return pos
		}
		if pos, ok := d.keys[p]; ok {
			return pos
		}
	}
	return d.root
}

func (d *decoder) has(path string) bool {
	_, ok := d.vals[path]
	return ok
}

// yamlHint says what most often causes a YAML syntax error's message in
// a hand-written spec: the parser's words name the grammar, not the slip.
func yamlHint(msg string) string {
	switch {
	case strings.Contains(msg, "found character '\t'"):
		return " (a tab: YAML indents with spaces only)"
	case strings.Contains(msg, "mapping value is not allowed"):
		return " (a key indented deeper than the key before it, under a key that already has a value: check this line's indentation)"
	case strings.Contains(msg, "value is not allowed in this context"):
		return " (this line's indentation matches no key above it: check it against the line before)"
	case strings.Contains(msg, "non-map value is specified"):
		return " (a key without a ':' after it, or a line indented where a key was expected)"
	case strings.Contains(msg, "not found") && strings.Contains(msg, "end token"):
		return " (a [list] or {map} opened and not closed on this line)"
	}
	return ""
}

// parse returns the single document's body (nil for an empty file).
func (d *decoder) parse(data []byte) (ast.Node, bool) {
	d.root = Pos{File: d.file, Line: 1, Col: 1}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		pos, msg := d.root, err.Error()
		var ye yaml.Error
		if errors.As(err, &ye) {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil {
				pos = Pos{File: d.file, Line: tk.Position.Line, Col: tk.Position.Column}
			}
		}
		d.errorf(pos, "YAML syntax error: %s%s", msg, yamlHint(msg))
		return nil, false
	}
	var body ast.Node
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		if body != nil {
			d.errorf(d.posOf(doc.Body), "a spec is one YAML document; remove this second document")
			continue
		}
		body = doc.Body
		ast.Walk(anchorCollector(d.anchors), body)
	}
	if body != nil {
		d.root = d.posOf(d.resolve(body))
	}
	return body, true
}

type anchorCollector map[string]ast.Node

func (c anchorCollector) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil {
		c[a.Name.GetToken().Value] = a.Value
	}
	return c
}

// resolve looks through anchors, aliases, tags and explicit keys.
func (d *decoder) resolve(n ast.Node) ast.Node {
	for range 16 {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.MappingKeyNode:
			n = v.Value
		case *ast.AliasNode:
			name := v.Value.GetToken().Value
			a, ok := d.anchors[name]
			if !ok {
				d.errorf(d.posOf(v), "unknown alias *%s", name)
				return nil
			}
			n = a
		default:
			return n
		}
	}
	return n
}

func isMapping(n ast.Node) bool {
	_, ok := n.(*ast.MappingNode)
	return ok
}

func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// describe names a node's kind for type errors.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("string %q", v.Value)
	case *ast.LiteralNode:
		return "a multi-line string"
	case *ast.IntegerNode:
		return "integer " + v.GetToken().Value
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "number " + v.GetToken().Value
	case *ast.BoolNode:
		return "boolean " + v.GetToken().Value
	case *ast.NullNode, nil:
		return "null"
	}
	return n.Type().String()
}

func (d *decoder) typeErr(n ast.Node, path, want string) {
	d.errorf(d.posOf(n), "%s: expected %s, got %s", path, want, describe(n))
}

func keyText(n ast.Node) string {
	if s, ok := n.(*ast.StringNode); ok {
		return s.Value
	}
	if n == nil || n.GetToken() == nil {
		return ""
	}
	return n.GetToken().Value
}

type fields map[string]func(path string, v ast.Node)

// object decodes a mapping with a fixed set of keys, in file order.
// Children's paths are prefix+key; where ("in kafka") is for unknown-key
// messages. Null values are skipped, so their defaults apply.
//
// It returns the keys that unknown keys were probably meant to be, so
// callers can skip "missing key" errors that would only repeat them.
func (d *decoder) object(n ast.Node, path, prefix, where string, fs fields) (meant map[string]bool) {
	meant = map[string]bool{}
	n = d.resolve(n)
	if isNull(n) {
		return meant
	}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.typeErr(n, path, "a mapping")
		return meant
	}
	for _, mv := range m.Values {
		kn := d.resolve(mv.Key)
		key := keyText(kn)
		kp := d.posOf(mv.Key)
		fn, ok := fs[key]
		if !ok {
			if s := d.unknownKey(kp, key, where, fs); s != "" {
				meant[s] = true
			}
			continue
		}
		sub := prefix + key
		d.keys[sub] = kp
		v := d.resolve(mv.Value)
		if isNull(v) {
			continue
		}
		d.vals[sub] = d.posOf(v)
		fn(sub, v)
	}
	return meant
}

func (d *decoder) unknownKey(p Pos, key, where string, fs fields) string {
	known := make([]string, 0, len(fs))
	for k := range fs {
		known = append(known, k)
	}
	slices.Sort(known)
	if where != "" {
		where = " " + where
	}
	if s := names.Suggest(key, known); s != "" {
		d.errorf(p, "unknown key %q%s (did you mean %q?)", key, where, s)
		return s
	}
	d.errorf(p, "unknown key %q%s; known keys: %s", key, where, strings.Join(known, ", "))
	return ""
}

type entry struct {
	key    string
	keyPos Pos
	val    ast.Node
}

// entries decodes a mapping with free-form keys.
func (d *decoder) entries(n ast.Node, path string) []entry {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.typeErr(n, path, "a mapping")
		return nil
	}
	var es []entry
	for _, mv := range m.Values {
		es = append(es, entry{keyText(d.resolve(mv.Key)), d.posOf(mv.Key), d.resolve(mv.Value)})
	}
	return es
}

func (d *decoder) list(n ast.Node, path string) ([]ast.Node, bool) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.typeErr(n, path, "a list")
		return nil, false
	}
	out := make([]ast.Node, len(seq.Values))
	for i, v := range seq.Values {
		out[i] = d.resolve(v)
	}
	return out, true
}
