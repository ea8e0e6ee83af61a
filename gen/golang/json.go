package golang

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/names"
)

var (
	appendJSONHelper = names.Helper("AppendJSON")
	decodeJSONHelper = names.Helper("DecodeJSON")
)

// emitRecordJSON writes MarshalJSON and UnmarshalJSON of record n; the JSON
// form is described in runtime/codec/json.go and the README.
func emitRecordJSON(f *jen.File, n *model.Named) {
	recv := jen.Id("r").Op("*").Id(n.GoName)
	f.Comment("MarshalJSON writes r as a JSON object keyed by the Avro field names, in")
	f.Comment("schema order (decimals as exact strings, bytes and fixed as base64; see")
	f.Comment("the README). It has a value receiver, so that json.Marshal of a value and")
	f.Comment("of a pointer both use it.")
	f.Func().Params(jen.Id("r").Id(n.GoName)).Id("MarshalJSON").Params().Params(jen.Index().Byte(), jen.Error()).Block(
		jen.List(jen.Id("out"), jen.Err()).Op(":=").Id("r").Dot(appendJSONHelper).Call(jen.Make(jen.Index().Byte(), jen.Lit(0), jen.Lit(256))),
		jen.If(jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(jen.Lit("JSON of "+n.FullName+": %w"), jen.Err())),
		),
		jen.Return(jen.Id("out"), jen.Nil()),
	)
	f.Line()
	f.Comment("UnmarshalJSON reads the JSON MarshalJSON writes into r. Fields absent from")
	f.Commentf("the object keep their value in r (start from New%s() for the schema's", n.GoName)
	f.Comment("defaults); members that are no field are ignored.")
	f.Func().Params(recv.Clone()).Id("UnmarshalJSON").Params(jen.Id("b").Index().Byte()).Error().Block(
		jen.If(jen.Err().Op(":=").Id("r").Dot(decodeJSONHelper).Call(jen.Id("b")), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("JSON of "+n.FullName+": %w"), jen.Err())),
		),
		jen.Return(jen.Nil()),
	)
	f.Line()

	e := &emitter{}
	f.Func().Params(recv.Clone()).Id(appendJSONHelper).Params(jen.Id("dst").Index().Byte()).Params(jen.Index().Byte(), jen.Error()).BlockFunc(func(g *jen.Group) {
		if jsonCanFail(n, map[*model.Named]bool{}) {
			g.Var().Err().Error()
		}
		for i, fl := range n.Fields {
			sep := ","
			if i == 0 {
				sep = "{"
			}
			g.Id("dst").Op("=").Append(jen.Id("dst"), jen.Lit(sep+jsonQuote(fl.Name)+":").Op("..."))
			e.jenc(g, fl.Type, jen.Id("r").Dot(fl.GoName), fl.Name)
		}
		if len(n.Fields) == 0 {
			g.Id("dst").Op("=").Append(jen.Id("dst"), jen.Id("'{'"))
		}
		g.Return(jen.Append(jen.Id("dst"), jen.Id("'}'")), jen.Nil())
	})
	f.Line()
	f.Func().Params(recv.Clone()).Id(decodeJSONHelper).Params(jen.Id("b").Index().Byte()).Error().Block(
		jen.Return(jen.Qual(codecPkg, "JSONObject").Call(jen.Id("b"), jen.Func().Params(jen.Id("name").String(), jen.Id("v").Index().Byte()).Error().Block(
			jen.Switch(jen.Id("name")).BlockFunc(func(g *jen.Group) {
				for _, fl := range n.Fields {
					g.Case(jen.Lit(fl.Name)).BlockFunc(func(g *jen.Group) {
						g.If(jen.Err().Op(":=").Func().Params().Error().BlockFunc(func(g *jen.Group) {
							e.jdec(g, fl.Type, jen.Id("r").Dot(fl.GoName), jen.Id("v"))
							g.Return(jen.Nil())
						}).Call(), jen.Err().Op("!=").Nil()).Block(
							jen.Return(jen.Qual(codecPkg, "FieldErr").Call(jen.Lit(fl.Name), jen.Err())),
						)
					})
				}
			}),
			jen.Return(jen.Nil()),
		))),
	)
	f.Line()
}

func jsonQuote(s string) string {
	return string(appendQuoted(nil, s))
}

