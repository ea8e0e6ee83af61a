package generated_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
)

// jsonRecord is a generated record with its JSON methods.
type jsonRecord interface {
	record
	json.Unmarshaler
}

// checkJSONRoundTrip checks that v survives MarshalJSON and UnmarshalJSON:
// the same value, the same Avro bytes, and a JSON object keyed by the
// schema's field names in schema order. It returns the JSON.
func checkJSONRoundTrip(t *testing.T, schema avro.Schema, v jsonRecord, fresh func() jsonRecord) []byte {
	t.Helper()
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v\nvalue: %+v", err, v)
	}
	if !json.Valid(js) {
		t.Fatalf("MarshalJSON wrote invalid JSON: %s", js)
	}
	var names []string
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.Token()
	for dec.More() {
		tok, _ := dec.Token()
		names = append(names, tok.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	var want []string
	for _, f := range schema.(*avro.RecordSchema).Fields() {
		want = append(want, f.Name())
	}
	if !slices.Equal(names, want) {
		t.Fatalf("JSON keys %q, want the Avro field names %q", names, want)
	}
	back := fresh()
	if err := json.Unmarshal(js, back); err != nil {
		t.Fatalf("json.Unmarshal of %s: %v", js, err)
	}
	if diff := cmp.Diff(v, back, cmpOpts); diff != "" {
		t.Fatalf("value changed by MarshalJSON and UnmarshalJSON (-before +after):\n%s\nJSON: %s", diff, js)
	}
	b1, err1 := v.AppendAvro(nil)
	b2, err2 := back.AppendAvro(nil)
	if (err1 == nil) != (err2 == nil) || !bytes.Equal(b1, b2) {
		t.Fatalf("Avro encoding changed by the JSON round trip: %x (%v), then %x (%v)", b1, err1, b2, err2)
	}
	js2, err := json.Marshal(back)
	if err != nil || !bytes.Equal(js, js2) {
		t.Fatalf("MarshalJSON is not stable: %s, then %s (%v)", js, js2, err)
	}
	return js
}

// TestJSONRoundTrip draws random values of every sample record (hamba
// encodes them, the generated code decodes them) and checks their JSON
// round trip.
func TestJSONRoundTrip(t *testing.T) {
	for _, rt := range recordTypes {
		t.Run(rt.name, func(t *testing.T) {
			schema := parseSchema(t, rt.schema)
			g := newValueGen(seedFor(t.Name()), 3)
			fresh := func() jsonRecord { return rt.new().(jsonRecord) }
			for i := range roundTripIterations {
				b, err := hambaFlat.Marshal(schema, g.value(schema, "", 0))
				if err != nil {
					t.Fatal(err)
				}
				v := fresh()
				if err := v.UnmarshalAvro(b); err != nil {
					t.Fatalf("#%d: %v", i, err)
				}
				checkJSONRoundTrip(t, schema, v, fresh)
			}
		})
	}
	t.Run("Defaults", func(t *testing.T) {
		v := alltypes.NewDefaults()
		checkJSONRoundTrip(t, parseSchema(t, alltypes.DefaultsSchema), &v, func() jsonRecord { return new(alltypes.Defaults) })
	})
}

// TestImpressionJSON pins the JSON of the benchmark Impression, the form
// the README documents, and checks the fields whose JSON is the same in
// Avro's JSON encoding against goavro's.
func TestImpressionJSON(t *testing.T) {
	in := newBenchInputs(t)
	js, err := json.Marshal(in.value) // a value, not a pointer: MarshalJSON has a value receiver
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"impression_id":"3f2c8a9e-5b1d-4e7f-9a6c-0d8b2e4f1a73","campaign_id":48213977,"creative_id":902114,` +
		`"publisher_id":"pub-example-com","timestamp":"2026-03-14T15:09:26.535Z","device":"PHONE",` +
		`"geo":{"lat":48.8566,"lon":2.3522,"country":"FR"},` +
		`"user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",` +
		`"bid_price":"1.254300","floor_price":0.35,"viewable":true,` +
		`"segments":["auto-intenders","sports-fans","frequent-travelers","early-adopters","parents"],` +
		`"labels":{"exchange":"openx","page_type":"article","placement":"above-the-fold"},"latency_ms":37,` +
		`"fingerprint":"nhB9nTcrtoJr2B01QqQZ1g=="}`
	if string(js) != want {
		t.Errorf("JSON of the benchmark Impression:\n%s\nwant\n%s", js, want)
	}

	native, _, err := in.goavro.NativeFromBinary(in.data)
	if err != nil {
		t.Fatal(err)
	}
	textual, err := in.goavro.TextualFromNative(nil, native)
	if err != nil {
		t.Fatal(err)
	}
	var ours, theirs map[string]any
	if err := json.Unmarshal(js, &ours); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(textual, &theirs); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"impression_id", "campaign_id", "creative_id", "publisher_id", "device", "geo", "viewable", "segments", "labels", "latency_ms"} {
		if diff := cmp.Diff(theirs[f], ours[f]); diff != "" {
			t.Errorf("field %s differs from goavro's Avro JSON (-goavro +generated):\n%s", f, diff)
		}
	}
}

// TestJSONErrors: what does not read names the field and the problem.
func TestJSONErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"device": "RADIO"}`, `field device: "RADIO" is not a symbol of enum com.example.ads.DeviceType`},
		{`{"bid_price": "1/3"}`, `field bid_price: JSON "1/3" is not a decimal string`},
		{`{"fingerprint": "AAEC"}`, `field fingerprint: JSON "AAEC" is not 16 bytes in base64: 3 bytes`},
		{`{"geo": {"lat": "north"}}`, `field geo.lat: JSON "north" is not a number`},
		{`[1]`, `JSON [1] is not an object`},
	} {
		var v alltypes.Impression
		err := json.Unmarshal([]byte(c.in), &v)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
			t.Errorf("UnmarshalJSON(%s) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
	bad := alltypes.NewImpression()
	bad.BidPrice.SetFrac64(1, 3)
	if _, err := json.Marshal(bad); err == nil || !bytes.Contains([]byte(err.Error()), []byte("bid_price")) {
		t.Errorf("MarshalJSON of a decimal finer than its scale: %v, want an error naming bid_price", err)
	}
	var u alltypes.AllTypes
	if err := json.Unmarshal([]byte(`{"u": {"boolean": true}}`), &u); err == nil || !bytes.Contains([]byte(err.Error()), []byte(`no such union branch "boolean"`)) {
		t.Errorf("unknown union branch: %v", err)
	}
}

// FuzzAllTypesJSON: whatever JSON UnmarshalJSON accepts must survive
// MarshalJSON and UnmarshalJSON unchanged.
func FuzzAllTypesJSON(f *testing.F) {
	schema := parseSchema(f, alltypes.AllTypesSchema)
	g := newValueGen(seedFor(f.Name()), 2)
	for range 20 {
		b, err := hambaFlat.Marshal(schema, g.value(schema, "", 0))
		if err != nil {
			f.Fatal(err)
		}
		var v alltypes.AllTypes
		if err := v.UnmarshalAvro(b); err != nil {
			f.Fatal(err)
		}
		js, err := json.Marshal(&v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(js)
	}
	f.Fuzz(func(t *testing.T, js []byte) {
		var v alltypes.AllTypes
		if json.Unmarshal(js, &v) != nil {
			return
		}
		if _, err := json.Marshal(&v); err != nil {
			return // a decimal finer than its scale: read, not written
		}
		checkJSONRoundTrip(t, schema, &v, func() jsonRecord { return new(alltypes.AllTypes) })
	})
}
