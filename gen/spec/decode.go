package spec

import (
	"github.com/streamgen/streamgen/gen/names"

	"errors"
	"fmt"
	"go/token"
	"math"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/streamgen/streamgen/runtime/envsubst"
)

// Parse parses and validates a spec. filename is used in error positions
// and to set Spec.File and Spec.Dir; lookup resolves the environment
// references of generation-time values (nil means os.LookupEnv). The error
// is an ErrorList holding every problem found, sorted by position.
func Parse(filename string, data []byte, lookup func(string) (string, bool)) (*Spec, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	d := &decoder{
		file:    filename,
		lookup:  lookup,
		anchors: map[string]ast.Node{},
		vals:    map[string]Pos{},
		keys:    map[string]Pos{},
		topics:  map[string]topicUse{},
	}
	s := newSpec(filename)
	if root, ok := d.parse(data); ok {
		d.decodeSpec(root, s)
		d.validate(s)
	}
	d.errs.sort()
	if err := d.errs.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// newSpec returns a Spec holding every default that does not depend on
// other values; decoding overwrites what the file sets.
func newSpec(filename string) *Spec {
	return &Spec{
		File: filename,
		Dir:  filepath.Dir(filename),
		Kafka: Kafka{
			Brokers:   []string{"localhost:9092"},
			StartFrom: "committed",
			ResetTo:   "earliest",
			Isolation: "read_committed",
		},
		Batch: Batch{
			Interval:            5 * time.Second,
			MinRatePerPartition: 1,
			Backpressure:        Backpressure{Proportional: 1.0, Integral: 0.2, MinRate: 100},
			PollTimeout:         2 * time.Minute,
		},
		Location:      Location{Strategy: "consistent"},
		Semantics:     "at-least-once",
		Sink:          Sink{Type: "none"},
		Retries:       Retries{MaxFailures: 4, Backoff: time.Second},
		OnDecodeError: "fail",
		Shutdown:      Shutdown{Graceful: true},
		Status:        Status{Addr: ":8080"},
	}
}

// decoder walks the YAML AST, filling a Spec and collecting errors.
type decoder struct {
	file    string
	lookup  func(string) (string, bool)
	errs    ErrorList
	anchors map[string]ast.Node
	root    Pos
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
}

type topicUse struct {
	stream string
	pos    Pos
}

func (d *decoder) errorf(p Pos, format string, args ...any) {
	d.errs = append(d.errs, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
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
		d.errorf(pos, "YAML syntax error: %s", msg)
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

// How a string value treats ${VAR} references.
type refMode int

const (
	noRefs  refMode = iota // references are an error
	genTime                // expanded now, at generation time
	runtime                // kept raw; the job expands them at start-up
)

// relative resolves a generation-time path against the spec's directory.
func (d *decoder) relative(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(d.file), p)
}

// rawText is a string node's text as written, ${...} unexpanded.
func rawText(n ast.Node) string {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value
	case *ast.LiteralNode:
		return v.Value.Value
	}
	return ""
}

func (d *decoder) str(n ast.Node, path string, mode refMode) (string, bool) {
	var s string
	switch v := n.(type) {
	case *ast.StringNode:
		s = v.Value
	case *ast.LiteralNode:
		s = v.Value.Value
	default:
		d.typeErr(n, path, "a string")
		return "", false
	}
	switch mode {
	case noRefs:
		if envsubst.HasRefs(s) {
			d.errorf(d.posOf(n), "%s: environment references are not expanded here; ${...} is allowed only in schemas.files and schemas.registry (expanded by streamgen generate) and in runtime settings such as kafka.brokers or sink.dsn (expanded by the job at start-up)", path)
			return "", false
		}
	case genTime:
		x, err := envsubst.Expand(s, d.lookup)
		if err != nil {
			if ue, ok := errors.AsType[*envsubst.UnsetError](err); ok && d.unset != nil {
				*d.unset = append(*d.unset, &Error{Pos: d.posOf(n), Msg: fmt.Sprintf("%s: environment variable %s is not set and ${%s} has no default; reading the registry needs this value, so set %s or write ${%s:-default} (a build from the versions streamgen.lock pins needs none of the registry's settings)", path, ue.Name, ue.Name, ue.Name, ue.Name)})
			} else if ok {
				d.errorf(d.posOf(n), "%s: environment variable %s is not set and ${%s} has no default; streamgen generate needs this value to read the schemas, so set %s or write ${%s:-default}", path, ue.Name, ue.Name, ue.Name, ue.Name)
			} else {
				d.errorf(d.posOf(n), "%s: %v", path, err)
			}
			return "", false
		}
		s = x
	case runtime:
		// Check the syntax now; values are looked up by the job.
		if _, err := envsubst.Expand(s, func(string) (string, bool) { return "", true }); err != nil {
			d.errorf(d.posOf(n), "%s: %v", path, err)
			return "", false
		}
	}
	return s, true
}

func (d *decoder) integer(n ast.Node, path string) (int64, bool) {
	v, ok := n.(*ast.IntegerNode)
	if !ok {
		d.typeErr(n, path, "an integer")
		return 0, false
	}
	switch x := v.Value.(type) {
	case int64:
		return x, true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	d.errorf(d.posOf(n), "%s: %s is out of range", path, v.GetToken().Value)
	return 0, false
}

// intMin decodes an integer >= lo into dst.
func (d *decoder) intMin(n ast.Node, path string, lo int64, dst *int64) {
	x, ok := d.integer(n, path)
	if !ok {
		return
	}
	if x < lo {
		d.errorf(d.posOf(n), "%s: must be >= %d, got %d", path, lo, x)
		return
	}
	*dst = x
}

func (d *decoder) intField(n ast.Node, path string, lo int64, dst *int) {
	x := int64(*dst)
	d.intMin(n, path, lo, &x)
	if x > math.MaxInt32 {
		d.errorf(d.posOf(n), "%s: %d is too large", path, x)
		return
	}
	*dst = int(x)
}

func (d *decoder) float(n ast.Node, path string, dst *float64) {
	var x float64
	switch v := n.(type) {
	case *ast.FloatNode:
		x = v.Value
	case *ast.IntegerNode:
		i, ok := d.integer(n, path)
		if !ok {
			return
		}
		x = float64(i)
	default:
		d.typeErr(n, path, "a number")
		return
	}
	if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		d.errorf(d.posOf(n), "%s: must be a finite number >= 0, got %s", path, n.GetToken().Value)
		return
	}
	*dst = x
}

func (d *decoder) boolean(n ast.Node, path string, dst *bool) {
	v, ok := n.(*ast.BoolNode)
	if !ok {
		d.typeErr(n, path, "true or false")
		return
	}
	*dst = v.Value
}

// duration decodes a Go duration; positive requires > 0, else >= 0. A
// bare 0 is accepted as zero.
func (d *decoder) duration(n ast.Node, path string, positive bool, dst *time.Duration) {
	var x time.Duration
	switch v := n.(type) {
	case *ast.IntegerNode:
		if i, ok := d.integer(n, path); !ok {
			return
		} else if i != 0 {
			d.errorf(d.posOf(n), "%s: duration %d needs a unit, e.g. \"%ds\" or \"%dms\"", path, i, i, i)
			return
		}
	case *ast.StringNode:
		var err error
		x, err = time.ParseDuration(v.Value)
		if err != nil {
			d.errorf(d.posOf(n), "%s: invalid duration %q; want a Go duration such as \"500ms\", \"5s\" or \"2m\"", path, v.Value)
			return
		}
	default:
		d.typeErr(n, path, `a duration such as "5s"`)
		return
	}
	switch {
	case positive && x <= 0:
		d.errorf(d.posOf(n), "%s: must be > 0, got %v", path, x)
		return
	case x < 0:
		d.errorf(d.posOf(n), "%s: must be >= 0, got %v", path, x)
		return
	}
	*dst = x
}

// enum decodes one of the allowed strings into dst.
func (d *decoder) enum(n ast.Node, path string, dst *string, allowed ...string) {
	s, ok := d.str(n, path, noRefs)
	if !ok {
		return
	}
	if !slices.Contains(allowed, s) {
		d.errorf(d.posOf(n), "%s: invalid value %q; want %s%s", path, s, orList(allowed), didYouMean(s, allowed))
		return
	}
	*dst = s
}

func didYouMean(s string, candidates []string) string {
	if c := names.Suggest(s, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// orList formats ["a","b","c"] as `a, b or c`.
func orList(xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

var (
	jobNameRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	streamNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	topicRE      = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)
	avroNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	tableRE      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)
)

// topicErr explains why t is not a Kafka topic name, or returns "".
func topicErr(t string) string {
	switch {
	case t == "":
		return "topic name is empty"
	case t == "." || t == "..":
		return fmt.Sprintf("%q is not a valid topic name", t)
	case !topicRE.MatchString(t):
		return fmt.Sprintf("%q is not a valid topic name (1-249 characters of a-z, A-Z, 0-9, '.', '_', '-')", t)
	}
	return ""
}

// topic decodes a topic name; runtime values holding references are not
// checked.
func (d *decoder) topic(n ast.Node, path string, mode refMode) (string, bool) {
	t, ok := d.str(n, path, mode)
	if !ok {
		return "", false
	}
	if mode == runtime && envsubst.HasRefs(t) {
		return t, true
	}
	if msg := topicErr(t); msg != "" {
		d.errorf(d.posOf(n), "%s: %s", path, msg)
		return "", false
	}
	return t, true
}

// runtimeStr decodes a runtime value; check (when non-nil) validates it
// unless it holds references and returns an error message.
func (d *decoder) runtimeStr(n ast.Node, path string, dst *string, check func(string) string) {
	s, ok := d.str(n, path, runtime)
	if !ok {
		return
	}
	if check != nil && !envsubst.HasRefs(s) {
		if msg := check(s); msg != "" {
			d.errorf(d.posOf(n), "%s: %s", path, msg)
			return
		}
	}
	*dst = s
}

func hostPortErr(s string) string {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not a host:port address", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Sprintf("%q has an invalid port", s)
	}
	return ""
}

func nonEmpty(what string) func(string) string {
	return func(s string) string {
		if strings.TrimSpace(s) == "" {
			return what + " must not be empty"
		}
		return ""
	}
}

// unsetIfEmpty reports whether v is "" or an empty mapping: the default of
// an optional value written out, as the README's reference spec does. The
// key then counts as not written, so rules such as "sink.table is only
// used with sink.type postgres" do not apply to it.
func (d *decoder) unsetIfEmpty(path string, v ast.Node) bool {
	empty := false
	switch v := v.(type) {
	case *ast.StringNode:
		empty = v.Value == ""
	case *ast.MappingNode:
		empty = len(v.Values) == 0
	}
	if empty {
		delete(d.vals, path)
	}
	return empty
}

// optional wraps a decoder of an optional value whose default is empty.
func (d *decoder) optional(fn func(string, ast.Node)) func(string, ast.Node) {
	return func(p string, v ast.Node) {
		if !d.unsetIfEmpty(p, v) {
			fn(p, v)
		}
	}
}

func (d *decoder) decodeSpec(root ast.Node, s *Spec) {
	meant := d.object(root, "spec", "", "", fields{
		"version": func(p string, v ast.Node) {
			x, ok := d.integer(v, p)
			if !ok {
				return
			}
			if x != 1 {
				d.errorf(d.posOf(v), "version: unsupported spec version %d; this streamgen reads version 1", x)
				return
			}
			s.Version = 1
		},
		"name": func(p string, v ast.Node) {
			name, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			if !jobNameRE.MatchString(name) {
				d.errorf(d.posOf(v), "name: %q is not a valid job name; it must match [a-z0-9][a-z0-9._-]* (it becomes the group id, metrics prefix and binary name)", name)
				return
			}
			s.Name = name
		},
		"package": func(p string, v ast.Node) {
			pkg, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			if msg := packageErr(pkg); msg != "" {
				d.errorf(d.posOf(v), "package: %s", msg)
				return
			}
			s.Package, s.PackagePos = pkg, d.posOf(v)
		},
		"output": func(p string, v ast.Node) {
			out, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			if strings.TrimSpace(out) == "" {
				d.errorf(d.posOf(v), "output: must not be empty (omit it to use \"./\" + package)")
				return
			}
			s.Output, s.OutputPos = out, d.posOf(v)
		},
		"schemas":  func(p string, v ast.Node) { d.decodeSchemas(v, p, s) },
		"streams":  func(p string, v ast.Node) { d.decodeStreams(v, p, s) },
		"kafka":    func(p string, v ast.Node) { d.decodeKafka(v, p, &s.Kafka) },
		"batch":    func(p string, v ast.Node) { d.decodeBatch(v, p, &s.Batch) },
		"location": func(p string, v ast.Node) { d.decodeLocation(v, p, &s.Location) },
		"workers":  func(p string, v ast.Node) { d.intField(v, p, 0, &s.Workers) },
		"semantics": func(p string, v ast.Node) {
			d.enum(v, p, &s.Semantics, "at-most-once", "at-least-once", "exactly-once")
		},
		"onDecodeError":   func(p string, v ast.Node) { d.enum(v, p, &s.OnDecodeError, "fail", "skip", "dead-letter") },
		"deadLetterTopic": d.optional(func(p string, v ast.Node) { s.DeadLetterTopic, _ = d.topic(v, p, runtime) }),
		"offsets": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in offsets", fields{
				"store": func(p string, v ast.Node) { d.enum(v, p, &s.Offsets.Store, "kafka", "postgres", "files") },
				"dsn":   d.optional(func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Offsets.DSN, nil) }),
				"dir":   d.optional(func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Offsets.Dir, nil) }),
			})
		},
		"sink": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in sink", fields{
				"type": func(p string, v ast.Node) { d.enum(v, p, &s.Sink.Type, "none", "files", "postgres", "kafka") },
				"dir":  d.optional(func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Sink.Dir, nil) }),
				"dsn":  d.optional(func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Sink.DSN, nil) }),
				"table": d.optional(func(p string, v ast.Node) {
					d.runtimeStr(v, p, &s.Sink.Table, func(t string) string {
						if !tableRE.MatchString(t) {
							return fmt.Sprintf("%q is not a table name (table or schema.table, unquoted SQL identifiers)", t)
						}
						return ""
					})
				}),
				"topic": d.optional(func(p string, v ast.Node) { s.Sink.Topic, _ = d.topic(v, p, runtime) }),
			})
		},
		"retries": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in retries", fields{
				"maxFailures": func(p string, v ast.Node) { d.intField(v, p, 1, &s.Retries.MaxFailures) },
				"backoff":     func(p string, v ast.Node) { d.duration(v, p, false, &s.Retries.Backoff) },
			})
		},
		"shutdown": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in shutdown", fields{
				"graceful": func(p string, v ast.Node) { d.boolean(v, p, &s.Shutdown.Graceful) },
				"timeout":  func(p string, v ast.Node) { d.duration(v, p, false, &s.Shutdown.Timeout) },
			})
		},
		"status": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in status", fields{
				"addr": func(p string, v ast.Node) { d.runtimeStr(v, p, &s.Status.Addr, hostPortErr) },
			})
		},
	})
	for _, key := range []string{"version", "name", "streams"} {
		if !d.has(key) && !meant[key] {
			d.errorf(d.at(key), "missing required key %q", key)
		}
	}
}

