package golang

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/names"
)

// emitCodecs writes the specialized codecs: straight-line code for each
// record's schema, no reflection and no per-record lookups.
func emitCodecs(f *jen.File, p *model.Package) {
	f.Comment("Generated code that is older than the runtime it links against fails to")
	f.Comment("compile here: regenerate it with `go generate ./...` (streamgen generate).")
	f.Const().Id("_").Op("=").Qual(runtimePkg, "SupportPackageIsVersion1")
	f.Line()
	writers := knownWriters(p)
	for _, n := range p.Named {
		switch n.Kind {
		case model.Record:
			emitRecordCodec(f, n, writers[n])
			emitRecordJSON(f, n)
			emitClone(f, n.GoName, recordCloneFields(n))
		case model.Enum:
			emitEnumCodec(f, n)
		}
	}
	emitProjectionCodecs(f, p)
}

func emitEnumCodec(f *jen.File, n *model.Named) {
	f.Func().Params(jen.Id("e").Id(n.GoName)).Id(appendAvroHelper).Params(jen.Id("dst").Index().Byte()).Params(jen.Index().Byte(), jen.Error()).Block(
		jen.List(jen.Id("i"), jen.Id("ok")).Op(":=").Id("e").Dot(indexHelper).Call(),
		jen.If(jen.Id("e").Op("==").Lit("")).Block(
			jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(jen.Lit(n.FullName+": %w"), jen.Qual(codecPkg, "ErrUnsetEnum"))),
		),
		jen.If(jen.Op("!").Id("ok")).Block(
			jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(jen.Lit(fmt.Sprintf("%%q is not a symbol of enum %s", n.FullName)), jen.String().Parens(jen.Id("e")))),
		),
		jen.Return(jen.Qual(codecPkg, "AppendLong").Call(jen.Id("dst"), jen.Id("i")), jen.Nil()),
	)
	f.Line()
}

