package generated_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/generated_test/cases/evolution_v1/impressionv1"
	"github.com/streamgen/streamgen/generated_test/cases/evolution_v2/impressionv2"
	"github.com/streamgen/streamgen/generated_test/cases/evolution_v3/impressionv3"
	"github.com/streamgen/streamgen/runtime/codec"
)

// The Impression evolution series (schemas/evolution):
//
//	v1  id, campaign_id int, device enum{DESKTOP,PHONE,TABLET}, country = "ZZ", payload [null,string] = null
//	v2  v1, campaign_id widened to long, + viewable boolean = false
//	v3  v2 without country, device + TV with enum default DESKTOP, payload [null,string,long]
//
// Every writer version is read by every generated reader version, and the
// outcome is what the Avro specification's resolution rules say:
//
//	writer →  reader v1                 reader v2                      reader v3
//	v1        identity                  int→long, viewable=false        country dropped, viewable=false
//	v2        unreadable (long→int)     identity                        country dropped
//	v3        unreadable (long→int)     country="ZZ"; TV and long       identity
//	                                    payloads fail, the rest reads

// evolutionSchema is the text of schemas/evolution/impression_vN.avsc, as
// a registry would hold it (not the generated, normalized constant).
func evolutionSchema(tb testing.TB, v int) string {
	tb.Helper()
	return evolutionFile(tb, fmt.Sprintf("impression_v%d.avsc", v))
}

