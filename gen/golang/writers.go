package golang

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dave/jennifer/jen"
	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/names"
	"github.com/streamgen/streamgen/runtime/codec"
)

// Writer decoders: for a writer schema known at generation time (a raw
// stream's writerSchema), straight-line code that reads the writer's
// encoding into the reader's Go type, so that a resolved read costs what a
// plain one does. The runtime's Resolver hands it out by the writer's
// fingerprint (codec.WriterDecoder); writers first met at run time are
// transcoded as before. Resolutions this emitter does not specialize
// (sealed unions that differ, an enum symbol the reader lacks without a
// default, logical types that differ, recursive writer types to skip) are
// left to the transcoder: emitWriterDecoders returns none for that writer.

// knownWriters lists, per reader record, the distinct writer schemas known
// at generation time of the streams that read it.
func knownWriters(p *model.Package) map[*model.Named][]string {
	out := map[*model.Named][]string{}
	seen := map[*model.Named]map[uint64]bool{}
	for _, s := range p.Streams {
		// A projected stream's values are transcoded into the record's
		// encoding and read by the projection's decoder: a decoder of the
		// whole record for its writers would go unused.
		if s.Value == nil || s.Value.Kind != model.Record || s.Projection != nil {
			continue
		}
		n := s.Value.Named
		if seen[n] == nil {
			seen[n] = map[uint64]bool{}
		}
		// A stream's writerSchema, a single-object stream's pinned
		// versions: one decoder per fingerprint (the resolver finds them
		// by it, and uses one only for a writer that resolves).
		for _, w := range append([]string{s.WriterSchema}, s.KnownWriters...) {
			fp, err := codec.Fingerprint(w)
			if w == "" || err != nil || seen[n][fp] {
				continue
			}
			seen[n][fp] = true
			out[n] = append(out[n], w)
		}
	}
	return out
}

// writerDecoder is what emitWriterDecoders made for one writer.
type writerDecoder struct {
	fingerprint uint64
	method      string // the reader's method that decodes the writer's encoding
}