func emitRecordCodec(f *jen.File, n *model.Named, writers []string) {
	recv := jen.Id("r").Op("*").Id(n.GoName)
	resolver := resolverVar(n)
	schema, fingerprint := names.RecordSchema(n.GoName), names.RecordFingerprint(n.GoName)

	f.Commentf("AppendAvro appends the Avro binary encoding of r (no header) to dst.")
	f.Func().Params(recv.Clone()).Id("AppendAvro").Params(jen.Id("dst").Index().Byte()).Params(jen.Index().Byte(), jen.Error()).Block(
		jen.List(jen.Id("out"), jen.Id("err")).Op(":=").Id("r").Dot(appendAvroHelper).Call(jen.Id("dst")),
		jen.If(jen.Err().Op("!=").Nil()).BlockFunc(func(g *jen.Group) {
			if hasEnum(n, map[*model.Named]bool{}) {
				g.If(jen.Qual("errors", "Is").Call(jen.Err(), jen.Qual(codecPkg, "ErrUnsetEnum"))).Block(
					jen.Return(jen.Id("dst"), jen.Qual("fmt", "Errorf").Call(jen.Lit("encoding "+n.FullName+": %w; New"+n.GoName+"() starts from the schema's defaults"), jen.Err())),
				)
			}
			g.Return(jen.Id("dst"), jen.Qual("fmt", "Errorf").Call(jen.Lit("encoding "+n.FullName+": %w"), jen.Err()))
		}),
		jen.Return(jen.Id("out"), jen.Nil()),
	)
	f.Line()
	f.Commentf("UnmarshalAvro decodes src, the Avro binary encoding of a datum written with")
	f.Commentf("exactly %s, into r. Truncated, corrupt or trailing input is an error.", schema)
	f.Comment("It reuses the memory r holds, as encoding/json does: a slice's array when")
	f.Comment("its capacity suffices, maps (cleared first), the values pointers point to")
	f.Comment("and decimals are overwritten. Decode into a new r to keep the old value, or")
	f.Comment("keep its Clone.")
	emitUnmarshalAvro(f, recv, n.FullName)
	f.Line()
	direct := emitWriterDecoders(f, n, writers)
	f.Commentf("UnmarshalAvroFrom decodes src written with writerSchema, a schema that")
	f.Commentf("Avro schema resolution can read as %s: fields are matched by name", schema)
	f.Commentf("and alias, missing ones take their defaults, and numbers are promoted.")
	f.Commentf("Resolution is cached per writer schema; a writer whose fingerprint equals")
	f.Commentf("%s takes the UnmarshalAvro fast path, one known at generation", fingerprint)
	if len(direct) > 0 {
		f.Commentf("time (%s) a generated decoder as fast, and any other", writerDecodersDoc(direct))
	} else {
		f.Comment("time a generated decoder as fast (there is none for this type), and any other")
	}
	f.Comment("is transcoded into the reader's encoding first.")
	f.Func().Params(recv.Clone()).Id("UnmarshalAvroFrom").Params(jen.Id("writerSchema").String(), jen.Id("src").Index().Byte()).Error().Block(
		jen.List(jen.Id("res"), jen.Err()).Op(":=").Id(resolver).Call().Dot("ForWriter").Call(jen.Id("writerSchema")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		jen.If(jen.Id("res").Op("==").Nil()).Block(jen.Return(jen.Id("r").Dot("UnmarshalAvro").Call(jen.Id("src")))),
		jen.If(jen.List(jen.Id("dec"), jen.Id("ok")).Op(":=").Id("res").Dot("Direct").Call().Assert(jen.Func().Params(jen.Op("*").Id(n.GoName), jen.Index().Byte()).Error()), jen.Id("ok")).Block(
			jen.Return(jen.Id("dec").Call(jen.Id("r"), jen.Id("src"))),
		),
		jen.Return(jen.Id("res").Dot("Decode").Call(jen.Id("src"), jen.Id("r").Dot("UnmarshalAvro"))),
	)
	f.Line()
	f.Commentf("DecodeAvro reads one datum written with exactly %s from d into r and", schema)
	f.Comment("leaves d after it, for streams of datums such as an object container file's")
	f.Comment("blocks; errors are d's (d.Err).")
	f.Func().Params(recv.Clone()).Id("DecodeAvro").Params(jen.Id("d").Op("*").Qual(codecPkg, "Decoder")).Block(
		jen.Id("r").Dot(decodeAvroHelper).Call(jen.Id("d")),
	)
	f.Line()
	ocfW, ocfR := names.RecordOCFWriter(n.GoName), names.RecordOCFReader(n.GoName)
	f.Commentf("%s writes the header of an Avro object container file of %s", ocfW, n.GoName)
	f.Comment("records to w and returns its writer: Write each record, then Close. Options")
	f.Comment("set the codec (null, deflate, snappy, zstandard), the block size and the")
	f.Comment("sync marker.")
	f.Func().Id(ocfW).Params(jen.Id("w").Qual("io", "Writer"), jen.Id("opts").Op("...").Qual(codecPkg, "OCFOption")).Params(jen.Op("*").Qual(codecPkg, "OCFWriter").Types(jen.Id(n.GoName), jen.Op("*").Id(n.GoName)), jen.Error()).Block(
		jen.Return(jen.Qual(codecPkg, "NewOCFWriter").Types(jen.Id(n.GoName)).Call(jen.Id("w"), jen.Id("opts").Op("..."))),
	)
	f.Line()
	f.Commentf("%s reads the header of the Avro object container file in r, whose", ocfR)
	f.Commentf("schema must resolve to %s, and returns its reader: Read until io.EOF.", schema)
	f.Comment("name (the file's path) goes into errors.")
	f.Func().Id(ocfR).Params(jen.Id("r").Qual("io", "Reader"), jen.Id("name").String()).Params(jen.Op("*").Qual(codecPkg, "OCFReader").Types(jen.Id(n.GoName), jen.Op("*").Id(n.GoName)), jen.Error()).Block(
		jen.Return(jen.Qual(codecPkg, "NewOCFReader").Types(jen.Id(n.GoName)).Call(jen.Id("r"), jen.Id("name"))),
	)
	f.Line()
	f.Commentf("AvroSchema returns %s, so that the runtime can resolve writer schemas", schema)
	f.Commentf("it meets in a registry against %s.", n.GoName)
	f.Func().Params(jen.Op("*").Id(n.GoName)).Id("AvroSchema").Params().String().Block(jen.Return(jen.Id(schema)))
	f.Line()
	f.Var().Id(resolver).Op("=").Qual("sync", "OnceValue").Call(jen.Func().Params().Op("*").Qual(codecPkg, "Resolver").Block(
		jen.Return(jen.Qual(codecPkg, "NewResolver").CallFunc(func(g *jen.Group) {
			g.Id(schema)
			for _, w := range direct {
				g.Qual(codecPkg, "WriterDecoder").Values(jen.Dict{
					jen.Id("Fingerprint"): jen.Id(fmt.Sprintf("%#016x", w.fingerprint)),
					jen.Id("Decode"):      jen.Parens(jen.Op("*").Id(n.GoName)).Dot(w.method),
				})
			}
		})),
	))
	f.Line()

	// appendAvro: errors carry the field path, AppendAvro adds the type.
	e := &emitter{}
	f.Func().Params(recv.Clone()).Id(appendAvroHelper).Params(jen.Id("dst").Index().Byte()).Params(jen.Index().Byte(), jen.Error()).BlockFunc(func(g *jen.Group) {
		if needsErr(n) {
			g.Var().Err().Error()
		}
		for _, fl := range n.Fields {
			e.enc(g, fl.Type, jen.Id("r").Dot(fl.GoName), fl.Name)
		}
		g.Return(jen.Id("dst"), jen.Nil())
	})
	f.Line()
	e.spill = newSpill(n)
	f.Func().Params(recv.Clone()).Id(decodeAvroHelper).Params(jen.Id("d").Op("*").Qual(codecPkg, "Decoder")).BlockFunc(func(g *jen.Group) {
		if len(e.spill.slots) > 0 {
			g.Var().Id("sp").Op("*").Id(e.spill.typeName)
		}
		for _, fl := range n.Fields {
			e.dec(g, fl.Type, jen.Id("r").Dot(fl.GoName))
		}
	})
	f.Line()
	if len(e.spill.slots) > 0 {
		f.Commentf("%s is where a decode into a new %s takes the values its pointer", e.spill.typeName, n.GoName)
		f.Comment("fields point to: one allocation for all of them.")
		f.Type().Id(e.spill.typeName).StructFunc(func(g *jen.Group) {
			for _, c := range e.spill.fields {
				g.Add(c)
			}
		})
		f.Line()
	}
	e.spill = nil
}

// spill is the memory a record's decoder takes the values of its pointer
// fields from when they are nil (a new record): optional values and
// decimals, one allocation instead of one or three each.
type spill struct {
	typeName string
	fields   []jen.Code
	slots    map[string]string // by the field's target expression: the spill's field
}

// newSpill lays out the spill of record n's top-level pointer fields.
func newSpill(n *model.Named) *spill {
	sp := &spill{typeName: names.Helper("Spill" + n.GoName), slots: map[string]string{}}
	for i, fl := range n.Fields {
		t := fl.Type
		name := fmt.Sprintf("f%d", i)
		key := jen.Id("r").Dot(fl.GoName).GoString()
		switch {
		case t.Logical == model.Decimal || (t.Kind == model.Optional && isPointer(t.Elem)):
			// The numerator's words too: big.Rat's Denom is no
			// reference until the Rat is set, so the denominator's
			// are allocated by the first decimal decoded into it.
			sp.fields = append(sp.fields, jen.Id(name).Qual("math/big", "Rat"), jen.Id(name+"w").Index(jen.Lit(2)).Qual("math/big", "Word"))
		case t.Kind == model.Optional && t.Elem.Kind != model.Bytes:
			if _, ok := decExpr(t.Elem); !ok {
				continue
			}
			sp.fields = append(sp.fields, jen.Id(name).Add(goType(t.Elem)))
		default:
			continue
		}
		sp.slots[key] = name
	}
	return sp
}

// spillSlot returns the spill field for target, a record's top-level
// field, if it has one.
func (e *emitter) spillSlot(target *jen.Statement) (string, bool) {
	if e.spill == nil {
		return "", false
	}
	name, ok := e.spill.slots[target.GoString()]
	return name, ok
}

// allocSpill appends the statements that point target, when nil, to its
// spill field.
func (e *emitter) allocSpill(g *jen.Group, target *jen.Statement, name string, decimal bool) {
	g.If(target.Clone().Op("==").Nil()).BlockFunc(func(g *jen.Group) {
		g.If(jen.Id("sp").Op("==").Nil()).Block(jen.Id("sp").Op("=").New(jen.Id(e.spill.typeName)))
		if decimal {
			g.Id("sp").Dot(name).Dot("Num").Call().Dot("SetBits").Call(jen.Id("sp").Dot(name+"w").Index(jen.Empty(), jen.Lit(0)))
		}
		g.Add(target).Op("=").Op("&").Id("sp").Dot(name)
	})
}

// needsErr reports whether a record's encoder can fail.
func needsErr(n *model.Named) bool {
	for _, fl := range n.Fields {
		if canFail(fl.Type) {
			return true
		}
	}
	return false
}

func canFail(t *model.Type) bool {
	switch t.Kind {
	case model.Record, model.Enum, model.Union:
		return true
	case model.Array, model.Map, model.Optional:
		return canFail(t.Elem)
	}
	return t.Logical == model.Decimal
}

// mapKeysOnStack is how many keys of a map the generated encoder sorts
// without allocating.
const mapKeysOnStack = 16

// emitter writes encode and decode statements; it numbers the locals of
// nested arrays, maps and unions so that they do not shadow each other.
type emitter struct {
	n     int
	spill *spill // the record's whose decoder is being written
}

func (e *emitter) local(prefix string) string {
	e.n++
	return fmt.Sprintf("%s%d", prefix, e.n)
}

func wrapErr(path string) *jen.Statement {
	return jen.Qual(codecPkg, "FieldErr").Call(jen.Lit(path), jen.Err())
}

// hasEnum reports whether a record's encoding includes an enum, which can be
// unset.
func hasEnum(n *model.Named, seen map[*model.Named]bool) bool {
	if seen[n] {
		return false
	}
	seen[n] = true
	var walk func(t *model.Type) bool
	walk = func(t *model.Type) bool {
		switch t.Kind {
		case model.Enum:
			return true
		case model.Record:
			return hasEnum(t.Named, seen)
		case model.Array, model.Map, model.Optional:
			return walk(t.Elem)
		case model.Union:
			for _, b := range t.Union.Branches {
				if walk(b.Type) {
					return true
				}
			}
		}
		return false
	}
	for _, f := range n.Fields {
		if walk(f.Type) {
			return true
		}
	}
	return false
}

// enc appends statements that append value v of type t to dst.
func (e *emitter) enc(g *jen.Group, t *model.Type, v *jen.Statement, path string) {
	appendCall := func(fn string, arg jen.Code) {
		g.Id("dst").Op("=").Qual(codecPkg, fn).Call(jen.Id("dst"), arg)
	}
	fallible := func(call jen.Code) {
		g.If(jen.List(jen.Id("dst"), jen.Err()).Op("=").Add(call), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), wrapErr(path)),
		)
	}
	switch t.Kind {
	case model.Null:
	case model.Boolean:
		appendCall("AppendBool", v)
	case model.Int:
		switch t.Logical {
		case model.Date:
			appendCall("AppendInt", jen.Qual(codecPkg, "DaysOf").Call(v))
		case model.TimeMillis:
			appendCall("AppendInt", jen.Qual(codecPkg, "MillisOfDuration").Call(v))
		default:
			appendCall("AppendInt", v)
		}
	case model.Long:
		switch t.Logical {
		case model.TimestampMillis, model.LocalTimestampMillis:
			appendCall("AppendLong", jen.Qual(codecPkg, "MillisOf").Call(v))
		case model.TimestampMicros, model.LocalTimestampMicros:
			appendCall("AppendLong", jen.Qual(codecPkg, "MicrosOf").Call(v))
		case model.TimestampNanos, model.LocalTimestampNanos:
			appendCall("AppendLong", jen.Qual(codecPkg, "NanosOf").Call(v))
		case model.TimeMicros:
			appendCall("AppendLong", jen.Qual(codecPkg, "MicrosOfDuration").Call(v))
		default:
			appendCall("AppendLong", v)
		}
	case model.Float:
		appendCall("AppendFloat", v)
	case model.Double:
		appendCall("AppendDouble", v)
	case model.Bytes:
		if t.Logical == model.Decimal {
			fallible(jen.Qual(codecPkg, "AppendDecimalBytes").Call(jen.Id("dst"), v, jen.Lit(t.Precision), jen.Lit(t.Scale)))
			return
		}
		appendCall("AppendBytes", v)
	case model.String:
		appendCall("AppendString", v)
	case model.Record, model.Enum:
		fallible(v.Clone().Dot(appendAvroHelper).Call(jen.Id("dst")))
	case model.Fixed:
		switch t.Logical {
		case model.Decimal:
			fallible(jen.Qual(codecPkg, "AppendDecimalFixed").Call(jen.Id("dst"), v, jen.Lit(t.Precision), jen.Lit(t.Scale), jen.Lit(t.Named.Size)))
		case model.Duration:
			appendCall("AppendDuration", v)
		default:
			g.Id("dst").Op("=").Append(jen.Id("dst"), v.Clone().Index(jen.Empty(), jen.Empty()).Op("..."))
		}
	case model.Array:
		i := e.local("i")
		g.If(jen.Len(v).Op(">").Lit(0)).BlockFunc(func(g *jen.Group) {
			g.Id("dst").Op("=").Qual(codecPkg, "AppendLong").Call(jen.Id("dst"), jen.Int64().Parens(jen.Len(v)))
			g.For(jen.Id(i).Op(":=").Range().Add(v)).BlockFunc(func(g *jen.Group) {
				e.enc(g, t.Elem, v.Clone().Index(jen.Id(i)), path+"[]")
			})
		})
		g.Id("dst").Op("=").Append(jen.Id("dst"), jen.Lit(0))
	case model.Map:
		k, x, buf := e.local("k"), e.local("v"), e.local("keys")
		g.If(jen.Len(v).Op(">").Lit(0)).BlockFunc(func(g *jen.Group) {
			g.Id("dst").Op("=").Qual(codecPkg, "AppendLong").Call(jen.Id("dst"), jen.Int64().Parens(jen.Len(v)))
			g.Comment("Keys in order, so that equal maps encode to equal bytes; sorted in")
			g.Comment("an array on the stack, so that a small map costs no allocation.")
			g.Var().Id(buf).Index(jen.Lit(mapKeysOnStack)).String()
			g.For(jen.List(jen.Id("_"), jen.Id(k)).Op(":=").Range().Qual(codecPkg, "SortedKeys").Call(jen.Id(buf).Index(jen.Empty(), jen.Lit(0)), v)).BlockFunc(func(g *jen.Group) {
				g.Id("dst").Op("=").Qual(codecPkg, "AppendString").Call(jen.Id("dst"), jen.Id(k))
				g.Id(x).Op(":=").Add(v).Index(jen.Id(k))
				e.enc(g, t.Elem, jen.Id(x), path+"[]")
			})
		})
		g.Id("dst").Op("=").Append(jen.Id("dst"), jen.Lit(0))
	case model.Optional:
		nonNull := int64(1 - t.NullIndex)
		inner := jen.Parens(jen.Op("*").Add(v))
		if isPointer(t.Elem) || t.Elem.Kind == model.Record {
			inner = v.Clone() // a pointer's methods and codec helpers take it as is
		}
		g.If(v.Clone().Op("==").Nil()).Block(
			jen.Id("dst").Op("=").Qual(codecPkg, "AppendLong").Call(jen.Id("dst"), jen.Lit(int64(t.NullIndex))),
		).Else().BlockFunc(func(g *jen.Group) {
			g.Id("dst").Op("=").Qual(codecPkg, "AppendLong").Call(jen.Id("dst"), jen.Lit(nonNull))
			e.enc(g, t.Elem, inner, path)
		})
	case model.Union:
		x := e.local("u")
		g.Switch(jen.Id(x).Op(":=").Add(v).Assert(jen.Type())).BlockFunc(func(g *jen.Group) {
			g.Case(jen.Nil()).BlockFunc(func(g *jen.Group) {
				if t.Union.NullIndex >= 0 {
					g.Id("dst").Op("=").Qual(codecPkg, "AppendLong").Call(jen.Id("dst"), jen.Lit(int64(t.Union.NullIndex)))
				} else {
					g.Return(jen.Nil(), jen.Qual(codecPkg, "FieldErr").Call(jen.Lit(path), jen.Qual("errors", "New").Call(jen.Lit("nil value for a union without a null branch"))))
				}
			})
			for _, b := range t.Union.Branches {
				g.Case(jen.Id(b.GoName)).BlockFunc(func(g *jen.Group) {
					g.Id("dst").Op("=").Qual(codecPkg, "AppendLong").Call(jen.Id("dst"), jen.Lit(int64(b.Index)))
					if b.Type.Kind == model.Record {
						// A type switch variable is not addressable; copy the
						// struct to call its pointer method.
						val := e.local("b")
						g.Id(val).Op(":=").Id(x).Dot("Value")
						e.enc(g, b.Type, jen.Id(val), path)
						return
					}
					e.enc(g, b.Type, jen.Id(x).Dot("Value"), path)
				})
			}
		})
	default:
		panic(fmt.Sprintf("enc: kind %v", t.Kind))
	}
}