// packageErr explains why pkg cannot be a Go package name, or returns "".
func packageErr(pkg string) string {
	switch {
	case token.IsKeyword(pkg):
		return fmt.Sprintf("%q is a Go keyword and cannot be a package name", pkg)
	case !token.IsIdentifier(pkg):
		return fmt.Sprintf("%q is not a valid Go package name (letters, digits and _, not starting with a digit)", pkg)
	}
	return ""
}

func (d *decoder) decodeSchemas(n ast.Node, p string, s *Spec) {
	d.object(n, p, p+".", "in schemas", fields{
		"files": func(p string, v ast.Node) {
			items, ok := d.list(v, p)
			if !ok {
				return
			}
			for _, it := range items {
				f, ok := d.str(it, p, genTime)
				if !ok {
					continue
				}
				if f == "" {
					d.errorf(d.posOf(it), "%s: empty pattern", p)
					continue
				}
				if _, err := path.Match(filepath.ToSlash(f), ""); err != nil {
					d.errorf(d.posOf(it), "%s: bad glob pattern %q: %v", p, f, err)
					continue
				}
				s.Schemas.Files = append(s.Schemas.Files, f)
				s.Schemas.FilesPos = append(s.Schemas.FilesPos, d.posOf(it))
			}
		},
		"registry": func(p string, v ast.Node) {
			r := &Registry{}
			s.Schemas.Registry = r
			// The connection settings may name variables that are not
			// set: only contacting the registry needs them (see
			// Registry.Unset). unset records which.
			unset := map[string]bool{}
			connection := func(p string, v ast.Node) (string, bool) {
				d.unset = &r.Unset
				n := len(r.Unset)
				x, ok := d.str(v, p, genTime)
				d.unset = nil
				if len(r.Unset) > n {
					unset[p] = true
				}
				return x, ok
			}
			meant := d.object(v, p, p+".", "in schemas.registry", fields{
				"url": func(p string, v ast.Node) {
					// The job's default is the text as written, whether or
					// not its variables are set here.
					r.URLText = rawText(v)
					u, ok := connection(p, v)
					if !ok {
						return
					}
					if msg := urlErr(u); msg != "" {
						d.errorf(d.posOf(v), "%s: %s", p, msg)
						return
					}
					r.URL = u
				},
				"subjects": func(p string, v ast.Node) { r.Subjects = d.decodeSubjects(v, p) },
				"username": func(p string, v ast.Node) { r.Username, _ = connection(p, v) },
				"password": func(p string, v ast.Node) { r.Password, _ = connection(p, v) },
				"token":    func(p string, v ast.Node) { r.Token, _ = connection(p, v) },
				"tls": func(p string, v ast.Node) {
					r.TLSPos = d.posOf(v)
					file := func(path, text *string) func(string, ast.Node) {
						return func(p string, v ast.Node) {
							*text = rawText(v)
							if s, ok := connection(p, v); ok {
								*path = d.relative(s)
							}
						}
					}
					d.object(v, p, p+".", "in schemas.registry.tls", fields{
						"ca":   file(&r.TLS.CA, &r.TLSText.CA),
						"cert": file(&r.TLS.Cert, &r.TLSText.Cert),
						"key":  file(&r.TLS.Key, &r.TLSText.Key),
						"insecureSkipVerify": func(p string, v ast.Node) {
							d.boolean(v, p, &r.TLS.InsecureSkipVerify)
							r.TLSText.InsecureSkipVerify = r.TLS.InsecureSkipVerify
						},
					})
					if (r.TLS.Cert == "" && !unset[p+".cert"]) != (r.TLS.Key == "" && !unset[p+".key"]) {
						d.errorf(d.at(p+".cert", p), "%s: cert and key go together", p)
					}
				},
			})
			set := func(key, val string) bool { return val != "" || unset[p+"."+key] }
			token, user, pass := set("token", r.Token), set("username", r.Username), set("password", r.Password)
			if token && (user || pass) {
				d.errorf(d.at(p+".token", p), "%s.token: use a bearer token or a username and password, not both", p)
			}
			if user != pass && !token {
				d.errorf(d.at(p+".username", p), "%s: username and password go together", p)
			}
			if !d.has(p+".url") && !meant["url"] {
				d.errorf(d.at(p+".url", p), "missing required key \"url\" in schemas.registry")
			}
		},
	})
}

