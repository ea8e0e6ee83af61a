package golang

import (
	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/runtime/config"
)

// Hand-built models for the emitter's unit tests: what schema.Build would
// make of small schemas and specs, without reading either.

func prim(k model.Kind) *model.Type { return &model.Type{Kind: k} }

func logical(k model.Kind, l model.Logical) *model.Type { return &model.Type{Kind: k, Logical: l} }

func decimal(k model.Kind, n *model.Named, precision, scale int) *model.Type {
	return &model.Type{Kind: k, Logical: model.Decimal, Named: n, Precision: precision, Scale: scale}
}

func ref(n *model.Named) *model.Type { return &model.Type{Kind: n.Kind, Named: n} }

func arrayOf(e *model.Type) *model.Type { return &model.Type{Kind: model.Array, Elem: e} }

func mapOf(e *model.Type) *model.Type { return &model.Type{Kind: model.Map, Elem: e} }

func optional(e *model.Type, nullIndex int) *model.Type {
	return &model.Type{Kind: model.Optional, Elem: e, NullIndex: nullIndex}
}

func sealed(u *model.Sealed) *model.Type { return &model.Type{Kind: model.Union, Union: u} }

func fld(name, goName string, t *model.Type, def string) *model.Field {
	return &model.Field{Name: name, GoName: goName, Type: t, Default: def}
}

func record(full, goName, schema string, fields ...*model.Field) *model.Named {
	return &model.Named{Kind: model.Record, FullName: full, GoName: goName, Schema: schema, Fields: fields, Fingerprint: 0x0123456789abcdef}
}

// allTypes is a package of one record, Event, with a field of each Avro
// type and logical type the emitter knows, defaults of most kinds, and
// the enum, fixed, nested record and unions they use.
func allTypes() *model.Package {
	inner := record("com.ex.Inner", "Inner", `{"type":"record","name":"com.ex.Inner","fields":[]}`,
		fld("x", "X", prim(model.Int), ""),
		fld("label", "Label", prim(model.String), `"none"`))
	color := &model.Named{Kind: model.Enum, FullName: "com.ex.Color", GoName: "Color",
		Symbols: []string{"RED", "GREEN", "BLUE"}, SymbolGoNames: []string{"ColorRed", "ColorGreen", "ColorBlue"}, EnumDefault: "GREEN"}
	md5 := &model.Named{Kind: model.Fixed, FullName: "com.ex.MD5", GoName: "MD5", Size: 4}
	money := &model.Named{Kind: model.Fixed, FullName: "com.ex.Money", GoName: "Money", Size: 8}
	dur := &model.Named{Kind: model.Fixed, FullName: "com.ex.Dur", GoName: "Dur", Size: 12}
	payload := &model.Sealed{GoName: "EventPayload", Owner: `field "payload" of com.ex.Event`, NullIndex: 0}
	payload.Branches = []*model.Branch{
		{Index: 1, GoName: "EventPayloadString", Type: prim(model.String)},
		{Index: 2, GoName: "EventPayloadInner", Type: ref(inner)},
	}
	choice := &model.Sealed{GoName: "EventChoice", Owner: `field "choice" of com.ex.Event`, NullIndex: -1}
	choice.Branches = []*model.Branch{
		{Index: 0, GoName: "EventChoiceLong", Type: prim(model.Long)},
		{Index: 1, GoName: "EventChoiceColor", Type: ref(color)},
	}
	event := record("com.ex.Event", "Event", "{\"type\":\"record\",\"name\":\"com.ex.Event\",\"doc\":\"a `quoted` doc\",\"fields\":[]}",
		fld("flag", "Flag", prim(model.Boolean), "true"),
		fld("count", "Count", prim(model.Int), "5"),
		fld("total", "Total", prim(model.Long), ""),
		fld("ratio", "Ratio", prim(model.Float), "1.5"),
		fld("score", "Score", prim(model.Double), ""),
		fld("blob", "Blob", prim(model.Bytes), `"\u0001A"`),
		fld("name", "Name", prim(model.String), `"x"`),
		fld("color", "Color", ref(color), ""),
		fld("hash", "Hash", ref(md5), `"abcd"`),
		fld("inner", "Inner", ref(inner), ""),
		fld("tags", "Tags", arrayOf(prim(model.String)), `["a"]`),
		fld("counts", "Counts", mapOf(prim(model.Long)), `{"k": 1}`),
		fld("note", "Note", optional(prim(model.String), 0), "null"),
		fld("next", "Next", optional(ref(inner), 1), `{"x": 1}`),
		fld("payload", "Payload", sealed(payload), "null"),
		fld("choice", "Choice", sealed(choice), "7"),
		fld("at", "At", logical(model.Long, model.TimestampMillis), "1000"),
		fld("day", "Day", logical(model.Int, model.Date), ""),
		fld("amount", "Amount", decimal(model.Bytes, nil, 10, 2), ""),
		fld("price", "Price", decimal(model.Fixed, money, 18, 4), ""),
		fld("span", "Span", &model.Type{Kind: model.Fixed, Logical: model.Duration, Named: dur}, ""),
		fld("id", "ID", logical(model.String, model.UUID), ""),
		fld("elapsed", "Elapsed", logical(model.Long, model.TimeMicros), ""),
		fld("tod", "Tod", logical(model.Int, model.TimeMillis), ""),
		fld("items", "Items", arrayOf(ref(inner)), ""),
		fld("maybe", "Maybe", optional(decimal(model.Bytes, nil, 5, 1), 0), "null"),
		fld("byName", "ByName", mapOf(ref(inner)), ""),
	)
	event.Doc = "Event is something that happened.\nSecond line."
	event.Fields[0].Doc = "Flag is a flag."
	return &model.Package{
		Name:    "alltypes",
		Job:     model.Job{Name: "all-types", Config: config.Default()},
		Named:   []*model.Named{inner, color, md5, money, dur, event},
		Unions:  []*model.Sealed{payload, choice},
		Sources: []string{"streamgen.yaml", "event.avsc"},
	}
}

func named(p *model.Package, goName string) *model.Named {
	for _, n := range p.Named {
		if n.GoName == goName {
			return n
		}
	}
	panic("no named type " + goName)
}

// streamPackage is allTypes with one stream of Event values per entry of
// streams, named and configured by them, in a job of configuration job.
func streamPackage(job config.Job, streams ...*model.Stream) *model.Package {
	p := allTypes()
	p.Name = "job"
	p.Job = model.Job{Name: "orders-job", Config: job}
	event := ref(named(p, "Event"))
	for _, s := range streams {
		if s.Value == nil {
			s.Value = event
		}
	}
	p.Streams = streams
	return p
}

func subscribe(topics ...string) model.Consumer {
	return model.Consumer{Kind: model.Subscribe, Topics: topics}
}

// jobConfig is config.Default changed by set.
func jobConfig(set func(*config.Job)) config.Job {
	j := config.Default()
	if set != nil {
		set(&j)
	}
	return j
}
