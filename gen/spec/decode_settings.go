package spec

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/streamgen/streamgen/runtime/config"
)

// The job's settings are decoded from their table, config.Settings: each
// key's place in the spec, its type, its default and its checks are its
// entry's, so a setting added there is a key of the spec without a line
// here. The keys under schemas are the generator's too (it reads the
// registry), so decodeSchemas decodes them.

// settingFields are the decoders of table's spec keys outside schemas,
// nested as the keys are (kafka.tls.enabled is tls's enabled, in kafka's
// fields), with extra's keys (by path: the keys of those objects that are
// not settings) among them.
func (d *decoder) settingFields(table []config.Setting, extra map[string]func(string, ast.Node)) fields {
	root := &keyTree{}
	for i := range table {
		s := &table[i]
		if s.NotInSpec || strings.HasPrefix(s.Key, "schemas.") {
			continue
		}
		root.add(s.Key, d.settingDecoder(s))
	}
	for path, fn := range extra {
		root.add(path, fn)
	}
	return root.fields(d, "")
}

// keyTree is the spec's keys below one object: a decoder for each leaf, a
// tree for each object.
type keyTree struct {
	leaves  map[string]func(string, ast.Node)
	objects map[string]*keyTree
}

func (t *keyTree) add(path string, fn func(string, ast.Node)) {
	head, rest, nested := strings.Cut(path, ".")
	if !nested {
		if t.leaves == nil {
			t.leaves = map[string]func(string, ast.Node){}
		}
		t.leaves[head] = fn
		return
	}
	if t.objects == nil {
		t.objects = map[string]*keyTree{}
	}
	if t.objects[head] == nil {
		t.objects[head] = &keyTree{}
	}
	t.objects[head].add(rest, fn)
}

// fields are the tree's decoders, an object's decoding its keys in turn.
func (t *keyTree) fields(d *decoder, prefix string) fields {
	fs := fields{}
	for k, fn := range t.leaves {
		fs[k] = fn
	}
	for k, sub := range t.objects {
		if _, clash := fs[k]; clash {
			panic(fmt.Sprintf("spec: %s%s is both a setting and an object of settings", prefix, k))
		}
		subFields := sub.fields(d, prefix+k+".")
		fs[k] = func(p string, v ast.Node) { d.object(v, p, p+".", "in "+p, subFields) }
	}
	return fs
}

// settingDecoder decodes the setting's value, by the type of its field,
// into the Spec's Job.
func (d *decoder) settingDecoder(s *config.Setting) func(string, ast.Node) {
	job := func() *config.Job { return &d.spec.Job }
	lo := int64(0)
	if s.Positive {
		lo = 1
	}
	switch s.Value(&config.Job{}).(type) {
	case *string:
		fn := func(p string, v ast.Node) { d.stringSetting(s, p, v, s.Value(job()).(*string)) }
		if s.Format != config.NonEmpty && (s.DefaultValue() == "" || stringCheck(s)("") != "") {
			// "" is the default, or no value (offsets.table): written
			// as "", the key counts as not written (unsetIfEmpty). A
			// NonEmpty key says so instead.
			return d.optional(fn)
		}
		return fn
	case *[]string:
		return func(p string, v ast.Node) { d.listSetting(s, p, v, s.Value(job()).(*[]string)) }
	case *time.Duration:
		return func(p string, v ast.Node) { d.duration(v, p, s.Positive, s.Value(job()).(*time.Duration)) }
	case *int:
		return func(p string, v ast.Node) { d.intField(v, p, lo, s.Value(job()).(*int)) }
	case *int64:
		return func(p string, v ast.Node) { d.intMin(v, p, lo, s.Value(job()).(*int64)) }
	case *float64:
		return func(p string, v ast.Node) { d.float(v, p, s.Value(job()).(*float64)) }
	case *bool:
		return func(p string, v ast.Node) { d.boolean(v, p, s.Value(job()).(*bool)) }
	case *config.StartPosition:
		return func(p string, v ast.Node) { d.startFrom(p, v, s.Value(job()).(*config.StartPosition)) }
	case *map[string]string:
		return d.optional(func(p string, v ast.Node) { d.placement(p, v, s.Value(job()).(*map[string]string)) })
	case enumValue:
		return func(p string, v ast.Node) { d.enum(v, p, s.Value(job()).(enumValue)) }
	}
	panic(fmt.Sprintf("spec: setting %s: no decoder for a field of type %T", s.Key, s.Value(&config.Job{})))
}

