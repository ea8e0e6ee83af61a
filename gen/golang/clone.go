package golang

import (
	"fmt"

	"github.com/dave/jennifer/jen"

	"github.com/streamgen/streamgen/gen/model"
)

// Clone: the engine reuses a batch's decoded records, their slices, maps
// and pointers for the batches after it, and their strings share blocks
// of memory with other records' (codec.Strings). A handler that keeps a
// value past its batch keeps a Clone: a deep copy that shares nothing
// with the record it was made from.

const cloneDoc = `Clone returns a deep copy of r that shares no memory with it: its strings,
byte slices, slices, maps, decimals and pointed-to values are copies. A
handler keeps a Clone of a value it needs after its batch: the engine
reuses a batch's records, and what they point to, for later batches.`

// emitClone writes the Clone method of the record or projection typeName
// with the given fields.
func emitClone(f *jen.File, typeName string, fields []cloneField) {
	e := &emitter{}
	f.Comment(cloneDoc)
	f.Func().Params(jen.Id("r").Op("*").Id(typeName)).Id("Clone").Params().Id(typeName).BlockFunc(func(g *jen.Group) {
		g.Id("c").Op(":=").Op("*").Id("r")
		for _, fl := range fields {
			switch {
			case fl.sub != "" && fl.optional:
				g.If(jen.Id("r").Dot(fl.name).Op("!=").Nil()).Block(
					jen.Id("v").Op(":=").Id("r").Dot(fl.name).Dot("Clone").Call(),
					jen.Id("c").Dot(fl.name).Op("=").Op("&").Id("v"),
				)
			case fl.sub != "":
				g.Id("c").Dot(fl.name).Op("=").Id("r").Dot(fl.name).Dot("Clone").Call()
			case needsClone(fl.t, map[*model.Named]bool{}):
				e.clone(g, fl.t, jen.Id("c").Dot(fl.name), jen.Id("r").Dot(fl.name))
			}
		}
		g.Return(jen.Id("c"))
	})
	f.Line()
}

// cloneField is a field for emitClone: its Go name and type, or the
// projection it holds (sub), by value or by pointer (optional).
type cloneField struct {
	name     string
	t        *model.Type
	sub      string
	optional bool
}

func recordCloneFields(n *model.Named) []cloneField {
	out := make([]cloneField, 0, len(n.Fields))
	for _, fl := range n.Fields {
		out = append(out, cloneField{name: fl.GoName, t: fl.Type})
	}
	return out
}

func projectionCloneFields(pr *model.Projection) []cloneField {
	out := make([]cloneField, 0, len(pr.Fields))
	for _, fl := range pr.Fields {
		c := cloneField{name: fl.GoName, t: fl.Type}
		if fl.Sub != nil {
			c.sub, c.optional = fl.Sub.GoName, fl.Type.Kind == model.Optional
		}
		out = append(out, c)
	}
	return out
}

// needsClone reports whether a value of t shares memory when copied.
func needsClone(t *model.Type, visiting map[*model.Named]bool) bool {
	switch t.Kind {
	case model.String, model.Bytes, model.Array, model.Map, model.Optional:
		return true
	case model.Union: // an interface holding a branch's value
		for _, b := range t.Union.Branches {
			if needsClone(b.Type, visiting) {
				return true
			}
		}
	case model.Fixed:
		return t.Logical == model.Decimal
	case model.Record:
		if visiting[t.Named] {
			return true
		}
		visiting[t.Named] = true
		defer delete(visiting, t.Named)
		for _, f := range t.Named.Fields {
			if needsClone(f.Type, visiting) {
				return true
			}
		}
	}
	return false
}

// clone appends statements that set dst, which holds a shallow copy of
// src, to a deep copy of src.
func (e *emitter) clone(g *jen.Group, t *model.Type, dst, src *jen.Statement) {
	if !needsClone(t, map[*model.Named]bool{}) {
		g.Add(dst).Op("=").Add(src)
		return
	}
	switch {
	case t.Logical == model.Decimal:
		g.If(src.Clone().Op("!=").Nil()).Block(
			dst.Clone().Op("=").New(jen.Qual("math/big", "Rat")).Dot("Set").Call(src.Clone()),
		)
		return
	}
	switch t.Kind {
	case model.String:
		g.Add(dst).Op("=").Qual("strings", "Clone").Call(src)
	case model.Bytes:
		g.Add(dst).Op("=").Qual("bytes", "Clone").Call(src)
	case model.Record:
		x := e.local("x")
		g.Id(x).Op(":=").Add(src)
		g.Add(dst).Op("=").Id(x).Dot("Clone").Call()
	case model.Array:
		s, i := e.local("s"), e.local("i")
		g.If(src.Clone().Op("!=").Nil()).BlockFunc(func(g *jen.Group) {
			g.Id(s).Op(":=").Make(goType(t), jen.Len(src.Clone()))
			if needsClone(t.Elem, map[*model.Named]bool{}) {
				g.For(jen.Id(i).Op(":=").Range().Add(src.Clone())).BlockFunc(func(g *jen.Group) {
					e.clone(g, t.Elem, jen.Id(s).Index(jen.Id(i)), src.Clone().Index(jen.Id(i)))
				})
			} else {
				g.Copy(jen.Id(s), src.Clone())
			}
			g.Add(dst).Op("=").Id(s)
		})
	case model.Map:
		m, k, v, w := e.local("m"), e.local("k"), e.local("v"), e.local("w")
		g.If(src.Clone().Op("!=").Nil()).BlockFunc(func(g *jen.Group) {
			g.Id(m).Op(":=").Make(goType(t), jen.Len(src.Clone()))
			g.For(jen.List(jen.Id(k), jen.Id(v)).Op(":=").Range().Add(src.Clone())).BlockFunc(func(g *jen.Group) {
				g.Var().Id(w).Add(goType(t.Elem))
				e.clone(g, t.Elem, jen.Id(w), jen.Id(v))
				g.Id(m).Index(jen.Qual("strings", "Clone").Call(jen.Id(k))).Op("=").Id(w)
			})
			g.Add(dst).Op("=").Id(m)
		})
	case model.Optional:
		if isPointer(t.Elem) {
			e.clone(g, t.Elem, dst, src)
			return
		}
		v := e.local("p")
		g.If(src.Clone().Op("!=").Nil()).BlockFunc(func(g *jen.Group) {
			g.Id(v).Op(":=").New(goType(t.Elem))
			e.clone(g, t.Elem, jen.Parens(jen.Op("*").Id(v)), jen.Parens(jen.Op("*").Add(src.Clone())))
			g.Add(dst).Op("=").Id(v)
		})
	case model.Union:
		u := e.local("u")
		g.Switch(jen.Id(u).Op(":=").Add(src).Assert(jen.Type())).BlockFunc(func(g *jen.Group) {
			for _, b := range t.Union.Branches {
				if !needsClone(b.Type, map[*model.Named]bool{}) {
					continue
				}
				g.Case(jen.Id(b.GoName)).BlockFunc(func(g *jen.Group) {
					w := e.local("w")
					g.Var().Id(w).Id(b.GoName)
					e.clone(g, b.Type, jen.Id(w).Dot("Value"), jen.Id(u).Dot("Value"))
					g.Add(dst).Op("=").Id(w)
				})
			}
			g.Default().Block(dst.Clone().Op("=").Id(u)) // nil, or a branch that shares nothing
		})
	default:
		panic(fmt.Sprintf("clone: kind %v", t.Kind))
	}
}