// appendQuoted quotes a field name for JSON; Avro names are [A-Za-z_0-9].
func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// jsonCanFail reports whether the JSON encoding of a record can fail: only
// decimals can (a value finer than the scale), and nested records' errors.
func jsonCanFail(n *model.Named, seen map[*model.Named]bool) bool {
	if seen[n] {
		return true // a recursive record: its helper returns errors anyway
	}
	seen[n] = true
	var walk func(t *model.Type) bool
	walk = func(t *model.Type) bool {
		switch t.Kind {
		case model.Record:
			return true
		case model.Array, model.Map, model.Optional:
			return walk(t.Elem)
		case model.Union:
			for _, b := range t.Union.Branches {
				if walk(b.Type) {
					return true
				}
			}
		}
		return t.Logical == model.Decimal
	}
	for _, f := range n.Fields {
		if walk(f.Type) {
			return true
		}
	}
	return false
}

// branchJSONName is the name of a union branch in Avro's JSON encoding: a
// named type's full name, else the type's (a logical type's underlying).
func branchJSONName(t *model.Type) string {
	switch t.Kind {
	case model.Record, model.Enum, model.Fixed:
		return t.Named.FullName
	}
	return t.Kind.String()
}

// jenc appends statements that append the JSON of value v of type t to dst.
func (e *emitter) jenc(g *jen.Group, t *model.Type, v *jen.Statement, path string) {
	appendCall := func(fn string, args ...jen.Code) {
		g.Id("dst").Op("=").Qual(codecPkg, fn).Call(append([]jen.Code{jen.Id("dst")}, args...)...)
	}
	fallible := func(call jen.Code) {
		g.If(jen.List(jen.Id("dst"), jen.Err()).Op("=").Add(call), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), wrapErr(path)),
		)
	}
	lit := func(s string) { g.Id("dst").Op("=").Append(jen.Id("dst"), jen.Lit(s).Op("...")) }
	switch {
	case t.Kind == model.Null:
		lit("null")
		return
	case t.Kind == model.Boolean:
		g.Id("dst").Op("=").Qual("strconv", "AppendBool").Call(jen.Id("dst"), v)
		return
	case t.Logical == model.Date:
		appendCall("AppendJSONDate", v)
		return
	case t.Logical == model.TimeMillis, t.Logical == model.TimeMicros:
		appendCall("AppendJSONTimeOfDay", v)
		return
	case t.Kind == model.Long && t.Logical != model.NoLogical:
		appendCall("AppendJSONTime", v)
		return
	case t.Kind == model.Int, t.Kind == model.Long:
		g.Id("dst").Op("=").Qual("strconv", "AppendInt").Call(jen.Id("dst"), jen.Int64().Parens(v), jen.Lit(10))
		return
	case t.Kind == model.Float:
		appendCall("AppendJSONFloat", jen.Float64().Parens(v), jen.Lit(32))
		return
	case t.Kind == model.Double:
		appendCall("AppendJSONFloat", v, jen.Lit(64))
		return
	case t.Logical == model.Decimal:
		fallible(jen.Qual(codecPkg, "AppendJSONDecimal").Call(jen.Id("dst"), v, jen.Lit(t.Scale)))
		return
	case t.Logical == model.Duration:
		appendCall("AppendJSONDuration", v)
		return
	case t.Kind == model.Bytes:
		appendCall("AppendJSONBytes", v)
		return
	case t.Kind == model.Fixed:
		appendCall("AppendJSONBytes", v.Clone().Index(jen.Empty(), jen.Empty()))
		return
	case t.Kind == model.String:
		appendCall("AppendJSONString", v)
		return
	case t.Kind == model.Enum:
		appendCall("AppendJSONString", jen.String().Parens(v))
		return
	}
	switch t.Kind {
	case model.Record:
		fallible(v.Clone().Dot(appendJSONHelper).Call(jen.Id("dst")))
	case model.Array:
		i, x := e.local("i"), e.local("x")
		lit("[")
		g.For(jen.List(jen.Id(i), jen.Id(x)).Op(":=").Range().Add(v)).BlockFunc(func(g *jen.Group) {
			g.If(jen.Id(i).Op(">").Lit(0)).Block(jen.Id("dst").Op("=").Append(jen.Id("dst"), jen.Id("','")))
			e.jenc(g, t.Elem, jen.Id(x), path+"[]") // a copy, addressable for a record's pointer method
		})
		lit("]")
	case model.Map:
		i, k, x, buf := e.local("i"), e.local("k"), e.local("v"), e.local("keys")
		lit("{")
		g.Var().Id(buf).Index(jen.Lit(mapKeysOnStack)).String()
		g.For(jen.List(jen.Id(i), jen.Id(k)).Op(":=").Range().Qual(codecPkg, "SortedKeys").Call(jen.Id(buf).Index(jen.Empty(), jen.Lit(0)), v)).BlockFunc(func(g *jen.Group) {
			g.If(jen.Id(i).Op(">").Lit(0)).Block(jen.Id("dst").Op("=").Append(jen.Id("dst"), jen.Id("','")))
			g.Id("dst").Op("=").Qual(codecPkg, "AppendJSONString").Call(jen.Id("dst"), jen.Id(k))
			g.Id("dst").Op("=").Append(jen.Id("dst"), jen.Id("':'"))
			g.Id(x).Op(":=").Add(v).Index(jen.Id(k))
			e.jenc(g, t.Elem, jen.Id(x), path+"[]")
		})
		lit("}")
	case model.Optional:
		inner := jen.Parens(jen.Op("*").Add(v))
		if isPointer(t.Elem) || t.Elem.Kind == model.Record {
			inner = v.Clone()
		}
		g.If(v.Clone().Op("==").Nil()).Block(
			jen.Id("dst").Op("=").Append(jen.Id("dst"), jen.Lit("null").Op("...")),
		).Else().BlockFunc(func(g *jen.Group) {
			e.jenc(g, t.Elem, inner, path)
		})
	case model.Union:
		x := e.local("u")
		g.Switch(jen.Id(x).Op(":=").Add(v).Assert(jen.Type())).BlockFunc(func(g *jen.Group) {
			g.Case(jen.Nil()).Block(jen.Id("dst").Op("=").Append(jen.Id("dst"), jen.Lit("null").Op("...")))
			for _, b := range t.Union.Branches {
				g.Case(jen.Id(b.GoName)).BlockFunc(func(g *jen.Group) {
					g.Id("dst").Op("=").Append(jen.Id("dst"), jen.Lit("{"+jsonQuote(branchJSONName(b.Type))+":").Op("..."))
					if b.Type.Kind == model.Record {
						val := e.local("b")
						g.Id(val).Op(":=").Id(x).Dot("Value")
						e.jenc(g, b.Type, jen.Id(val), path)
					} else {
						e.jenc(g, b.Type, jen.Id(x).Dot("Value"), path)
					}
					g.Id("dst").Op("=").Append(jen.Id("dst"), jen.Id("'}'"))
				})
			}
		})
	default:
		panic(fmt.Sprintf("jenc: kind %v", t.Kind))
	}
}

