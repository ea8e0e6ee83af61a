// Package golang emits the Go code of a generated package from the model:
// types.go (the Go types of the schemas), codec.go (specialized Avro codecs)
// and streams.go (the job's streams, batch, handler and config).
package golang

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/names"
)

const (
	runtimePkg = "github.com/streamgen/streamgen/runtime"
	metricsPkg = "github.com/streamgen/streamgen/runtime/metrics"
	codecPkg   = "github.com/streamgen/streamgen/runtime/codec"
	envPkg     = "github.com/streamgen/streamgen/runtime/envsubst"
	offsetsPkg = "github.com/streamgen/streamgen/runtime/offsets"
	sinkPkg    = "github.com/streamgen/streamgen/runtime/sink"
	sidePkg    = "github.com/streamgen/streamgen/runtime/side"
	cloudPkg   = "github.com/streamgen/streamgen/runtime/sink/cloud"
)

// goType is the Go type of an Avro type use.
func goType(t *model.Type) *jen.Statement {
	switch t.Kind {
	case model.Null:
		return jen.Struct()
	case model.Boolean:
		return jen.Bool()
	case model.Int:
		switch t.Logical {
		case model.Date:
			return jen.Qual("time", "Time")
		case model.TimeMillis:
			return jen.Qual("time", "Duration")
		}
		return jen.Int32()
	case model.Long:
		switch t.Logical {
		case model.TimestampMillis, model.TimestampMicros, model.TimestampNanos,
			model.LocalTimestampMillis, model.LocalTimestampMicros, model.LocalTimestampNanos:
			return jen.Qual("time", "Time")
		case model.TimeMicros:
			return jen.Qual("time", "Duration")
		}
		return jen.Int64()
	case model.Float:
		return jen.Float32()
	case model.Double:
		return jen.Float64()
	case model.Bytes:
		if t.Logical == model.Decimal {
			return jen.Op("*").Qual("math/big", "Rat")
		}
		return jen.Index().Byte()
	case model.String:
		return jen.String()
	case model.Record, model.Enum:
		return jen.Id(t.Named.GoName)
	case model.Fixed:
		switch t.Logical {
		case model.Decimal:
			return jen.Op("*").Qual("math/big", "Rat")
		case model.Duration:
			return jen.Qual(codecPkg, "Duration")
		}
		return jen.Id(t.Named.GoName)
	case model.Array:
		return jen.Index().Add(goType(t.Elem))
	case model.Map:
		return jen.Map(jen.String()).Add(goType(t.Elem))
	case model.Optional:
		if isPointer(t.Elem) {
			return goType(t.Elem)
		}
		return jen.Op("*").Add(goType(t.Elem))
	case model.Union:
		return jen.Id(t.Union.GoName)
	}
	panic(fmt.Sprintf("goType: kind %v", t.Kind))
}

// isPointer reports whether the Go type is already a pointer, so that an
// optional of it uses nil rather than a pointer to a pointer.
func isPointer(t *model.Type) bool {
	return t.Logical == model.Decimal
}

// avroTypeName describes a type use in doc comments.
func avroTypeName(t *model.Type) string {
	logical := map[model.Logical]string{
		model.TimestampMillis: "timestamp-millis", model.TimestampMicros: "timestamp-micros",
		model.TimestampNanos: "timestamp-nanos", model.LocalTimestampMillis: "local-timestamp-millis",
		model.LocalTimestampMicros: "local-timestamp-micros", model.LocalTimestampNanos: "local-timestamp-nanos",
		model.Date: "date", model.TimeMillis: "time-millis", model.TimeMicros: "time-micros",
		model.UUID: "uuid", model.Duration: "duration",
	}
	var base string
	switch t.Kind {
	case model.Record, model.Enum, model.Fixed:
		base = t.Named.FullName
	case model.Array:
		base = "array<" + avroTypeName(t.Elem) + ">"
	case model.Map:
		base = "map<" + avroTypeName(t.Elem) + ">"
	case model.Optional:
		return "union{null, " + avroTypeName(t.Elem) + "}"
	case model.Union:
		var parts []string
		for _, b := range t.Union.Branches {
			parts = append(parts, avroTypeName(b.Type))
		}
		if t.Union.NullIndex >= 0 {
			parts = append([]string{"null"}, parts...)
		}
		return "union{" + strings.Join(parts, ", ") + "}"
	default:
		base = t.Kind.String()
	}
	if t.Logical == model.Decimal {
		return fmt.Sprintf("%s (decimal(%d,%d))", base, t.Precision, t.Scale)
	}
	if l, ok := logical[t.Logical]; ok {
		return base + " (" + l + ")"
	}
	return base
}

func docLines(g *jen.Group, doc string) {
	for _, l := range strings.Split(strings.TrimSpace(doc), "\n") {
		g.Comment(strings.TrimRight(l, " \t"))
	}
}

// emitTypes writes the Go types: records, enums, fixed types and unions.
func emitTypes(f *jen.File, p *model.Package) {
	for _, n := range p.Named {
		switch n.Kind {
		case model.Record:
			emitRecordType(f, n)
		case model.Enum:
			emitEnumType(f, n)
		case model.Fixed:
			if n.Size >= 0 {
				f.Commentf("%s is the Avro fixed type %s (%d bytes).", n.GoName, n.FullName, n.Size)
				f.Type().Id(n.GoName).Index(jen.Lit(n.Size)).Byte()
				f.Line()
			}
		}
	}
	for _, u := range p.Unions {
		emitUnionType(f, u)
	}
	emitProjectionTypes(f, p)
}

