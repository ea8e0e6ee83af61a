package codec

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/linkedin/goavro/v2"
)

// The logical-type pairs whose bytes parse under both schemas. Each is
// checked three ways: CheckCompatible (streamgen check), ForWriter (every
// decoder of the runtime), and hamba/avro's SchemaCompatibility, whose
// verdict is recorded: hamba looks at underlying types only, so it calls
// every pair but a fixed size change compatible, and reads with the
// reader's logical type (TestHambaAndGoavroReinterpretDecimals shows what
// that gives). The README's table of logical-type changes lists the same
// pairs.
func TestLogicalTypeChanges(t *testing.T) {
	const (
		dec122   = `{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}`
		dec123   = `{"type":"bytes","logicalType":"decimal","precision":12,"scale":3}`
		dec142   = `{"type":"bytes","logicalType":"decimal","precision":14,"scale":2}`
		fdec     = `{"type":"fixed","name":"Money","size":8,"logicalType":"decimal","precision":12,"scale":%d}`
		tsMillis = `{"type":"long","logicalType":"timestamp-millis"}`
		tsMicros = `{"type":"long","logicalType":"timestamp-micros"}`
		tsNanos  = `{"type":"long","logicalType":"timestamp-nanos"}`
		ltMillis = `{"type":"long","logicalType":"local-timestamp-millis"}`
		ltMicros = `{"type":"long","logicalType":"local-timestamp-micros"}`
		date     = `{"type":"int","logicalType":"date"}`
		tMillis  = `{"type":"int","logicalType":"time-millis"}`
		tMicros  = `{"type":"long","logicalType":"time-micros"}`
		uuid     = `{"type":"string","logicalType":"uuid"}`
		dur      = `{"type":"fixed","name":"Span","size":12,"logicalType":"duration"}`
		fixed12  = `{"type":"fixed","name":"Span","size":12}`
	)
	field := func(typ string) string { return rec("Order", `{"name":"v","type":`+typ+`}`) }
	tests := []struct {
		name           string
		writer, reader string // the field's type
		want           string // "" compatible, else in the reason
		hambaOK        bool   // hamba's SchemaCompatibility calls it compatible
	}{
		{"decimal scale 2 to 3", dec122, dec123, `field "v": decimal scale changed from 2 to 3 (precision 12)`, true},
		{"decimal scale 3 to 2", dec123, dec122, `decimal scale changed from 3 to 2`, true},
		{"decimal precision 12 to 14", dec122, dec142, `decimal precision changed from 12 to 14 (scale 2)`, true},
		{"fixed decimal scale", strings.Replace(fdec, "%d", "2", 1), strings.Replace(fdec, "%d", "3", 1), `decimal scale changed from 2 to 3`, true},
		{"fixed size", `{"type":"fixed","name":"Money","size":8}`, `{"type":"fixed","name":"Money","size":16}`, `fixed com.ads.Money size changed from 8 to 16`, false},
		{"timestamp-millis to -micros", tsMillis, tsMicros, `logical type changed from timestamp-millis to timestamp-micros`, true},
		{"timestamp-micros to -millis", tsMicros, tsMillis, `logical type changed from timestamp-micros to timestamp-millis`, true},
		{"timestamp-nanos to -micros", tsNanos, tsMicros, `logical type changed from timestamp-nanos to timestamp-micros`, true},
		{"timestamp-millis to local-timestamp-millis", tsMillis, ltMillis, `logical type changed from timestamp-millis to local-timestamp-millis`, true},
		{"local-timestamp-micros to timestamp-micros", ltMicros, tsMicros, `logical type changed from local-timestamp-micros to timestamp-micros`, true},
		{"local-timestamp-millis to -micros", ltMillis, ltMicros, `changed from local-timestamp-millis to local-timestamp-micros`, true},
		{"time-millis to time-micros (int promoted to long)", tMillis, tMicros, `logical type changed from time-millis to time-micros`, true},
		{"date to timestamp-millis (int promoted to long)", date, tsMillis, `logical type changed from date to timestamp-millis`, true},
		{"date to time-millis", date, tMillis, `logical type changed from date to time-millis`, true},
		{"int to date", `"int"`, date, `logical type date added to the writer's int`, true},
		{"long to timestamp-millis", `"long"`, tsMillis, `logical type timestamp-millis added to the writer's long`, true},
		{"string to uuid", `"string"`, uuid, `logical type uuid added to the writer's string`, true},
		{"bytes to decimal", `"bytes"`, dec122, `logical type decimal(12,2) added to the writer's bytes`, true},
		{"fixed to duration", fixed12, dur, `logical type duration added to the writer's fixed com.ads.Span(12)`, true},
		{"date to int", date, `"int"`, "", true},
		{"timestamp-micros to long", tsMicros, `"long"`, "", true},
		{"uuid to string", uuid, `"string"`, "", true},
		{"decimal to bytes", dec122, `"bytes"`, "", true},
		{"duration to fixed", dur, fixed12, "", true},
		{"same decimal", dec122, `{"type":"bytes","logicalType":"decimal","scale":2,"precision":12}`, "", true},
		{"decimal in an optional field", `["null",` + dec122 + `]`, `["null",` + dec123 + `]`, `field "v": decimal scale changed from 2 to 3`, true},
		{"timestamps in an array", `{"type":"array","items":` + tsMillis + `}`, `{"type":"array","items":` + tsMicros + `}`, `field "v[]": logical type changed from timestamp-millis to timestamp-micros`, true},
		{"decimals in a map", `{"type":"map","values":` + dec122 + `}`, `{"type":"map","values":` + dec123 + `}`, `field "v{}": decimal scale changed`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, r := field(tt.writer), field(tt.reader)
			errs := CheckCompatible(r, w)
			_, err := NewResolver(r).ForWriter(w)
			if tt.want == "" {
				if errs != nil || err != nil {
					t.Errorf("CheckCompatible: %v; ForWriter: %v; want compatible", errs, err)
				}
			} else {
				if errs == nil || !strings.Contains(errs.Error(), tt.want) {
					t.Errorf("CheckCompatible: %v; want %q", errs, tt.want)
				}
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("ForWriter: %v; want %q", err, tt.want)
				}
			}
			herr := avro.NewSchemaCompatibility().Compatible(hambaSchema(t, r), hambaSchema(t, w))
			if (herr == nil) != tt.hambaOK {
				t.Errorf("hamba's verdict changed: %v (recorded: compatible=%v); update the README's table", herr, tt.hambaOK)
			}
		})
	}
}

