package codec

import (
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

func TestSchemaJSONKeepsDefaultsInSpecForm(t *testing.T) {
	in := `{"type":"record","name":"R","namespace":"n","doc":"d","aliases":["n.Old"],"fields":[
		{"name":"b","type":"bytes","default":"\u00ff\u0001"},
		{"name":"f","type":{"type":"fixed","name":"F2","size":2},"default":"\u00ff\u0001"},
		{"name":"g1","type":{"type":"record","name":"G","fields":[{"name":"x","type":"int","default":1}]}},
		{"name":"g2","type":"G","default":{"x":2}},
		{"name":"u","type":["null","string"],"default":null},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"},"default":"B"},
		{"name":"t","type":{"type":"long","logicalType":"timestamp-nanos"}},
		{"name":"m","type":{"type":"map","values":"G"},"default":{"k":{"x":3}}},
		{"name":"self","type":["null","R"],"default":null}
	]}`
	s, err := avro.ParseWithCache(in, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := SchemaJSON(s)
	if err != nil {
		t.Fatal(err)
	}
	compact := strings.Join(strings.Fields(out), "")
	for _, want := range []string{
		`"default":"ÿ\u0001"`, // bytes and fixed: code points, not base64 or numbers
		`"type":"n.G","default":{"x":2}`,
		`"aliases":["n.Old"]`,
		`"logicalType":"timestamp-nanos"`,
		`"default":{"k":{"x":3}}`,
		`["null","n.R"]`, // the recursive reference by full name
	} {
		if !strings.Contains(compact, want) {
			t.Errorf("schema JSON lacks %s:\n%s", want, out)
		}
	}
	// It must parse again and mean the same schema.
	again, err := avro.ParseWithCache(out, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, out)
	}
	fa, _ := Fingerprint(in)
	fb, _ := Fingerprint(out)
	if fa != fb || again.(*avro.RecordSchema).Fields()[3].Default().(map[string]any)["x"] != 2 {
		t.Errorf("round trip changed the schema: %x vs %x", fa, fb)
	}
}