func emitRecordType(f *jen.File, n *model.Named) {
	f.Commentf("%s is the Avro record %s.", n.GoName, n.FullName)
	if n.Doc != "" {
		f.Comment("")
		for _, l := range strings.Split(strings.TrimSpace(n.Doc), "\n") {
			f.Comment(l)
		}
	}
	f.Type().Id(n.GoName).StructFunc(func(g *jen.Group) {
		for _, fl := range n.Fields {
			if fl.Doc != "" {
				docLines(g, fl.Doc)
			}
			c := "Avro " + avroTypeName(fl.Type)
			if fl.Default != "" {
				c += ", default " + fl.Default
			}
			g.Id(fl.GoName).Add(goType(fl.Type)).Tag(map[string]string{"avro": fl.Name, "json": fl.Name}).Comment(c)
		}
	})
	f.Line()
	schema, fingerprint := names.RecordSchema(n.GoName), names.RecordFingerprint(n.GoName)
	f.Commentf("%s is the Avro schema of %s, with every type it uses and its defaults.", schema, n.GoName)
	f.Const().Id(schema).Op("=").Id("`" + strings.ReplaceAll(n.Schema, "`", "`+\"`\"+`") + "`")
	f.Line()
	f.Commentf("%s is the CRC-64-AVRO fingerprint of the Parsing Canonical Form of %s.", fingerprint, schema)
	f.Const().Id(fingerprint).Uint64().Op("=").Id(fmt.Sprintf("0x%016x", n.Fingerprint))
	f.Line()
	emitNew(f, n)
}

func emitEnumType(f *jen.File, n *model.Named) {
	f.Commentf("%s is the Avro enum %s.", n.GoName, n.FullName)
	if n.Doc != "" {
		f.Comment("")
		for _, l := range strings.Split(strings.TrimSpace(n.Doc), "\n") {
			f.Comment(l)
		}
	}
	f.Type().Id(n.GoName).String()
	f.Line()
	f.Commentf("The symbols of %s, in schema order.", n.GoName)
	f.Const().DefsFunc(func(g *jen.Group) {
		for i, s := range n.Symbols {
			g.Id(n.SymbolGoNames[i]).Id(n.GoName).Op("=").Lit(s)
		}
	})
	f.Line()
	f.Func().Params(jen.Id("e").Id(n.GoName)).Id("String").Params().String().Block(jen.Return(jen.String().Parens(jen.Id("e"))))
	f.Line()
	f.Commentf("Valid reports whether e is one of the symbols of %s.", n.FullName)
	f.Func().Params(jen.Id("e").Id(n.GoName)).Id("Valid").Params().Bool().Block(
		jen.Id("_").Op(",").Id("ok").Op(":=").Id("e").Dot(indexHelper).Call(),
		jen.Return(jen.Id("ok")),
	)
	f.Line()
	f.Func().Params(jen.Id("e").Id(n.GoName)).Id(indexHelper).Params().Params(jen.Int64(), jen.Bool()).Block(
		jen.Switch(jen.Id("e")).BlockFunc(func(g *jen.Group) {
			for i := range n.Symbols {
				g.Case(jen.Id(n.SymbolGoNames[i])).Block(jen.Return(jen.Lit(int64(i)), jen.True()))
			}
		}),
		jen.Return(jen.Lit(int64(-1)), jen.False()),
	)
	f.Line()
	f.Var().Id(symbolsVar(n)).Op("=").Index(jen.Op("...")).Id(n.GoName).ValuesFunc(func(g *jen.Group) {
		for i := range n.Symbols {
			g.Id(n.SymbolGoNames[i])
		}
	})
	f.Line()
}

func emitUnionType(f *jen.File, u *model.Sealed) {
	f.Commentf("%s is the Avro union of %s: one of", u.GoName, u.Owner)
	for _, b := range u.Branches {
		f.Commentf("  - %s (%s)", b.GoName, avroTypeName(b.Type))
	}
	if u.NullIndex >= 0 {
		f.Comment("or nil for null.")
	} else {
		f.Comment("A nil value cannot be encoded: the union has no null branch.")
	}
	f.Type().Id(u.GoName).Interface(jen.Id(unionMarker(u)).Params())
	f.Line()
	for _, b := range u.Branches {
		f.Commentf("%s is the %s branch of %s.", b.GoName, avroTypeName(b.Type), u.GoName)
		f.Type().Id(b.GoName).Struct(jen.Id("Value").Add(goType(b.Type)))
		f.Line()
		f.Func().Params(jen.Id(b.GoName)).Id(unionMarker(u)).Params().Block()
		f.Line()
	}
}

// The unexported names the generated code declares, all with the helper
// prefix: methods of every record (appendAvroHelper, decodeAvroHelper),
// enum (indexHelper, appendAvroHelper) and union branch (unionMarker), and
// the package-level resolver of each record and symbol table of each enum.
var (
	appendAvroHelper = names.Helper("AppendAvro")
	decodeAvroHelper = names.Helper("DecodeAvro")
	indexHelper      = names.Helper("Index")
)

func unionMarker(u *model.Sealed) string { return names.Helper("Is" + u.GoName) }
func resolverVar(n *model.Named) string  { return names.Helper(n.GoName + "Resolver") }
func symbolsVar(n *model.Named) string   { return names.Helper(n.GoName + "Symbols") }

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
