package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Canonical returns the Parsing Canonical Form of an Avro schema, as the Avro
// specification defines it: primitive schemas in their simple form, names
// replaced by full names, only the attributes type, name, fields, symbols,
// items, values and size kept (so doc, aliases, defaults, order, namespace
// and logicalType are gone), in that order, strings unescaped, integers
// without leading zeros, and no whitespace. A named type is written in full
// at its first use and by its full name afterwards.
func Canonical(schemaJSON string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(schemaJSON))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("avro: schema is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return "", fmt.Errorf("avro: schema has data after its JSON value")
	}
	c := canonicalizer{defined: map[string]bool{}}
	if err := c.schema(v, ""); err != nil {
		return "", err
	}
	return c.buf.String(), nil
}

// Fingerprint returns CRC64Avro of the schema's Parsing Canonical Form.
func Fingerprint(schemaJSON string) (uint64, error) {
	c, err := Canonical(schemaJSON)
	if err != nil {
		return 0, err
	}
	return CRC64Avro([]byte(c)), nil
}

// LogicalFingerprint is Fingerprint of the Parsing Canonical Form with the
// logical types kept (logicalType, and a decimal's precision and scale,
// after size or in a primitive's object form). Two schemas with the same
// Fingerprint read each other's bytes; only with the same
// LogicalFingerprint do the values mean the same (decimal(12,2) and
// decimal(12,3) share a Fingerprint). Resolution uses it to decide that a
// writer is the reader's own schema.
func LogicalFingerprint(schemaJSON string) (uint64, error) {
	dec := json.NewDecoder(strings.NewReader(schemaJSON))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return 0, fmt.Errorf("avro: schema is not valid JSON: %w", err)
	}
	c := canonicalizer{defined: map[string]bool{}, logical: true}
	if err := c.schema(v, ""); err != nil {
		return 0, err
	}
	return CRC64Avro(c.buf.Bytes()), nil
}

// crc64Empty is the spec's EMPTY fingerprint, also the polynomial.
const crc64Empty = 0xc15d213aa4d7a795

var crc64Table = func() (t [256]uint64) {
	for i := range t {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (crc64Empty & -(fp & 1))
		}
		t[i] = fp
	}
	return t
}()

// CRC64Avro is the 64-bit Rabin fingerprint the Avro specification calls
// CRC-64-AVRO. The fingerprint of no bytes is 0xc15d213aa4d7a795.
func CRC64Avro(b []byte) uint64 {
	fp := uint64(crc64Empty)
	for _, c := range b {
		fp = (fp >> 8) ^ crc64Table[byte(fp)^c]
	}
	return fp
}

var primitiveTypes = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true,
}

type canonicalizer struct {
	buf     bytes.Buffer
	defined map[string]bool // full names already written in full
	logical bool            // keep logical types (LogicalFingerprint)
}

// logicalAttrs writes, for LogicalFingerprint, the logical type of the
// schema object m, if it has one.
func (c *canonicalizer) logicalAttrs(m map[string]any) {
	lt, ok := m["logicalType"].(string)
	if !c.logical || !ok {
		return
	}
	c.buf.WriteString(`,"logicalType":`)
	b, _ := json.Marshal(lt)
	c.buf.Write(b)
	if lt == "decimal" {
		for _, k := range []string{"precision", "scale"} {
			n, _ := m[k].(json.Number)
			c.buf.WriteString(`,"` + k + `":`)
			if n == "" {
				n = "0"
			}
			c.buf.WriteString(n.String())
		}
	}
}

func (c *canonicalizer) schema(v any, ns string) error {
	switch s := v.(type) {
	case string:
		return c.reference(s, ns)
	case []any:
		c.buf.WriteByte('[')
		for i, b := range s {
			if i > 0 {
				c.buf.WriteByte(',')
			}
			if err := c.schema(b, ns); err != nil {
				return err
			}
		}
		c.buf.WriteByte(']')
		return nil
	case map[string]any:
		return c.object(s, ns)
	default:
		return fmt.Errorf("avro: invalid schema %v", v)
	}
}

func (c *canonicalizer) reference(name, ns string) error {
	if primitiveTypes[name] {
		c.quote(name)
		return nil
	}
	full := name
	if !strings.Contains(name, ".") && ns != "" {
		full = ns + "." + name
	}
	if !c.defined[full] {
		// An unqualified name may also refer to a type in the null namespace.
		if !c.defined[name] {
			return fmt.Errorf("avro: undefined type %q", name)
		}
		full = name
	}
	c.quote(full)
	return nil
}

