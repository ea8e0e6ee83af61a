package generated_test

// The round-trip tests check the code generated for the sample schemas
// (cases/alltypes) against hamba/avro, an independent implementation: random
// values encoded by one must decode, and re-encode byte for byte, with the
// other.

import (
	"bytes"
	"hash/fnv"
	"math"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
)

func TestMain(m *testing.M) {
	// hamba/avro reads and writes local-timestamp-* in time.Local; the
	// generated code treats them as UTC. Pin Local so the two agree.
	time.Local = time.UTC
	os.Exit(m.Run())
}

// record is what the generator emits for every Avro record type.
type record interface {
	AppendAvro(dst []byte) ([]byte, error)
	UnmarshalAvro(src []byte) error
}

type recordType struct {
	name   string
	schema string
	new    func() record
	// hambaStruct: hamba/avro can decode into and encode the generated struct
	// through its avro tags (it has no sealed-interface unions).
	hambaStruct bool
	// generic converts a decoded value to hamba's generic representation,
	// for types hamba cannot handle as structs.
	generic func(record) any
}

var recordTypes = []recordType{
	{name: "Impression", schema: alltypes.ImpressionSchema, new: func() record { return new(alltypes.Impression) }, hambaStruct: true},
	{name: "AllTypes", schema: alltypes.AllTypesSchema, new: func() record { return new(alltypes.AllTypes) }, generic: func(r record) any { return allTypesGeneric(r.(*alltypes.AllTypes)) }},
	{name: "Click", schema: alltypes.ClickSchema, new: func() record { return new(alltypes.Click) }, hambaStruct: true},
	{name: "Event", schema: alltypes.EventSchema, new: func() record { return new(alltypes.Event) }, hambaStruct: true},
	{name: "LinkedList", schema: alltypes.LinkedListSchema, new: func() record { return new(alltypes.LinkedList) }, hambaStruct: true},
	{name: "Tree", schema: alltypes.TreeSchema, new: func() record { return new(alltypes.Tree) }, hambaStruct: true},
	{name: "Pair", schema: alltypes.PairSchema, new: func() record { return new(alltypes.Pair) }, hambaStruct: true},
	{name: "GeoPoint", schema: alltypes.GeoPointSchema, new: func() record { return new(alltypes.GeoPoint) }, hambaStruct: true},
	{name: "AlphaUser", schema: alltypes.AlphaUserSchema, new: func() record { return new(alltypes.AlphaUser) }, hambaStruct: true},
	{name: "BetaUser", schema: alltypes.BetaUserSchema, new: func() record { return new(alltypes.BetaUser) }, hambaStruct: true},
}

const roundTripIterations = 200

// hamba's encodings. hambaFlat writes each array and map as one block of
// item count, like the generated code, so the two can be compared byte for
// byte. The default config also writes each block's size in bytes, and
// hambaSmallBlocks splits collections into blocks of two items: the
// generated decoder must read all three.
var (
	hambaFlat        = avro.Config{DisableBlockSizeHeader: true}.Freeze()
	hambaSized       = avro.DefaultConfig
	hambaSmallBlocks = avro.Config{BlockLength: 2}.Freeze()
)

// cmpOpts compares decoded values: nil and empty collections are the same
// datum, decimals compare by value, and NaN equals NaN.
var cmpOpts = cmp.Options{
	cmpopts.EquateEmpty(),
	cmpopts.EquateNaNs(),
	cmp.Comparer(func(a, b *big.Rat) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.Cmp(b) == 0
	}),
}

// parseSchema parses s as avro.Parse does, but with a cache of its own: in
// hamba's global cache, the differing writer schema of the resolution
// benchmark would replace the named types of the generated schemas.
func parseSchema(t testing.TB, s string) avro.Schema {
	t.Helper()
	schema, err := avro.ParseWithCache(s, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("parsing schema: %v", err)
	}
	return schema
}

