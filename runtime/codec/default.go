package codec

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"

	"github.com/hamba/avro/v2"
)

// encodeDefault appends the Avro binary encoding of a field default, as
// hamba's parser hands it over: bool, int, int64, float32, float64, string,
// []byte for bytes, [N]byte for fixed, string for enums, []any, and
// map[string]any for maps and records (hamba fills in record fields' own
// defaults). A union default belongs to the union's first branch.
func encodeDefault(dst []byte, s avro.Schema, v any) ([]byte, error) {
	s = deref(s)
	switch s.Type() {
	case avro.Null:
		// hamba represents a null default by an internal sentinel, not nil.
		return dst, nil
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return dst, badDefault(s, v)
		}
		return AppendBool(dst, b), nil
	case avro.Int:
		i, ok := toInt64(v)
		if !ok || i < math.MinInt32 || i > math.MaxInt32 {
			return dst, badDefault(s, v)
		}
		return AppendInt(dst, int32(i)), nil
	case avro.Long:
		i, ok := toInt64(v)
		if !ok {
			return dst, badDefault(s, v)
		}
		return AppendLong(dst, i), nil
	case avro.Float:
		f, ok := toFloat64(v)
		if !ok {
			return dst, badDefault(s, v)
		}
		return AppendFloat(dst, float32(f)), nil
	case avro.Double:
		f, ok := toFloat64(v)
		if !ok {
			return dst, badDefault(s, v)
		}
		return AppendDouble(dst, f), nil
	case avro.String:
		switch v := v.(type) {
		case string:
			return AppendString(dst, v), nil
		case []byte:
			return AppendBytes(dst, v), nil
		}
		return dst, badDefault(s, v)
	case avro.Bytes:
		b, ok := defaultBytes(v)
		if !ok {
			return dst, badDefault(s, v)
		}
		return AppendBytes(dst, b), nil
	case avro.Fixed:
		b, ok := defaultBytes(v)
		if size := s.(*avro.FixedSchema).Size(); !ok || len(b) != size {
			return dst, badDefault(s, v)
		}
		return append(dst, b...), nil
	case avro.Enum:
		sym, ok := v.(string)
		i := slices.Index(s.(*avro.EnumSchema).Symbols(), sym)
		if !ok || i < 0 {
			return dst, badDefault(s, v)
		}
		return AppendInt(dst, int32(i)), nil
	case avro.Array:
		items, ok := v.([]any)
		if !ok {
			return dst, badDefault(s, v)
		}
		if len(items) > 0 {
			dst = AppendLong(dst, int64(len(items)))
			var err error
			for _, it := range items {
				if dst, err = encodeDefault(dst, s.(*avro.ArraySchema).Items(), it); err != nil {
					return dst, err
				}
			}
		}
		return append(dst, 0), nil
	case avro.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return dst, badDefault(s, v)
		}
		if len(m) > 0 {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys) // deterministic output
			dst = AppendLong(dst, int64(len(m)))
			var err error
			for _, k := range keys {
				dst = AppendString(dst, k)
				if dst, err = encodeDefault(dst, s.(*avro.MapSchema).Values(), m[k]); err != nil {
					return dst, err
				}
			}
		}
		return append(dst, 0), nil
	case avro.Record:
		m, ok := v.(map[string]any)
		if !ok {
			return dst, badDefault(s, v)
		}
		var err error
		for _, f := range s.(*avro.RecordSchema).Fields() {
			fv, ok := m[f.Name()]
			if !ok {
				if !f.HasDefault() {
					return dst, fmt.Errorf("record default lacks field %q", f.Name())
				}
				fv = f.Default()
			}
			if dst, err = encodeDefault(dst, f.Type(), fv); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case avro.Union:
		types := s.(*avro.UnionSchema).Types()
		if len(types) == 0 {
			return dst, fmt.Errorf("empty union has no default")
		}
		return encodeDefault(append(dst, 0), types[0], v)
	}
	return dst, badDefault(s, v)
}

func badDefault(s avro.Schema, v any) error {
	return fmt.Errorf("default %v (%T) is not a valid %s", v, v, typeName(s))
}

func toInt64(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case float64:
		if v == math.Trunc(v) && v >= math.MinInt64 && v < math.MaxInt64 {
			return int64(v), true
		}
	case float32:
		return toInt64(float64(v))
	case json.Number:
		i, err := v.Int64()
		return i, err == nil
	}
	return 0, false
}

func toFloat64(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	if i, ok := toInt64(v); ok {
		return float64(i), true
	}
	return 0, false
}

// defaultBytes accepts []byte, a [N]byte array (hamba's fixed defaults), or
// a JSON string whose code points 0-255 are the bytes (the spec's form).
func defaultBytes(v any) ([]byte, bool) {
	switch v := v.(type) {
	case []byte:
		return v, true
	case string:
		b := make([]byte, 0, len(v))
		for _, r := range v {
			if r > 255 {
				return nil, false
			}
			b = append(b, byte(r))
		}
		return b, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8 {
		b := make([]byte, rv.Len())
		reflect.Copy(reflect.ValueOf(b), rv)
		return b, true
	}
	return nil, false
}
