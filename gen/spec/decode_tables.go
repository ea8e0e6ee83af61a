package spec

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
)

// decodeTables decodes tables: the job's lookup tables, each read from a
// compacted topic by every replica (runtime/side.Table).
func (d *decoder) decodeTables(n ast.Node, p string, s *Spec) {
	if items, ok := d.list(n, p); ok {
		s.Tables = decodeNamed(d, items, "table", func(i int, n ast.Node) (Table, string, Pos, bool) {
			t, ok := d.decodeTable(i, n)
			return t, t.Name, t.Pos, ok
		})
	}
}

func (d *decoder) decodeTable(i int, n ast.Node) (Table, bool) {
	t := Table{Key: "string", Encoding: "confluent", OnDecodeError: "fail", Pos: d.posOf(n)}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.typeErr(n, fmt.Sprintf("tables[%d]", i), "a mapping")
		return t, false
	}
	label := d.itemLabel(m, "tables", "table", i)
	prefix := label + ": "
	meant := d.object(m, label, prefix, "in "+label, fields{
		"name": func(p string, v ast.Node) {
			name, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			if !streamNameRE.MatchString(name) {
				d.errorf(d.posOf(v), "%s: %q is not a valid table name; it must match [a-z][a-z0-9_]* (the Batch field's name derives from it)", p, name)
				return
			}
			t.Name = name
		},
		"topic": func(p string, v ast.Node) {
			if topic, ok := d.topic(v, p, noRefs); ok {
				t.Topic = topic
			}
		},
		"key": func(p string, v ast.Node) {
			d.enum(v, p, words{dst: &t.Key, names: []string{"string", "int32", "int64"}})
			t.KeyPos = d.posOf(v)
		},
		"value": func(p string, v ast.Node) {
			val, ok := d.str(v, p, noRefs)
			if !ok {
				return
			}
			if !avroNameRE.MatchString(val) {
				d.errorf(d.posOf(v), "%s: %q is not an Avro full name such as com.example.ads.Campaign", p, val)
				return
			}
			t.Value, t.ValuePos = val, d.posOf(v)
		},
		"encoding": func(p string, v ast.Node) {
			d.enum(v, p, words{dst: &t.Encoding, names: []string{"confluent", "raw", "single-object"}})
		},
		"maxEntries":     func(p string, v ast.Node) { d.intMin(v, p, 0, &t.MaxEntries) },
		"maxBytes":       func(p string, v ast.Node) { d.intMin(v, p, 0, &t.MaxBytes) },
		"catchUpTimeout": func(p string, v ast.Node) { d.duration(v, p, true, &t.CatchUpTimeout) },
		"onDecodeError": func(p string, v ast.Node) {
			d.enum(v, p, words{dst: &t.OnDecodeError, names: []string{"fail", "skip"}})
		},
	})
	for _, key := range []string{"name", "topic", "value"} {
		if !d.has(prefix+key) && !meant[key] {
			d.errorf(t.Pos, "missing required key %q in %s", key, label)
		}
	}
	if t.KeyPos.Line == 0 {
		t.KeyPos = t.Pos
	}
	if t.ValuePos.Line == 0 {
		t.ValuePos = t.Pos
	}
	return t, true
}
