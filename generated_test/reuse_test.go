package generated_test

import (
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/generated_test/cases/projection/projection"
	"github.com/streamgen/streamgen/runtime/codec"
)

// TestDecodeIntoReused: decoding into a record that holds an earlier
// datum (its slices, maps, pointers and decimals reused, as the engine
// reuses a batch's records) gives what decoding into a new record gives,
// whichever datum came before; strings shared through a codec.Strings
// are the same strings. A Clone taken before the next decode keeps the
// earlier datum: it shares nothing with the record.
func TestDecodeIntoReused(t *testing.T) {
	for _, rt := range recordTypes {
		t.Run(rt.name, func(t *testing.T) {
			schema := parseSchema(t, rt.schema)
			g := newValueGen(seedFor(t.Name()), 3)
			reused := rt.new()
			var strs codec.Strings
			var prevClone record
			var prevWant record
			for i := range roundTripIterations {
				b, err := hambaFlat.Marshal(schema, g.value(schema, "", 0))
				if err != nil {
					t.Fatalf("#%d: hamba Marshal: %v", i, err)
				}
				want := rt.new()
				if err := want.UnmarshalAvro(b); err != nil {
					t.Fatalf("#%d: UnmarshalAvro into a new record: %v", i, err)
				}
				d := codec.NewDecoder(b)
				d.ShareStrings(&strs)
				reused.(interface{ DecodeAvro(*codec.Decoder) }).DecodeAvro(&d)
				if err := d.Finish(); err != nil {
					t.Fatalf("#%d: DecodeAvro into a reused record: %v", i, err)
				}
				if diff := cmp.Diff(want, reused, cmpOpts); diff != "" {
					t.Fatalf("#%d: decoding into a reused record differs from decoding into a new one (-new +reused):\n%s", i, diff)
				}
				if prevClone != nil {
					if diff := cmp.Diff(prevWant, prevClone, cmpOpts); diff != "" {
						t.Fatalf("#%d: the Clone of the previous datum changed when the record was decoded into again (-want +clone):\n%s", i, diff)
					}
				}
				c := reflect.ValueOf(reused).MethodByName("Clone").Call(nil)[0]
				p := reflect.New(c.Type())
				p.Elem().Set(c)
				prevClone, prevWant = p.Interface().(record), want
				if diff := cmp.Diff(want, prevClone, cmpOpts); diff != "" {
					t.Fatalf("#%d: Clone differs from its record (-record +clone):\n%s", i, diff)
				}
			}
		})
	}
}

// TestReusedDecodeAllocatesNothing: the benchmark Impression decoded
// again and again into one record, its strings shared through a
// codec.Strings as the engine shares them, allocates nothing but a
// Strings block now and then (an 8 KiB block holds about 25 of its
// datums).
func TestReusedDecodeAllocatesNothing(t *testing.T) {
	in := newBenchInputs(t)
	var v alltypes.Impression
	var strs codec.Strings
	decode := func() {
		d := codec.NewDecoder(in.data)
		d.ShareStrings(&strs)
		v.DecodeAvro(&d)
		if err := d.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	decode()
	if n := testing.AllocsPerRun(1000, decode); n > 0.1 {
		t.Errorf("decoding into a reused Impression allocates %.2f times per datum, want only a Strings block now and then", n)
	}
	if diff := cmp.Diff(in.value, v, cmpOpts); diff != "" {
		t.Errorf("decoded another value (-want +got):\n%s", diff)
	}
}

// TestProjectionClone: a projected value's Clone keeps its value while
// the value it came from is decoded into again.
func TestProjectionClone(t *testing.T) {
	first, second := benchImpression(), benchImpression()
	second.CampaignID, second.Geo.Country = 7, "DE"
	b1, err := first.AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := second.AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	var p projection.ImpressionsValue
	if err := p.UnmarshalAvro(b1); err != nil {
		t.Fatal(err)
	}
	c := p.Clone()
	if err := p.UnmarshalAvro(b2); err != nil {
		t.Fatal(err)
	}
	if c.CampaignID != first.CampaignID || c.Geo.Country != first.Geo.Country || !c.Timestamp.Equal(first.Timestamp) {
		t.Errorf("the Clone changed: %+v", c)
	}
	if p.CampaignID != 7 || p.Geo.Country != "DE" {
		t.Errorf("decoded into again: %+v", p)
	}
}

// TestDecodeFromWritersIntoReused: the decoders generated for the writer
// schemas the spec knows reuse the record too, and give what decoding
// into a new record gives, whichever datum came before.
func TestDecodeFromWritersIntoReused(t *testing.T) {
	for _, ws := range writerSchemas {
		t.Run(ws.name, func(t *testing.T) {
			writer := impressionWriter(t, ws.modify)
			schema := parseSchema(t, writer)
			g := newValueGen(seedFor(t.Name()), 3)
			var reused alltypes.Impression
			for i := range roundTripIterations {
				b, err := hambaFlat.Marshal(schema, g.value(schema, "", 0))
				if err != nil {
					t.Fatalf("#%d: hamba Marshal: %v", i, err)
				}
				var want alltypes.Impression
				if err := want.UnmarshalAvroFrom(writer, b); err != nil {
					t.Fatalf("#%d: UnmarshalAvroFrom into a new record: %v", i, err)
				}
				if err := reused.UnmarshalAvroFrom(writer, b); err != nil {
					t.Fatalf("#%d: UnmarshalAvroFrom into a reused record: %v", i, err)
				}
				if diff := cmp.Diff(want, reused, cmpOpts); diff != "" {
					t.Fatalf("#%d: decoding into a reused record differs from decoding into a new one (-new +reused):\n%s", i, diff)
				}
			}
		})
	}
}
