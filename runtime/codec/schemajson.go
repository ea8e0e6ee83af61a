package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/hamba/avro/v2"
)

// SchemaJSON writes a parsed schema as self-contained, indented JSON: every
// named type it uses is defined in place at its first use and referred to by
// full name after that; docs, aliases, logical types, properties and
// defaults are kept. The generator writes TSchema with it, and a registry
// schema with references becomes one standalone schema through it.
// hamba's own JSON is not used because it writes bytes and fixed defaults in
// a form the Avro specification does not (base64 and number arrays).
func SchemaJSON(s avro.Schema) (string, error) {
	w := jsonWriter{seen: map[string]bool{}}
	if err := w.schema(s); err != nil {
		return "", err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, w.buf.Bytes(), "", "  "); err != nil {
		return "", err
	}
	return out.String(), nil
}

type jsonWriter struct {
	buf  bytes.Buffer
	seen map[string]bool
}

func (w *jsonWriter) str(s string) {
	b, _ := json.Marshal(s)
	w.buf.Write(b)
}

func (w *jsonWriter) key(k string) {
	w.buf.WriteByte(',')
	w.str(k)
	w.buf.WriteByte(':')
}

func (w *jsonWriter) props(p map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(p)) {
		b, err := json.Marshal(p[k])
		if err != nil {
			return err
		}
		w.key(k)
		w.buf.Write(b)
	}
	return nil
}

func (w *jsonWriter) named(n avro.NamedSchema, typ string, doc string) {
	w.buf.WriteString(`{"type":`)
	w.str(typ)
	w.key("name")
	w.str(n.FullName())
	if doc != "" {
		w.key("doc")
		w.str(doc)
	}
	if a := n.Aliases(); len(a) > 0 {
		b, _ := json.Marshal(a)
		w.key("aliases")
		w.buf.Write(b)
	}
}

func (w *jsonWriter) logical(l avro.LogicalSchema) {
	if l == nil {
		return
	}
	w.key("logicalType")
	w.str(string(l.Type()))
	if d, ok := l.(*avro.DecimalLogicalSchema); ok {
		w.key("precision")
		w.buf.WriteString(strconv.Itoa(d.Precision()))
		if d.Scale() != 0 {
			w.key("scale")
			w.buf.WriteString(strconv.Itoa(d.Scale()))
		}
	}
}

func (w *jsonWriter) schema(s avro.Schema) error {
	switch t := s.(type) {
	case *avro.RefSchema:
		return w.schema(t.Schema())
	case *avro.NullSchema:
		w.str("null")
	case *avro.PrimitiveSchema:
		if t.Logical() == nil && len(t.Props()) == 0 {
			w.str(string(t.Type()))
			return nil
		}
		w.buf.WriteString(`{"type":`)
		w.str(string(t.Type()))
		w.logical(t.Logical())
		if err := w.props(t.Props()); err != nil {
			return err
		}
		w.buf.WriteByte('}')
	case *avro.RecordSchema:
		if w.seen[t.FullName()] {
			w.str(t.FullName())
			return nil
		}
		w.seen[t.FullName()] = true
		typ := "record"
		if t.IsError() {
			typ = "error"
		}
		w.named(t, typ, t.Doc())
		w.key("fields")
		w.buf.WriteByte('[')
		for i, f := range t.Fields() {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.buf.WriteString(`{"name":`)
			w.str(f.Name())
			if f.Doc() != "" {
				w.key("doc")
				w.str(f.Doc())
			}
			if a := f.Aliases(); len(a) > 0 {
				b, _ := json.Marshal(a)
				w.key("aliases")
				w.buf.Write(b)
			}
			w.key("type")
			if err := w.schema(f.Type()); err != nil {
				return err
			}
			if f.HasDefault() {
				w.key("default")
				d, err := DefaultJSON(f.Type(), f.Default())
				if err != nil {
					return fmt.Errorf("field %q of %s: default: %w", f.Name(), t.FullName(), err)
				}
				w.buf.Write(d)
			}
			if f.Order() != "" && f.Order() != avro.Asc {
				w.key("order")
				w.str(string(f.Order()))
			}
			if err := w.props(f.Props()); err != nil {
				return err
			}
			w.buf.WriteByte('}')
		}
		w.buf.WriteByte(']')
		if err := w.props(t.Props()); err != nil {
			return err
		}
		w.buf.WriteByte('}')
	case *avro.EnumSchema:
		if w.seen[t.FullName()] {
			w.str(t.FullName())
			return nil
		}
		w.seen[t.FullName()] = true
		w.named(t, "enum", t.Doc())
		b, _ := json.Marshal(t.Symbols())
		w.key("symbols")
		w.buf.Write(b)
		if t.HasDefault() {
			w.key("default")
			w.str(t.Default())
		}
		if err := w.props(t.Props()); err != nil {
			return err
		}
		w.buf.WriteByte('}')
	case *avro.FixedSchema:
		if w.seen[t.FullName()] {
			w.str(t.FullName())
			return nil
		}
		w.seen[t.FullName()] = true
		w.named(t, "fixed", "")
		w.key("size")
		w.buf.WriteString(strconv.Itoa(t.Size()))
		w.logical(t.Logical())
		if err := w.props(t.Props()); err != nil {
			return err
		}
		w.buf.WriteByte('}')
	case *avro.ArraySchema:
		w.buf.WriteString(`{"type":"array","items":`)
		if err := w.schema(t.Items()); err != nil {
			return err
		}
		if err := w.props(t.Props()); err != nil {
			return err
		}
		w.buf.WriteByte('}')
	case *avro.MapSchema:
		w.buf.WriteString(`{"type":"map","values":`)
		if err := w.schema(t.Values()); err != nil {
			return err
		}
		if err := w.props(t.Props()); err != nil {
			return err
		}
		w.buf.WriteByte('}')
	case *avro.UnionSchema:
		w.buf.WriteByte('[')
		for i, b := range t.Types() {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if err := w.schema(b); err != nil {
				return err
			}
		}
		w.buf.WriteByte(']')
	default:
		return fmt.Errorf("unsupported schema %T", s)
	}
	return nil
}