func (d *decoder) decodeSubjects(n ast.Node, p string) []Subject {
	items, ok := d.list(n, p)
	if !ok {
		return nil
	}
	var subs []Subject
	seen := map[string]bool{}
	for _, it := range items {
		raw, ok := d.str(it, p, genTime)
		if !ok {
			continue
		}
		sub := Subject{Pos: d.posOf(it)}
		name, ver, pinned := strings.Cut(raw, "@")
		sub.Name = name
		if strings.TrimSpace(name) == "" {
			d.errorf(sub.Pos, "%s: %q has an empty subject name", p, raw)
			continue
		}
		if pinned && ver != "latest" {
			n, err := strconv.Atoi(ver)
			if err != nil || n < 1 {
				d.errorf(sub.Pos, "%s: %q: version must be a positive integer or \"latest\", got %q", p, raw, ver)
				continue
			}
			sub.Version = n
		}
		if seen[name] {
			d.errorf(sub.Pos, "%s: subject %q is listed twice", p, name)
			continue
		}
		seen[name] = true
		subs = append(subs, sub)
	}
	return subs
}

func (d *decoder) decodeStreams(n ast.Node, p string, s *Spec) {
	items, ok := d.list(n, p)
	if !ok {
		return
	}
	if len(items) == 0 {
		d.errorf(d.posOf(n), "streams: at least one stream is required")
		return
	}
	names := map[string]Pos{}
	for i, it := range items {
		st, namePos, ok := d.decodeStream(i, it)
		if !ok {
			continue
		}
		if st.Name != "" {
			if prev, dup := names[st.Name]; dup {
				d.errorf(namePos, "duplicate stream name %q (first defined at line %d); stream names must be unique", st.Name, prev.Line)
			} else {
				names[st.Name] = namePos
			}
		}
		s.Streams = append(s.Streams, st)
	}
}