// decExpr returns an expression that decodes a value of t, for the types
// that need no statements.
func decExpr(t *model.Type) (jen.Code, bool) {
	d := func(m string) *jen.Statement { return jen.Id("d").Dot(m).Call() }
	conv := func(fn string, arg jen.Code) *jen.Statement { return jen.Qual(codecPkg, fn).Call(arg) }
	switch t.Kind {
	case model.Boolean:
		return d("Bool"), true
	case model.Int:
		switch t.Logical {
		case model.Date:
			return conv("Date", d("Int")), true
		case model.TimeMillis:
			return conv("TimeMillis", d("Int")), true
		}
		return d("Int"), true
	case model.Long:
		switch t.Logical {
		case model.TimestampMillis, model.LocalTimestampMillis:
			return conv("TimestampMillis", d("Long")), true
		case model.TimestampMicros, model.LocalTimestampMicros:
			return conv("TimestampMicros", d("Long")), true
		case model.TimestampNanos, model.LocalTimestampNanos:
			return conv("TimestampNanos", d("Long")), true
		case model.TimeMicros:
			return d("TimeMicros"), true
		}
		return d("Long"), true
	case model.Float:
		return d("Float"), true
	case model.Double:
		return d("Double"), true
	case model.Bytes:
		if t.Logical == model.Decimal {
			return jen.Id("d").Dot("Decimal").Call(jen.Nil(), jen.Lit(t.Scale)), true
		}
		return d("Bytes"), true
	case model.String:
		return d("String"), true
	case model.Fixed:
		if t.Logical == model.Duration {
			return d("Duration"), true
		}
	}
	return nil, false
}

