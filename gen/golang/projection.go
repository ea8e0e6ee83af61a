package golang

import (
	"fmt"
	"strings"

	"github.com/dave/jennifer/jen"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/names"
)

// Projections: a stream whose spec lists the fields it reads gets a type
// holding only those (model.Projection), read from the value record's own
// encoding by a decoder that skips every other field without allocating.
// It reads as the record does: its AvroSchema is the record's, so the
// runtime resolves writer schemas against the record's, and a writer that
// is not the record's schema is transcoded into the record's encoding by
// the record's resolver (a writer's extra fields dropped, missing ones
// defaulted, numbers promoted) before the projected decoder skips what it
// does not hold.

// streamValueType is the Go type of a stream's values: its projection, or
// its value record.
func streamValueType(s *model.Stream) *jen.Statement {
	if s.Projection != nil {
		return jen.Id(s.Projection.GoName)
	}
	return goType(s.Value)
}

// projections lists every projection of the package, each stream's
// outermost first, then the nested ones it holds.
func projections(p *model.Package) []*model.Projection {
	var out []*model.Projection
	for _, s := range p.Streams {
		out = appendProjections(out, s.Projection)
	}
	return out
}

// appendProjections appends pr (if any), then the nested projections it
// holds, to out.
func appendProjections(out []*model.Projection, pr *model.Projection) []*model.Projection {
	if pr == nil {
		return out
	}
	out = append(out, pr)
	for _, f := range pr.Fields {
		out = appendProjections(out, f.Sub)
	}
	return out
}

// projectedFieldType is the Go type of a projection's field.
func projectedFieldType(f *model.ProjectedField) *jen.Statement {
	switch {
	case f.Sub == nil:
		return goType(f.Type)
	case f.Type.Kind == model.Optional:
		return jen.Op("*").Id(f.Sub.GoName)
	default:
		return jen.Id(f.Sub.GoName)
	}
}

// emitProjectionTypes writes the projected types of the streams.
func emitProjectionTypes(f *jen.File, p *model.Package) {
	for _, s := range p.Streams {
		if s.Projection == nil {
			continue
		}
		for _, pr := range appendProjections(nil, s.Projection) {
			if pr == s.Projection {
				f.Commentf("%s is the part of %s that stream %s reads,", pr.GoName, pr.Record.FullName, s.Name)
				f.Commentf("the fields its spec lists: %s.", strings.Join(pr.Paths, ", "))
				f.Comment("Its decoder reads them from the record's encoding and skips the others")
				f.Commentf("without allocating. It is decoded only: to write records, encode %s.", pr.Record.GoName)
			} else {
				f.Commentf("%s is the part of %s that stream %s reads:", pr.GoName, pr.Record.FullName, s.Name)
				f.Commentf("%s.", strings.Join(pr.Paths, ", "))
			}
			f.Type().Id(pr.GoName).StructFunc(func(g *jen.Group) {
				for _, fl := range pr.Fields {
					if fl.Doc != "" {
						docLines(g, fl.Doc)
					}
					c := "Avro " + avroTypeName(fl.Type)
					if fl.Sub != nil {
						c += ", only the fields listed"
					}
					if fl.Default != "" {
						c += ", default " + fl.Default
					}
					g.Id(fl.GoName).Add(projectedFieldType(fl)).Tag(map[string]string{"avro": fl.Name, "json": fl.Name}).Comment(c)
				}
			})
			f.Line()
		}
	}
}

// skipFunc names the function that skips an encoded record n.
func skipFunc(n *model.Named) string { return names.Helper("Skip" + n.GoName) }