// decodeStream returns the stream and the position of its name.
func (d *decoder) decodeStream(i int, n ast.Node) (Stream, Pos, bool) {
	st := Stream{Key: "none", Encoding: "confluent", Pos: d.posOf(n)}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.typeErr(n, fmt.Sprintf("streams[%d]", i), "a mapping")
		return st, Pos{}, false
	}
	label := fmt.Sprintf("streams[%d]", i)
	for _, mv := range m.Values {
		if keyText(d.resolve(mv.Key)) == "name" {
			if v, ok := d.resolve(mv.Value).(*ast.StringNode); ok && streamNameRE.MatchString(v.Value) {
				label = fmt.Sprintf("stream %q", v.Value)
			}
		}
	}
	// The same name twice would share paths; the duplicate is reported
	// by decodeStreams, but positions must stay the stream's own.
	if _, dup := d.keys[label+": name"]; dup {
		label = fmt.Sprintf("%s (streams[%d])", label, i)
	}
	prefix := label + ": "
	var strategies []string
	startPos := map[string]Pos{}
	meant := d.object(m, label, prefix, "in "+label, fields{
		"name": func(p string, v ast.Node) {
			name, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			if !streamNameRE.MatchString(name) {
				d.errorf(d.posOf(v), "%s: %q is not a valid stream name; it must match [a-z][a-z0-9_]* (generated type names derive from it)", p, name)
				return
			}
			st.Name = name
		},
		"subscribe": func(p string, v ast.Node) {
			strategies = append(strategies, "subscribe")
			items, ok := d.list(v, p)
			if !ok {
				return
			}
			if len(items) == 0 {
				d.errorf(d.posOf(v), "%s: at least one topic is required", p)
			}
			for _, it := range items {
				t, ok := d.topic(it, p, noRefs)
				if !ok {
					continue
				}
				if d.useTopic(t, label, d.posOf(it)) {
					st.Subscribe = append(st.Subscribe, t)
				}
			}
		},
		"pattern": func(p string, v ast.Node) {
			strategies = append(strategies, "pattern")
			pat, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			if pat == "" {
				d.errorf(d.posOf(v), "%s: must not be empty", p)
				return
			}
			if _, err := regexp.Compile(pat); err != nil {
				d.errorf(d.posOf(v), "%s: invalid Go regexp: %v", p, err)
				return
			}
			st.Pattern = pat
		},
		"assign": func(p string, v ast.Node) {
			strategies = append(strategies, "assign")
			es := d.entries(v, p)
			if len(es) == 0 {
				d.errorf(d.posOf(v), "%s: at least one topic is required", p)
				return
			}
			st.Assign = map[string][]int32{}
			for _, e := range es {
				if msg := topicErr(e.key); msg != "" {
					d.errorf(e.keyPos, "%s: %s", p, msg)
					continue
				}
				parts := d.partitions(e.val, fmt.Sprintf("%s: %s", p, e.key))
				if parts != nil && d.useTopic(e.key, label, e.keyPos) {
					st.Assign[e.key] = parts
				}
			}
		},
		"startingOffsets": func(p string, v ast.Node) {
			st.StartingOffsets = map[string]map[int32]int64{}
			for _, e := range d.entries(v, p) {
				if msg := topicErr(e.key); msg != "" {
					d.errorf(e.keyPos, "%s: %s", p, msg)
					continue
				}
				tp := fmt.Sprintf("%s: %s", p, e.key)
				startPos[e.key] = e.keyPos
				offs := map[int32]int64{}
				var pes []entry
				if !isNull(e.val) {
					pes = d.entries(e.val, tp)
				}
				if len(pes) == 0 && (isNull(e.val) || isMapping(e.val)) {
					d.errorf(e.keyPos, "%s: no partition offsets given for topic %q", p, e.key)
					continue
				}
				for _, pe := range pes {
					part, ok := parsePartition(pe.key)
					if !ok {
						d.errorf(pe.keyPos, "%s: partition %q is not an integer >= 0", tp, pe.key)
						continue
					}
					off, ok := d.integer(pe.val, fmt.Sprintf("%s: %d", tp, part))
					if !ok {
						continue
					}
					if off < 0 {
						d.errorf(d.posOf(pe.val), "%s: %d: offset must be >= 0, got %d (use kafka.startFrom for earliest or latest)", tp, part, off)
						continue
					}
					offs[part] = off
				}
				if len(offs) > 0 {
					st.StartingOffsets[e.key] = offs
				}
			}
		},
		"key": func(p string, v ast.Node) {
			k, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			switch k {
			case "string", "bytes", "int32", "int64", "none":
			default:
				if !avroNameRE.MatchString(k) {
					d.errorf(d.posOf(v), "%s: invalid key type %q; want string, bytes, int32, int64, none or an Avro full name such as com.example.Key%s", p, k, didYouMean(k, []string{"string", "bytes", "int32", "int64", "none"}))
					return
				}
			}
			st.Key, st.KeyPos = k, d.posOf(v)
		},
		"value": func(p string, v ast.Node) {
			val, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			switch val {
			case "null", "boolean", "int", "long", "float", "double", "bytes", "string", "int32", "int64", "none":
				d.errorf(d.posOf(v), "%s: %q is not a record; a stream's value must be an Avro record, named by its full name such as com.example.ads.Impression (only a key may be a %s)", p, val, orList([]string{"string", "bytes", "int32", "int64"}))
				return
			}
			if !avroNameRE.MatchString(val) {
				d.errorf(d.posOf(v), "%s: %q is not an Avro full name such as com.example.ads.Impression", p, val)
				return
			}
			st.Value, st.ValuePos = val, d.posOf(v)
		},
		"encoding": func(p string, v ast.Node) { d.enum(v, p, &st.Encoding, "confluent", "raw") },
		"writerSchema": func(p string, v ast.Node) {
			f, ok := d.str(v, p, genTime)
			if !ok {
				return
			}
			if f == "" {
				d.errorf(d.posOf(v), "%s: empty file name", p)
				return
			}
			st.WriterSchema, st.WriterSchemaPos = f, d.posOf(v)
		},
	})
	if st.WriterSchema != "" && st.Encoding != "raw" {
		d.errorf(st.WriterSchemaPos, "%swriterSchema is only for encoding: raw; Confluent-framed records name their writer schema by id, which the job looks up in the registry", prefix)
	}
	if !d.has(prefix+"name") && !meant["name"] {
		d.errorf(st.Pos, "missing required key \"name\" in %s", label)
	}
	if st.KeyPos.Line == 0 {
		st.KeyPos = st.Pos
	}
	if !d.has(prefix+"value") && !meant["value"] {
		d.errorf(st.Pos, "missing required key \"value\" in %s: the Avro full name of the record value type", label)
	}
	if st.ValuePos.Line == 0 {
		st.ValuePos = st.Pos
	}
	switch len(strategies) {
	case 0:
		if meant["subscribe"] || meant["pattern"] || meant["assign"] {
			break
		}
		d.errorf(st.Pos, "%s: set one of subscribe, pattern or assign to say which topics it reads", label)
	case 1:
	default:
		d.errorf(d.at(prefix+strategies[1]), "%s: %s and %s cannot be combined; set exactly one of subscribe, pattern or assign", label, strategies[0], strategies[1])
	}
	// Starting offsets must name what the stream reads.
	for _, t := range slices.Sorted(mapKeys(startPos)) {
		pos := startPos[t]
		switch {
		case st.Subscribe != nil && !slices.Contains(st.Subscribe, t):
			d.errorf(pos, "%s: startingOffsets: topic %q is not one of the subscribed topics %v", label, t, st.Subscribe)
		case st.Assign != nil:
			parts, ok := st.Assign[t]
			if !ok {
				d.errorf(pos, "%s: startingOffsets: topic %q is not one of the assigned topics", label, t)
				continue
			}
			for _, part := range slices.Sorted(mapKeys(st.StartingOffsets[t])) {
				if !slices.Contains(parts, part) {
					d.errorf(pos, "%s: startingOffsets: partition %d of topic %q is not assigned", label, part, t)
				}
			}
		case st.Pattern != "" && !regexp.MustCompile(st.Pattern).MatchString(t):
			d.errorf(pos, "%s: startingOffsets: topic %q does not match pattern %q", label, t, st.Pattern)
		}
	}
	return st, d.at(prefix + "name"), true
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// useTopic records that stream reads topic t, reporting a topic read by
// two streams.
func (d *decoder) useTopic(t, stream string, pos Pos) bool {
	if prev, ok := d.topics[t]; ok {
		if prev.stream == stream {
			d.errorf(pos, "%s: topic %q is listed twice", stream, t)
		} else {
			d.errorf(pos, "%s: topic %q is already read by %s (line %d); a topic can feed only one stream", stream, t, prev.stream, prev.pos.Line)
		}
		return false
	}
	d.topics[t] = topicUse{stream, pos}
	return true
}

