package codec

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

type schemaVector struct {
	name, input, canonical, fingerprint string
}

// readSchemaVectors parses Avro's schema-tests.txt: "<<KEY value" lines, or
// "<<KEY" followed by lines up to one holding just KEY.
func readSchemaVectors(t *testing.T, path string) []schemaVector {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out []schemaVector
		cur *schemaVector
		sc  = bufio.NewScanner(f)
	)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "// 0"):
			out = append(out, schemaVector{name: strings.TrimPrefix(line, "// ")})
			cur = &out[len(out)-1]
			continue
		case !strings.HasPrefix(line, "<<"):
			continue
		}
		key, val, _ := strings.Cut(line[2:], " ")
		if val == "" { // heredoc
			var lines []string
			for sc.Scan() && sc.Text() != key {
				lines = append(lines, sc.Text())
			}
			val = strings.Join(lines, "\n")
		}
		if cur == nil {
			t.Fatalf("%s before the first case", key)
		}
		switch key {
		case "INPUT":
			cur.input = val
		case "canonical":
			cur.canonical = val
		case "fingerprint":
			cur.fingerprint = val
		default:
			t.Fatalf("case %s: unknown key %q", cur.name, key)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCanonicalAvroVectors(t *testing.T) {
	vectors := readSchemaVectors(t, "testdata/schema-tests.txt")
	if len(vectors) != 34 {
		t.Fatalf("parsed %d vectors, want 34", len(vectors))
	}
	fingerprints := 0
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			got, err := Canonical(v.input)
			if err != nil {
				t.Fatalf("Canonical(%s): %v", v.input, err)
			}
			if got != v.canonical {
				t.Errorf("Canonical(%s)\n got %s\nwant %s", v.input, got, v.canonical)
			}
			if v.fingerprint == "" {
				return
			}
			fingerprints++
			want, err := strconv.ParseInt(v.fingerprint, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			fp, err := Fingerprint(v.input)
			if err != nil {
				t.Fatal(err)
			}
			if int64(fp) != want {
				t.Errorf("Fingerprint(%s) = %d, want %d", v.input, int64(fp), want)
			}
		})
	}
	if fingerprints < 20 {
		t.Errorf("only %d fingerprints checked", fingerprints)
	}
}

func TestCRC64AvroEmpty(t *testing.T) {
	if got := CRC64Avro(nil); got != 0xc15d213aa4d7a795 {
		t.Errorf("CRC64Avro(nil) = %#x", got)
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "logicalType and other attributes stripped",
			in: `{"type":"record","name":"E","namespace":"com.ads","doc":"d","fields":[
				{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"},"default":0,"doc":"x"},
				{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
				{"name":"id","type":{"type":"fixed","name":"uuid_t","size":16,"logicalType":"uuid"}},
				{"name":"day","type":{"type":"int","logicalType":"date","connect.name":"x"}}]}`,
			want: `{"name":"com.ads.E","type":"record","fields":[{"name":"ts","type":"long"},{"name":"amount","type":"bytes"},{"name":"id","type":{"name":"com.ads.uuid_t","type":"fixed","size":16}},{"name":"day","type":"int"}]}`,
		},
		{
			name: "namespace inherited, overridden, reset; references by full name",
			in: `{"type":"record","name":"Outer","namespace":"a.b","fields":[
				{"name":"x","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
				{"name":"y","type":{"type":"record","name":"Inner","namespace":"c","fields":[
					{"name":"k","type":"a.b.Kind"},
					{"name":"m","type":{"type":"fixed","name":"F","size":2}}]}},
				{"name":"z","type":"Kind"},
				{"name":"w","type":{"type":"array","items":"c.Inner"}},
				{"name":"v","type":{"type":"map","values":{"type":"record","name":"N","namespace":"","fields":[]}}},
				{"name":"u","type":"N"}]}`,
			want: `{"name":"a.b.Outer","type":"record","fields":[` +
				`{"name":"x","type":{"name":"a.b.Kind","type":"enum","symbols":["A","B"]}},` +
				`{"name":"y","type":{"name":"c.Inner","type":"record","fields":[{"name":"k","type":"a.b.Kind"},{"name":"m","type":{"name":"c.F","type":"fixed","size":2}}]}},` +
				`{"name":"z","type":"a.b.Kind"},` +
				`{"name":"w","type":{"type":"array","items":"c.Inner"}},` +
				`{"name":"v","type":{"type":"map","values":{"name":"N","type":"record","fields":[]}}},` +
				`{"name":"u","type":"N"}]}`,
		},
		{
			name: "recursive tree",
			in:   `{"type":"record","name":"Tree","namespace":"t","fields":[{"name":"kids","type":{"type":"array","items":"Tree"}},{"name":"next","type":["null","t.Tree"],"default":null}]}`,
			want: `{"name":"t.Tree","type":"record","fields":[{"name":"kids","type":{"type":"array","items":"t.Tree"}},{"name":"next","type":["null","t.Tree"]}]}`,
		},
		{
			name: "escapes and whitespace",
			in:   " {\"type\" : \"enum\", \"name\" : \"\\u0045\", \"symbols\" : [ \"\\u0041\" ] } ",
			want: `{"name":"E","type":"enum","symbols":["A"]}`,
		},
		{
			name: "non-integer size rejected",
			in:   `{"type":"fixed","name":"F","size":1.6e1}`,
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Canonical = %s, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCanonicalErrors(t *testing.T) {
	for _, in := range []string{
		``,
		`"Undefined"`,
		`{"type":"record","name":"R","fields":[{"name":"a","type":"Nope"}]}`,
		`{"type":"record","name":"R","fields":[{"name":"a"}]}`,
		`{"type":"record","name":"1R","fields":[]}`,
		`{"type":"enum","name":"E","symbols":[1]}`,
		`{"type":"fixed","name":"F"}`,
		`{"type":"array"}`,
		`[{"type":"fixed","name":"F","size":1},{"type":"fixed","name":"F","size":1}]`,
		`"int" "int"`,
	} {
		if got, err := Canonical(in); err == nil {
			t.Errorf("Canonical(%s) = %s, want an error", in, got)
		}
	}
}

func TestFingerprintIgnoresLogicalType(t *testing.T) {
	a, err := Fingerprint(`{"type":"long","logicalType":"timestamp-millis"}`)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Fingerprint(`"long"`)
	if a != b {
		t.Errorf("fingerprints differ: %x %x", a, b)
	}
}
