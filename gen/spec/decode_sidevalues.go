package spec

import (
	"fmt"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// decodeSideValues decodes values: the job's values loaded by a function
// of the user's beside the generated code (runtime/side.Value).
func (d *decoder) decodeSideValues(n ast.Node, p string, s *Spec) {
	if items, ok := d.list(n, p); ok {
		s.Values = decodeNamed(d, items, "value", func(i int, n ast.Node) (Value, string, Pos, bool) {
			v, ok := d.decodeSideValue(i, n)
			return v, v.Name, v.Pos, ok
		})
	}
}

func (d *decoder) decodeSideValue(i int, n ast.Node) (Value, bool) {
	v := Value{Interval: 5 * time.Minute, OnStale: "fail", Pos: d.posOf(n)}
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.typeErr(n, fmt.Sprintf("values[%d]", i), "a mapping")
		return v, false
	}
	label := d.itemLabel(m, "values", "value", i)
	prefix := label + ": "
	meant := d.object(m, label, prefix, "in "+label, fields{
		"name": func(p string, n ast.Node) {
			name, ok := d.str(n, p, noRefs)
			if !ok {
				return
			}
			if !streamNameRE.MatchString(name) {
				d.errorf(d.posOf(n), "%s: %q is not a valid value name; it must match [a-z][a-z0-9_]* (the Batch field and the loader's name derive from it)", p, name)
				return
			}
			v.Name = name
		},
		"interval": func(p string, n ast.Node) { d.duration(n, p, true, &v.Interval) },
		"maxAge":   func(p string, n ast.Node) { d.duration(n, p, false, &v.MaxAge) },
		"onStale": func(p string, n ast.Node) {
			d.enum(n, p, words{dst: &v.OnStale, names: []string{"fail", "continue"}})
		},
	})
	if !d.has(prefix+"name") && !meant["name"] {
		d.errorf(v.Pos, "missing required key %q in %s", "name", label)
	}
	return v, true
}