func parsePartition(s string) (int32, bool) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, false
	}
	return int32(n), true
}

// partitions decodes a non-empty list of distinct partition numbers.
func (d *decoder) partitions(n ast.Node, p string) []int32 {
	items, ok := d.list(n, p)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.errorf(d.posOf(n), "%s: at least one partition is required", p)
		return nil
	}
	var parts []int32
	for _, it := range items {
		x, ok := d.integer(it, p)
		if !ok {
			continue
		}
		if x < 0 || x > math.MaxInt32 {
			d.errorf(d.posOf(it), "%s: partition %d is out of range (0 to %d)", p, x, math.MaxInt32)
			continue
		}
		if slices.Contains(parts, int32(x)) {
			d.errorf(d.posOf(it), "%s: partition %d is listed twice", p, x)
			continue
		}
		parts = append(parts, int32(x))
	}
	if len(parts) == 0 {
		return nil
	}
	return parts
}

func (d *decoder) decodeKafka(n ast.Node, p string, k *Kafka) {
	d.object(n, p, p+".", "in kafka", fields{
		"brokers": func(p string, v ast.Node) {
			items, ok := d.list(v, p)
			if !ok {
				return
			}
			if len(items) == 0 {
				d.errorf(d.posOf(v), "%s: at least one broker is required (omit the key for localhost:9092)", p)
				return
			}
			var bs []string
			for _, it := range items {
				var b string
				d.runtimeStr(it, p, &b, hostPortErr)
				if b != "" {
					bs = append(bs, b)
				}
			}
			k.Brokers = bs
		},
		"group": func(p string, v ast.Node) {
			k.GroupSet = true
			d.runtimeStr(v, p, &k.Group, nonEmpty("group id"))
		},
		"startFrom": func(p string, v ast.Node) {
			sf, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			switch {
			case sf == "committed", sf == "earliest", sf == "latest":
			case strings.HasPrefix(sf, "timestamp:"):
				if _, err := time.Parse(time.RFC3339, strings.TrimPrefix(sf, "timestamp:")); err != nil {
					d.errorf(d.posOf(v), "%s: %q: the timestamp must be RFC3339, such as timestamp:2024-05-01T00:00:00Z", p, sf)
					return
				}
			default:
				d.errorf(d.posOf(v), "%s: invalid value %q; want committed, earliest, latest or timestamp:RFC3339%s", p, sf, didYouMean(sf, []string{"committed", "earliest", "latest"}))
				return
			}
			k.StartFrom = sf
		},
		"resetTo":   func(p string, v ast.Node) { d.enum(v, p, &k.ResetTo, "earliest", "latest", "error") },
		"isolation": func(p string, v ast.Node) { d.enum(v, p, &k.Isolation, "read_committed", "read_uncommitted") },
		"tls": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in kafka.tls", fields{
				"enabled":            func(p string, v ast.Node) { d.boolean(v, p, &k.TLS.Enabled) },
				"ca":                 func(p string, v ast.Node) { d.runtimeStr(v, p, &k.TLS.CA, nil) },
				"cert":               func(p string, v ast.Node) { d.runtimeStr(v, p, &k.TLS.Cert, nil) },
				"key":                func(p string, v ast.Node) { d.runtimeStr(v, p, &k.TLS.Key, nil) },
				"insecureSkipVerify": func(p string, v ast.Node) { d.boolean(v, p, &k.TLS.InsecureSkipVerify) },
			})
		},
		"sasl": func(p string, v ast.Node) {
			d.object(v, p, p+".", "in kafka.sasl", fields{
				"mechanism": func(p string, v ast.Node) {
					mechs := []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
					d.runtimeStr(v, p, &k.SASL.Mechanism, func(m string) string {
						if m != "" && !slices.Contains(mechs, m) {
							return fmt.Sprintf("invalid value %q; want \"\" (no SASL), %s%s", m, orList(mechs), didYouMean(m, mechs))
						}
						return ""
					})
				},
				"username": func(p string, v ast.Node) { d.runtimeStr(v, p, &k.SASL.Username, nil) },
				"password": func(p string, v ast.Node) { d.runtimeStr(v, p, &k.SASL.Password, nil) },
			})
		},
	})
}

