package golang

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/dave/jennifer/jen"

	"github.com/streamgen/streamgen/gen/model"
)

// TestRecordCodecMethods: a record gets the codec's exported API and the
// helpers the runtime and other records call.
func TestRecordCodecMethods(t *testing.T) {
	g := generate(t, allTypes())
	for _, rec := range []string{"Event", "Inner"} {
		g.hasMethods(t, rec, "AppendAvro", "UnmarshalAvro", "UnmarshalAvroFrom", "DecodeAvro", "AvroSchema",
			"MarshalJSON", "UnmarshalJSON", appendAvroHelper, decodeAvroHelper)
		for _, fn := range []string{"New" + rec + "OCFWriter", "New" + rec + "OCFReader", "New" + rec} {
			if g.fn("", fn) == "" {
				t.Errorf("no func %s", fn)
			}
		}
	}
	contains(t, "codec.go", g.src["codec.go"],
		"const _ = "+runtimeAlias+".SupportPackageIsVersion1",
		"var sgEventResolver = sgsync.OnceValue(func() *"+codecAlias+".Resolver {\n\treturn "+codecAlias+".NewResolver(EventSchema)\n})")
	// Event has an enum: its encoding error says how to get a valid one.
	contains(t, "Event.AppendAvro", g.fn("*Event", "AppendAvro"), "New"+"Event() starts from the schema's defaults")
	lacks(t, "Inner.AppendAvro", g.fn("*Inner", "AppendAvro"), "starts from the schema's defaults")
	// Inner's encoding cannot fail: no err variable.
	lacks(t, "Inner.sgAppendAvro", g.fn("*Inner", appendAvroHelper), "var err error")
	contains(t, "Event.sgAppendAvro", g.fn("*Event", appendAvroHelper), "var err error")
}

// TestFieldCodecs: the encoder and the decoder of each field, by type:
// what each Avro type is written with and read with.
func TestFieldCodecs(t *testing.T) {
	g := generate(t, allTypes())
	ev := named(allTypes(), "Event")
	enc, dec := fieldStmts(t, g.fn("*Event", appendAvroHelper), ev), fieldStmts(t, g.fn("*Event", decodeAvroHelper), ev)
	c := codecAlias
	for _, tc := range []struct {
		field    string
		enc, dec []string
	}{
		{"flag", []string{c + ".AppendBool(dst, r.Flag)"}, []string{"r.Flag = d.Bool()"}},
		{"count", []string{c + ".AppendInt(dst, r.Count)"}, []string{"r.Count = d.Int()"}},
		{"total", []string{c + ".AppendLong(dst, r.Total)"}, []string{"r.Total = d.Long()"}},
		{"ratio", []string{c + ".AppendFloat(dst, r.Ratio)"}, []string{"r.Ratio = d.Float()"}},
		{"score", []string{c + ".AppendDouble(dst, r.Score)"}, []string{"r.Score = d.Double()"}},
		{"blob", []string{c + ".AppendBytes(dst, r.Blob)"}, []string{"r.Blob = d.BytesInto(r.Blob)"}},
		{"name", []string{c + ".AppendString(dst, r.Name)"}, []string{"r.Name = d.String()"}},
		{"color", []string{"dst, err = r.Color.sgAppendAvro(dst); err != nil", c + `.FieldErr("color", err)`},
			[]string{"d.Enum(3); e", "r.Color = sgColorSymbols[e"}},
		{"hash", []string{"dst = append(dst, r.Hash[:]...)"}, []string{"d.Fixed(r.Hash[:])"}},
		{"inner", []string{"r.Inner.sgAppendAvro(dst)"}, []string{"r.Inner.sgDecodeAvro(d)"}},
		{"tags", []string{c + ".AppendLong(dst, int64(len(r.Tags)))", "range r.Tags"},
			[]string{" := r.Tags[:0]", "d.BlockCount(1)", "append(s", ", d.String())", "r.Tags = s"}},
		{"counts", []string{c + ".SortedKeys(keys", ", r.Counts)"}, []string{" := r.Counts\n", "clear(m", "d.BlockCount(2)", "make(map[string]int64, n", "r.Counts = m"}},
		{"note", []string{"if r.Note == nil {\n\t\tdst = " + c + ".AppendLong(dst, int64(0))", c + ".AppendString(dst, (*r.Note))"},
			[]string{"switch d.UnionIndex(2) {\ncase 0:\n\tr.Note = nil\ncase 1:\n\tif r.Note == nil {\n\t\tif sp == nil {\n\t\t\tsp = new(sgSpillEvent)", "r.Note = &sp.f", "(*r.Note) = d.String()"}},
		{"next", []string{"if r.Next == nil {\n\t\tdst = " + c + ".AppendLong(dst, int64(1))", "r.Next.sgAppendAvro(dst)"},
			[]string{"case 1:\n\tr.Next = nil", "if r.Next == nil {\n\t\tr.Next = new(Inner)", "r.Next.sgDecodeAvro(d)"}},
		{"payload", []string{"switch u", "case nil:\n\t\tdst = " + c + ".AppendLong(dst, int64(0))", "case EventPayloadInner:\n\t\tdst = " + c + ".AppendLong(dst, int64(2))"},
			[]string{"switch d.UnionIndex(3) {", "r.Payload = EventPayloadString{Value: d.String()}", "var w", " EventPayloadInner"}},
		{"choice", []string{`"nil value for a union without a null branch"`},
			[]string{"switch d.UnionIndex(2) {\ncase 0:\n\tr.Choice = EventChoiceLong{Value: d.Long()}"}},
		{"at", []string{c + ".AppendLong(dst, " + c + ".MillisOf(r.At))"}, []string{"r.At = " + c + ".TimestampMillis(d.Long())"}},
		{"day", []string{c + ".AppendInt(dst, " + c + ".DaysOf(r.Day))"}, []string{"r.Day = " + c + ".Date(d.Int())"}},
		{"amount", []string{c + ".AppendDecimalBytes(dst, r.Amount, 10, 2)"}, []string{"if r.Amount == nil {", "sp.f", ".Num().SetBits(sp.f", "w[:0])", "r.Amount = &sp.f", "r.Amount = d.Decimal(r.Amount, 2)"}},
		{"price", []string{c + ".AppendDecimalFixed(dst, r.Price, 18, 4, 8)"}, []string{"[8]byte", "r.Price = " + c + ".DecimalInto(r.Price, f", ", 4)"}},
		{"span", []string{c + ".AppendDuration(dst, r.Span)"}, []string{"r.Span = d.Duration()"}},
		{"id", []string{c + ".AppendString(dst, r.ID)"}, []string{"r.ID = d.String()"}},
		{"elapsed", []string{c + ".AppendLong(dst, " + c + ".MicrosOfDuration(r.Elapsed))"}, []string{"r.Elapsed = d.TimeMicros()"}},
		{"tod", []string{c + ".AppendInt(dst, " + c + ".MillisOfDuration(r.Tod))"}, []string{"r.Tod = " + c + ".TimeMillis(d.Int())"}},
		// Records in arrays are decoded in place, in the slice, into the
		// element the slice held before if its capacity reaches it.
		{"items", []string{"range r.Items"}, []string{"s", " := r.Items[:0]", "d.BlockCount(2)", "[:len(s", ")+1]", "[len(s", ".sgDecodeAvro(d)"}},
		// An optional decimal is the nil-able *big.Rat itself.
		{"maybe", []string{c + ".AppendDecimalBytes(dst, r.Maybe, 5, 1)"}, []string{"r.Maybe = d.Decimal(r.Maybe, 1)"}},
		{"byName", []string{", r.ByName)"}, []string{"d.BlockCount(3)", "var v", " Inner\n", "v", ".sgDecodeAvro(d)"}},
	} {
		t.Run(tc.field, func(t *testing.T) {
			contains(t, "encoder of "+tc.field, enc[tc.field], tc.enc...)
			contains(t, "decoder of "+tc.field, dec[tc.field], tc.dec...)
		})
	}
}

