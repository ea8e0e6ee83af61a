package golang

import (
	"strings"
	"testing"

	"github.com/streamgen/streamgen/gen/model"
)

// TestRecordFieldTypes: each Avro type and logical type becomes its Go
// type in the record's struct, with the Avro name in its tags.
func TestRecordFieldTypes(t *testing.T) {
	g := generate(t, allTypes())
	for _, c := range []struct{ field, typ string }{
		{"Flag", "bool"}, {"Count", "int32"}, {"Total", "int64"}, {"Ratio", "float32"}, {"Score", "float64"},
		{"Blob", "[]byte"}, {"Name", "string"}, {"Color", "Color"}, {"Hash", "MD5"}, {"Inner", "Inner"},
		{"Tags", "[]string"}, {"Counts", "map[string]int64"}, {"Note", "*string"}, {"Next", "*Inner"},
		{"Payload", "EventPayload"}, {"Choice", "EventChoice"},
		{"At", "time.Time"}, {"Day", "time.Time"}, {"Amount", "*math/big.Rat"}, {"Price", "*math/big.Rat"},
		{"Span", "github.com/streamgen/streamgen/runtime/codec.Duration"}, {"ID", "string"},
		{"Elapsed", "time.Duration"}, {"Tod", "time.Duration"}, {"Items", "[]Inner"},
		{"Maybe", "*math/big.Rat"}, // an optional decimal is nil-able already: no **big.Rat
		{"ByName", "map[string]Inner"},
	} {
		if got := g.fieldType("Event", c.field); got != c.typ {
			t.Errorf("Event.%s is %q, want %q", c.field, got, c.typ)
		}
	}
	contains(t, "types.go", g.src["types.go"],
		"// Event is the Avro record com.ex.Event.",
		"// Event is something that happened.\n// Second line.",
		"// Flag is a flag.",
		"`avro:\"byName\" json:\"byName\"`",
		"// Avro int, default 5",
		"// Avro long (timestamp-millis), default 1000",
		"// Avro bytes (decimal(10,2))",
		"// Avro union{null, string}, default null",
		"// Avro string (uuid)",
		"type MD5 [4]byte",
		"type Money [8]byte",
		// A backquote in the schema is spliced into the raw string.
		"const EventSchema = `{\"type\":\"record\",\"name\":\"com.ex.Event\",\"doc\":\"a ` + \"`\" + `quoted` + \"`\" + ` doc\",\"fields\":[]}`",
		"const EventFingerprint uint64 = 0x0123456789abcdef",
	)
}

// TestEnumType: an enum is a string type with a constant per symbol,
// String, Valid, its index helper and its symbol table.
func TestEnumType(t *testing.T) {
	g := generate(t, allTypes())
	if got := g.typeOf("Color"); got != "string" {
		t.Errorf("Color is %q, want string", got)
	}
	g.hasMethods(t, "Color", "String", "Valid", indexHelper, appendAvroHelper)
	contains(t, "types.go", g.src["types.go"],
		`ColorRed Color = "RED"`, `ColorBlue Color = "BLUE"`,
		"case ColorGreen:\n\t\treturn int64(1), true",
		"var sgColorSymbols = [...]Color{ColorRed, ColorGreen, ColorBlue}")
	contains(t, "Color.sgAppendAvro", g.fn("Color", appendAvroHelper),
		codecAlias+".ErrUnsetEnum", `"%q is not a symbol of enum com.ex.Color"`, codecAlias+".AppendLong(dst, i)")
}

// TestUnionTypes: a union other than ["null", T] is a sealed interface
// with a wrapper type per branch; without a null branch nil does not
// encode.
func TestUnionTypes(t *testing.T) {
	p := allTypes()
	g := generate(t, p)
	for _, u := range p.Unions {
		if got := g.typeOf(u.GoName); !strings.HasPrefix(got, "interface{") || !strings.Contains(got, unionMarker(u)+"()") {
			t.Errorf("%s is %q, want an interface with %s", u.GoName, got, unionMarker(u))
		}
		for _, b := range u.Branches {
			g.hasMethods(t, b.GoName, unionMarker(u))
			if got := g.fieldType(b.GoName, "Value"); got != branchGoType(b.Type) {
				t.Errorf("%s.Value is %q, want %q", b.GoName, got, branchGoType(b.Type))
			}
		}
	}
	src := g.src["types.go"]
	contains(t, "types.go", src,
		"// EventPayload is the Avro union of field \"payload\" of com.ex.Event: one of\n//   - EventPayloadString (string)\n//   - EventPayloadInner (com.ex.Inner)\n//\n// or nil for null.",
		"// EventChoice is the Avro union of field \"choice\" of com.ex.Event: one of",
		"A nil value cannot be encoded: the union has no null branch.")
	contains(t, "Event.sgAppendAvro", g.fn("*Event", appendAvroHelper),
		"case EventPayloadString:", "case EventPayloadInner:", "case EventChoiceColor:",
		`"nil value for a union without a null branch"`)
}

// branchGoType is the Go type of a branch as go/types writes it in the package.
func branchGoType(t *model.Type) string {
	switch t.Kind {
	case model.String:
		return "string"
	case model.Long:
		return "int64"
	}
	return t.Named.GoName
}

// TestAvroTypeName: the doc comments' Avro type names.
func TestAvroTypeName(t *testing.T) {
	p := allTypes()
	ev := named(p, "Event")
	want := map[string]string{
		"tags":    "array<string>",
		"counts":  "map<long>",
		"next":    "union{null, com.ex.Inner}",
		"payload": "union{null, string, com.ex.Inner}",
		"choice":  "union{long, com.ex.Color}",
		"price":   "com.ex.Money (decimal(18,4))",
		"span":    "com.ex.Dur (duration)",
		"elapsed": "long (time-micros)",
		"day":     "int (date)",
	}
	for _, f := range ev.Fields {
		if w, ok := want[f.Name]; ok {
			if got := avroTypeName(f.Type); got != w {
				t.Errorf("%s: %q, want %q", f.Name, got, w)
			}
		}
	}
}