// dec appends statements that decode a value of t into target, which is
// addressable. The memory target holds is reused: a slice's array when
// its capacity suffices, a map (cleared), the value a pointer points to,
// a decimal's big.Rat, so that decoding into a record decoded before
// allocates nothing but its strings (and those only once per block of a
// codec.Strings).
func (e *emitter) dec(g *jen.Group, t *model.Type, target *jen.Statement) {
	switch {
	case t.Kind == model.Bytes && t.Logical == model.Decimal:
		if name, ok := e.spillSlot(target); ok {
			e.allocSpill(g, target, name, true)
		}
		g.Add(target).Op("=").Id("d").Dot("Decimal").Call(target.Clone(), jen.Lit(t.Scale))
		return
	case t.Kind == model.Bytes:
		g.Add(target).Op("=").Id("d").Dot("BytesInto").Call(target.Clone())
		return
	}
	if x, ok := decExpr(t); ok {
		g.Add(target).Op("=").Add(x)
		return
	}
	switch t.Kind {
	case model.Null:
	case model.Record:
		g.Add(target).Dot(decodeAvroHelper).Call(jen.Id("d"))
	case model.Enum:
		i := e.local("e")
		g.If(jen.Id(i).Op(":=").Id("d").Dot("Enum").Call(jen.Lit(len(t.Named.Symbols))), jen.Id(i).Op(">=").Lit(0)).Block(
			target.Clone().Op("=").Id(symbolsVar(t.Named)).Index(jen.Id(i)),
		)
	case model.Fixed:
		if t.Logical == model.Decimal {
			buf := e.local("f")
			g.Var().Id(buf).Index(jen.Lit(t.Named.Size)).Byte()
			g.Id("d").Dot("Fixed").Call(jen.Id(buf).Index(jen.Empty(), jen.Empty()))
			if name, ok := e.spillSlot(target); ok {
				e.allocSpill(g, target, name, true)
			}
			g.Add(target).Op("=").Qual(codecPkg, "DecimalInto").Call(target.Clone(), jen.Id(buf).Index(jen.Empty(), jen.Empty()), jen.Lit(t.Scale))
			return
		}
		g.Id("d").Dot("Fixed").Call(target.Clone().Index(jen.Empty(), jen.Empty()))
	case model.Array:
		s, n := e.local("s"), e.local("n")
		min := minSize(t.Elem, map[*model.Named]bool{})
		g.BlockFunc(func(g *jen.Group) {
			g.Id(s).Op(":=").Add(target.Clone()).Index(jen.Empty(), jen.Lit(0))
			g.For(
				jen.Id(n).Op(":=").Id("d").Dot("BlockCount").Call(jen.Lit(min)),
				jen.Id(n).Op(">").Lit(0),
				jen.Id(n).Op("=").Id("d").Dot("BlockCount").Call(jen.Lit(min)),
			).BlockFunc(func(g *jen.Group) {
				g.Id(s).Op("=").Qual("slices", "Grow").Call(jen.Id(s), jen.Id(n))
				g.For(jen.Range().Id(n)).BlockFunc(func(g *jen.Group) {
					if x, ok := decExpr(t.Elem); ok && t.Elem.Kind != model.Bytes {
						g.Id(s).Op("=").Append(jen.Id(s), x)
						return
					}
					// Decode in place (no copy of a large element), into
					// the element the array held before if there is one.
					g.Id(s).Op("=").Id(s).Index(jen.Empty(), jen.Len(jen.Id(s)).Op("+").Lit(1))
					e.dec(g, t.Elem, jen.Id(s).Index(jen.Len(jen.Id(s)).Op("-").Lit(1)))
				})
			})
			g.Add(target).Op("=").Id(s)
		})
	case model.Map:
		m, n, k, v := e.local("m"), e.local("n"), e.local("k"), e.local("v")
		min := 1 + minSize(t.Elem, map[*model.Named]bool{}) // a key takes at least its length byte
		g.BlockFunc(func(g *jen.Group) {
			g.Id(m).Op(":=").Add(target.Clone())
			g.Clear(jen.Id(m))
			g.For(
				jen.Id(n).Op(":=").Id("d").Dot("BlockCount").Call(jen.Lit(min)),
				jen.Id(n).Op(">").Lit(0),
				jen.Id(n).Op("=").Id("d").Dot("BlockCount").Call(jen.Lit(min)),
			).BlockFunc(func(g *jen.Group) {
				g.If(jen.Id(m).Op("==").Nil()).Block(jen.Id(m).Op("=").Make(goType(t), jen.Id(n)))
				g.For(jen.Range().Id(n)).BlockFunc(func(g *jen.Group) {
					g.Id(k).Op(":=").Id("d").Dot("String").Call()
					if x, ok := decExpr(t.Elem); ok {
						g.Id(m).Index(jen.Id(k)).Op("=").Add(x)
						return
					}
					g.Var().Id(v).Add(goType(t.Elem))
					e.dec(g, t.Elem, jen.Id(v))
					g.Id(m).Index(jen.Id(k)).Op("=").Id(v)
				})
			})
			g.Add(target).Op("=").Id(m)
		})
	case model.Optional:
		g.Switch(jen.Id("d").Dot("UnionIndex").Call(jen.Lit(2))).Block(
			jen.Case(jen.Lit(t.NullIndex)).Block(target.Clone().Op("=").Nil()),
			jen.Case(jen.Lit(1-t.NullIndex)).BlockFunc(func(g *jen.Group) {
				if isPointer(t.Elem) {
					e.dec(g, t.Elem, target.Clone())
					return
				}
				// Into the value target points to, if it points to one.
				if name, ok := e.spillSlot(target); ok {
					e.allocSpill(g, target, name, false)
				} else {
					g.If(target.Clone().Op("==").Nil()).Block(target.Clone().Op("=").New(goType(t.Elem)))
				}
				if t.Elem.Kind == model.Record {
					g.Add(target).Dot(decodeAvroHelper).Call(jen.Id("d"))
					return
				}
				e.dec(g, t.Elem, jen.Parens(jen.Op("*").Add(target.Clone())))
			}),
		)
	case model.Union:
		n := len(t.Union.Branches)
		if t.Union.NullIndex >= 0 {
			n++
		}
		g.Switch(jen.Id("d").Dot("UnionIndex").Call(jen.Lit(n))).BlockFunc(func(g *jen.Group) {
			if t.Union.NullIndex >= 0 {
				g.Case(jen.Lit(t.Union.NullIndex)).Block(target.Clone().Op("=").Nil())
			}
			for _, b := range t.Union.Branches {
				g.Case(jen.Lit(b.Index)).BlockFunc(func(g *jen.Group) {
					if x, ok := decExpr(b.Type); ok {
						g.Add(target).Op("=").Id(b.GoName).Values(jen.Dict{jen.Id("Value"): x})
						return
					}
					w := e.local("w")
					g.Var().Id(w).Id(b.GoName)
					e.dec(g, b.Type, jen.Id(w).Dot("Value"))
					g.Add(target).Op("=").Id(w)
				})
			}
		})
	default:
		panic(fmt.Sprintf("dec: kind %v", t.Kind))
	}
}