// emitWriterDecoders writes the decoders of n's known writers and returns
// them, leaving out the writers it cannot specialize.
func emitWriterDecoders(f *jen.File, n *model.Named, writers []string) []writerDecoder {
	var out []writerDecoder
	rs, err := avro.ParseWithCache(n.Schema, "", &avro.SchemaCache{})
	if err != nil {
		return nil
	}
	for _, w := range writers {
		ws, err := avro.ParseWithCache(w, "", &avro.SchemaCache{})
		if err != nil {
			continue
		}
		fp, err := codec.Fingerprint(w)
		if err != nil {
			continue
		}
		if res, err := codec.NewResolver(n.Schema).ForWriter(w); res == nil || err != nil {
			// The reader's own schema (UnmarshalAvro), or one it cannot
			// read, which the runtime refuses: a decimal of another scale
			// shares the reader's fingerprint, so a decoder keyed by it
			// would read the writer's unscaled integers as the reader's.
			continue
		}
		wg := &writerGen{e: &emitter{}, methods: map[string]string{}}
		wr, ok1 := deref(ws).(*avro.RecordSchema)
		rr, ok2 := deref(rs).(*avro.RecordSchema)
		if !ok1 || !ok2 {
			continue
		}
		m, ok := wg.record(n, rr, wr)
		if !ok {
			continue
		}
		for _, c := range wg.code {
			f.Add(c)
			f.Line()
		}
		// The entry point takes bytes, so that the Decoder stays on its stack
		// (a *Decoder passed to a func value would escape).
		entry := strings.Replace(m, decodeAvroHelper, names.Helper("UnmarshalAvro"), 1)
		f.Commentf("%s decodes src, a datum written with the writer schema of", entry)
		f.Commentf("fingerprint %#016x, into r.", fp)
		f.Func().Params(jen.Id("r").Op("*").Id(n.GoName)).Id(entry).Params(jen.Id("src").Index().Byte()).Error().Block(
			jen.Id("d").Op(":=").Qual(codecPkg, "NewDecoder").Call(jen.Id("src")),
			jen.Id("r").Dot(m).Call(jen.Op("&").Id("d")),
			jen.If(jen.Err().Op(":=").Id("d").Dot("Finish").Call(), jen.Err().Op("!=").Nil()).Block(
				jen.Return(jen.Qual("fmt", "Errorf").Call(jen.Lit("decoding "+n.FullName+": %w"), jen.Err())),
			),
			jen.Return(jen.Nil()),
		)
		f.Line()
		out = append(out, writerDecoder{fingerprint: fp, method: entry})
	}
	return out
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

type writerGen struct {
	e       *emitter
	methods map[string]string // reader Go name + writer fingerprint -> method
	code    []jen.Code
}

// fpHex names a writer record by its CRC-64-AVRO fingerprint.
func fpHex(s avro.Schema) string {
	fp, err := codec.Fingerprint(s.String())
	if err != nil {
		panic(fmt.Sprintf("fingerprint of a parsed schema: %v", err))
	}
	return fmt.Sprintf("%016x", fp)
}

// record returns the method of the reader record that reads writer w.
func (wg *writerGen) record(n *model.Named, rs, w *avro.RecordSchema) (string, bool) {
	key := n.GoName + fpHex(w)
	if m, ok := wg.methods[key]; ok {
		return m, true
	}
	m := fmt.Sprintf("%sFrom%s", decodeAvroHelper, fpHex(w))
	wg.methods[key] = m
	ok := true
	fn := jen.Commentf("%s decodes a %s written with a writer schema of fingerprint %s.", m, n.FullName, fpHex(w))
	fn.Line().Func().Params(jen.Id("r").Op("*").Id(n.GoName)).Id(m).Params(jen.Id("d").Op("*").Qual(codecPkg, "Decoder")).BlockFunc(func(g *jen.Group) {
		seen := map[int]bool{}
		for _, wf := range w.Fields() {
			i := slices.IndexFunc(rs.Fields(), func(rf *avro.Field) bool {
				return rf.Name() == wf.Name() || slices.Contains(rf.Aliases(), wf.Name())
			})
			if i < 0 {
				if !wg.skip(g, wf.Type(), map[string]bool{}) {
					ok = false
				}
				continue
			}
			seen[i] = true
			if !wg.read(g, wf.Type(), rs.Fields()[i].Type(), n.Fields[i].Type, jen.Id("r").Dot(n.Fields[i].GoName)) {
				ok = false
			}
		}
		for i, fl := range n.Fields {
			if seen[i] {
				continue
			}
			if fl.Default == "" {
				ok = false
				continue
			}
			v, err := parseDefault(fl.Default)
			if err != nil {
				ok = false
				continue
			}
			x, err := defaultExpr(fl.Type, v)
			if err != nil {
				ok = false
				continue
			}
			if (fl.Type.Kind == model.Array || fl.Type.Kind == model.Map) && (fl.Default == "[]" || fl.Default == "{}") {
				x = jen.Nil() // what decoding an empty collection gives, without allocating
			}
			g.Id("r").Dot(fl.GoName).Op("=").Add(orZero(fl.Type, x))
		}
	})
	wg.code = append(wg.code, fn)
	return m, ok
}

var promotions = map[[2]avro.Type]struct {
	read string
	conv func(jen.Code) jen.Code
}{
	{avro.Int, avro.Long}:      {"Int", func(c jen.Code) jen.Code { return jen.Int64().Parens(c) }},
	{avro.Int, avro.Float}:     {"Int", func(c jen.Code) jen.Code { return jen.Float32().Parens(c) }},
	{avro.Int, avro.Double}:    {"Int", func(c jen.Code) jen.Code { return jen.Float64().Parens(c) }},
	{avro.Long, avro.Float}:    {"Long", func(c jen.Code) jen.Code { return jen.Float32().Parens(c) }},
	{avro.Long, avro.Double}:   {"Long", func(c jen.Code) jen.Code { return jen.Float64().Parens(c) }},
	{avro.Float, avro.Double}:  {"Float", func(c jen.Code) jen.Code { return jen.Float64().Parens(c) }},
	{avro.String, avro.Bytes}:  {"Bytes", func(c jen.Code) jen.Code { return c }},
	{avro.Bytes, avro.String}:  {"String", func(c jen.Code) jen.Code { return c }},
	{avro.Int, avro.Int}:       {"Int", func(c jen.Code) jen.Code { return c }},
	{avro.Long, avro.Long}:     {"Long", func(c jen.Code) jen.Code { return c }},
	{avro.Float, avro.Float}:   {"Float", func(c jen.Code) jen.Code { return c }},
	{avro.Double, avro.Double}: {"Double", func(c jen.Code) jen.Code { return c }},
}

// read appends statements that read a value written as w into target, of
// the reader's type rt (schema rs); false if it cannot.
func (wg *writerGen) read(g *jen.Group, w, rs avro.Schema, rt *model.Type, target *jen.Statement) bool {
	w, rs = deref(w), deref(rs)
	if w.Fingerprint() == rs.Fingerprint() {
		// The same type; logical types are the reader's: the writer's are
		// the same, or absent where the reader drops them (the writer was
		// checked to resolve, which refuses any other change).
		wg.e.dec(g, rt, target)
		return true
	}
	if wu, ok := w.(*avro.UnionSchema); ok {
		// Each writer branch is read as the reader's type.
		ok := true
		g.Switch(jen.Id("d").Dot("UnionIndex").Call(jen.Lit(len(wu.Types())))).BlockFunc(func(g *jen.Group) {
			for i, b := range wu.Types() {
				g.Case(jen.Lit(i)).BlockFunc(func(g *jen.Group) {
					if !wg.read(g, b, rs, rt, target) {
						ok = false
					}
				})
			}
		})
		return ok
	}
	switch rt.Kind {
	case model.Optional:
		ru := rs.(*avro.UnionSchema)
		if w.Type() == avro.Null {
			g.Add(target).Op("=").Nil()
			return true
		}
		elem := ru.Types()[1-rt.NullIndex]
		if isPointer(rt.Elem) {
			return wg.read(g, w, elem, rt.Elem, target)
		}
		// Into the value target points to, if any, as dec does.
		g.If(target.Clone().Op("==").Nil()).Block(target.Clone().Op("=").New(goType(rt.Elem)))
		return wg.read(g, w, elem, rt.Elem, jen.Parens(jen.Op("*").Add(target.Clone())))
	case model.Record:
		wr, ok1 := w.(*avro.RecordSchema)
		rr, ok2 := rs.(*avro.RecordSchema)
		if !ok1 || !ok2 || (wr.FullName() != rr.FullName() && !slices.Contains(rr.Aliases(), wr.FullName())) {
			return false
		}
		m, ok := wg.record(rt.Named, rr, wr)
		g.Add(target).Dot(m).Call(jen.Id("d"))
		return ok
	}
	switch rt.Kind {
	case model.Enum:
		we, ok1 := w.(*avro.EnumSchema)
		re, ok2 := rs.(*avro.EnumSchema)
		if !ok1 || !ok2 || (we.FullName() != re.FullName() && !slices.Contains(re.Aliases(), we.FullName())) {
			return false
		}
		// Symbols by name; one the reader lacks is its default. (Without a
		// default such data is an error: left to the transcoder, which says so.)
		ok := true
		g.Switch(jen.Id("d").Dot("Enum").Call(jen.Lit(len(we.Symbols())))).BlockFunc(func(g *jen.Group) {
			for i, sym := range we.Symbols() {
				j := slices.Index(rt.Named.Symbols, sym)
				if j < 0 {
					j = slices.Index(rt.Named.Symbols, rt.Named.EnumDefault)
				}
				if j < 0 {
					ok = false
					continue
				}
				g.Case(jen.Lit(i)).Block(target.Clone().Op("=").Id(rt.Named.SymbolGoNames[j]))
			}
		})
		return ok
	case model.Array, model.Map:
		var witem, ritem avro.Schema
		if rt.Kind == model.Array {
			wa, ok1 := w.(*avro.ArraySchema)
			ra, ok2 := rs.(*avro.ArraySchema)
			if !ok1 || !ok2 {
				return false
			}
			witem, ritem = wa.Items(), ra.Items()
		} else {
			wm, ok1 := w.(*avro.MapSchema)
			rm, ok2 := rs.(*avro.MapSchema)
			if !ok1 || !ok2 {
				return false
			}
			witem, ritem = wm.Values(), rm.Values()
		}
		min := codec.MinSize(witem)
		if rt.Kind == model.Map {
			min++ // the key's length
		}
		c, n := wg.e.local("c"), wg.e.local("n")
		ok := true
		g.BlockFunc(func(g *jen.Group) {
			// The memory target holds is reused, as dec does: the
			// slice's array and elements, the map (cleared).
			if rt.Kind == model.Array {
				g.Id(c).Op(":=").Add(target.Clone()).Index(jen.Empty(), jen.Lit(0))
			} else {
				g.Id(c).Op(":=").Add(target.Clone())
				g.Clear(jen.Id(c))
			}
			g.For(
				jen.Id(n).Op(":=").Id("d").Dot("BlockCount").Call(jen.Lit(min)),
				jen.Id(n).Op(">").Lit(0),
				jen.Id(n).Op("=").Id("d").Dot("BlockCount").Call(jen.Lit(min)),
			).BlockFunc(func(g *jen.Group) {
				if rt.Kind == model.Array {
					g.Id(c).Op("=").Qual("slices", "Grow").Call(jen.Id(c), jen.Id(n))
					g.For(jen.Range().Id(n)).BlockFunc(func(g *jen.Group) {
						g.Id(c).Op("=").Id(c).Index(jen.Empty(), jen.Len(jen.Id(c)).Op("+").Lit(1))
						if !wg.read(g, witem, ritem, rt.Elem, jen.Id(c).Index(jen.Len(jen.Id(c)).Op("-").Lit(1))) {
							ok = false
						}
					})
					return
				}
				k, v := wg.e.local("k"), wg.e.local("v")
				g.If(jen.Id(c).Op("==").Nil()).Block(jen.Id(c).Op("=").Make(goType(rt), jen.Id(n)))
				g.For(jen.Range().Id(n)).BlockFunc(func(g *jen.Group) {
					g.Id(k).Op(":=").Id("d").Dot("String").Call()
					g.Var().Id(v).Add(goType(rt.Elem))
					if !wg.read(g, witem, ritem, rt.Elem, jen.Id(v)) {
						ok = false
					}
					g.Id(c).Index(jen.Id(k)).Op("=").Id(v)
				})
			})
			g.Add(target).Op("=").Id(c)
		})
		return ok
	}
	if rt.Logical != model.NoLogical {
		return false
	}
	p, ok := promotions[[2]avro.Type{w.Type(), rs.Type()}]
	if !ok {
		return false
	}
	g.Add(target).Op("=").Add(p.conv(jen.Id("d").Dot(p.read).Call()))
	return true
}

// skip appends statements that read past a value written as w.
func (wg *writerGen) skip(g *jen.Group, w avro.Schema, visiting map[string]bool) bool {
	w = deref(w)
	d := func(m string, args ...jen.Code) { g.Id("d").Dot(m).Call(args...) }
	switch s := w.(type) {
	case *avro.NullSchema:
		return true // nothing to read
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Null:
		case avro.Boolean:
			d("Bool")
		case avro.Int, avro.Long:
			d("Long")
		case avro.Float:
			d("Float")
		case avro.Double:
			d("Double")
		case avro.Bytes, avro.String:
			d("SkipBytes")
		default:
			return false
		}
		return true
	case *avro.FixedSchema:
		d("SkipFixed", jen.Lit(s.Size()))
		return true
	case *avro.EnumSchema:
		d("Enum", jen.Lit(len(s.Symbols())))
		return true
	case *avro.RecordSchema:
		if visiting[s.FullName()] {
			return false // a recursive writer type: left to the transcoder
		}
		visiting[s.FullName()] = true
		defer delete(visiting, s.FullName())
		for _, f := range s.Fields() {
			if !wg.skip(g, f.Type(), visiting) {
				return false
			}
		}
		return true
	case *avro.UnionSchema:
		ok := true
		g.Switch(jen.Id("d").Dot("UnionIndex").Call(jen.Lit(len(s.Types())))).BlockFunc(func(g *jen.Group) {
			for i, b := range s.Types() {
				g.Case(jen.Lit(i)).BlockFunc(func(g *jen.Group) {
					if !wg.skip(g, b, visiting) {
						ok = false
					}
				})
			}
		})
		return ok
	case *avro.ArraySchema:
		return wg.skipItems(g, s.Items(), false, visiting)
	case *avro.MapSchema:
		return wg.skipItems(g, s.Values(), true, visiting)
	}
	return false
}

// skipItems appends statements that read past an array of elem, or a map
// of elem values.
func (wg *writerGen) skipItems(g *jen.Group, elem avro.Schema, isMap bool, visiting map[string]bool) bool {
	n := wg.e.local("n")
	ok := true
	min := 1 // the fewest bytes an item takes, so corrupt counts are caught
	if deref(elem).Type() == avro.Null && !isMap {
		min = 0
	}
	g.For(
		jen.Id(n).Op(":=").Id("d").Dot("BlockCount").Call(jen.Lit(min)),
		jen.Id(n).Op(">").Lit(0),
		jen.Id(n).Op("=").Id("d").Dot("BlockCount").Call(jen.Lit(min)),
	).BlockFunc(func(g *jen.Group) {
		g.For(jen.Range().Id(n)).BlockFunc(func(g *jen.Group) {
			if isMap {
				g.Id("d").Dot("SkipBytes").Call()
			}
			if !wg.skip(g, elem, visiting) {
				ok = false
			}
		})
	})
	return ok
}

// writerDecodersDoc describes the writers a record's resolver specializes.
func writerDecodersDoc(ds []writerDecoder) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%#016x", d.fingerprint))
	}
	return strings.Join(parts, ", ")
}