func (d *decoder) decodeBatch(n ast.Node, p string, b *Batch) {
	d.object(n, p, p+".", "in batch", fields{
		"interval":            func(p string, v ast.Node) { d.duration(v, p, true, &b.Interval) },
		"maxRatePerPartition": func(p string, v ast.Node) { d.intMin(v, p, 0, &b.MaxRatePerPartition) },
		"minRatePerPartition": func(p string, v ast.Node) { d.intMin(v, p, 0, &b.MinRatePerPartition) },
		"pollTimeout":         func(p string, v ast.Node) { d.duration(v, p, true, &b.PollTimeout) },
		"backpressure": func(p string, v ast.Node) {
			bp := &b.Backpressure
			d.object(v, p, p+".", "in batch.backpressure", fields{
				"enabled":      func(p string, v ast.Node) { d.boolean(v, p, &bp.Enabled) },
				"initialRate":  func(p string, v ast.Node) { d.intMin(v, p, 0, &bp.InitialRate) },
				"proportional": func(p string, v ast.Node) { d.float(v, p, &bp.Proportional) },
				"integral":     func(p string, v ast.Node) { d.float(v, p, &bp.Integral) },
				"derived":      func(p string, v ast.Node) { d.float(v, p, &bp.Derived) },
				"minRate":      func(p string, v ast.Node) { d.intMin(v, p, 1, &bp.MinRate) },
			})
		},
	})
}

func (d *decoder) decodeLocation(n ast.Node, p string, l *Location) {
	d.object(n, p, p+".", "in location", fields{
		"strategy": func(p string, v ast.Node) { d.enum(v, p, &l.Strategy, "consistent", "brokers", "fixed") },
		"fixed": d.optional(func(p string, v ast.Node) {
			l.Fixed = map[string]string{}
			for _, e := range d.entries(v, p) {
				t, part, ok := strings.Cut(e.key, "/") // topic names hold no '/'
				if _, pok := parsePartition(part); !ok || !pok || topicErr(t) != "" {
					d.errorf(e.keyPos, "%s: key %q must be topic/partition, such as impressions/0", p, e.key)
					continue
				}
				host, ok := d.str(e.val, p+": "+e.key, noRefs)
				if !ok {
					continue
				}
				if strings.TrimSpace(host) == "" {
					d.errorf(d.posOf(e.val), "%s: %s: host or instance must not be empty", p, e.key)
					continue
				}
				l.Fixed[e.key] = host
			}
		}),
	})
}

// urlErr explains why u is not a usable registry URL, or returns "".
func urlErr(u string) string {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return fmt.Sprintf("%q is not an http or https URL", u)
	}
	return ""
}
