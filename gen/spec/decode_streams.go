package spec

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// fingerprintRE matches a schema fingerprint as streamgen prints it.
var fingerprintRE = regexp.MustCompile(`^0x[0-9a-f]{16}$`)

func (d *decoder) decodeStreams(n ast.Node, p string, s *Spec) {
	items, ok := d.list(n, p)
	if !ok {
		return
	}
	if len(items) == 0 {
		d.errorf(d.posOf(n), "streams: at least one stream is required")
		return
	}
	s.Streams = decodeNamed(d, items, "stream", func(i int, n ast.Node) (Stream, string, Pos, bool) {
		st, namePos, ok := d.decodeStream(i, n)
		return st, st.Name, namePos, ok
	})
}

// decodeNamed decodes the items of a list of named entries (streams,
// tables, values) with one, reporting a name given twice at the second.
func decodeNamed[T any](d *decoder, items []ast.Node, kind string, one func(i int, n ast.Node) (v T, name string, at Pos, ok bool)) []T {
	var out []T
	names := map[string]Pos{}
	for i, it := range items {
		v, name, at, ok := one(i, it)
		if !ok {
			continue
		}
		if name != "" {
			if prev, dup := names[name]; dup {
				d.errorf(at, "duplicate %s name %q (first defined at line %d); %s names must be unique", kind, name, prev.Line, kind)
			} else {
				names[name] = at
			}
		}
		out = append(out, v)
	}
	return out
}

// decodeStream returns the stream and the position of its name.
func (d *decoder) decodeStream(i int, n ast.Node) (Stream, Pos, bool) {
	st := Stream{Key: "none", Encoding: "confluent", Pos: d.posOf(n)}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.typeErr(n, fmt.Sprintf("streams[%d]", i), "a mapping")
		return st, Pos{}, false
	}
	label := d.itemLabel(m, "streams", "stream", i)
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
		"encoding": func(p string, v ast.Node) {
			d.enum(v, p, words{dst: &st.Encoding, names: []string{"confluent", "raw", "single-object"}})
		},
		"acknowledgeSchemaChange": func(p string, v ast.Node) {
			f, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			if !fingerprintRE.MatchString(f) {
				d.errorf(d.posOf(v), "%s: %q is not a schema fingerprint such as \"0x5c1a7f2e9b03d4a8\" (generate prints the one to acknowledge)", p, f)
				return
			}
			st.AcknowledgeSchemaChange, st.AcknowledgePos = f, d.posOf(v)
		},
		"fields": func(p string, v ast.Node) {
			st.FieldsListPos = d.posOf(v)
			d.fieldPaths(v, p, &st)
		},
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
	if st.WriterSchema != "" && st.Encoding == "confluent" {
		d.errorf(st.WriterSchemaPos, "%swriterSchema is only for encoding: raw or single-object; Confluent-framed records name their writer schema by id, which the job looks up in the registry", prefix)
	}
	if st.AcknowledgeSchemaChange != "" && st.Encoding != "raw" {
		d.errorf(st.AcknowledgePos, "%sacknowledgeSchemaChange is only for encoding: raw; %s records name their writer schema, so a change of the value type needs no acknowledgement", prefix, st.Encoding)
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

// itemLabel names the i-th item of list (streams, tables) in messages
// and key paths: what and its name once the name is valid (stream
// "impressions"), else list[i]. The same name twice would share paths;
// the duplicate is reported by the list's decoder, but positions must
// stay each item's own, so the second gets its index too.
func (d *decoder) itemLabel(m *ast.MappingNode, list, what string, i int) string {
	label := fmt.Sprintf("%s[%d]", list, i)
	for _, mv := range m.Values {
		if keyText(d.resolve(mv.Key)) == "name" {
			if v, ok := d.resolve(mv.Value).(*ast.StringNode); ok && streamNameRE.MatchString(v.Value) {
				label = fmt.Sprintf("%s %q", what, v.Value)
			}
		}
	}
	if _, dup := d.keys[label+": name"]; dup {
		label = fmt.Sprintf("%s (%s[%d])", label, list, i)
	}
	return label
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

// fieldPathRE matches a field path: Avro field names joined by dots.
var fieldPathRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// fieldPaths decodes a stream's fields: a non-empty list of field paths,
// none listed twice and none inside another one listed (geo already
// holds geo.country). Whether they name fields of the value is checked
// against the schemas, later.
func (d *decoder) fieldPaths(n ast.Node, p string, st *Stream) {
	items, ok := d.list(n, p)
	if !ok {
		return
	}
	if len(items) == 0 {
		d.errorf(d.posOf(n), "%s: at least one field is required; leave fields out to read the whole value", p)
		return
	}
	seen := map[string]Pos{}
	for _, it := range items {
		f, ok := d.str(it, p, noRefs)
		if !ok {
			continue
		}
		pos := d.posOf(it)
		if !fieldPathRE.MatchString(f) {
			d.errorf(pos, "%s: %q is not a field path; want a field name of the value record, or a dotted path into its nested records such as geo.country", p, f)
			continue
		}
		if prev, dup := seen[f]; dup {
			d.errorf(pos, "%s: field %q is listed twice (first at line %d, column %d)", p, f, prev.Line, prev.Col)
			continue
		}
		seen[f] = pos
		st.Fields = append(st.Fields, f)
		st.FieldsPos = append(st.FieldsPos, pos)
	}
	// A path inside another listed one adds nothing: the outer field is
	// projected whole.
	for i, f := range st.Fields {
		for j, g := range st.Fields {
			if i != j && strings.HasPrefix(f, g+".") {
				d.errorf(st.FieldsPos[i], "%s: field %q is inside %q (line %d, column %d), which is read whole; list one of them", p, f, g, st.FieldsPos[j].Line, st.FieldsPos[j].Col)
			}
		}
	}
}