// stringCheck is the check of a string setting's value without
// references: an error message, or "".
func stringCheck(s *config.Setting) func(string) string {
	switch {
	case len(s.Words) > 0:
		return func(v string) string {
			if slices.Contains(s.Words, v) {
				return ""
			}
			var want []string
			for _, w := range s.Words {
				if w == "" {
					want = append(want, `"" (`+s.EmptyMeans+`)`)
				} else {
					want = append(want, w)
				}
			}
			return fmt.Sprintf("invalid value %q; want %s%s", v, orList(want), didYouMean(v, s.Words))
		}
	case s.Format == config.NonEmpty:
		return nonEmpty("the value")
	case s.Format == config.HostPort:
		return hostPortErr
	case s.Format == config.HostPortOrOff:
		return statusAddrErr
	case s.Format == config.Topic:
		return topicErr
	case s.Format == config.TableName:
		return tableName
	}
	return func(string) string { return "" }
}

// stringSetting decodes a runtime value: ${VAR} references are kept for
// the job to expand, and the value is checked when it has none.
func (d *decoder) stringSetting(s *config.Setting, p string, v ast.Node, dst *string) {
	d.runtimeStr(v, p, dst, stringCheck(s))
}

// listSetting decodes a list of runtime values, each checked as a string
// setting's; an empty list is an error, since it would leave the job
// without the default.
func (d *decoder) listSetting(s *config.Setting, p string, v ast.Node, dst *[]string) {
	items, ok := d.list(v, p)
	if !ok {
		return
	}
	if len(items) == 0 {
		def, _ := s.DefaultValue().([]string)
		d.errorf(d.posOf(v), "%s: at least one is required (omit the key for %s)", p, strings.Join(def, ","))
		return
	}
	var out []string
	for _, it := range items {
		var x string
		d.runtimeStr(it, p, &x, stringCheck(s))
		if x != "" {
			out = append(out, x)
		}
	}
	*dst = out
}

// startFrom decodes a StartPosition: one of startWords, or
// timestamp:RFC3339.
func (d *decoder) startFrom(p string, v ast.Node, dst *config.StartPosition) {
	sf, ok := d.str(v, p, noRefs)
	if !ok {
		return
	}
	switch {
	case strings.HasPrefix(sf, "timestamp:"):
		if _, err := time.Parse(time.RFC3339, strings.TrimPrefix(sf, "timestamp:")); err != nil {
			d.errorf(d.posOf(v), "%s: %q: the timestamp must be RFC3339, such as timestamp:2024-05-01T00:00:00Z", p, sf)
			return
		}
	case !slices.Contains(startWords, sf):
		d.errorf(d.posOf(v), "%s: invalid value %q; want committed, earliest, latest or timestamp:RFC3339%s", p, sf, didYouMean(sf, startWords))
		return
	}
	if err := dst.UnmarshalText([]byte(sf)); err != nil {
		d.errorf(d.posOf(v), "%v", err)
	}
}

// placement decodes a map of topic/partition to a host or instance, the
// value of a map setting (location.fixed).
func (d *decoder) placement(p string, v ast.Node, dst *map[string]string) {
	m := map[string]string{}
	*dst = m
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
		m[e.key] = host
	}
}

// startWords are kafka.startFrom's words besides timestamp:RFC3339.
var startWords = config.StartKind(0).Names()[:config.StartFromTimestamp]
