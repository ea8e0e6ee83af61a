package generated_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
)

// TestNewDefaultsMatchesHamba checks NewDefaults (schemas/defaults.avsc, a
// default for every kind of field) against hamba/avro's reading of the
// defaults: hamba resolves a writer with no fields against the schema, so
// that every field takes its default, and encodes what it read; the
// generated NewDefaults must encode to the same bytes and decode from them
// to itself.
func TestNewDefaultsMatchesHamba(t *testing.T) {
	reader := parseSchema(t, alltypes.DefaultsSchema)
	writer := parseSchema(t, `{"type": "record", "name": "org.streamgen.test.Defaults", "fields": []}`)
	resolved, err := avro.NewSchemaCompatibility().Resolve(reader, writer)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := hambaFlat.Unmarshal(resolved, nil, &m); err != nil {
		t.Fatalf("hamba reading the defaults: %v", err)
	}
	// hamba reads a time-micros default as a time.Duration of that many
	// nanoseconds, not microseconds (the specification's unit, and what it
	// does for data), which also drops the sub-millisecond digits: the
	// schema's t_us default is a whole number of milliseconds, and the test
	// undoes the slip.
	if d, ok := m["t_us"].(time.Duration); ok {
		m["t_us"] = d * 1000
	} else {
		t.Fatalf("hamba read the t_us default as %T, want time.Duration", m["t_us"])
	}
	want, err := hambaFlat.Marshal(reader, m)
	if err != nil {
		t.Fatalf("hamba encoding the defaults it read: %v", err)
	}
	v := alltypes.NewDefaults()
	got, err := v.AppendAvro(nil)
	if err != nil {
		t.Fatalf("NewDefaults does not encode: %v", err)
	}
	// hamba writes map keys in random order: compare the bytes through
	// hamba's reading of them, not the bytes.
	var ours map[string]any
	if err := hambaFlat.Unmarshal(reader, got, &ours); err != nil {
		t.Fatalf("hamba reading NewDefaults' encoding: %v", err)
	}
	if diff := cmp.Diff(m, ours, cmpOpts); diff != "" {
		t.Errorf("hamba reads NewDefaults' encoding as other values than its own defaults (-defaults +NewDefaults):\n%s", diff)
	}
	if len(got) != len(want) {
		t.Errorf("NewDefaults encodes to\n%x\nhamba's defaults are\n%x", got, want)
	}
	var back alltypes.Defaults
	if err := back.UnmarshalAvro(want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(back, v, cmpOpts); diff != "" {
		t.Errorf("NewDefaults differs from hamba's defaults decoded (-hamba +NewDefaults):\n%s", diff)
	}
	// And the generated resolution agrees with both.
	var resolvedGen alltypes.Defaults
	if err := resolvedGen.UnmarshalAvroFrom(`{"type": "record", "name": "org.streamgen.test.Defaults", "fields": []}`, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(resolvedGen, v, cmpOpts); diff != "" {
		t.Errorf("NewDefaults differs from UnmarshalAvroFrom of a writer without fields:\n%s", diff)
	}
}

// TestNewImpressionEncodes: the fields without a default get values that
// encode (the nested GeoPoint its own defaults, the enum its default symbol,
// the decimal zero), and the fields with one have it.
func TestNewImpressionEncodes(t *testing.T) {
	v := alltypes.NewImpression()
	if _, err := v.AppendAvro(nil); err != nil {
		t.Fatalf("NewImpression does not encode: %v", err)
	}
	if v.Geo.Country != "ZZ" {
		t.Errorf("nested GeoPoint's country = %q, want its default ZZ", v.Geo.Country)
	}
	if v.Device != alltypes.DeviceTypeUnknown {
		t.Errorf("device = %q, want the enum's default UNKNOWN", v.Device)
	}
	if v.BidPrice == nil || v.BidPrice.Sign() != 0 {
		t.Errorf("bid_price = %v, want 0", v.BidPrice)
	}
	if v.Labels == nil {
		t.Error("labels is nil, want the default {} (a map one can add to)")
	}
}

// TestZeroEnumErrorNamesField: the zero value of a record with an enum does
// not encode, and the error says which record and field to set.
func TestZeroEnumErrorNamesField(t *testing.T) {
	v := alltypes.Impression{BidPrice: alltypes.NewImpression().BidPrice}
	_, err := v.AppendAvro(nil)
	if err == nil {
		t.Fatal("the zero Impression encodes; its device enum is unset")
	}
	for _, want := range []string{"com.example.ads.Impression", "device", "com.example.ads.DeviceType", "unset", "NewImpression"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// Nested: the path goes through the outer field.
	d := alltypes.NewDefaults()
	d.Point.Tag = ""
	_, err = d.AppendAvro(nil)
	if err == nil || !strings.Contains(err.Error(), "point.tag") {
		t.Errorf("unset nested enum: error %v, want one naming point.tag", err)
	}
}
