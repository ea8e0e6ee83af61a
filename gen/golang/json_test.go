package golang

import (
	"testing"

	"github.com/streamgen/streamgen/gen/model"
	"github.com/streamgen/streamgen/runtime/config"
)

// TestRecordJSON: the JSON encoder writes the fields by Avro name in
// schema order, union branches keyed by their Avro type name, and the
// decoder has a case per field.
func TestRecordJSON(t *testing.T) {
	g := generate(t, allTypes())
	enc := g.fn("*Event", appendJSONHelper)
	contains(t, "Event.sgAppendJSON", enc,
		"var err error", // decimals and nested records can fail
		`dst = append(dst, "{\"flag\":"...)`, `dst = append(dst, ",\"byName\":"...)`,
		`"{\"string\":"`, `"{\"com.ex.Inner\":"`, `"{\"long\":"`, `"{\"com.ex.Color\":"`,
		"return append(dst, '}'), nil")
	lacks(t, "Inner.sgAppendJSON", g.fn("*Inner", appendJSONHelper), "var err error")
	dec := g.fn("*Event", decodeJSONHelper)
	for _, f := range named(allTypes(), "Event").Fields {
		contains(t, "Event.sgDecodeJSON", dec, "case \""+f.Name+"\":", codecAlias+".FieldErr(\""+f.Name+"\", err)")
	}
	contains(t, "Event.MarshalJSON", g.fn("Event", "MarshalJSON"), `"JSON of com.ex.Event: %w"`)
}

// TestEmptyRecord: a record without fields encodes to nothing and to {}.
func TestEmptyRecord(t *testing.T) {
	empty := record("com.ex.Empty", "Empty", "{}")
	g := generate(t, &model.Package{Name: "empty", Job: model.Job{Name: "empty", Config: config.Default()}, Named: []*model.Named{empty}})
	contains(t, "Empty.sgAppendJSON", g.fn("*Empty", appendJSONHelper), "dst = append(dst, '{')", "return append(dst, '}'), nil")
	contains(t, "Empty.sgAppendAvro", g.fn("*Empty", appendAvroHelper), "return dst, nil")
	if _, ok := g.src["streams.go"]; ok {
		t.Error("streams.go for a package without streams")
	}
}

// TestCheckImports: a generated file must import each package under its
// alias.
func TestCheckImports(t *testing.T) {
	for src, ok := range map[string]bool{
		"package p\nimport sgfmt \"fmt\"\n": true,
		"package p\nimport \"fmt\"\n":       false,
		"package p\nimport x \"fmt\"\n":     false,
		"package p\nimport (\n":             false,
	} {
		if err := checkImports("x.go", []byte(src)); (err == nil) != ok {
			t.Errorf("%q: %v", src, err)
		}
	}
}
