package generated_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/generated_test/cases/projection/projection"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
)

// The projection case's streams read a few fields of their values (spec
// fields). Its projected types must hold exactly what the full types hold
// in those fields, whatever the skipped fields contain and however the
// writer blocked its arrays and maps, and whatever writer schema the
// records were written with.

func impressionsValueOf(v *projection.Impression) projection.ImpressionsValue {
	return projection.ImpressionsValue{
		CampaignID: v.CampaignID,
		Timestamp:  v.Timestamp,
		Geo:        projection.ImpressionsValueGeo{Country: v.Geo.Country},
	}
}

func impressionsOlderValueOf(v *projection.Impression) projection.ImpressionsOlderValue {
	return projection.ImpressionsOlderValue{
		CampaignID: v.CampaignID,
		Geo:        projection.ImpressionsOlderValueGeo{Country: v.Geo.Country},
		Segments:   v.Segments,
		LatencyMs:  v.LatencyMs,
	}
}

func everythingValueOf(v *projection.AllTypes) projection.EverythingValue {
	out := projection.EverythingValue{I: v.I, ArrRec: v.ArrRec, UNull: v.UNull, TsMs: v.TsMs}
	if v.OptRec != nil {
		out.OptRec = &projection.EverythingValueOptRec{V: v.OptRec.V}
	}
	return out
}

func treesValueOf(v *projection.Tree) projection.TreesValue {
	return projection.TreesValue{Label: v.Label, Attrs: v.Attrs}
}

// projected is one projection under test: its record's schema, a fresh
// record and projection, and the projection the record should give.
type projected struct {
	name   string
	schema string
	check  func(t *testing.T, i int, b []byte, full []byte)
}

// checkProjection decodes full (a datum hambaFlat wrote) with the full
// type, and b (the same datum, however blocked) with the projected type,
// and compares the projection with the full type's fields.
func checkProjection[F any, P any, PF interface {
	*F
	UnmarshalAvro([]byte) error
}, PP interface {
	*P
	UnmarshalAvro([]byte) error
}](of func(*F) P) func(t *testing.T, i int, b, full []byte) {
	return func(t *testing.T, i int, b, full []byte) {
		t.Helper()
		var f F
		if err := PF(&f).UnmarshalAvro(full); err != nil {
			t.Fatalf("#%d: full UnmarshalAvro: %v", i, err)
		}
		var got P
		if err := PP(&got).UnmarshalAvro(b); err != nil {
			t.Fatalf("#%d: projected UnmarshalAvro: %v\ninput: %x", i, err, b)
		}
		if diff := cmp.Diff(of(&f), got, cmpOpts); diff != "" {
			t.Fatalf("#%d: the projection differs from the full decoder's fields (-full +projected):\n%s\ninput: %x", i, diff, b)
		}
	}
}

var projections = []projected{
	{"impressions", projection.ImpressionSchema, checkProjection[projection.Impression, projection.ImpressionsValue](impressionsValueOf)},
	{"impressions_older", projection.ImpressionSchema, checkProjection[projection.Impression, projection.ImpressionsOlderValue](impressionsOlderValueOf)},
	{"everything", projection.AllTypesSchema, checkProjection[projection.AllTypes, projection.EverythingValue](everythingValueOf)},
	{"trees", projection.TreeSchema, checkProjection[projection.Tree, projection.TreesValue](treesValueOf)},
}

// TestProjectionRoundTrip: for random records, written with one block per
// array and map (as the generated encoder does), with each block's byte
// size (which the projected decoder skips in one step) and in blocks of
// two items, the projected decoder gives the full decoder's values of the
// fields it holds, and consumes exactly the record.
func TestProjectionRoundTrip(t *testing.T) {
	for _, pr := range projections {
		t.Run(pr.name, func(t *testing.T) {
			schema := parseSchema(t, pr.schema)
			g := newValueGen(seedFor(t.Name()), 3)
			for i := range roundTripIterations {
				datum := g.value(schema, "", 0)
				flat, err := hambaFlat.Marshal(schema, datum)
				if err != nil {
					t.Fatal(err)
				}
				for _, api := range []avro.API{hambaFlat, hambaSized, hambaSmallBlocks} {
					b, err := api.Marshal(schema, datum)
					if err != nil {
						t.Fatal(err)
					}
					pr.check(t, i, b, flat)
				}
			}
		})
	}
}