// emitProjectionCodecs writes the decoders of the projected types and the
// skip functions of the records they pass over.
func emitProjectionCodecs(f *jen.File, p *model.Package) {
	prs := projections(p)
	if len(prs) == 0 {
		return
	}
	e := &emitter{}
	skipped := map[*model.Named]bool{}
	for _, s := range p.Streams {
		pr := s.Projection
		if pr == nil {
			continue
		}
		n := pr.Record
		recv := jen.Id("r").Op("*").Id(pr.GoName)
		schema := names.RecordSchema(n.GoName)
		f.Commentf("UnmarshalAvro decodes the fields of %s that r holds from src, the Avro", pr.GoName)
		f.Commentf("binary encoding of a datum written with exactly %s, skipping the", schema)
		f.Comment("others. Truncated, corrupt or trailing input is an error.")
		emitUnmarshalAvro(f, recv, n.FullName)
		f.Line()
		f.Commentf("DecodeAvro reads the fields r holds of one datum written with exactly %s", schema)
		f.Comment("from d, skipping the others, and leaves d after it; errors are d's (d.Err).")
		f.Func().Params(recv.Clone()).Id("DecodeAvro").Params(jen.Id("d").Op("*").Qual(codecPkg, "Decoder")).Block(
			jen.Id("r").Dot(decodeAvroHelper).Call(jen.Id("d")),
		)
		f.Line()
		f.Comment("UnmarshalAvroFrom decodes src written with writerSchema, a schema that")
		f.Commentf("Avro schema resolution can read as %s, into r: the resolver", schema)
		f.Commentf("of %s transcodes it into that schema's encoding (fields the writer", n.GoName)
		f.Comment("lacks take their defaults, numbers are promoted), and UnmarshalAvro reads")
		f.Commentf("what r holds. A writer whose fingerprint is %s is", names.RecordFingerprint(n.GoName))
		f.Comment("read directly.")
		f.Func().Params(recv.Clone()).Id("UnmarshalAvroFrom").Params(jen.Id("writerSchema").String(), jen.Id("src").Index().Byte()).Error().Block(
			jen.List(jen.Id("res"), jen.Err()).Op(":=").Id(resolverVar(n)).Call().Dot("ForWriter").Call(jen.Id("writerSchema")),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
			jen.If(jen.Id("res").Op("==").Nil()).Block(jen.Return(jen.Id("r").Dot("UnmarshalAvro").Call(jen.Id("src")))),
			jen.Return(jen.Id("res").Dot("Decode").Call(jen.Id("src"), jen.Id("r").Dot("UnmarshalAvro"))),
		)
		f.Line()
		f.Commentf("AvroSchema returns %s: %s reads what", schema, pr.GoName)
		f.Commentf("%s does, so the runtime resolves the writer schemas it meets against", n.GoName)
		f.Comment("that one.")
		f.Func().Params(jen.Op("*").Id(pr.GoName)).Id("AvroSchema").Params().String().Block(jen.Return(jen.Id(schema)))
		f.Line()
		f.Commentf("AppendAvro fails: %s holds too few fields of %s to encode", pr.GoName, n.FullName)
		f.Commentf("it: encode %s values instead.", n.GoName)
		f.Func().Params(jen.Op("*").Id(pr.GoName)).Id("AppendAvro").Params(jen.Id("dst").Index().Byte()).Params(jen.Index().Byte(), jen.Error()).Block(
			jen.Return(jen.Id("dst"), jen.Qual("errors", "New").Call(jen.Lit(fmt.Sprintf("encoding %s: %s is a projection of stream %s, holding only the fields the job reads; encode %s values instead", n.FullName, pr.GoName, s.Name, n.GoName)))),
		)
		f.Line()
	}
	for _, pr := range prs {
		emitClone(f, pr.GoName, projectionCloneFields(pr))
		f.Func().Params(jen.Id("r").Op("*").Id(pr.GoName)).Id(decodeAvroHelper).Params(jen.Id("d").Op("*").Qual(codecPkg, "Decoder")).BlockFunc(func(g *jen.Group) {
			i := 0
			for _, fl := range pr.Record.Fields {
				if i < len(pr.Fields) && pr.Fields[i].Field == fl {
					pf := pr.Fields[i]
					i++
					e.decProjected(g, pf)
					continue
				}
				g.Commentf("%s: skipped", fl.Name)
				e.skip(g, fl.Type, skipped)
			}
		})
		f.Line()
	}
	// The records skipped whole, each by a function of its own (so a
	// recursive one is too), in definition order.
	for done := false; !done; {
		done = true
		for _, n := range p.Named {
			if !skipped[n] {
				continue
			}
			skipped[n] = false // emitted; the map keeps it, so it is not queued again
			done = false
			f.Commentf("%s reads past an encoded %s.", skipFunc(n), n.FullName)
			f.Func().Id(skipFunc(n)).Params(jen.Id("d").Op("*").Qual(codecPkg, "Decoder")).BlockFunc(func(g *jen.Group) {
				for _, fl := range n.Fields {
					e.skip(g, fl.Type, skipped)
				}
			})
			f.Line()
		}
	}
}

