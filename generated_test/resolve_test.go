package generated_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
)

// Schema resolution (UnmarshalAvroFrom) is checked against hamba's: data
// written with an older Impression schema must decode to what hamba decodes
// it to with the schema it resolves from writer and reader.

// writerSchemas are Impression writer schemas the generated reader can read.
var writerSchemas = []struct {
	name   string
	modify func(fields []any) []any
	// readerDatum: hamba cannot decode into the struct with the resolved
	// schema, but a datum of the writer is one of the reader too, so the
	// expected value is hamba's decoding of it written with the reader schema.
	readerDatum bool
}{
	{name: "reordered-without-latency", modify: reorderWithoutLatency},
	{name: "promotions-and-defaults", modify: func(fields []any) []any {
		// int → long, float → double and int → float (inside a union);
		// fields the reader fills with their defaults.
		setType(fields, "campaign_id", "int")
		setType(fields, "floor_price", []any{"null", "int"})
		geo := field(fields, "geo")["type"].(map[string]any)
		setType(geo["fields"].([]any), "lat", "float")
		return deleteFields(fields, "viewable", "segments", "labels", "latency_ms")
	}},
	{name: "enum-reordered-bytes-items", modify: func(fields []any) []any {
		// Enum symbols in another order (matched by name), and bytes
		// items of an array and a map read as strings.
		setType(fields, "device", map[string]any{"type": "enum", "name": "DeviceType", "namespace": "com.example.ads",
			"symbols": []any{"UNKNOWN", "TV", "PHONE", "DESKTOP", "TABLET"}})
		setType(fields, "segments", map[string]any{"type": "array", "items": "bytes"})
		setType(fields, "labels", map[string]any{"type": "map", "values": "bytes"})
		return fields
	}},
	{name: "plain-string-read-as-union", readerDatum: true, modify: func(fields []any) []any {
		// The reader's ["null","string"] picks its string branch.
		// (hamba cannot decode this into a *string.)
		setType(fields, "user_agent", "string")
		return fields
	}},
}

// reorderWithoutLatency drops latency_ms, moves geo last and fingerprint first.
func reorderWithoutLatency(fields []any) []any {
	fields = deleteFields(fields, "latency_ms")
	geo, fp := field(fields, "geo"), field(fields, "fingerprint")
	fields = deleteFields(fields, "geo", "fingerprint")
	return append(append([]any{fp}, fields...), geo)
}

// impressionWriter returns ImpressionSchema with its fields changed by modify.
func impressionWriter(tb testing.TB, modify func([]any) []any) string {
	tb.Helper()
	var s map[string]any
	if err := json.Unmarshal([]byte(alltypes.ImpressionSchema), &s); err != nil {
		tb.Fatal(err)
	}
	s["fields"] = modify(s["fields"].([]any))
	b, err := json.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func field(fields []any, name string) map[string]any {
	for _, f := range fields {
		if f := f.(map[string]any); f["name"] == name {
			return f
		}
	}
	panic("no field " + name)
}

func setType(fields []any, name string, typ any) {
	f := field(fields, name)
	f["type"] = typ
	delete(f, "default") // the reader's default may not fit the writer's type
}

func deleteFields(fields []any, names ...string) []any {
	return slices.DeleteFunc(fields, func(f any) bool {
		return slices.Contains(names, f.(map[string]any)["name"].(string))
	})
}

func TestResolveOlderWriter(t *testing.T) {
	reader := parseSchema(t, alltypes.ImpressionSchema)
	for _, ws := range writerSchemas {
		t.Run(ws.name, func(t *testing.T) {
			writerSchema := impressionWriter(t, ws.modify)
			writer := parseSchema(t, writerSchema)
			resolved, err := avro.NewSchemaCompatibility().Resolve(reader, writer)
			if err != nil {
				t.Fatalf("hamba cannot resolve the writer schema: %v", err)
			}
			transcoder, err := codec.NewResolver(alltypes.ImpressionSchema).ForWriter(writerSchema)
			if err != nil || transcoder == nil || transcoder.Direct() != nil {
				t.Fatalf("a resolver without writer decoders: %v, %v", transcoder, err)
			}
			g := newValueGen(seedFor(t.Name()), 1)
			for i := range roundTripIterations {
				datum := g.value(writer, "", 0)
				b, err := hambaFlat.Marshal(writer, datum)
				if err != nil {
					t.Fatal(err)
				}
				var got, want alltypes.Impression
				if err := got.UnmarshalAvroFrom(writerSchema, b); err != nil {
					t.Fatalf("#%d: UnmarshalAvroFrom: %v\ninput: %x", i, err, b)
				}
				if ws.readerDatum {
					rb, err := hambaFlat.Marshal(reader, datum)
					if err != nil {
						t.Fatal(err)
					}
					err = hambaFlat.Unmarshal(reader, rb, &want)
					if err != nil {
						t.Fatal(err)
					}
				} else if err := hambaFlat.Unmarshal(resolved, b, &want); err != nil {
					t.Fatalf("#%d: hamba Unmarshal with the resolved schema: %v", i, err)
				}
				if diff := cmp.Diff(&want, &got, cmpOpts); diff != "" {
					t.Fatalf("#%d: UnmarshalAvroFrom decoded another value than hamba (-hamba +generated):\n%s\ninput: %x", i, diff, b)
				}
				// The writer is known at generation time (the alltypes spec's
				// writerSchema streams), so the above took its generated
				// decoder; the transcoder, which serves writers met at run
				// time, must agree.
				var transcoded alltypes.Impression
				if err := transcoder.Decode(b, transcoded.UnmarshalAvro); err != nil {
					t.Fatalf("#%d: transcoding: %v", i, err)
				}
				if diff := cmp.Diff(&want, &transcoded, cmpOpts); diff != "" {
					t.Fatalf("#%d: the transcoder decoded another value than hamba (-hamba +transcoder):\n%s\ninput: %x", i, diff, b)
				}
			}
		})
	}
}

// FuzzImpressionUnmarshalFrom feeds arbitrary bytes, as data of an older
// writer schema, to UnmarshalAvroFrom: it must not panic, and what it decodes
// hamba must decode to the same value.
func FuzzImpressionUnmarshalFrom(f *testing.F) {
	reader := parseSchema(f, alltypes.ImpressionSchema)
	writerSchema := impressionWriter(f, reorderWithoutLatency)
	writer := parseSchema(f, writerSchema)
	resolved, err := avro.NewSchemaCompatibility().Resolve(reader, writer)
	if err != nil {
		f.Fatal(err)
	}
	g := newValueGen(seedFor(f.Name()), 2)
	for range 8 {
		b, err := hambaFlat.Marshal(writer, g.value(writer, "", 0))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got alltypes.Impression
		if err := got.UnmarshalAvroFrom(writerSchema, data); err != nil {
			return
		}
		var want alltypes.Impression
		if err := hambaFlat.Unmarshal(resolved, data, &want); err != nil {
			t.Fatalf("UnmarshalAvroFrom accepted %x, which hamba rejects: %v", data, err)
		}
		if diff := cmp.Diff(&want, &got, cmpOpts); diff != "" {
			t.Fatalf("UnmarshalAvroFrom and hamba decode %x differently (-hamba +generated):\n%s", data, diff)
		}
	})
}