// DefaultJSON writes a default value (as hamba decoded it) back as the
// specification's JSON encoding for the type: bytes and fixed as strings of
// code points 0-255, a union's default as its first branch.
func DefaultJSON(s avro.Schema, v any) ([]byte, error) {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	switch t := s.(type) {
	case *avro.UnionSchema:
		return DefaultJSON(t.Types()[0], v)
	case *avro.NullSchema:
		return []byte("null"), nil
	case *avro.PrimitiveSchema:
		if t.Type() == avro.Bytes {
			return bytesJSON(v)
		}
	case *avro.FixedSchema:
		return bytesJSON(v)
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("record default is %T, not an object", v)
		}
		var b bytes.Buffer
		b.WriteByte('{')
		first := true
		for _, f := range t.Fields() {
			fv, ok := m[f.Name()]
			if !ok {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			k, _ := json.Marshal(f.Name())
			b.Write(k)
			b.WriteByte(':')
			d, err := DefaultJSON(f.Type(), fv)
			if err != nil {
				return nil, err
			}
			b.Write(d)
		}
		b.WriteByte('}')
		return b.Bytes(), nil
	case *avro.ArraySchema:
		items, ok := v.([]any)
		if !ok {
			return json.Marshal(v)
		}
		var b bytes.Buffer
		b.WriteByte('[')
		for i, it := range items {
			if i > 0 {
				b.WriteByte(',')
			}
			d, err := DefaultJSON(t.Items(), it)
			if err != nil {
				return nil, err
			}
			b.Write(d)
		}
		b.WriteByte(']')
		return b.Bytes(), nil
	case *avro.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return json.Marshal(v)
		}
		var b bytes.Buffer
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(m)) {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			d, err := DefaultJSON(t.Values(), m[k])
			if err != nil {
				return nil, err
			}
			b.Write(d)
		}
		b.WriteByte('}')
		return b.Bytes(), nil
	}
	return json.Marshal(v)
}

func bytesJSON(v any) ([]byte, error) {
	if str, ok := v.(string); ok {
		return json.Marshal(str) // already the specification's form
	}
	raw, ok := defaultBytes(v)
	if !ok {
		return nil, fmt.Errorf("bytes default is %T", v)
	}
	rs := make([]rune, len(raw))
	for i, c := range raw {
		rs[i] = rune(c)
	}
	return json.Marshal(string(rs))
}

// WithReferences returns schema as one standalone schema: the schemas it
// references by name (a registry's schema references) are parsed first,
// in any order, so their names resolve, and everything is written out in
// place by SchemaJSON.
func WithReferences(schema string, referenced []string) (string, error) {
	cache := &avro.SchemaCache{}
	pending := referenced
	for len(pending) > 0 {
		var next []string
		var lastErr error
		for _, r := range pending {
			if _, err := avro.ParseWithCache(r, "", cache); err != nil {
				next, lastErr = append(next, r), err
			}
		}
		if len(next) == len(pending) {
			return "", fmt.Errorf("referenced schema: %w", lastErr)
		}
		pending = next
	}
	parsed, err := avro.ParseWithCache(schema, "", cache)
	if err != nil {
		return "", err
	}
	return SchemaJSON(parsed)
}