// jdecExpr returns the call that reads a JSON value src of a leaf type t,
// returning (value, error).
func jdecExpr(t *model.Type, src jen.Code) (jen.Code, bool) {
	c := func(fn string, args ...jen.Code) *jen.Statement {
		return jen.Qual(codecPkg, fn).Call(append([]jen.Code{src}, args...)...)
	}
	switch {
	case t.Kind == model.Boolean:
		return c("JSONBool"), true
	case t.Logical == model.Date:
		return c("JSONDate"), true
	case t.Logical == model.TimeMillis, t.Logical == model.TimeMicros:
		return c("JSONTimeOfDay"), true
	case t.Kind == model.Long && t.Logical != model.NoLogical:
		return c("JSONTime"), true
	case t.Kind == model.Int:
		return c("JSONInt"), true
	case t.Kind == model.Long:
		return c("JSONLong"), true
	case t.Logical == model.Decimal:
		return c("JSONDecimal"), true
	case t.Logical == model.Duration:
		return c("JSONDuration"), true
	case t.Kind == model.Bytes:
		return c("JSONBytes"), true
	case t.Kind == model.String:
		return c("JSONString"), true
	}
	return nil, false
}

// jdec appends statements, inside a func() error, that read JSON src into
// the addressable target of type t.
func (e *emitter) jdec(g *jen.Group, t *model.Type, target *jen.Statement, src jen.Code) {
	retErr := jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
	if x, ok := jdecExpr(t, src); ok {
		tmp := e.local("x")
		g.List(jen.Id(tmp), jen.Err()).Op(":=").Add(x)
		g.Add(retErr)
		g.Add(target).Op("=").Id(tmp)
		return
	}
	switch t.Kind {
	case model.Null:
		g.If(jen.Op("!").Qual(codecPkg, "JSONIsNull").Call(src)).Block(
			jen.Return(jen.Qual("errors", "New").Call(jen.Lit("want null"))),
		)
	case model.Float, model.Double:
		bits, typ := 64, jen.Float64()
		if t.Kind == model.Float {
			bits, typ = 32, jen.Float32()
		}
		tmp := e.local("x")
		g.List(jen.Id(tmp), jen.Err()).Op(":=").Qual(codecPkg, "JSONFloat").Call(src, jen.Lit(bits))
		g.Add(retErr)
		g.Add(target).Op("=").Add(typ).Parens(jen.Id(tmp))
	case model.Enum:
		tmp := e.local("x")
		g.List(jen.Id(tmp), jen.Err()).Op(":=").Qual(codecPkg, "JSONString").Call(src)
		g.Add(retErr)
		g.If(jen.List(jen.Id("_"), jen.Id("ok")).Op(":=").Id(t.Named.GoName).Parens(jen.Id(tmp)).Dot(indexHelper).Call(), jen.Op("!").Id("ok").Op("&&").Id(tmp).Op("!=").Lit("")).Block(
			jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit(fmt.Sprintf("%%q is not a symbol of enum %s", t.Named.FullName)), jen.Id(tmp))),
		)
		g.Add(target).Op("=").Id(t.Named.GoName).Parens(jen.Id(tmp))
	case model.Fixed:
		g.If(jen.Err().Op(":=").Qual(codecPkg, "JSONFixed").Call(src, target.Clone().Index(jen.Empty(), jen.Empty())), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
	case model.Record:
		g.If(jen.Err().Op(":=").Add(target).Dot(decodeJSONHelper).Call(src), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
	case model.Array:
		s, it := e.local("s"), e.local("v")
		g.Var().Id(s).Add(goType(t))
		g.If(jen.Err().Op(":=").Qual(codecPkg, "JSONArray").Call(src, jen.Func().Params(jen.Id(it).Index().Byte()).Error().BlockFunc(func(g *jen.Group) {
			g.Id(s).Op("=").Append(jen.Id(s), jen.Op("*").New(goType(t.Elem)))
			e.jdec(g, t.Elem, jen.Id(s).Index(jen.Len(jen.Id(s)).Op("-").Lit(1)), jen.Id(it))
			g.Return(jen.Nil())
		})), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
		g.Add(target).Op("=").Id(s)
	case model.Map:
		m, k, it, x := e.local("m"), e.local("k"), e.local("v"), e.local("x")
		g.Id(m).Op(":=").Add(goType(t)).Values()
		g.If(jen.Err().Op(":=").Qual(codecPkg, "JSONMap").Call(src, jen.Func().Params(jen.Id(k).String(), jen.Id(it).Index().Byte()).Error().BlockFunc(func(g *jen.Group) {
			g.Var().Id(x).Add(goType(t.Elem))
			e.jdec(g, t.Elem, jen.Id(x), jen.Id(it))
			g.Id(m).Index(jen.Id(k)).Op("=").Id(x)
			g.Return(jen.Nil())
		})), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
		g.Add(target).Op("=").Id(m)
	case model.Optional:
		g.If(jen.Qual(codecPkg, "JSONIsNull").Call(src)).BlockFunc(func(g *jen.Group) {
			g.Add(target).Op("=").Nil()
		}).Else().BlockFunc(func(g *jen.Group) {
			if isPointer(t.Elem) {
				e.jdec(g, t.Elem, target.Clone(), src)
				return
			}
			x := e.local("p")
			g.Id(x).Op(":=").New(goType(t.Elem))
			e.jdec(g, t.Elem, jen.Parens(jen.Op("*").Id(x)), src)
			g.Add(target).Op("=").Id(x)
		})
	case model.Union:
		br, val := e.local("br"), e.local("bv")
		// null is a nil union even without a null branch: the JSON is of the
		// Go value, and AppendAvro is what rejects that nil.
		g.If(jen.Qual(codecPkg, "JSONIsNull").Call(src)).Block(
			target.Clone().Op("=").Nil(),
			jen.Return(jen.Nil()),
		)
		g.List(jen.Id(br), jen.Id(val), jen.Err()).Op(":=").Qual(codecPkg, "JSONUnion").Call(src)
		g.Add(retErr)
		g.Switch(jen.Id(br)).BlockFunc(func(g *jen.Group) {
			for _, b := range t.Union.Branches {
				g.Case(jen.Lit(branchJSONName(b.Type))).BlockFunc(func(g *jen.Group) {
					w := e.local("w")
					g.Var().Id(w).Id(b.GoName)
					e.jdec(g, b.Type, jen.Id(w).Dot("Value"), jen.Id(val))
					g.Add(target).Op("=").Id(w)
				})
			}
			g.Default().Block(jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("%w %q"), jen.Qual(codecPkg, "ErrUnknownBranch"), jen.Id(br))))
		})
	default:
		panic(fmt.Sprintf("jdec: kind %v", t.Kind))
	}
}