func (c *canonicalizer) object(m map[string]any, ns string) error {
	typ, ok := m["type"]
	if !ok {
		return fmt.Errorf("avro: schema object has no type")
	}
	t, ok := typ.(string)
	if !ok {
		// {"type": {...}} or {"type": [...]}: the object only wraps a schema.
		return c.schema(typ, ns)
	}
	switch t {
	case "record", "error", "enum", "fixed":
		return c.named(t, m, ns)
	case "array":
		items, ok := m["items"]
		if !ok {
			return fmt.Errorf("avro: array schema has no items")
		}
		c.buf.WriteString(`{"type":"array","items":`)
		if err := c.schema(items, ns); err != nil {
			return err
		}
		c.buf.WriteByte('}')
		return nil
	case "map":
		values, ok := m["values"]
		if !ok {
			return fmt.Errorf("avro: map schema has no values")
		}
		c.buf.WriteString(`{"type":"map","values":`)
		if err := c.schema(values, ns); err != nil {
			return err
		}
		c.buf.WriteByte('}')
		return nil
	default:
		if primitiveTypes[t] {
			if _, ok := m["logicalType"].(string); ok && c.logical {
				c.buf.WriteString(`{"type":`)
				c.quote(t)
				c.logicalAttrs(m)
				c.buf.WriteByte('}')
				return nil
			}
			c.quote(t)
			return nil
		}
		// {"type":"SomeNamedType"} refers to a named type.
		return c.reference(t, ns)
	}
}

func (c *canonicalizer) named(t string, m map[string]any, ns string) error {
	name, ok := m["name"].(string)
	if !ok || name == "" {
		return fmt.Errorf("avro: %s schema has no name", t)
	}
	full := name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		ns = name[:i]
	} else {
		if n, ok := m["namespace"]; ok {
			switch n := n.(type) {
			case string:
				ns = n
			case nil:
				ns = ""
			default:
				return fmt.Errorf("avro: %s %q has a non-string namespace", t, name)
			}
		}
		if ns != "" {
			full = ns + "." + name
		}
	}
	if err := validFullName(full); err != nil {
		return err
	}
	if primitiveTypes[full] {
		return fmt.Errorf("avro: %s cannot be named %q", t, full)
	}
	if c.defined[full] {
		return fmt.Errorf("avro: type %q is defined twice", full)
	}
	c.defined[full] = true

	c.buf.WriteString(`{"name":`)
	c.quote(full)
	c.buf.WriteString(`,"type":`)
	c.quote(t)
	switch t {
	case "record", "error":
		fields, ok := m["fields"].([]any)
		if !ok {
			return fmt.Errorf("avro: record %q has no fields array", full)
		}
		c.buf.WriteString(`,"fields":[`)
		for i, f := range fields {
			fm, ok := f.(map[string]any)
			if !ok {
				return fmt.Errorf("avro: record %q has a field that is not an object", full)
			}
			fname, ok := fm["name"].(string)
			if !ok || validName(fname) != nil {
				return fmt.Errorf("avro: record %q has a field with an invalid name", full)
			}
			ftype, ok := fm["type"]
			if !ok {
				return fmt.Errorf("avro: field %q of %q has no type", fname, full)
			}
			if i > 0 {
				c.buf.WriteByte(',')
			}
			c.buf.WriteString(`{"name":`)
			c.quote(fname)
			c.buf.WriteString(`,"type":`)
			if err := c.schema(ftype, ns); err != nil {
				return err
			}
			c.buf.WriteByte('}')
		}
		c.buf.WriteByte(']')
	case "enum":
		syms, ok := m["symbols"].([]any)
		if !ok {
			return fmt.Errorf("avro: enum %q has no symbols array", full)
		}
		c.buf.WriteString(`,"symbols":[`)
		for i, s := range syms {
			sym, ok := s.(string)
			if !ok || validName(sym) != nil {
				return fmt.Errorf("avro: enum %q has an invalid symbol %v", full, s)
			}
			if i > 0 {
				c.buf.WriteByte(',')
			}
			c.quote(sym)
		}
		c.buf.WriteByte(']')
	case "fixed":
		num, ok := m["size"].(json.Number)
		if !ok {
			return fmt.Errorf("avro: fixed %q has no size", full)
		}
		size, err := strconv.ParseUint(num.String(), 10, 31)
		if err != nil {
			return fmt.Errorf("avro: fixed %q has invalid size %s", full, num)
		}
		c.buf.WriteString(`,"size":`)
		c.buf.WriteString(strconv.FormatUint(size, 10))
		c.logicalAttrs(m)
	}
	c.buf.WriteByte('}')
	return nil
}

// quote writes a JSON string. Names and symbols are validated to
// [A-Za-z_][A-Za-z0-9_]* parts, so they need no escaping.
func (c *canonicalizer) quote(s string) {
	c.buf.WriteByte('"')
	c.buf.WriteString(s)
	c.buf.WriteByte('"')
}

func validFullName(full string) error {
	for part := range strings.SplitSeq(full, ".") {
		if err := validName(part); err != nil {
			return fmt.Errorf("avro: invalid name %q", full)
		}
	}
	return nil
}

func validName(s string) error {
	if s == "" {
		return fmt.Errorf("avro: empty name")
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case i > 0 && '0' <= r && r <= '9':
		default:
			return fmt.Errorf("avro: invalid name %q", s)
		}
	}
	return nil
}