// TestProjectionRejectsCorruptInput: truncated input and trailing bytes
// are errors for the projected decoder too, though it keeps nothing of
// what it skips.
func TestProjectionRejectsCorruptInput(t *testing.T) {
	v := projection.NewImpression()
	v.Segments = []string{"sports", "news"}
	v.Labels = map[string]string{"k": "v"}
	b, err := v.AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	var p projection.ImpressionsValue
	for cut := range len(b) {
		if err := p.UnmarshalAvro(b[:cut]); err == nil {
			t.Fatalf("%d of %d bytes decoded without an error", cut, len(b))
		}
	}
	if err := p.UnmarshalAvro(append(b, 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Errorf("a trailing byte: %v", err)
	}
}

// TestProjectionSkipsWithoutAllocating: decoding the anomaly detector's
// three fields of an Impression allocates nothing, however many strings,
// segments and labels it skips.
func TestProjectionSkipsWithoutAllocating(t *testing.T) {
	v := projection.NewImpression()
	v.PublisherID, v.Geo.Country = "publisher-1234", "DE"
	v.Segments = []string{"sports", "news", "travel"}
	v.Labels = map[string]string{"a": "1", "b": "2"}
	b, err := v.AppendAvro(nil)
	if err != nil {
		t.Fatal(err)
	}
	var p projection.ImpressionsValue
	allocs := testing.AllocsPerRun(100, func() {
		if err := p.UnmarshalAvro(b); err != nil {
			t.Fatal(err)
		}
	})
	// Geo.Country is a string the projection keeps: one allocation at
	// most, for it.
	if allocs > 1 {
		t.Errorf("projected decode allocates %.0f times per record, want at most 1 (the kept country)", allocs)
	}
	if p.Geo.Country != "DE" {
		t.Errorf("country %q, want DE", p.Geo.Country)
	}
}

// TestProjectionEncodeRefused: a projection cannot be written, and says
// what to write instead.
func TestProjectionEncodeRefused(t *testing.T) {
	_, err := new(projection.ImpressionsValue).AppendAvro(nil)
	if err == nil || !strings.Contains(err.Error(), "encode Impression values") {
		t.Errorf("AppendAvro of a projection: %v", err)
	}
}

// projectionWriters are writer schemas of Impression other than the
// reader's: the older one of the impressions_older stream (an int
// campaign id, four fields missing) and one with fields the reader lacks
// and a GeoPoint without country.
var projectionWriters = []struct {
	name   string
	schema func(t *testing.T) string
}{
	{"older", func(*testing.T) string { return projection.ImpressionsOlderWriterSchema }},
	{"extra-fields-no-country", func(t *testing.T) string {
		return impressionWriter(t, func(fields []any) []any {
			geo := field(fields, "geo")["type"].(map[string]any)
			geo["fields"] = deleteFields(geo["fields"].([]any), "country")
			fields = deleteFields(fields, "latency_ms")
			return append(fields,
				map[string]any{"name": "extra_note", "type": "string"},
				map[string]any{"name": "extra_counts", "type": map[string]any{"type": "array", "items": "long"}},
				map[string]any{"name": "extra_geo", "type": map[string]any{"type": "record", "name": "ExtraGeo", "fields": []any{map[string]any{"name": "s", "type": "string"}}}},
			)
		})
	}},
}

// TestProjectionEvolution: records written with another writer schema
// decode into a projection as into the full type: the writer's extra
// fields skipped, missing ones from the reader's defaults, an int campaign
// id promoted. Through UnmarshalAvroFrom, through the raw stream's
// decoder of its writerSchema, through the registry and by single-object
// fingerprint, as the job reads them.
func TestProjectionEvolution(t *testing.T) {
	ctx := context.Background()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	r, err := runtime.NewSchemaRegistry(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	confluent := runtime.ConfluentAvroInto[projection.ImpressionsValue](r)
	var known []string
	for _, w := range projectionWriters {
		known = append(known, w.schema(t))
	}
	singleObject := runtime.SingleObjectInto[projection.ImpressionsValue](known...)
	for _, w := range projectionWriters {
		t.Run(w.name, func(t *testing.T) {
			ws := w.schema(t)
			fp, err := codec.Fingerprint(ws)
			if err != nil {
				t.Fatal(err)
			}
			writer := parseSchema(t, ws)
			ser, err := r.Serializer(ctx, "impressions-"+w.name+"-value", ws, true)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := runtime.RawAvroFromInto[projection.ImpressionsOlderValue](ws)
			if err != nil {
				t.Fatal(err)
			}
			g := newValueGen(seedFor(t.Name()), 3)
			for i := range roundTripIterations {
				datum := g.value(writer, "", 0)
				b, err := hambaSmallBlocks.Marshal(writer, datum)
				if err != nil {
					t.Fatal(err)
				}
				var full projection.Impression
				if err := full.UnmarshalAvroFrom(ws, b); err != nil {
					t.Fatalf("#%d: full UnmarshalAvroFrom: %v", i, err)
				}
				if w.name != "older" && full.Geo.Country != "ZZ" {
					t.Fatalf("#%d: a writer without country gave %q, not its default ZZ", i, full.Geo.Country)
				}
				var p projection.ImpressionsValue
				if err := p.UnmarshalAvroFrom(ws, b); err != nil {
					t.Fatalf("#%d: projected UnmarshalAvroFrom: %v", i, err)
				}
				if diff := cmp.Diff(impressionsValueOf(&full), p, cmpOpts); diff != "" {
					t.Fatalf("#%d: UnmarshalAvroFrom (-full +projected):\n%s", i, diff)
				}
				var rp projection.ImpressionsOlderValue
				if err := raw(ctx, &rp, b); err != nil {
					t.Fatalf("#%d: raw stream decoder: %v", i, err)
				}
				if diff := cmp.Diff(impressionsOlderValueOf(&full), rp, cmpOpts); diff != "" {
					t.Fatalf("#%d: raw stream decoder (-full +projected):\n%s", i, diff)
				}
				var cp projection.ImpressionsValue
				if err := confluent(ctx, &cp, append(ser.AppendHeader(nil), b...)); err != nil {
					t.Fatalf("#%d: registry decoder: %v", i, err)
				}
				if diff := cmp.Diff(impressionsValueOf(&full), cp, cmpOpts); diff != "" {
					t.Fatalf("#%d: registry decoder (-full +projected):\n%s", i, diff)
				}
				var sp projection.ImpressionsValue
				if err := singleObject(ctx, &sp, append(runtime.AppendSingleObjectHeader(nil, fp), b...)); err != nil {
					t.Fatalf("#%d: single-object decoder: %v", i, err)
				}
				if diff := cmp.Diff(impressionsValueOf(&full), sp, cmpOpts); diff != "" {
					t.Fatalf("#%d: single-object decoder (-full +projected):\n%s", i, diff)
				}
			}
		})
	}
}