// fieldStmts splits the body of a record's encoder or decoder, fn, by
// field: each top-level statement goes to the first field of n it names
// (r.GoName), and statements that name none (a decoder's buffer) to the
// next one that does. The result is keyed by the fields' Avro names.
func fieldStmts(t *testing.T, fn string, n *model.Named) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, "fn.go", "package p\n"+fn, 0)
	if err != nil {
		t.Fatalf("%v\n%s", err, fn)
	}
	byGoName := map[string]string{}
	for _, f := range n.Fields {
		byGoName[f.GoName] = f.Name
	}
	out := map[string]string{}
	var pending strings.Builder
	for _, st := range af.Decls[0].(*ast.FuncDecl).Body.List {
		var b bytes.Buffer
		if err := format.Node(&b, fset, st); err != nil {
			t.Fatal(err)
		}
		pending.WriteString(b.String() + "\n")
		field := ""
		ast.Inspect(st, func(x ast.Node) bool {
			if sel, ok := x.(*ast.SelectorExpr); ok && field == "" {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "r" {
					field = byGoName[sel.Sel.Name]
				}
			}
			return field == ""
		})
		if field != "" {
			out[field] += pending.String()
			pending.Reset()
		}
	}
	return out
}

// render writes x as jennifer does outside a file: packages by their
// names, not the generated code's aliases.
func render(x jen.Code) string { return fmt.Sprintf("%#v", jen.Add(x)) }

