package golang

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/dave/jennifer/jen"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/names"
)

// emitNew writes NewT for a record: a value with every schema default.
// Fields without a default get a value that encodes where Go's zero value
// does not: a nested record its own NewT, an enum its first symbol (Avro's
// ordinal 0, what gogen-avro's zero value is), a decimal zero.
func emitNew(f *jen.File, n *model.Named) {
	lit, err := recordLit(n, nil)
	if err != nil {
		// The schema package checked every default against its type; a
		// failure here is a bug of the emitter.
		panic(fmt.Sprintf("NewT of %s: %v", n.FullName, err))
	}
	f.Commentf("New%s returns a %s with the defaults of the schema %s: each field", n.GoName, n.GoName, n.FullName)
	f.Comment("with a default has it; a field without one has its Go zero value, except that")
	f.Comment("a nested record is its own New, an enum the enum's default symbol (else its")
	f.Comment("first) and a decimal zero, so that the value encodes. The zero value of the")
	f.Comment("struct is not the schema's defaults: an enum field of it is \"\", which does")
	f.Comment("not encode.")
	f.Func().Id(names.RecordNew(n.GoName)).Params().Id(n.GoName).Block(jen.Return(lit))
	f.Line()
}

// recordLit is the composite literal of record n with the fields of obj, a
// record default, and the fields' own defaults for the rest.
func recordLit(n *model.Named, obj map[string]any) (jen.Code, error) {
	var err error
	lit := jen.Id(n.GoName).Values(jen.DictFunc(func(d jen.Dict) {
		for _, fl := range n.Fields {
			var x jen.Code
			var e error
			if v, ok := obj[fl.Name]; ok {
				x, e = defaultExpr(fl.Type, v)
			} else if fl.Default != "" {
				var v any
				if v, e = parseDefault(fl.Default); e == nil {
					x, e = defaultExpr(fl.Type, v)
				}
			} else {
				x = placeholder(fl.Type)
			}
			if e != nil && err == nil {
				err = fmt.Errorf("field %s: %w", fl.Name, e)
			}
			if x != nil {
				d[jen.Id(fl.GoName)] = x
			}
		}
	}))
	return lit, err
}

// placeholder is the value NewT gives a field without a default when Go's
// zero value would not encode; nil when the zero value is fine.
func placeholder(t *model.Type) jen.Code {
	switch {
	case t.Kind == model.Record:
		return jen.Id(names.RecordNew(t.Named.GoName)).Call()
	case t.Kind == model.Enum:
		if i := slices.Index(t.Named.Symbols, t.Named.EnumDefault); i >= 0 {
			return jen.Id(t.Named.SymbolGoNames[i])
		}
		return jen.Id(t.Named.SymbolGoNames[0])
	case t.Logical == model.Decimal && t.Kind != model.Optional:
		return jen.New(jen.Qual("math/big", "Rat"))
	}
	return nil
}

func parseDefault(s string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("default %s: %w", s, err)
	}
	return v, nil
}

// avroBytes converts the JSON form of bytes and fixed defaults, a string of
// code points 0-255, to bytes.
func avroBytes(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%v is not a string of bytes", v)
	}
	var b []byte
	for _, r := range s {
		if r > 0xff {
			return nil, fmt.Errorf("%q has a code point above 255", s)
		}
		b = append(b, byte(r))
	}
	return b, nil
}

// defaultExpr is the Go expression of v, a JSON default, as a value of t.
// The expressions call the same runtime conversions as decoding, so that
// NewT equals what reading a datum without the field gives.
func defaultExpr(t *model.Type, v any) (jen.Code, error) {
	switch t.Kind {
	case model.Null:
		return nil, nil
	case model.Boolean:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%v is not a boolean", v)
		}
		return jen.Lit(b), nil
	case model.Int, model.Long, model.Float, model.Double:
		return numberDefault(t, v)
	case model.String:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not a string", v)
		}
		return jen.Lit(s), nil
	case model.Bytes, model.Fixed:
		return bytesDefault(t, v)
	case model.Enum:
		s, ok := v.(string)
		i := slices.Index(t.Named.Symbols, s)
		if !ok || i < 0 {
			return nil, fmt.Errorf("%v is not a symbol of %s", v, t.Named.FullName)
		}
		return jen.Id(t.Named.SymbolGoNames[i]), nil
	case model.Record:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%v is not an object", v)
		}
		return recordLit(t.Named, obj)
	case model.Array, model.Map:
		return collectionDefault(t, v)
	case model.Optional, model.Union:
		return unionDefault(t, v)
	}
	return nil, fmt.Errorf("no default for an Avro %s", t.Kind)
}