// minSize is the fewest bytes a value of t can encode to; the decoder
// rejects an array block count that the remaining input cannot hold.
func minSize(t *model.Type, visiting map[*model.Named]bool) int {
	switch t.Kind {
	case model.Null:
		return 0
	case model.Float:
		return 4
	case model.Double:
		return 8
	case model.Fixed:
		return t.Named.Size
	case model.Record:
		if visiting[t.Named] {
			return 0
		}
		visiting[t.Named] = true
		defer delete(visiting, t.Named)
		sum := 0
		for _, f := range t.Named.Fields {
			sum += minSize(f.Type, visiting)
		}
		return sum
	}
	return 1
}

// emitUnmarshalAvro writes UnmarshalAvro of the record type recv, whose
// schema is fullName: a decoder over src, the type's decodeAvro, then the
// decoder's one error check.
func emitUnmarshalAvro(f *jen.File, recv *jen.Statement, fullName string) {
	f.Func().Params(recv.Clone()).Id("UnmarshalAvro").Params(jen.Id("src").Index().Byte()).Error().Block(
		jen.Id("d").Op(":=").Qual(codecPkg, "NewDecoder").Call(jen.Id("src")),
		jen.Id("r").Dot(decodeAvroHelper).Call(jen.Op("&").Id("d")),
		jen.If(jen.Err().Op(":=").Id("d").Dot("Finish").Call(), jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("decoding "+fullName+": %w"), jen.Err())),
		),
		jen.Return(jen.Nil()),
	)
}