// decProjected decodes one field a projection holds into r.
func (e *emitter) decProjected(g *jen.Group, f *model.ProjectedField) {
	target := jen.Id("r").Dot(f.GoName)
	switch {
	case f.Sub == nil && f.Type.Kind == model.String:
		// Each string kept on its own: String's one copy of the rest of
		// the datum, shared by its strings, would copy what is skipped.
		g.Add(target).Op("=").Id("d").Dot("StringAlone").Call()
	case f.Sub == nil:
		e.dec(g, f.Type, target)
	case f.Type.Kind == model.Record:
		g.Add(target).Dot(decodeAvroHelper).Call(jen.Id("d"))
	default: // an optional record, decoded into the one target points to if any
		g.Switch(jen.Id("d").Dot("UnionIndex").Call(jen.Lit(2))).Block(
			jen.Case(jen.Lit(f.Type.NullIndex)).Block(target.Clone().Op("=").Nil()),
			jen.Case(jen.Lit(1-f.Type.NullIndex)).Block(
				jen.If(target.Clone().Op("==").Nil()).Block(target.Clone().Op("=").New(jen.Id(f.Sub.GoName))),
				target.Clone().Dot(decodeAvroHelper).Call(jen.Id("d")),
			),
		)
	}
}

// skip appends statements that read past an encoded value of t without
// keeping it: strings and bytes by their length, arrays and maps a block
// at a time (whole, when the writer recorded its size), unions by branch,
// fixed by size, records by their skip function, which records marks for
// emission (true).
func (e *emitter) skip(g *jen.Group, t *model.Type, records map[*model.Named]bool) {
	d := func(m string, args ...jen.Code) { g.Id("d").Dot(m).Call(args...) }
	switch t.Kind {
	case model.Null:
	case model.Boolean:
		d("Bool")
	case model.Int, model.Long:
		d("Long") // the same varint: no range check needed to skip it
	case model.Float:
		d("Float")
	case model.Double:
		d("Double")
	case model.Bytes, model.String:
		d("SkipBytes")
	case model.Fixed:
		d("SkipFixed", jen.Lit(t.Named.Size))
	case model.Enum:
		d("Enum", jen.Lit(len(t.Named.Symbols)))
	case model.Record:
		if _, ok := records[t.Named]; !ok {
			records[t.Named] = true
		}
		g.Id(skipFunc(t.Named)).Call(jen.Id("d"))
	case model.Array, model.Map:
		n := e.local("n")
		min := minSize(t.Elem, map[*model.Named]bool{})
		if t.Kind == model.Map {
			min++ // a key takes at least its length byte
		}
		g.For(
			jen.Id(n).Op(":=").Id("d").Dot("SkipBlock").Call(jen.Lit(min)),
			jen.Id(n).Op("!=").Lit(0),
			jen.Id(n).Op("=").Id("d").Dot("SkipBlock").Call(jen.Lit(min)),
		).BlockFunc(func(g *jen.Group) {
			g.For(jen.Range().Id(n)).BlockFunc(func(g *jen.Group) {
				if t.Kind == model.Map {
					g.Id("d").Dot("SkipBytes").Call()
				}
				e.skip(g, t.Elem, records)
			})
		})
	case model.Optional:
		g.If(jen.Id("d").Dot("UnionIndex").Call(jen.Lit(2)).Op("==").Lit(1 - t.NullIndex)).BlockFunc(func(g *jen.Group) {
			e.skip(g, t.Elem, records)
		})
	case model.Union:
		n := len(t.Union.Branches)
		if t.Union.NullIndex >= 0 {
			n++
		}
		g.Switch(jen.Id("d").Dot("UnionIndex").Call(jen.Lit(n))).BlockFunc(func(g *jen.Group) {
			for _, b := range t.Union.Branches {
				g.Case(jen.Lit(b.Index)).BlockFunc(func(g *jen.Group) {
					e.skip(g, b.Type, records)
				})
			}
		})
	default:
		panic(fmt.Sprintf("skip: kind %v", t.Kind))
	}
}
