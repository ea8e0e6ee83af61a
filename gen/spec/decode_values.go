package spec

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/streamgen/streamgen/gen/names"
	"github.com/streamgen/streamgen/runtime/envsubst"
)

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

// enumValue is a typed setting of runtime/config: it lists its words and
// unmarshals one.
type enumValue interface {
	encoding.TextUnmarshaler
	Names() []string
}

// enum decodes one of dst's words into dst.
func (d *decoder) enum(n ast.Node, path string, dst enumValue) {
	s, ok := d.str(n, path, noRefs)
	if !ok {
		return
	}
	allowed := dst.Names()
	if !slices.Contains(allowed, s) {
		d.errorf(d.posOf(n), "%s: invalid value %q; want %s%s", path, s, orList(allowed), didYouMean(s, allowed))
		d.refused(path)
		return
	}
	if err := dst.UnmarshalText([]byte(s)); err != nil {
		d.errorf(d.posOf(n), "%v", err)
		d.refused(path)
	}
}

// words is an enumValue of plain strings, for settings that only the
// generator reads.
type words struct {
	dst   *string
	names []string
}

func (w words) Names() []string { return w.names }

func (w words) UnmarshalText(b []byte) error { *w.dst = string(b); return nil }

// removed reports a key this spec version no longer has, and why.
func (d *decoder) removed(why string) func(string, ast.Node) {
	return func(p string, v ast.Node) {
		d.errorf(d.posOf(v), "%s: removed: %s; delete the key", p, why)
	}
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

// statusAddrErr is hostPortErr, but "" is a value: no status server.
func statusAddrErr(s string) string {
	if s == "" {
		return ""
	}
	return hostPortErr(s)
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
