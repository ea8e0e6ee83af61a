package schema

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// checkDefault checks a field's default against the field's type, down to
// the elements of arrays and maps, the fields of records, and named types
// defined elsewhere. hamba's messages name neither the file nor the value,
// and hamba pads a fixed default that is too short with zero bytes, which
// the specification does not allow: a default must be a value of the type.
func (c *checker) checkDefault(d, typ *node, ns, what, path string) {
	at, atPath, msg := c.badValue(d, typ, ns, path, 0)
	if at == nil {
		return
	}
	if at == d {
		msg = "default " + msg
	} else {
		msg = "in the default, " + msg
	}
	if typ.kind == '[' {
		msg += "; a union's default is a value of its first branch"
	}
	c.errorf(at, atPath, "%s: %s", what, msg)
}

// badValue returns the first part of v that is not a value of typ, its
// path, and why; a nil node when v is a value of typ. ns resolves the
// names typ refers to.
func (c *checker) badValue(v, typ *node, ns, path string, depth int) (*node, string, string) {
	if depth > 100 { // a default is finite; this only stops a malformed schema
		return nil, "", ""
	}
	switch typ.kind {
	case '[':
		if len(typ.arr) == 0 {
			return nil, "", ""
		}
		return c.badValue(v, typ.arr[0], ns, path, depth+1)
	case 's':
		if slices.Contains(primitives, typ.str) {
			return badPrimitive(v, typ.str, path)
		}
		d, ok := c.defs[fullName(ns, typ.str)]
		if !ok {
			d, ok = c.defs[typ.str]
		}
		if !ok {
			return nil, "", "" // reported as an unknown type
		}
		return c.badValue(v, d.n, d.ns, path, depth+1)
	case '{':
	default:
		return nil, "", ""
	}
	t := typ.field("type")
	if t == nil {
		return nil, "", ""
	}
	if t.kind != 's' {
		return c.badValue(v, t, ns, path, depth+1)
	}
	full, childNS := nameOf(typ, ns)
	switch t.str {
	case "record", "error":
		if v.kind != '{' {
			return v, path, fmt.Sprintf("%s is not a valid record %s (want an object with its fields)", v.describe(), full)
		}
		fields := typ.field("fields")
		if fields == nil {
			return nil, "", ""
		}
		for _, f := range fields.arr {
			name, ft := f.field("name"), f.field("type")
			if name == nil || ft == nil {
				continue
			}
			fv := v.field(name.str)
			if fv == nil {
				if f.field("default") == nil {
					return v, path, fmt.Sprintf("%s lacks field %q of record %s, which has no default", v.describe(), name.str, full)
				}
				continue
			}
			if at, p, msg := c.badValue(fv, ft, childNS, path+"."+name.str, depth+1); at != nil {
				return at, p, msg
			}
		}
	case "enum":
		if syms := typ.field("symbols"); v.kind == 's' && syms != nil && slices.ContainsFunc(syms.arr, func(s *node) bool { return s.str == v.str }) {
			return nil, "", ""
		}
		return v, path, fmt.Sprintf("%s is not a symbol of enum %s", v.describe(), full)
	case "fixed":
		size, err := strconv.Atoi(typ.field("size").text())
		if err != nil {
			return nil, "", "" // reported with the fixed type
		}
		if at, p, msg := badPrimitive(v, "bytes", path); at != nil {
			return at, p, msg + " for fixed " + full
		}
		if n := len([]rune(v.str)); n != size {
			return v, path, fmt.Sprintf("%s is %d bytes, but fixed %s has size %d (a fixed default is a string of exactly %d characters, one per byte, \\u0000 to \\u00ff)", v.describe(), n, full, size, size)
		}
	case "array":
		if v.kind != '[' {
			return v, path, fmt.Sprintf("%s is not a valid array (want a JSON array)", v.describe())
		}
		items := typ.field("items")
		for i, it := range v.arr {
			if items == nil {
				break
			}
			if at, p, msg := c.badValue(it, items, ns, fmt.Sprintf("%s[%d]", path, i), depth+1); at != nil {
				return at, p, msg
			}
		}
	case "map":
		if v.kind != '{' {
			return v, path, fmt.Sprintf("%s is not a valid map (want a JSON object)", v.describe())
		}
		values := typ.field("values")
		for _, k := range v.keys {
			if values == nil {
				break
			}
			if at, p, msg := c.badValue(v.obj[k], values, ns, path+"."+k, depth+1); at != nil {
				return at, p, msg
			}
		}
	default: // a primitive written as an object, e.g. with a logical type
		if slices.Contains(primitives, t.str) {
			return badPrimitive(v, t.str, path)
		}
	}
	return nil, "", ""
}

// badPrimitive checks a JSON value against a primitive type.
func badPrimitive(v *node, typ, path string) (*node, string, string) {
	bad := func(why string) (*node, string, string) {
		return v, path, fmt.Sprintf("%s is not a valid %s%s", v.describe(), typ, why)
	}
	switch typ {
	case "null":
		if v.kind != 'z' {
			return bad("")
		}
	case "boolean":
		if v.kind != 'b' {
			return bad("")
		}
	case "int", "long":
		bits := 32
		if typ == "long" {
			bits = 64
		}
		if v.kind != 'n' || strings.ContainsAny(v.str, ".eE") {
			return bad("")
		}
		if _, err := strconv.ParseInt(v.str, 10, bits); err != nil {
			return bad(" (out of range)")
		}
	case "float", "double":
		if v.kind != 'n' && (v.kind != 's' || v.str != "NaN" && v.str != "Infinity" && v.str != "-Infinity") {
			return bad("")
		}
	case "string":
		if v.kind != 's' {
			return bad("")
		}
	case "bytes":
		if v.kind != 's' {
			return bad(" (want a string of one character per byte, \\u0000 to \\u00ff)")
		}
		for _, r := range v.str {
			if r > 0xff {
				return bad(fmt.Sprintf(": %q is not a byte (one character per byte, \\u0000 to \\u00ff)", r))
			}
		}
	}
	return nil, "", ""
}
