package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/gen/names"
	"github.com/streamgen/streamgen/gen/spec"
	"github.com/streamgen/streamgen/runtime/codec"
	"github.com/streamgen/streamgen/runtime/config"
)

// reserved are the job-level names the generated package declares (and
// Streams, which it once did).
var reserved = append([]string{"Streams"}, names.JobNames...)

// Build resolves the spec's streams against the schema set and assigns Go
// names to every type, returning the model of the generated package. Errors
// are positioned at the spec key they concern.
func Build(sp *spec.Spec, set *Set, sources []string) (*model.Package, error) {
	b := &builder{
		set:    set,
		pkg:    &model.Package{Name: sp.Package, Job: model.Job{Name: sp.Name, Config: sp.Job}, Sources: sources},
		byName: map[string]*model.Named{},
		taken:  map[string]string{},
	}
	for _, r := range reserved {
		b.taken[r] = "the generated package"
	}
	var errs spec.ErrorList
	byGoName := map[string]string{}
	for _, st := range sp.Streams {
		g := names.Camel(st.Name)
		other, dup := byGoName[g]
		if dup {
			errs = append(errs, &spec.Error{Pos: st.Pos, Msg: fmt.Sprintf("stream %q: its Go name %s is stream %q's too; rename one of them", st.Name, g, other)})
		}
		byGoName[g] = st.Name
		for _, n := range names.StreamNames(g, st.WriterSchema != "", st.Fields) {
			// Streams of distinct Go names meet only through a
			// projection's names (SValue and its nested types).
			if other := b.taken[n]; !dup && other != "" && other != "stream "+st.Name {
				errs = append(errs, &spec.Error{Pos: st.Pos, Msg: fmt.Sprintf("stream %q: its generated name %s is %s's too; rename one of them", st.Name, n, other)})
			}
			b.taken[n] = "stream " + st.Name
		}
	}
	for _, t := range sp.Tables {
		g := names.Camel(t.Name)
		if other, dup := byGoName[g]; dup || g == "Sink" {
			msg := fmt.Sprintf("table %q: its Batch field %s is %s's too; rename one of them", t.Name, g, other)
			switch {
			case !dup:
				msg = fmt.Sprintf("table %q: its Batch field would be Sink, the sink's name; rename the table", t.Name)
			case !strings.HasPrefix(other, "table "):
				msg = fmt.Sprintf("table %q: its Batch field %s is stream %q's too; rename one of them", t.Name, g, other)
			}
			errs = append(errs, &spec.Error{Pos: t.Pos, Msg: msg})
		}
		byGoName[g] = fmt.Sprintf("table %q", t.Name)
		b.taken[tableTypeName(g)] = "table " + t.Name
	}
	for _, v := range sp.Values {
		g := names.Camel(v.Name)
		if other, dup := byGoName[g]; dup || g == "Sink" {
			if !dup {
				other = "the sink"
			}
			errs = append(errs, &spec.Error{Pos: v.Pos, Msg: fmt.Sprintf("value %q: its Batch field %s is %s's too; rename one of them", v.Name, g, other)})
		}
		byGoName[g] = fmt.Sprintf("value %q", v.Name)
		b.taken[g+"Interval"], b.taken[g+"MaxAge"] = "value "+v.Name, "value "+v.Name
		b.pkg.Values = append(b.pkg.Values, &model.Value{Name: v.Name, GoName: g, Loader: "Load" + g,
			Interval: v.Interval, MaxAge: v.MaxAge, OnStaleContinue: v.OnStale == "continue"})
	}
	b.nameTypes()
	for _, n := range set.Named {
		if err := b.fill(n); err != nil {
			errs = append(errs, &spec.Error{Pos: spec.Pos{File: set.Origin[n.FullName()]}, Msg: err.Error()})
		}
	}
	for i := range sp.Streams {
		st := &sp.Streams[i]
		ms := &model.Stream{Name: st.Name, GoName: names.Camel(st.Name), Consumer: consumer(st), WriterSchemaFile: st.WriterSchema}
		switch st.Encoding {
		case "raw":
			ms.Encoding = model.Raw
		case "single-object":
			ms.Encoding = model.SingleObject
		}
		v, err := b.streamType(st.Value, false)
		if err != nil {
			errs = append(errs, &spec.Error{Pos: st.ValuePos, Msg: fmt.Sprintf("stream %q: value: %v", st.Name, err)})
		}
		ms.Value = v
		if st.Key != "" && st.Key != "none" {
			k, err := b.streamType(st.Key, true)
			if err != nil {
				errs = append(errs, &spec.Error{Pos: st.KeyPos, Msg: fmt.Sprintf("stream %q: key: %v", st.Name, err)})
			}
			ms.Key = k
		}
		if len(st.Fields) > 0 && v != nil && v.Named != nil {
			ms.Projection, err = project(st, v.Named)
			if err != nil {
				errs = append(errs, err.(spec.ErrorList)...)
			}
		}
		if st.WriterSchema != "" && v != nil && v.Named != nil {
			ws, err := writerSchema(sp.Dir, st.WriterSchema, v.Named.Schema)
			if err != nil {
				errs = append(errs, &spec.Error{Pos: st.WriterSchemaPos, Msg: fmt.Sprintf("stream %q: writerSchema: %v", st.Name, err)})
			}
			ms.WriterSchema = ws
		}
		b.pkg.Streams = append(b.pkg.Streams, ms)
	}
	for i := range sp.Tables {
		t, err := b.table(&sp.Tables[i])
		if err != nil {
			errs = append(errs, err)
		}
		b.pkg.Tables = append(b.pkg.Tables, t)
	}
	if (sp.Job.SinkType == config.SinkFiles || sp.Job.SinkType == config.SinkBlob) && len(b.pkg.Streams) > 0 {
		fs, err := b.fileSink(sp)
		if err != nil {
			errs = append(errs, err)
		}
		b.pkg.FileSink = fs
		errs = append(errs, partitionBy(sp, fs)...)
	}
	if sp.KafkaSink.Value == "" {
		// With sink.value, the handler writes its own record; the streams'
		// values (whole or projected) need not be it.
		errs = append(errs, filesSinkValues(sp, b.pkg.Streams)...)
		errs = append(errs, projectedSinks(sp, b.pkg.Streams)...)
	}
	if sp.Job.SinkType == config.SinkKafka && len(b.pkg.Streams) > 0 {
		ks, err := b.kafkaSink(sp)
		if err != nil {
			errs = append(errs, err)
		}
		b.pkg.KafkaSink = ks
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return b.pkg, nil
}

// tableTypeName is the generated alias of a table's type.
func tableTypeName(goName string) string { return goName + "Table" }

// table resolves a spec table's types.
func (b *builder) table(t *spec.Table) (*model.Table, *spec.Error) {
	mt := &model.Table{
		Name: t.Name, GoName: names.Camel(t.Name), Topic: t.Topic,
		MaxEntries: t.MaxEntries, MaxBytes: t.MaxBytes, CatchUpTimeout: t.CatchUpTimeout,
		SkipBadRecords: t.OnDecodeError == "skip",
	}
	switch t.Encoding {
	case "raw":
		mt.Encoding = model.Raw
	case "single-object":
		mt.Encoding = model.SingleObject
	}
	mt.Key, _ = b.streamType(t.Key, true) // string, int32 or int64: the spec allows no other
	v, err := b.streamType(t.Value, false)
	if err != nil {
		return mt, &spec.Error{Pos: t.ValuePos, Msg: fmt.Sprintf("table %q: value: %v", t.Name, err)}
	}
	mt.Value = v
	return mt, nil
}

// consumer resolves a stream's consumer strategy, topics and partitions
// in a stable order.
func consumer(st *spec.Stream) model.Consumer {
	var c model.Consumer
	switch {
	case len(st.Subscribe) > 0:
		c.Kind, c.Topics = model.Subscribe, st.Subscribe
	case st.Pattern != "":
		c.Kind, c.Pattern = model.SubscribePattern, st.Pattern
	default:
		c.Kind = model.Assign
		for _, t := range slices.Sorted(maps.Keys(st.Assign)) {
			for _, p := range st.Assign[t] {
				c.Assign = append(c.Assign, model.TopicPartition{Topic: t, Partition: p})
			}
		}
	}
	for _, t := range slices.Sorted(maps.Keys(st.StartingOffsets)) {
		for _, p := range slices.Sorted(maps.Keys(st.StartingOffsets[t])) {
			c.StartingOffsets = append(c.StartingOffsets, model.Offset{TopicPartition: model.TopicPartition{Topic: t, Partition: p}, Offset: st.StartingOffsets[t][p]})
		}
	}
	return c
}

// writerSchema reads a raw stream's writer schema file and checks that
// the reader can resolve it, returning it compacted.
func writerSchema(dir, file, reader string) (string, error) {
	p := file
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	// The checks schemas.files get, with their file:line:col errors.
	if _, err := Load([]Source{{Name: p, Data: data}}); err != nil {
		if strings.Contains(err.Error(), "unknown type") || strings.Contains(err.Error(), "undefined type") {
			return "", fmt.Errorf("%v (a writer schema must be standalone: the types of schemas.files are not visible to it)", err)
		}
		return "", err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil { // Load checked it is JSON
		return "", fmt.Errorf("%s: not JSON: %v", file, err)
	}
	if _, err := codec.NewResolver(reader).ForWriter(buf.String()); err != nil {
		return "", fmt.Errorf("%s cannot be read as the value type: %v", file, err)
	}
	return buf.String(), nil
}

type builder struct {
	set    *Set
	pkg    *model.Package
	byName map[string]*model.Named
	taken  map[string]string // Go name → what took it
}

func (b *builder) streamType(name string, key bool) (*model.Type, error) {
	if key {
		switch name {
		case "string":
			return &model.Type{Kind: model.String}, nil
		case "bytes":
			return &model.Type{Kind: model.Bytes}, nil
		case "int32":
			return &model.Type{Kind: model.Int}, nil
		case "int64":
			return &model.Type{Kind: model.Long}, nil
		}
	}
	n, ok := b.byName[name]
	if !ok {
		var known []string
		for _, m := range b.pkg.Named {
			if m.Kind == model.Record {
				known = append(known, m.FullName)
			}
		}
		msg := fmt.Sprintf("type %q is not defined by the schemas", name)
		if s := names.Suggest(name, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else if len(known) > 0 {
			msg += fmt.Sprintf(" (records: %s)", strings.Join(known, ", "))
		}
		if key {
			msg += "; a key is string, bytes, int32, int64, none or an Avro record"
		}
		return nil, fmt.Errorf("%s", msg)
	}
	if n.Kind != model.Record {
		return nil, fmt.Errorf("%q is %s %s; a stream's %s must be a record", name, article(n.Kind), n.Kind, map[bool]string{true: "key", false: "value"}[key])
	}
	return &model.Type{Kind: model.Record, Named: n}, nil
}

func article(k model.Kind) string {
	if k == model.Enum {
		return "an"
	}
	return "a"
}

// nameTypes gives every named type a Go name. A type whose name is taken
// gets namespace parts in front, one more part at a time, until all are
// unique. Taken means: reserved by the job or a stream, the name of
// another type (both get parts), or a name another type's name derives (a
// record's schema and fingerprint constants: the deriving type keeps its
// name, the other gets parts). A type with no namespace part left to add
// gets a number.
func (b *builder) nameTypes() {
	type cand struct {
		s     avro.NamedSchema
		parts []string // namespace parts, innermost last
		used  int      // namespace parts used
	}
	cands := make([]*cand, len(b.set.Named))
	for i, s := range b.set.Named {
		var parts []string
		if s.Namespace() != "" {
			parts = strings.Split(s.Namespace(), ".")
		}
		cands[i] = &cand{s: s, parts: parts}
	}
	goName := func(c *cand) string {
		var sb strings.Builder
		for _, p := range c.parts[len(c.parts)-c.used:] {
			sb.WriteString(names.Camel(p))
		}
		sb.WriteString(names.Camel(c.s.Name()))
		return sb.String()
	}
	// declares lists the package-level names a type named g declares, g
	// first.
	declares := func(c *cand, g string) []string {
		if _, ok := c.s.(*avro.RecordSchema); ok {
			return names.RecordNames(g)
		}
		return []string{g}
	}
	// conflicted reports the types whose names are taken.
	conflicted := func() map[*cand]bool {
		own, derived := map[string]int{}, map[string]int{}
		for _, c := range cands {
			ns := declares(c, goName(c))
			own[ns[0]]++
			for _, n := range ns[1:] {
				derived[n]++
			}
		}
		out := map[*cand]bool{}
		for _, c := range cands {
			ns := declares(c, goName(c))
			if own[ns[0]] > 1 || derived[ns[0]] > 0 || slices.ContainsFunc(ns, func(n string) bool { return b.taken[n] != "" }) {
				out[c] = true
			}
		}
		return out
	}
	for {
		grew := false
		for c := range conflicted() {
			if c.used < len(c.parts) {
				c.used++
				grew = true
			}
		}
		if !grew {
			break
		}
	}
	// The types whose names are free take them first, so that a numbered
	// name cannot take one of theirs.
	left := conflicted()
	chosen := map[*cand]string{}
	free := func(ns []string) bool {
		return !slices.ContainsFunc(ns, func(n string) bool { return b.taken[n] != "" })
	}
	for _, pass := range []bool{false, true} {
		for _, c := range cands {
			if left[c] != pass {
				continue
			}
			g := goName(c)
			for i := 2; !free(declares(c, g)); i++ { // no namespace part left to add
				g = fmt.Sprintf("%s%d", goName(c), i)
			}
			for _, n := range declares(c, g) {
				b.taken[n] = c.s.FullName()
			}
			chosen[c] = g
		}
	}
	for _, c := range cands {
		g := chosen[c]
		n := &model.Named{
			FullName:  c.s.FullName(),
			Name:      c.s.Name(),
			Namespace: c.s.Namespace(),
			Aliases:   c.s.Aliases(),
			GoName:    g,
			File:      b.set.Origin[c.s.FullName()],
		}
		switch c.s.(type) {
		case *avro.RecordSchema:
			n.Kind = model.Record
		case *avro.EnumSchema:
			n.Kind = model.Enum
		case *avro.FixedSchema:
			n.Kind = model.Fixed
		}
		b.byName[n.FullName] = n
		b.pkg.Named = append(b.pkg.Named, n)
	}
}

// claim reserves a package-level Go name, adding a number when needed.
func (b *builder) claim(name, what string) string {
	g := name
	for i := 2; b.taken[g] != ""; i++ {
		g = fmt.Sprintf("%s%d", name, i)
	}
	b.taken[g] = what
	return g
}

func (b *builder) fill(s avro.NamedSchema) error {
	n := b.byName[s.FullName()]
	switch t := s.(type) {
	case *avro.RecordSchema:
		n.Doc = t.Doc()
		fieldNames := map[string]bool{}
		for _, m := range names.RecordMethods {
			fieldNames[m] = true // a field may not take a method's name
		}
		for _, f := range t.Fields() {
			g := names.Camel(f.Name())
			for fieldNames[g] {
				g += "_"
			}
			fieldNames[g] = true
			mf := &model.Field{Name: f.Name(), GoName: g, Doc: f.Doc()}
			owner := fmt.Sprintf("field %q of %s", f.Name(), t.FullName())
			typ, err := b.typeOf(f.Type(), n.GoName+g, owner)
			if err != nil {
				return fmt.Errorf("%s: %w", owner, err)
			}
			mf.Type = typ
			if f.HasDefault() {
				d, err := codec.DefaultJSON(f.Type(), f.Default())
				if err != nil {
					return fmt.Errorf("%s: default: %w", owner, err)
				}
				mf.Default = string(d)
			}
			if typ.Kind == model.Record && typ.Named == n {
				return fmt.Errorf("%s: a record cannot contain itself directly (no finite value exists); make the field nullable, an array or a map", owner)
			}
			n.Fields = append(n.Fields, mf)
		}
		js, err := codec.SchemaJSON(t)
		if err != nil {
			return err
		}
		n.Schema = js
		fp, err := codec.Fingerprint(js)
		if err != nil {
			return fmt.Errorf("fingerprint of %s: %w", t.FullName(), err)
		}
		n.Fingerprint = fp
	case *avro.EnumSchema:
		n.Doc = t.Doc()
		n.Symbols = t.Symbols()
		if t.HasDefault() {
			n.EnumDefault = t.Default()
		}
		for _, sym := range n.Symbols {
			n.SymbolGoNames = append(n.SymbolGoNames, b.claim(n.GoName+names.Camel(sym), "enum "+n.FullName))
		}
	case *avro.FixedSchema:
		n.Size = t.Size()
	}
	return nil
}

// typeOf maps a schema use to a model type. goName names union wrappers
// created for it; owner says where it is for messages.
func (b *builder) typeOf(s avro.Schema, goName, owner string) (*model.Type, error) {
	switch t := s.(type) {
	case *avro.RefSchema:
		return b.typeOf(t.Schema(), goName, owner)
	case *avro.NullSchema:
		return &model.Type{Kind: model.Null}, nil
	case *avro.PrimitiveSchema:
		return primitiveType(t), nil
	case *avro.RecordSchema, *avro.EnumSchema:
		n := b.byName[t.(avro.NamedSchema).FullName()]
		return &model.Type{Kind: n.Kind, Named: n}, nil
	case *avro.FixedSchema:
		n := b.byName[t.FullName()]
		mt := &model.Type{Kind: model.Fixed, Named: n}
		switch l := t.Logical().(type) {
		case *avro.DecimalLogicalSchema:
			mt.Logical, mt.Precision, mt.Scale = model.Decimal, l.Precision(), l.Scale()
		case nil:
		default:
			if l.Type() == avro.Duration && t.Size() == 12 {
				mt.Logical = model.Duration
			}
		}
		return mt, nil
	case *avro.ArraySchema:
		e, err := b.typeOf(t.Items(), goName+"Item", owner)
		if err != nil {
			return nil, err
		}
		return &model.Type{Kind: model.Array, Elem: e}, nil
	case *avro.MapSchema:
		e, err := b.typeOf(t.Values(), goName+"Value", owner)
		if err != nil {
			return nil, err
		}
		return &model.Type{Kind: model.Map, Elem: e}, nil
	case *avro.UnionSchema:
		br := t.Types()
		nullAt := slices.IndexFunc(br, func(s avro.Schema) bool { return s.Type() == avro.Null })
		if len(br) == 2 && nullAt >= 0 {
			e, err := b.typeOf(br[1-nullAt], goName, owner)
			if err != nil {
				return nil, err
			}
			return &model.Type{Kind: model.Optional, Elem: e, NullIndex: nullAt}, nil
		}
		u := &model.Sealed{GoName: b.claim(goName, owner), Owner: owner, NullIndex: nullAt}
		for i, bs := range br {
			if i == nullAt {
				continue
			}
			label := branchLabel(bs, b)
			e, err := b.typeOf(bs, u.GoName+label, owner)
			if err != nil {
				return nil, err
			}
			u.Branches = append(u.Branches, &model.Branch{Index: i, GoName: b.claim(u.GoName+label, owner), Type: e})
		}
		b.pkg.Unions = append(b.pkg.Unions, u)
		return &model.Type{Kind: model.Union, Union: u}, nil
	}
	return nil, fmt.Errorf("unsupported schema type %T", s)
}

// branchLabel names a union branch: the Go name of a named type, or the
// Avro type name of others ("String", "Long", "Array", "Map").
func branchLabel(s avro.Schema, b *builder) string {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return b.byName[n.FullName()].GoName
	}
	if p, ok := s.(*avro.PrimitiveSchema); ok && p.Logical() != nil {
		return names.Camel(string(p.Logical().Type()))
	}
	return names.Camel(string(s.Type()))
}

func primitiveType(t *avro.PrimitiveSchema) *model.Type {
	mt := &model.Type{}
	switch t.Type() {
	case avro.Boolean:
		mt.Kind = model.Boolean
	case avro.Int:
		mt.Kind = model.Int
	case avro.Long:
		mt.Kind = model.Long
	case avro.Float:
		mt.Kind = model.Float
	case avro.Double:
		mt.Kind = model.Double
	case avro.Bytes:
		mt.Kind = model.Bytes
	case avro.String:
		mt.Kind = model.String
	}
	var logical string
	if l := t.Logical(); l != nil {
		logical = string(l.Type())
		if d, ok := l.(*avro.DecimalLogicalSchema); ok && mt.Kind == model.Bytes {
			mt.Logical, mt.Precision, mt.Scale = model.Decimal, d.Precision(), d.Scale()
			return mt
		}
	} else if p, ok := t.Prop("logicalType").(string); ok {
		logical = p // hamba does not know the nanosecond types
	}
	// A logical type on the wrong underlying type is ignored, as the
	// specification says, and the field keeps its plain type.
	switch {
	case mt.Kind == model.Long && logical == "timestamp-millis":
		mt.Logical = model.TimestampMillis
	case mt.Kind == model.Long && logical == "timestamp-micros":
		mt.Logical = model.TimestampMicros
	case mt.Kind == model.Long && logical == "timestamp-nanos":
		mt.Logical = model.TimestampNanos
	case mt.Kind == model.Long && logical == "local-timestamp-millis":
		mt.Logical = model.LocalTimestampMillis
	case mt.Kind == model.Long && logical == "local-timestamp-micros":
		mt.Logical = model.LocalTimestampMicros
	case mt.Kind == model.Long && logical == "local-timestamp-nanos":
		mt.Logical = model.LocalTimestampNanos
	case mt.Kind == model.Int && logical == "date":
		mt.Logical = model.Date
	case mt.Kind == model.Int && logical == "time-millis":
		mt.Logical = model.TimeMillis
	case mt.Kind == model.Long && logical == "time-micros":
		mt.Logical = model.TimeMicros
	case mt.Kind == model.String && logical == "uuid":
		mt.Logical = model.UUID
	}
	return mt
}

// filesSinkValues checks that the streams of a files sink job share one
// value type: the sink writes one record type, the streams' values.
func filesSinkValues(sp *spec.Spec, streams []*model.Stream) []*spec.Error {
	if sp.Job.SinkType != config.SinkFiles && sp.Job.SinkType != config.SinkBlob || len(streams) == 0 {
		return nil
	}
	var errs []*spec.Error
	first := streams[0]
	for i, ms := range streams[1:] {
		if ms.Value == nil || first.Value == nil || ms.Value.Named == nil || first.Value.Named == nil {
			continue
		}
		if ms.Value.Named.FullName != first.Value.Named.FullName {
			errs = append(errs, &spec.Error{Pos: sp.Streams[i+1].ValuePos, Msg: fmt.Sprintf(
				"stream %q: value %s differs from stream %q's %s: the %s sink writes one record type, the streams' values; give the streams one value type, or write the output yourself with sink.type none",
				ms.Name, ms.Value.Named.FullName, first.Name, first.Value.Named.FullName, sp.Job.SinkType)})
		}
	}
	return errs
}

// fileSink resolves the record the files or blob sink writes: sink.value,
// or the first stream's value, which Passthrough copies.
func (b *builder) fileSink(sp *spec.Spec) (*model.FileSink, *spec.Error) {
	out := &model.FileSink{Value: b.pkg.Streams[0].Value}
	if v := sp.KafkaSink.Value; v != "" {
		t, err := b.streamType(v, false)
		if err != nil {
			return nil, &spec.Error{Pos: sp.KafkaSink.ValuePos, Msg: fmt.Sprintf("sink.value: %v", err)}
		}
		out.Value = t
	}
	out.Passthrough = out.Value != nil && out.Value.Named != nil
	for _, s := range b.pkg.Streams {
		if s.Projection != nil || s.Value == nil || s.Value.Named == nil || !out.Passthrough || s.Value.Named.FullName != out.Value.Named.FullName {
			out.Passthrough = false
		}
	}
	return out, nil
}

// kafkaSink resolves the Kafka sink's output record, key and encoding,
// defaulting to the first stream's.
func (b *builder) kafkaSink(sp *spec.Spec) (*model.KafkaSink, *spec.Error) {
	first, ks := b.pkg.Streams[0], sp.KafkaSink
	out := &model.KafkaSink{Value: first.Value, Encoding: first.Encoding, ByInput: ks.Partitioning == "input"}
	if ks.Value != "" {
		v, err := b.streamType(ks.Value, false)
		if err != nil {
			return nil, &spec.Error{Pos: ks.ValuePos, Msg: fmt.Sprintf("sink.value: %v", err)}
		}
		out.Value = v
	}
	switch ks.Encoding {
	case "raw":
		out.Encoding = model.Raw
	case "confluent":
		out.Encoding = model.Confluent
	case "single-object":
		out.Encoding = model.SingleObject
	}
	key := ks.Key
	if key == "" {
		key = "none"
		if first.Key != nil {
			switch first.Key.Kind {
			case model.String:
				key = "string"
			case model.Bytes:
				key = "bytes"
			case model.Int:
				key = "int32"
			case model.Long:
				key = "int64"
			}
		}
	}
	if key != "none" {
		out.Key, _ = b.streamType(key, true)
	}
	out.Passthrough = out.Value != nil && out.Value.Named != nil
	for _, s := range b.pkg.Streams {
		if s.Projection != nil || s.Value == nil || s.Value.Named == nil || out.Value == nil || out.Value.Named == nil || s.Value.Named.FullName != out.Value.Named.FullName {
			out.Passthrough = false
		}
		switch {
		case s.Key == nil && out.Key == nil:
		case s.Key == nil || out.Key == nil || s.Key.Kind != out.Key.Kind || s.Key.Named != nil:
			out.Passthrough = false
		}
	}
	return out, nil
}
