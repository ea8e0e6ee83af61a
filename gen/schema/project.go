package schema

import (
	"fmt"
	"strings"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/names"
	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/runtime/config"
)

// project resolves a stream's fields against its value record: the
// projected type holding them, with one nested projection per record a
// path goes into. Each error is at the path's entry in the spec.
func project(st *spec.Stream, rec *model.Named) (*model.Projection, error) {
	root := &model.Projection{GoName: names.StreamValue(names.Camel(st.Name)), Record: rec}
	var errs spec.ErrorList
	for i, path := range st.Fields {
		pos := st.FieldsPos[i]
		parts := strings.Split(path, ".")
		p := root
		for j, name := range parts {
			at := strings.Join(parts[:j+1], ".")
			f := fieldNamed(p.Record, name)
			if f == nil {
				errs = append(errs, &spec.Error{Pos: pos, Msg: fmt.Sprintf("stream %q: fields: %s has no field %q%s", st.Name, p.Record.FullName, name, fieldHint(name, p.Record))})
				break
			}
			pf := projected(p, f)
			if j == len(parts)-1 {
				pf.Sub = nil // read whole (the spec refused a path inside it)
				break
			}
			nested := f.Type
			if nested.Kind == model.Optional {
				nested = nested.Elem
			}
			if nested.Kind != model.Record {
				errs = append(errs, &spec.Error{Pos: pos, Msg: fmt.Sprintf("stream %q: fields: %s is %s, not a record: a path goes only into nested records (or optional ones), so list %s instead", st.Name, at, typeWords(f.Type), at)})
				break
			}
			if pf.Sub == nil {
				pf.Sub = &model.Projection{GoName: names.ProjectedField(p.GoName, name), Record: nested.Named}
			}
			p = pf.Sub
			p.Paths = append(p.Paths, strings.Join(parts[j+1:], "."))
		}
		root.Paths = append(root.Paths, path)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return root, nil
}

// projected returns p's field for f, adding it in the record's order.
func projected(p *model.Projection, f *model.Field) *model.ProjectedField {
	for _, pf := range p.Fields {
		if pf.Field == f {
			return pf
		}
	}
	pf := &model.ProjectedField{Field: f}
	var out []*model.ProjectedField
	i := 0
	for _, rf := range p.Record.Fields {
		if rf == f {
			out = append(out, pf)
			continue
		}
		if i < len(p.Fields) && p.Fields[i].Field == rf {
			out = append(out, p.Fields[i])
			i++
		}
	}
	p.Fields = out
	return pf
}

func fieldNamed(n *model.Named, name string) *model.Field {
	for _, f := range n.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// fieldHint is " (did you mean ...?)" for a misspelled field name, else
// the record's fields.
func fieldHint(name string, n *model.Named) string {
	var all []string
	for _, f := range n.Fields {
		all = append(all, f.Name)
	}
	if s := names.Suggest(name, all); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return " (its fields: " + strings.Join(all, ", ") + ")"
}

// typeWords describes a field's type in an error: "a double", "an array".
func typeWords(t *model.Type) string {
	switch t.Kind {
	case model.Record, model.Enum, model.Fixed:
		return fmt.Sprintf("%s %s %s", article(t.Kind), t.Kind, t.Named.FullName)
	case model.Optional:
		return "an optional " + t.Elem.Kind.String()
	case model.Array:
		return "an array"
	}
	return article(t.Kind) + " " + t.Kind.String()
}

// projectedSinks refuses a projected stream where the sink needs the
// whole values: the files sink writes the streams' values as they are
// (Passthrough copies them), and a Kafka sink whose output type is
// defaulted to the first stream's value is meant to copy it. Either would
// write records rebuilt from a few fields, every other one empty.
func projectedSinks(sp *spec.Spec, streams []*model.Stream) []*spec.Error {
	var errs []*spec.Error
	for i, ms := range streams {
		if ms.Projection == nil {
			continue
		}
		st := &sp.Streams[i]
		switch {
		case sp.Job.SinkType == config.SinkFiles || sp.Job.SinkType == config.SinkBlob:
			errs = append(errs, &spec.Error{Pos: st.FieldsListPos, Msg: fmt.Sprintf("stream %q: fields: the %s sink writes the streams' whole values (Passthrough copies them as read), so a stream of a %s-sink job cannot be projected; remove fields, or write the output yourself with sink.type none", st.Name, sp.Job.SinkType, sp.Job.SinkType)})
		case sp.Job.SinkType == config.SinkKafka && i == 0 && sp.KafkaSink.Value == "":
			errs = append(errs, &spec.Error{Pos: st.FieldsListPos, Msg: fmt.Sprintf("stream %q: fields: the Kafka sink's output defaults to this stream's value, %s, which a projection cannot copy; set sink.value to the record the handler writes, or remove fields", st.Name, ms.Value.Named.FullName)})
		}
	}
	return errs
}