// numberDefault is defaultExpr of an int, long, float or double (and
// their logical types).
func numberDefault(t *model.Type, v any) (jen.Code, error) {
	num := func() (json.Number, error) {
		n, ok := v.(json.Number)
		if !ok {
			return "", fmt.Errorf("%v is not a number", v)
		}
		return n, nil
	}
	integer := func(bits int) (int64, error) {
		n, err := num()
		if err != nil {
			return 0, err
		}
		if i, err := strconv.ParseInt(string(n), 10, bits); err == nil {
			return i, nil
		}
		// 1.0 or 1e3 are integers too in JSON.
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || f != float64(int64(f)) {
			return 0, fmt.Errorf("%s is not an integer", n)
		}
		if limit := math.Ldexp(1, bits-1); f < -limit || f >= limit {
			return 0, fmt.Errorf("%s is out of the range of a %d-bit integer", n, bits)
		}
		return int64(f), nil
	}
	conv := func(fn string, arg jen.Code) jen.Code { return jen.Qual(codecPkg, fn).Call(arg) }
	switch t.Kind {
	case model.Int:
		i, err := integer(32)
		if err != nil {
			return nil, err
		}
		switch t.Logical {
		case model.Date:
			return conv("Date", jen.Lit(int(i))), nil
		case model.TimeMillis:
			return conv("TimeMillis", jen.Lit(int(i))), nil
		}
		return jen.Lit(int(i)), nil
	case model.Long:
		i, err := integer(64)
		if err != nil {
			return nil, err
		}
		switch t.Logical {
		case model.TimestampMillis, model.LocalTimestampMillis:
			return conv("TimestampMillis", jen.Lit(i)), nil
		case model.TimestampMicros, model.LocalTimestampMicros:
			return conv("TimestampMicros", jen.Lit(i)), nil
		case model.TimestampNanos, model.LocalTimestampNanos:
			return conv("TimestampNanos", jen.Lit(i)), nil
		case model.TimeMicros:
			return conv("TimeMicros", jen.Lit(i)), nil
		}
		return jen.Lit(i), nil
	case model.Float, model.Double:
		n, err := num()
		if err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return nil, err
		}
		if t.Kind == model.Float {
			return jen.Lit(float32(f)), nil
		}
		return jen.Lit(f), nil
	}
	return nil, fmt.Errorf("no default for an Avro %s", t.Kind)
}

// bytesDefault is defaultExpr of bytes and fixed (and their logical
// types): v is a string of code points 0-255.
func bytesDefault(t *model.Type, v any) (jen.Code, error) {
	b, err := avroBytes(v)
	if err != nil {
		return nil, err
	}
	switch {
	case t.Logical == model.Decimal:
		return jen.Qual(codecPkg, "DecimalFromBytes").Call(jen.Index().Byte().Parens(jen.Lit(string(b))), jen.Lit(t.Scale)), nil
	case t.Logical == model.Duration:
		if len(b) != 12 {
			return nil, fmt.Errorf("duration default of %d bytes, want 12", len(b))
		}
		return jen.Qual(codecPkg, "Duration").Values(jen.Dict{
			jen.Id("Months"):       jen.Lit(int(binary.LittleEndian.Uint32(b))),
			jen.Id("Days"):         jen.Lit(int(binary.LittleEndian.Uint32(b[4:]))),
			jen.Id("Milliseconds"): jen.Lit(int(binary.LittleEndian.Uint32(b[8:]))),
		}), nil
	case t.Kind == model.Bytes:
		return jen.Index().Byte().Parens(jen.Lit(string(b))), nil
	}
	if len(b) != t.Named.Size {
		return nil, fmt.Errorf("fixed default of %d bytes, want %d", len(b), t.Named.Size)
	}
	return jen.Id(t.Named.GoName).ValuesFunc(func(g *jen.Group) {
		for _, c := range b {
			g.Lit(int(c))
		}
	}), nil
}

// collectionDefault is defaultExpr of an array or a map.
func collectionDefault(t *model.Type, v any) (jen.Code, error) {
	switch t.Kind {
	case model.Array:
		items, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%v is not an array", v)
		}
		var err error
		lit := goType(t).ValuesFunc(func(g *jen.Group) {
			for _, it := range items {
				x, e := defaultExpr(t.Elem, it)
				if e != nil && err == nil {
					err = e
				}
				g.Add(orZero(t.Elem, x))
			}
		})
		return lit, err
	case model.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%v is not an object", v)
		}
		var err error
		lit := goType(t).Values(jen.DictFunc(func(d jen.Dict) {
			for k, it := range obj {
				x, e := defaultExpr(t.Elem, it)
				if e != nil && err == nil {
					err = e
				}
				d[jen.Lit(k)] = orZero(t.Elem, x)
			}
		}))
		return lit, err
	}
	return nil, fmt.Errorf("no default for an Avro %s", t.Kind)
}

// unionDefault is defaultExpr of a union: a value of its first branch,
// nil when that is null.
func unionDefault(t *model.Type, v any) (jen.Code, error) {
	switch t.Kind {
	case model.Optional:
		// A union's default is a value of its first branch.
		if t.NullIndex == 0 {
			return nil, nil
		}
		x, err := defaultExpr(t.Elem, v)
		if err != nil || isPointer(t.Elem) {
			return x, err
		}
		return jen.Qual(codecPkg, "Ptr").Call(orZero(t.Elem, x)), nil
	case model.Union:
		if t.Union.NullIndex == 0 {
			return nil, nil
		}
		for _, b := range t.Union.Branches {
			if b.Index == 0 {
				x, err := defaultExpr(b.Type, v)
				if err != nil {
					return nil, err
				}
				return jen.Id(b.GoName).Values(jen.Dict{jen.Id("Value"): orZero(b.Type, x)}), nil
			}
		}
	}
	return nil, fmt.Errorf("no default for an Avro %s", t.Kind)
}

// orZero is x, or the zero value of t where defaultExpr had nothing to say
// (a null, an optional that defaults to null).
func orZero(t *model.Type, x jen.Code) jen.Code {
	if x != nil {
		return x
	}
	switch t.Kind {
	case model.Null:
		return jen.Struct().Values()
	case model.Optional, model.Union:
		return jen.Nil()
	}
	return jen.Op("*").New(goType(t))
}