// seedFor gives every test and type its own fixed seed.
func seedFor(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// TestRoundTripHamba encodes random values with hamba/avro and checks that
// the generated code decodes them to the same value and encodes that value
// to the same bytes. Maps hold at most one key, as hamba writes keys in Go's
// random map order.
func TestRoundTripHamba(t *testing.T) {
	for _, rt := range recordTypes {
		t.Run(rt.name, func(t *testing.T) {
			schema := parseSchema(t, rt.schema)
			g := newValueGen(seedFor(t.Name()), 1)
			for i := range roundTripIterations {
				want := g.value(schema, "", 0)
				b1, got, b2 := roundTrip(t, i, rt, schema, want)
				if !bytes.Equal(b1, b2) {
					t.Fatalf("#%d: AppendAvro differs from hamba's encoding\nhamba:     %x\ngenerated: %x\nvalue: %+v", i, b1, b2, got)
				}
				if rt.hambaStruct {
					b3, err := hambaFlat.Marshal(schema, got)
					if err != nil {
						t.Fatalf("#%d: hamba Marshal of the generated struct: %v", i, err)
					}
					if !bytes.Equal(b3, b2) {
						t.Fatalf("#%d: hamba's encoding of the generated struct differs from AppendAvro\nhamba:     %x\ngenerated: %x", i, b3, b2)
					}
				}
			}
			checkCoverage(t, g, schema, 1)
		})
	}
}

// TestRoundTripMultiKeyMaps covers maps of several keys, whose encoding
// depends on key order: hamba writes them in random order, the generated code
// sorted. Both encodings must decode, with either implementation, to the
// value drawn.
func TestRoundTripMultiKeyMaps(t *testing.T) {
	for _, rt := range recordTypes {
		switch rt.name {
		case "Impression", "AllTypes", "Tree":
		default:
			continue
		}
		t.Run(rt.name, func(t *testing.T) {
			schema := parseSchema(t, rt.schema)
			g := newValueGen(seedFor(t.Name()), 4)
			for i := range roundTripIterations {
				want := g.value(schema, "", 0)
				b1, got, b2 := roundTrip(t, i, rt, schema, want)
				if len(b2) != len(b1) {
					t.Fatalf("#%d: AppendAvro wrote %d bytes, hamba %d", i, len(b2), len(b1))
				}
				var back map[string]any
				if err := hambaFlat.Unmarshal(schema, b2, &back); err != nil {
					t.Fatalf("#%d: hamba Unmarshal of AppendAvro's bytes: %v\nbytes: %x", i, err, b2)
				}
				if diff := cmp.Diff(want, back, cmpOpts); diff != "" {
					t.Fatalf("#%d: hamba decodes AppendAvro's bytes to another value (-drawn +decoded):\n%s", i, diff)
				}
				again := rt.new()
				if err := again.UnmarshalAvro(b2); err != nil {
					t.Fatalf("#%d: UnmarshalAvro of AppendAvro's bytes: %v", i, err)
				}
				if diff := cmp.Diff(got, again, cmpOpts); diff != "" {
					t.Fatalf("#%d: value changed in a round trip (-first +second):\n%s", i, diff)
				}
			}
			checkCoverage(t, g, schema, 4)
		})
	}
}

// roundTrip encodes want, value #i, with hamba (b1), decodes b1 with the
// generated code (got) and encodes got again (b2). It checks got against
// want, against hamba's decoding of b1, and against the generated decoding
// of hamba's other encodings of want.
func roundTrip(t *testing.T, i int, rt recordType, schema avro.Schema, want any) (b1 []byte, got record, b2 []byte) {
	t.Helper()
	b1, err := hambaFlat.Marshal(schema, want)
	if err != nil {
		t.Fatalf("#%d: hamba Marshal: %v\nvalue: %#v", i, err, want)
	}
	got = rt.new()
	if err := got.UnmarshalAvro(b1); err != nil {
		t.Fatalf("#%d: UnmarshalAvro: %v\nbytes: %x", i, err, b1)
	}
	var back map[string]any
	if err := hambaFlat.Unmarshal(schema, b1, &back); err != nil {
		t.Fatalf("#%d: hamba Unmarshal: %v", i, err)
	}
	// Checks the test itself: valueGen must draw hamba's generic shapes.
	if diff := cmp.Diff(want, back, cmpOpts); diff != "" {
		t.Fatalf("#%d: valueGen drew a value hamba does not decode back to itself (-drawn +decoded):\n%s", i, diff)
	}
	if rt.generic != nil {
		if diff := cmp.Diff(want, rt.generic(got), cmpOpts); diff != "" {
			t.Fatalf("#%d: UnmarshalAvro decoded another value (-hamba +generated):\n%s", i, diff)
		}
	}
	if rt.hambaStruct {
		hs := rt.new()
		if err := hambaFlat.Unmarshal(schema, b1, hs); err != nil {
			t.Fatalf("#%d: hamba Unmarshal into the generated struct: %v", i, err)
		}
		if diff := cmp.Diff(hs, got, cmpOpts); diff != "" {
			t.Fatalf("#%d: UnmarshalAvro decoded another value than hamba (-hamba +generated):\n%s", i, diff)
		}
	}
	for _, enc := range []struct {
		name string
		api  avro.API
	}{{"block sizes", hambaSized}, {"blocks of 2 items", hambaSmallBlocks}} {
		b, err := enc.api.Marshal(schema, want)
		if err != nil {
			t.Fatalf("#%d: hamba Marshal with %s: %v", i, enc.name, err)
		}
		other := rt.new()
		if err := other.UnmarshalAvro(b); err != nil {
			t.Fatalf("#%d: UnmarshalAvro of hamba's encoding with %s: %v\nbytes: %x", i, enc.name, err, b)
		}
		if diff := cmp.Diff(got, other, cmpOpts); diff != "" {
			t.Fatalf("#%d: UnmarshalAvro of hamba's encoding with %s decoded another value (-flat +%s):\n%s", i, enc.name, enc.name, diff)
		}
	}
	if b2, err = got.AppendAvro(nil); err != nil {
		t.Fatalf("#%d: AppendAvro: %v\nvalue: %+v", i, err, got)
	}
	return b1, got, b2
}

// checkCoverage fails if the random values missed a union branch, an empty or
// non-empty collection, a negative decimal or a side of 1970.
func checkCoverage(t *testing.T, g *valueGen, schema avro.Schema, maxKeys int) {
	t.Helper()
	for _, goal := range coverageGoals(schema, maxKeys) {
		if !g.seen[goal] {
			t.Errorf("random values never reached %q", goal)
		}
	}
}

// allTypesGeneric is hamba's generic representation of v.
func allTypesGeneric(v *alltypes.AllTypes) map[string]any {
	var u any
	switch x := v.U.(type) {
	case alltypes.AllTypesUString:
		u = map[string]any{"string": x.Value}
	case alltypes.AllTypesULong:
		u = map[string]any{"long": x.Value}
	case alltypes.AllTypesUPair:
		u = map[string]any{"org.streamgen.test.Pair": pairGeneric(x.Value)}
	case alltypes.AllTypesUArray:
		u = map[string]any{"array": ints(x.Value)}
	}
	var uNull any
	switch x := v.UNull.(type) {
	case alltypes.AllTypesUNullInt:
		uNull = map[string]any{"int": int(x.Value)}
	case alltypes.AllTypesUNullString:
		uNull = map[string]any{"string": x.Value}
	case alltypes.AllTypesUNullSuit:
		uNull = map[string]any{"org.streamgen.test.Suit": string(x.Value)}
	}
	arrU := make([]any, len(v.ArrU))
	for i, item := range v.ArrU {
		switch x := item.(type) {
		case alltypes.AllTypesArrUItemDouble:
			arrU[i] = x.Value
		case alltypes.AllTypesArrUItemString:
			arrU[i] = x.Value
		}
	}
	arr := make([]any, len(v.Arr))
	for i, x := range v.Arr {
		arr[i] = x
	}
	arrRec := make([]any, len(v.ArrRec))
	for i, p := range v.ArrRec {
		arrRec[i] = pairGeneric(p)
	}
	m := map[string]any{}
	for k, x := range v.M {
		m[k] = x
	}
	mRec := map[string]any{}
	for k, p := range v.MRec {
		mRec[k] = pairGeneric(p)
	}
	nested := make([]any, len(v.NestedArr))
	for i, inner := range v.NestedArr {
		items := make([]any, len(inner))
		for j, s := range inner {
			items[j] = s
		}
		nested[i] = items
	}
	return map[string]any{
		"b":          v.B,
		"i":          int(v.I),
		"l":          v.L,
		"f":          v.F,
		"d":          v.D,
		"by":         v.By,
		"s":          v.S,
		"n":          nil,
		"e":          string(v.E),
		"fx":         [4]byte(v.Fx),
		"arr":        arr,
		"arr_rec":    arrRec,
		"m":          m,
		"m_rec":      mRec,
		"nested_arr": nested,
		"opt_first":  plain(v.OptFirst),
		"opt_last":   plain(v.OptLast),
		"opt_rec":    optional("org.streamgen.test.Pair", v.OptRec, func(p alltypes.Pair) any { return pairGeneric(p) }),
		"opt_enum":   optional("org.streamgen.test.Suit", v.OptEnum, func(s alltypes.Suit) any { return string(s) }),
		"opt_fixed":  optional("org.streamgen.test.Hash4", v.OptFixed, func(h alltypes.Hash4) any { return [4]byte(h) }),
		"opt_arr":    optional("array", v.OptArr, func(a []int32) any { return ints(a) }),
		"u":          u,
		"u_null":     uNull,
		"arr_u":      arrU,
		"ts_ms":      v.TsMs,
		"ts_us":      v.TsUs,
		"lts_ms":     v.LtsMs,
		"lts_us":     v.LtsUs,
		"date":       v.Date,
		"t_ms":       v.TMs,
		"t_us":       v.TUs,
		"dec_bytes":  v.DecBytes,
		"dec_fixed":  v.DecFixed,
		"opt_dec":    plain(ratPtr(v.OptDec)),
		"uuid":       v.UUID,
		"dur":        avro.LogicalDuration{Months: v.Dur.Months, Days: v.Dur.Days, Milliseconds: v.Dur.Milliseconds},
		"opt_ts":     plain(v.OptTs),
		"type":       v.Type,
		"func":       int(v.Func),
	}
}

func pairGeneric(p alltypes.Pair) map[string]any {
	return map[string]any{"k": p.K, "v": int(p.V)}
}

func ints(a []int32) []any {
	out := make([]any, len(a))
	for i, x := range a {
		out[i] = int(x)
	}
	return out
}

// optional is the generic form of a ["null", T] union held as *T that hamba
// decodes to a map[string]any{branch: value}.
func optional[T any](branch string, p *T, conv func(T) any) any {
	if p == nil {
		return nil
	}
	return map[string]any{branch: conv(*p)}
}

// plain is the generic form of a ["null", T] union that hamba decodes to the
// plain value (see hambaPlainUnion).
func plain[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// ratPtr adapts an optional decimal, held as a possibly nil *big.Rat, to plain.
func ratPtr(r *big.Rat) **big.Rat {
	if r == nil {
		return nil
	}
	return &r
}

// TestDecodeNonMinimalDecimal: hamba writes -128 (and every -2^(8k-1)) with
// a redundant sign byte, 0xff80; the generated code must read it and write
// the shortest form back.
func TestDecodeNonMinimalDecimal(t *testing.T) {
	schema := parseSchema(t, alltypes.ImpressionSchema)
	var v alltypes.Impression
	v.Device = alltypes.DeviceTypePhone
	v.BidPrice = big.NewRat(-128, 1_000_000)
	hb, err := hambaFlat.Marshal(schema, &v)
	if err != nil {
		t.Fatal(err)
	}
	var got alltypes.Impression
	if err := got.UnmarshalAvro(hb); err != nil {
		t.Fatalf("UnmarshalAvro(%x): %v", hb, err)
	}
	if got.BidPrice.Cmp(v.BidPrice) != 0 {
		t.Errorf("bid_price = %s, want %s", got.BidPrice.RatString(), v.BidPrice.RatString())
	}
	gb, err := got.AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(gb) != len(hb)-1 {
		t.Errorf("AppendAvro wrote %d bytes, want the %d of hamba's encoding less its redundant sign byte\nhamba:     %x\ngenerated: %x", len(gb), len(hb), hb, gb)
	}
}

// TestAppendAvroRejectsUnencodable: values with no Avro encoding are errors,
// not silently wrong bytes.
func TestAppendAvroRejectsUnencodable(t *testing.T) {
	valid := func() *alltypes.AllTypes {
		return &alltypes.AllTypes{
			E:        alltypes.SuitHearts,
			U:        alltypes.AllTypesULong{Value: 1},
			DecBytes: big.NewRat(-1, 4),
			DecFixed: big.NewRat(5, 2),
		}
	}
	if _, err := valid().AppendAvro(nil); err != nil {
		t.Fatalf("AppendAvro of a valid value: %v", err)
	}
	tests := []struct {
		name   string
		modify func(v *alltypes.AllTypes)
	}{
		{"nil union without null branch", func(v *alltypes.AllTypes) { v.U = nil }},
		{"unknown enum symbol", func(v *alltypes.AllTypes) { v.E = "JOKERS" }},
		{"unknown enum symbol in optional", func(v *alltypes.AllTypes) { s := alltypes.Suit("jokers"); v.OptEnum = &s }},
		{"unknown enum symbol in union", func(v *alltypes.AllTypes) { v.UNull = alltypes.AllTypesUNullSuit{Value: ""} }},
		{"nil decimal", func(v *alltypes.AllTypes) { v.DecBytes = nil }},
		{"decimal beyond scale", func(v *alltypes.AllTypes) { v.DecBytes = big.NewRat(1, 10_000) }},
		{"decimal beyond precision", func(v *alltypes.AllTypes) { v.DecBytes = big.NewRat(10_000_000, 1) }},
		{"fixed decimal beyond precision", func(v *alltypes.AllTypes) { v.DecFixed = big.NewRat(1e16, 1) }},
		{"optional decimal beyond precision", func(v *alltypes.AllTypes) { v.OptDec = big.NewRat(1000, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := valid()
			tt.modify(v)
			dst := []byte("prefix")
			out, err := v.AppendAvro(dst)
			if err == nil {
				t.Fatalf("AppendAvro succeeded: %x", out)
			}
			if string(out) != "prefix" {
				t.Errorf("AppendAvro returned %q on error, want dst unchanged", out)
			}
		})
	}
}

// TestTimeValuesRoundTrip pins the conversions of the time types at the
// edges the random values only sometimes reach: before 1970, with
// sub-unit parts that must round toward the past.
func TestTimeValuesRoundTrip(t *testing.T) {
	ts := time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC) // -1ns: millis -1, micros -1
	v := &alltypes.AllTypes{
		E:        alltypes.SuitClubs,
		U:        alltypes.AllTypesUString{Value: "x"},
		TsMs:     ts,
		TsUs:     ts,
		Date:     time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
		TMs:      1500 * time.Microsecond,
		DecBytes: new(big.Rat),
		DecFixed: big.NewRat(-1, 100),
	}
	b, err := v.AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got alltypes.AllTypes
	if err := got.UnmarshalAvro(b); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]any{
		"ts_ms": {got.TsMs, time.UnixMilli(-1).UTC()},
		"ts_us": {got.TsUs, time.UnixMicro(-1).UTC()},
		"date":  {got.Date, time.Unix(-86400, 0).UTC()},
		"t_ms":  {got.TMs, time.Millisecond},
	}
	for name, w := range want {
		if !cmp.Equal(w[0], w[1]) {
			t.Errorf("%s = %v, want %v", name, w[0], w[1])
		}
	}
	if got.DecFixed.Cmp(big.NewRat(-1, 100)) != 0 {
		t.Errorf("dec_fixed = %s, want -1/100", got.DecFixed.RatString())
	}
	if loc := got.TsMs.Location(); loc != time.UTC {
		t.Errorf("ts_ms location = %v, want UTC", loc)
	}
}

// TestTimeMicrosBeyondDurationRange: a time-micros value too large for a
// time.Duration (beyond ±2^63 ns, about 106751 days) must not decode to
// another value. It must either be an error or survive a round trip; the
// test fails while the decoder wraps it silently.
func TestTimeMicrosBeyondDurationRange(t *testing.T) {
	// The same encoding as AllTypesSchema, with t_us a plain long.
	plain := strings.Replace(alltypes.AllTypesSchema, `"logicalType": "time-micros"`, `"logicalType": "none"`, 1)
	if plain == alltypes.AllTypesSchema {
		t.Fatal("AllTypesSchema has no time-micros field any more")
	}
	schema := parseSchema(t, plain)
	g := newValueGen(seedFor(t.Name()), 1)
	for _, us := range []int64{1e16, 1 << 62, math.MaxInt64, math.MinInt64} {
		datum := g.value(schema, "", 0).(map[string]any)
		datum["t_us"] = us
		in, err := hambaFlat.Marshal(schema, datum)
		if err != nil {
			t.Fatal(err)
		}
		var v alltypes.AllTypes
		if err := v.UnmarshalAvro(in); err != nil {
			continue // rejecting the value is fine
		}
		out, err := v.AppendAvro(nil)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := hambaFlat.Unmarshal(schema, out, &back); err != nil {
			t.Fatal(err)
		}
		if back["t_us"] != us {
			t.Errorf("t_us %d µs decoded to TUs = %v (%d ns), which encodes as %d µs\ninput: %x", us, v.TUs, int64(v.TUs), back["t_us"], in)
		}
	}
}