// evolutionFile is the text of a file in schemas/evolution.
func evolutionFile(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "schemas", "evolution", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

type avroWriter = codec.Record

func ptr[T any](v T) *T { return &v }

// evolutionSamples are the values each writer version writes: the named
// ones exercise the symbols and branches older readers lack.
var evolutionSamples = map[int][]avroWriter{
	1: {
		&impressionv1.Impression{ID: "v1-a", CampaignID: 7, Device: impressionv1.DeviceTypePhone, Country: "FR", Payload: ptr("p1")},
		&impressionv1.Impression{ID: "v1-b", CampaignID: -1 << 31, Device: impressionv1.DeviceTypeTablet, Country: "DE"},
	},
	2: {
		&impressionv2.Impression{ID: "v2-a", CampaignID: 1 << 40, Device: impressionv2.DeviceTypeDesktop, Country: "US", Payload: ptr("p2"), Viewable: true},
		&impressionv2.Impression{ID: "v2-b", CampaignID: 3, Device: impressionv2.DeviceTypePhone, Country: "ZZ"},
	},
	3: {
		&impressionv3.Impression{ID: "v3-a", CampaignID: 9, Device: impressionv3.DeviceTypeTablet, Payload: impressionv3.ImpressionPayloadString{Value: "p3"}, Viewable: true},
		&impressionv3.Impression{ID: "v3-tv", CampaignID: 10, Device: impressionv3.DeviceTypeTv},
		&impressionv3.Impression{ID: "v3-long", CampaignID: 11, Device: impressionv3.DeviceTypePhone, Payload: impressionv3.ImpressionPayloadLong{Value: 12345}, Viewable: true},
	},
}

// readAs decodes src, written with writerSchema, as reader version v.
func readAs(v int, writerSchema string, src []byte) (any, error) {
	switch v {
	case 1:
		var r impressionv1.Impression
		err := r.UnmarshalAvroFrom(writerSchema, src)
		return r, err
	case 2:
		var r impressionv2.Impression
		err := r.UnmarshalAvroFrom(writerSchema, src)
		return r, err
	default:
		var r impressionv3.Impression
		err := r.UnmarshalAvroFrom(writerSchema, src)
		return r, err
	}
}

// outcome is what reading one sample gives: a value of the reader's type,
// or an error containing err.
type outcome struct {
	want any
	err  string
}

// evolutionCell is one writer/reader pair: unreadable as a whole (fatal,
// also what codec.CheckCompatible says), or one outcome per writer sample;
// conditional lists the problems CheckCompatible reports besides fatal
// that only make some data unreadable.
type evolutionCell struct {
	fatal       string
	conditional []string
	outcomes    []outcome
}

const (
	notPromotable = `field "campaign_id": type changed from long to int (not promotable)`
	tvNotInV2     = `field "device": writer enum symbol "TV" is not in reader enum com.example.ads.DeviceType, which has no default (reading it fails)`
	longNotInV2   = `field "payload": writer union branch long matches no branch of reader union [null, string] (reading such a value fails)`
)

var evolutionMatrix = map[[2]int]evolutionCell{ // [writer, reader]
	{1, 1}: {outcomes: []outcome{
		{want: impressionv1.Impression{ID: "v1-a", CampaignID: 7, Device: impressionv1.DeviceTypePhone, Country: "FR", Payload: ptr("p1")}},
		{want: impressionv1.Impression{ID: "v1-b", CampaignID: -1 << 31, Device: impressionv1.DeviceTypeTablet, Country: "DE"}},
	}},
	{1, 2}: {outcomes: []outcome{ // int promoted to long; viewable takes its default
		{want: impressionv2.Impression{ID: "v1-a", CampaignID: 7, Device: impressionv2.DeviceTypePhone, Country: "FR", Payload: ptr("p1"), Viewable: false}},
		{want: impressionv2.Impression{ID: "v1-b", CampaignID: -1 << 31, Device: impressionv2.DeviceTypeTablet, Country: "DE", Viewable: false}},
	}},
	{1, 3}: {outcomes: []outcome{ // country skipped; [null,string] read as [null,string,long]
		{want: impressionv3.Impression{ID: "v1-a", CampaignID: 7, Device: impressionv3.DeviceTypePhone, Payload: impressionv3.ImpressionPayloadString{Value: "p1"}}},
		{want: impressionv3.Impression{ID: "v1-b", CampaignID: -1 << 31, Device: impressionv3.DeviceTypeTablet}},
	}},
	{2, 1}: {fatal: notPromotable},
	{2, 2}: {outcomes: []outcome{
		{want: impressionv2.Impression{ID: "v2-a", CampaignID: 1 << 40, Device: impressionv2.DeviceTypeDesktop, Country: "US", Payload: ptr("p2"), Viewable: true}},
		{want: impressionv2.Impression{ID: "v2-b", CampaignID: 3, Device: impressionv2.DeviceTypePhone, Country: "ZZ"}},
	}},
	{2, 3}: {outcomes: []outcome{ // country skipped
		{want: impressionv3.Impression{ID: "v2-a", CampaignID: 1 << 40, Device: impressionv3.DeviceTypeDesktop, Payload: impressionv3.ImpressionPayloadString{Value: "p2"}, Viewable: true}},
		{want: impressionv3.Impression{ID: "v2-b", CampaignID: 3, Device: impressionv3.DeviceTypePhone}},
	}},
	{3, 1}: {fatal: notPromotable, conditional: []string{tvNotInV2, longNotInV2}},
	{3, 2}: {
		conditional: []string{tvNotInV2, longNotInV2},
		outcomes: []outcome{ // country takes its default "ZZ"
			{want: impressionv2.Impression{ID: "v3-a", CampaignID: 9, Device: impressionv2.DeviceTypeTablet, Country: "ZZ", Payload: ptr("p3"), Viewable: true}},
			{err: `writer enum symbol "TV" is not in reader enum com.example.ads.DeviceType, which has no default`},
			{err: `writer union branch long matches no branch of reader union`},
		},
	},
	{3, 3}: {outcomes: []outcome{
		{want: impressionv3.Impression{ID: "v3-a", CampaignID: 9, Device: impressionv3.DeviceTypeTablet, Payload: impressionv3.ImpressionPayloadString{Value: "p3"}, Viewable: true}},
		{want: impressionv3.Impression{ID: "v3-tv", CampaignID: 10, Device: impressionv3.DeviceTypeTv}},
		{want: impressionv3.Impression{ID: "v3-long", CampaignID: 11, Device: impressionv3.DeviceTypePhone, Payload: impressionv3.ImpressionPayloadLong{Value: 12345}, Viewable: true}},
	}},
}

// TestEvolutionMatrix decodes every sample of every writer version with
// every generated reader's UnmarshalAvroFrom, the writer schema being the
// .avsc file's text, and checks each outcome: the exact value, with the
// reader's defaults filled in, or the error the specification requires.
func TestEvolutionMatrix(t *testing.T) {
	for w := 1; w <= 3; w++ {
		writer := evolutionSchema(t, w)
		for r := 1; r <= 3; r++ {
			cell := evolutionMatrix[[2]int{w, r}]
			t.Run(fmt.Sprintf("v%d→v%d", w, r), func(t *testing.T) {
				if cell.fatal == "" && len(cell.outcomes) != len(evolutionSamples[w]) {
					t.Fatalf("the matrix has %d outcomes for %d samples", len(cell.outcomes), len(evolutionSamples[w]))
				}
				for i, s := range evolutionSamples[w] {
					src, err := s.AppendAvro(nil)
					if err != nil {
						t.Fatal(err)
					}
					got, err := readAs(r, writer, src)
					want := outcome{err: cell.fatal}
					if cell.fatal == "" {
						want = cell.outcomes[i]
					}
					switch {
					case want.err != "":
						if err == nil || !strings.Contains(err.Error(), want.err) {
							t.Errorf("sample %d: error %v, want one containing %q", i, err, want.err)
						}
					case err != nil:
						t.Errorf("sample %d: %v", i, err)
					default:
						if d := cmp.Diff(want.want, got); d != "" {
							t.Errorf("sample %d (-want +got):\n%s", i, d)
						}
					}
				}
			})
		}
	}
}

// TestEvolutionMatrixSchemaLevel checks the same matrix at the schema
// level: codec.CheckCompatible reports exactly the fatal and conditional
// problems of each pair, the generated reader's resolver refuses the fatal
// pairs up front and takes the fast path (no resolution) when the writer
// is its own version in another spelling, and hamba/avro's independent
// compatibility check agrees on which pairs are fully compatible.
func TestEvolutionMatrixSchemaLevel(t *testing.T) {
	readers := map[int]string{1: impressionv1.ImpressionSchema, 2: impressionv2.ImpressionSchema, 3: impressionv3.ImpressionSchema}
	for w := 1; w <= 3; w++ {
		writer := evolutionSchema(t, w)
		for r := 1; r <= 3; r++ {
			cell := evolutionMatrix[[2]int{w, r}]
			t.Run(fmt.Sprintf("v%d→v%d", w, r), func(t *testing.T) {
				var got []string
				for _, e := range codec.CheckCompatible(readers[r], writer) {
					got = append(got, e.Error())
				}
				want := cell.conditional
				if cell.fatal != "" {
					want = append([]string{cell.fatal}, want...)
				}
				if len(got) != len(want) {
					t.Fatalf("CheckCompatible: %q, want %d problems like %q", got, len(want), want)
				}
				for i := range want {
					if !strings.Contains(got[i], want[i]) {
						t.Errorf("CheckCompatible problem %d: %q, want %q", i, got[i], want[i])
					}
				}

				res, err := codec.NewResolver(readers[r]).ForWriter(writer)
				switch {
				case cell.fatal != "":
					if err == nil || !strings.Contains(err.Error(), cell.fatal) {
						t.Errorf("ForWriter: %v, want %q", err, cell.fatal)
					}
				case err != nil:
					t.Errorf("ForWriter: %v", err)
				case (res == nil) != (w == r):
					t.Errorf("ForWriter: fast path %v, want %v (the writer is the reader's version: %v)", res == nil, w == r, w == r)
				}

				rs, err := avro.ParseWithCache(readers[r], "", &avro.SchemaCache{})
				if err != nil {
					t.Fatal(err)
				}
				ws, err := avro.ParseWithCache(writer, "", &avro.SchemaCache{})
				if err != nil {
					t.Fatal(err)
				}
				hambaErr := avro.NewSchemaCompatibility().Compatible(rs, ws)
				if (hambaErr == nil) != (len(got) == 0) {
					t.Errorf("hamba says %v; CheckCompatible says %q", hambaErr, got)
				}
			})
		}
	}
}

// TestEvolutionSamplesAreTheWritersAvro decodes every writer sample with
// hamba/avro and the writer's .avsc: the bytes the matrix reads are what
// an independent implementation writes for that schema.
func TestEvolutionSamplesAreTheWritersAvro(t *testing.T) {
	for w := 1; w <= 3; w++ {
		ws, err := avro.ParseWithCache(evolutionSchema(t, w), "", &avro.SchemaCache{})
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range evolutionSamples[w] {
			src, err := s.AppendAvro(nil)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := avro.Unmarshal(ws, src, &got); err != nil {
				t.Fatalf("v%d sample %d: hamba: %v", w, i, err)
			}
			back, err := avro.Marshal(ws, got)
			if err != nil {
				t.Fatalf("v%d sample %d: hamba: %v", w, i, err)
			}
			if string(back) != string(src) {
				t.Errorf("v%d sample %d: hamba re-encodes %x as %x", w, i, src, back)
			}
			if got["id"] != evolutionID(s) {
				t.Errorf("v%d sample %d: hamba reads id %v", w, i, got["id"])
			}
		}
	}
}

func evolutionID(s avroWriter) string {
	switch v := s.(type) {
	case *impressionv1.Impression:
		return v.ID
	case *impressionv2.Impression:
		return v.ID
	case *impressionv3.Impression:
		return v.ID
	}
	return ""
}

// TestEvolutionEnumDefault exercises the enum default v3 added: a writer
// with a symbol v3 does not know (a later version adding WATCH) is read by
// v3 as the default DESKTOP, while v2, whose enum has no default, fails
// on that record only.
func TestEvolutionEnumDefault(t *testing.T) {
	writer := strings.Replace(evolutionSchema(t, 3), `"TV"]`, `"TV", "WATCH"]`, 1)
	if writer == evolutionSchema(t, 3) {
		t.Fatal("could not add WATCH to the v3 schema")
	}
	ws, err := avro.ParseWithCache(writer, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := avro.Marshal(ws, map[string]any{"id": "w", "campaign_id": int64(5), "device": "WATCH", "payload": nil, "viewable": true})
	if err != nil {
		t.Fatal(err)
	}
	var v3 impressionv3.Impression
	if err := v3.UnmarshalAvroFrom(writer, src); err != nil {
		t.Fatal(err)
	}
	if want := (impressionv3.Impression{ID: "w", CampaignID: 5, Device: impressionv3.DeviceTypeDesktop, Viewable: true}); !cmp.Equal(v3, want) {
		t.Errorf("v3 reads %+v, want %+v", v3, want)
	}
	var v2 impressionv2.Impression
	if err := v2.UnmarshalAvroFrom(writer, src); err == nil || !strings.Contains(err.Error(), `writer enum symbol "WATCH" is not in reader enum`) {
		t.Errorf("v2 reads a WATCH record: %v", err)
	}
}