// TestKnownWritersHaveGeneratedDecoders: the alltypes spec names each of
// writerSchemas as a stream's writerSchema (cases/alltypes/writers), so
// Impression's resolver is generated with a decoder for each fingerprint.
// The files must stay the schemas impressionWriter builds.
func TestKnownWritersHaveGeneratedDecoders(t *testing.T) {
	src, err := os.ReadFile("cases/alltypes/alltypes/codec.go")
	if err != nil {
		t.Fatal(err)
	}
	_, resolver, ok := strings.Cut(string(src), "sgcodec.NewResolver(ImpressionSchema")
	resolver, _, _ = strings.Cut(resolver, "\n})")
	if !ok {
		t.Fatal("no Impression resolver in the generated codec.go")
	}
	for _, ws := range writerSchemas {
		file, err := os.ReadFile("cases/alltypes/writers/impression_" + ws.name + ".avsc")
		if err != nil {
			t.Fatal(err)
		}
		fromFile, err := codec.Fingerprint(string(file))
		if err != nil {
			t.Fatal(err)
		}
		built, err := codec.Fingerprint(impressionWriter(t, ws.modify))
		if err != nil {
			t.Fatal(err)
		}
		if fromFile != built {
			t.Errorf("writers/impression_%s.avsc is not the schema resolve_test.go builds", ws.name)
		}
		if want := fmt.Sprintf("Fingerprint: %#016x", built); !strings.Contains(resolver, want) {
			t.Errorf("writer %s (%#016x) has no generated decoder in Impression's resolver", ws.name, built)
		}
	}
}

// TestConfluentWritersKnownAndUnknown reads Confluent-framed records through
// the runtime's registry decoder: one writer is known at generation time
// (registered as indented text, the same fingerprint as the spec's
// writerSchema, so the generated decoder reads it), the other is first met
// at run time (transcoded). Both must decode as hamba resolves them.
func TestConfluentWritersKnownAndUnknown(t *testing.T) {
	reg := srfake.New()
	t.Cleanup(reg.Close)
	ctx := context.Background()
	r, err := runtime.NewSchemaRegistry(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	known, err := os.ReadFile("cases/alltypes/writers/impression_reordered-without-latency.avsc")
	if err != nil {
		t.Fatal(err)
	}
	unknown := impressionWriter(t, func(fields []any) []any {
		return append(deleteFields(fields, "labels"), map[string]any{"name": "extra", "type": "string"})
	})
	decode := runtime.ConfluentAvroInto[alltypes.Impression](r)
	reader := parseSchema(t, alltypes.ImpressionSchema)
	for name, ws := range map[string]string{"known": string(known), "unknown": unknown} {
		t.Run(name, func(t *testing.T) {
			ser, err := r.Serializer(ctx, "impressions-"+name+"-value", ws, true)
			if err != nil {
				t.Fatal(err)
			}
			writer := parseSchema(t, ws)
			resolved, err := avro.NewSchemaCompatibility().Resolve(reader, writer)
			if err != nil {
				t.Fatal(err)
			}
			g := newValueGen(seedFor(t.Name()), 1)
			for i := range 50 {
				body, err := hambaFlat.Marshal(writer, g.value(writer, "", 0))
				if err != nil {
					t.Fatal(err)
				}
				var got, want alltypes.Impression
				if err := decode(ctx, &got, append(ser.AppendHeader(nil), body...)); err != nil {
					t.Fatalf("#%d: %v", i, err)
				}
				if err := hambaFlat.Unmarshal(resolved, body, &want); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(&want, &got, cmpOpts); diff != "" {
					t.Fatalf("#%d: decoded another value than hamba (-hamba +runtime):\n%s", i, diff)
				}
			}
		})
	}
}