// TestDroppedLogicalTypeReadsTheWrittenValue: a reader without the
// logical type gets the underlying value the writer wrote.
func TestDroppedLogicalTypeReadsTheWrittenValue(t *testing.T) {
	w := rec("Order", `{"name":"day","type":{"type":"int","logicalType":"date"}}`, `{"name":"at","type":{"type":"long","logicalType":"timestamp-micros"}}`)
	r := rec("Order", `{"name":"day","type":"int"}`, `{"name":"at","type":"long"}`)
	src := AppendLong(AppendLong(nil, 19782), 1709212455123456)
	out := transcode(t, r, w, src)
	d := NewDecoder(out)
	if day, at := d.Int(), d.Long(); day != 19782 || at != 1709212455123456 {
		t.Errorf("read day %d at %d, want 19782 and 1709212455123456", day, at)
	}
}

// TestHambaAndGoavroReinterpretDecimals is the trap the rule above closes:
// 19.99 written as decimal(12,2) and read as decimal(12,3) is 1.999 to
// hamba's resolution and to goavro (which has no resolution and reads the
// bytes with the schema it is given); streamgen refuses the writer.
func TestHambaAndGoavroReinterpretDecimals(t *testing.T) {
	v1 := rec("Order", `{"name":"total","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}}`)
	v3 := rec("Order", `{"name":"total","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":3}}`)
	b := hambaMarshal(t, v1, map[string]any{"total": big.NewRat(1999, 100)})

	res, err := avro.NewSchemaCompatibility().Resolve(hambaSchema(t, v3), hambaSchema(t, v1))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := (avro.Config{}.Freeze()).Unmarshal(res, b, &got); err != nil {
		t.Fatal(err)
	}
	if r, ok := got["total"].(*big.Rat); !ok || r.Cmp(big.NewRat(1999, 1000)) != 0 {
		t.Errorf("hamba read %v; the test expected its reinterpretation 1.999", got["total"])
	}

	gc, err := goavro.NewCodec(v3)
	if err != nil {
		t.Fatal(err)
	}
	native, _, err := gc.NativeFromBinary(b)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := native.(map[string]any)["total"].(*big.Rat); !ok || r.Cmp(big.NewRat(1999, 1000)) != 0 {
		t.Errorf("goavro read %v; the test expected its reinterpretation 1.999", native)
	}

	if _, err := NewResolver(v3).ForWriter(v1); err == nil || !strings.Contains(err.Error(), "scale changed from 2 to 3") {
		t.Errorf("ForWriter: %v; want the writer refused naming both scales", err)
	}
}