// TestNewDefaults: NewT holds each field's schema default, as the decoder
// would give it, and a placeholder that encodes where Go's zero value
// does not.
func TestNewDefaults(t *testing.T) {
	g := generate(t, allTypes())
	c := codecAlias
	contains(t, "NewEvent", g.fn("", "NewEvent"),
		"Flag: true,", "Count: 5,", "Ratio: float32(1.5),", `Blob: []byte("\x01A"),`, `Name: "x",`,
		"Color: ColorGreen,", // the enum's default symbol, not its first
		"Hash: MD5{97, 98, 99, 100},",
		"Inner: NewInner(),",
		`Tags: []string{"a"},`,
		`Counts: map[string]int64{"k": int64(1)},`,
		"Next: "+c+`.Ptr(Inner{`, "X: 1,", `Label: "none"`,
		"Choice: EventChoiceLong{Value: int64(7)},",
		"At: "+c+".TimestampMillis(int64(1000)),",
		"Amount: new(sgbig.Rat),", "Price: new(sgbig.Rat),")
	// Defaults that are Go's zero values are left out.
	lacks(t, "NewEvent", g.fn("", "NewEvent"), "Note:", "Payload:", "Maybe:", "Total:")
	contains(t, "NewInner", g.fn("", "NewInner"), `return Inner{Label: "none"}`)
}

// TestDefaultExpr: the default of each type, and the defaults that do not
// fit their type, which the schema package rejects first.
func TestDefaultExpr(t *testing.T) {
	p := allTypes()
	md5, dur := named(p, "MD5"), named(p, "Dur")
	for _, tc := range []struct {
		t    *model.Type
		json string
		want string // "" for an error
	}{
		{logical(model.Int, model.Date), "19000", "codec.Date(19000)"},
		{logical(model.Int, model.TimeMillis), "1000", "codec.TimeMillis(1000)"},
		{logical(model.Long, model.TimestampMicros), "5", "codec.TimestampMicros(int64(5))"},
		{logical(model.Long, model.LocalTimestampNanos), "5", "codec.TimestampNanos(int64(5))"},
		{logical(model.Long, model.TimeMicros), "5", "codec.TimeMicros(int64(5))"},
		{prim(model.Int), "1e3", "1000"},
		{prim(model.Double), "2.5", "2.5"},
		{decimal(model.Bytes, nil, 4, 2), `"\u0001"`, `codec.DecimalFromBytes([]byte("\x01"), 2)`},
		{&model.Type{Kind: model.Fixed, Logical: model.Duration, Named: dur}, `"\u0001\u0000\u0000\u0000\u0002\u0000\u0000\u0000\u0003\u0000\u0000\u0000"`,
			"codec.Duration{ Days: 2, Milliseconds: 3, Months: 1, }"},
		{arrayOf(optional(prim(model.Long), 0)), "[null]", "[]*int64{nil}"},
		{arrayOf(prim(model.Null)), "[null]", "[]struct{}{struct{}{}}"},
		{optional(prim(model.Long), 1), "3", "codec.Ptr(int64(3))"},
		{prim(model.Int), "1.5", ""},
		{prim(model.Int), "4294967296", ""},
		{prim(model.Int), "2147483648", ""},
		{prim(model.Int), "-2147483648", "-2147483648"},
		{prim(model.Int), "-2.147483648e9", "-2147483648"},
		{prim(model.Int), "2.147483648e9", ""},
		{prim(model.Boolean), "1", ""},
		{prim(model.String), "1", ""},
		{prim(model.Bytes), `"\u0100"`, ""},
		{ref(md5), `"abc"`, ""},
		{&model.Type{Kind: model.Fixed, Logical: model.Duration, Named: dur}, `"a"`, ""},
		{ref(named(p, "Color")), `"PURPLE"`, ""},
		{arrayOf(prim(model.Int)), "{}", ""},
		{mapOf(prim(model.Int)), "[]", ""},
		{ref(named(p, "Inner")), "[]", ""},
	} {
		v, err := parseDefault(tc.json)
		if err != nil {
			t.Fatal(err)
		}
		x, err := defaultExpr(tc.t, v)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s as %s: no error", tc.json, avroTypeName(tc.t))
		case tc.want != "" && err != nil:
			t.Errorf("%s as %s: %v", tc.json, avroTypeName(tc.t), err)
		case tc.want != "":
			if got := strings.Join(strings.Fields(render(x)), " "); got != tc.want {
				t.Errorf("%s as %s: %s, want %s", tc.json, avroTypeName(tc.t), got, tc.want)
			}
		}
	}
	if _, err := parseDefault("{"); err == nil {
		t.Error("parseDefault of {: no error")
	}
}

// TestMinSize: the fewest bytes of a value, which bounds an array's block
// count; a recursive record counts once.
func TestMinSize(t *testing.T) {
	p := allTypes()
	list := record("com.ex.List", "List", "", fld("v", "V", prim(model.Double), ""))
	list.Fields = append(list.Fields, fld("next", "Next", optional(ref(list), 0), "null"))
	for _, tc := range []struct {
		t    *model.Type
		want int
	}{
		{prim(model.Null), 0}, {prim(model.Float), 4}, {prim(model.Double), 8}, {prim(model.String), 1},
		{ref(named(p, "MD5")), 4}, {ref(named(p, "Inner")), 2}, {ref(list), 9},
	} {
		if got := minSize(tc.t, map[*model.Named]bool{}); got != tc.want {
			t.Errorf("minSize(%s) = %d, want %d", avroTypeName(tc.t), got, tc.want)
		}
	}
}