// TestGoavroGivesTheSameBytesAnotherMeaning cross-checks, with goavro's
// logical types, that each pair called incompatible above does change the
// value the same bytes stand for.
func TestGoavroGivesTheSameBytesAnotherMeaning(t *testing.T) {
	at := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	tests := []struct {
		name           string
		writer, reader string
		written        any
	}{
		{"timestamp-millis read as -micros", `{"type":"long","logicalType":"timestamp-millis"}`, `{"type":"long","logicalType":"timestamp-micros"}`, at},
		{"timestamp-micros read as -millis", `{"type":"long","logicalType":"timestamp-micros"}`, `{"type":"long","logicalType":"timestamp-millis"}`, at},
		{"date read as time-millis", `{"type":"int","logicalType":"date"}`, `{"type":"int","logicalType":"time-millis"}`, at.Truncate(24 * time.Hour)},
		{"decimal scale 2 read as 3", `{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}`, `{"type":"bytes","logicalType":"decimal","precision":12,"scale":3}`, big.NewRat(1999, 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wc, err := goavro.NewCodec(tt.writer)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := goavro.NewCodec(tt.reader)
			if err != nil {
				t.Fatal(err)
			}
			b, err := wc.BinaryFromNative(nil, tt.written)
			if err != nil {
				t.Fatal(err)
			}
			asWritten, _, err := wc.NativeFromBinary(b)
			if err != nil {
				t.Fatal(err)
			}
			asRead, _, err := rc.NativeFromBinary(b)
			if err != nil {
				t.Fatal(err)
			}
			if sameValue(asWritten, asRead) {
				t.Errorf("goavro reads %v both ways: the pair does not change meaning", asRead)
			}
			w, r := rec("E", `{"name":"v","type":`+tt.writer+`}`), rec("E", `{"name":"v","type":`+tt.reader+`}`)
			if CheckCompatible(r, w) == nil {
				t.Error("CheckCompatible calls the pair compatible")
			}
		})
	}
}

func sameValue(a, b any) bool {
	switch a := a.(type) {
	case *big.Rat:
		br, ok := b.(*big.Rat)
		return ok && a.Cmp(br) == 0
	case time.Time:
		bt, ok := b.(time.Time)
		return ok && a.Equal(bt)
	case time.Duration:
		bd, ok := b.(time.Duration)
		return ok && a == bd
	}
	return a == b
}

// TestLogicalFingerprint: decimals of another scale share the
// specification's fingerprint but not the logical one, so the resolver
// never takes the fast path for them.
func TestLogicalFingerprint(t *testing.T) {
	a := rec("Order", `{"name":"total","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}}`)
	b := rec("Order", `{"name":"total","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":3}}`)
	c := rec("Order", `{"name":"total","doc":"same meaning","type":{"type":"bytes","scale":2,"precision":12,"logicalType":"decimal"}}`)
	fa, _ := Fingerprint(a)
	fb, _ := Fingerprint(b)
	if fa != fb {
		t.Fatalf("Fingerprint differs (%x, %x): the premise of this test is gone", fa, fb)
	}
	la, _ := LogicalFingerprint(a)
	lb, _ := LogicalFingerprint(b)
	lc, _ := LogicalFingerprint(c)
	if la == lb {
		t.Error("LogicalFingerprint does not tell scale 2 from scale 3")
	}
	if la != lc {
		t.Error("LogicalFingerprint depends on attribute order or doc")
	}
	if res, err := NewResolver(b).ForWriter(a); res != nil || err == nil {
		t.Errorf("ForWriter = %v, %v; want the writer refused", res, err)
	}
	if res, err := NewResolver(a).ForWriter(c); res != nil || err != nil {
		t.Errorf("ForWriter(same meaning) = %v, %v; want the fast path", res, err)
	}
}
