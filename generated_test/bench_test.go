package generated_test

import (
	"bytes"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
	"github.com/linkedin/goavro/v2"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/generated_test/cases/projection/projection"
	"github.com/streamgen/streamgen/runtime/codec"
)

// The benchmarks decode and encode one realistic Impression (356 bytes) with
// the generated code, hamba/avro into the same struct and into a generic map,
// and linkedin/goavro. scripts/bench.sh runs them and writes BENCHMARKS.md.
// TestBenchmarkInputs checks that every implementation reads and writes the
// same datum, so the figures compare equal work.

func benchImpression() alltypes.Impression {
	ua := "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
	floor := float32(0.35)
	return alltypes.Impression{
		ImpressionID: "3f2c8a9e-5b1d-4e7f-9a6c-0d8b2e4f1a73",
		CampaignID:   48_213_977,
		CreativeID:   902_114,
		PublisherID:  "pub-example-com",
		Timestamp:    time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC),
		Device:       alltypes.DeviceTypePhone,
		Geo:          alltypes.GeoPoint{Lat: 48.8566, Lon: 2.3522, Country: "FR"},
		UserAgent:    &ua,
		BidPrice:     big.NewRat(1_254_300, 1_000_000), // 1.2543 USD
		FloorPrice:   &floor,
		Viewable:     true,
		Segments:     []string{"auto-intenders", "sports-fans", "frequent-travelers", "early-adopters", "parents"},
		Labels:       map[string]string{"placement": "above-the-fold", "exchange": "openx", "page_type": "article"},
		LatencyMs:    37,
		Fingerprint:  alltypes.Md5{0x9e, 0x10, 0x7d, 0x9d, 0x37, 0x2b, 0xb6, 0x82, 0x6b, 0xd8, 0x1d, 0x35, 0x42, 0xa4, 0x19, 0xd6},
	}
}

type benchInputs struct {
	value  alltypes.Impression
	data   []byte // AppendAvro's encoding of value
	schema avro.Schema
	goavro *goavro.Codec

	// A writer schema that differs from the generated reader schema: it lacks
	// latency_ms and has its fields in another order (reorderWithoutLatency);
	// writerData is value written with it.
	writerSchema string
	writer       avro.Schema
	writerData   []byte
}

func newBenchInputs(tb testing.TB) *benchInputs {
	tb.Helper()
	in := &benchInputs{value: benchImpression(), schema: parseSchema(tb, alltypes.ImpressionSchema)}
	var err error
	if in.data, err = in.value.AppendAvro(nil); err != nil {
		tb.Fatal(err)
	}
	if in.goavro, err = goavro.NewCodec(alltypes.ImpressionSchema); err != nil {
		tb.Fatal(err)
	}
	in.writerSchema = impressionWriter(tb, reorderWithoutLatency)
	in.writer = parseSchema(tb, in.writerSchema)
	if in.writerData, err = hambaFlat.Marshal(in.writer, &in.value); err != nil {
		tb.Fatal(err)
	}
	return in
}

// TestBenchmarkInputs checks that the implementations the benchmarks compare
// agree on the datum: the same value decoded, the same bytes encoded.
func TestBenchmarkInputs(t *testing.T) {
	in := newBenchInputs(t)
	if n := len(in.data); n != 356 {
		t.Errorf("benchmark Impression encodes to %d bytes, want the 356 the figures are for", n)
	}
	var hs alltypes.Impression
	if err := hambaFlat.Unmarshal(in.schema, in.data, &hs); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in.value, hs, cmpOpts); diff != "" {
		t.Errorf("hamba decodes the benchmark bytes to another value (-want +got):\n%s", diff)
	}
	hb, err := hambaFlat.Marshal(in.schema, &in.value)
	if err != nil {
		t.Fatal(err)
	}
	var fromHamba alltypes.Impression
	if err := fromHamba.UnmarshalAvro(hb); err != nil || len(hb) != len(in.data) {
		t.Errorf("hamba's encoding (%d bytes, generated %d) does not decode: %v", len(hb), len(in.data), err)
	}

	native, rest, err := in.goavro.NativeFromBinary(in.data)
	if err != nil || len(rest) != 0 {
		t.Fatalf("goavro NativeFromBinary: %v, %d bytes left", err, len(rest))
	}
	gb, err := in.goavro.BinaryFromNative(nil, native)
	if err != nil {
		t.Fatal(err)
	}
	var fromGoavro alltypes.Impression
	if err := fromGoavro.UnmarshalAvro(gb); err != nil {
		t.Fatalf("UnmarshalAvro of goavro's encoding: %v", err)
	}
	if diff := cmp.Diff(in.value, fromGoavro, cmpOpts); diff != "" {
		t.Errorf("goavro's encoding decodes to another value (-want +got):\n%s", diff)
	}

	// The resolution path: latency_ms, absent from the writer, takes its default 0.
	var resolved alltypes.Impression
	if err := resolved.UnmarshalAvroFrom(in.writerSchema, in.writerData); err != nil {
		t.Fatalf("UnmarshalAvroFrom: %v", err)
	}
	want := in.value
	want.LatencyMs = 0
	if diff := cmp.Diff(want, resolved, cmpOpts); diff != "" {
		t.Errorf("UnmarshalAvroFrom decoded another value (-want +got):\n%s", diff)
	}
	if bytes.Equal(in.writerData, in.data) {
		t.Error("writer bytes equal the reader's: the resolution benchmark would not transcode")
	}
}

func BenchmarkDecode(b *testing.B) {
	in := newBenchInputs(b)
	b.Run("impl=generated", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		var v alltypes.Impression
		for b.Loop() {
			v = alltypes.Impression{}
			if err := v.UnmarshalAvro(in.data); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Into one record, as the engine decodes a partition's records into
	// those of an earlier batch, with their strings shared through a
	// codec.Strings as the engine shares them.
	b.Run("impl=generated-reused", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		var v alltypes.Impression
		var strs codec.Strings
		for b.Loop() {
			d := codec.NewDecoder(in.data)
			d.ShareStrings(&strs)
			v.DecodeAvro(&d)
			if err := d.Finish(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=hamba-struct", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		var v alltypes.Impression
		for b.Loop() {
			v = alltypes.Impression{}
			if err := hambaFlat.Unmarshal(in.schema, in.data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=hamba-map", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		for b.Loop() {
			var m map[string]any
			if err := hambaFlat.Unmarshal(in.schema, in.data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=goavro", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		for b.Loop() {
			if _, _, err := in.goavro.NativeFromBinary(in.data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	in := newBenchInputs(b)
	b.Run("impl=generated", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = in.value.AppendAvro(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=hamba-struct", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		for b.Loop() {
			if _, err := hambaFlat.Marshal(in.schema, &in.value); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=hamba-map", func(b *testing.B) {
		var m map[string]any
		if err := hambaFlat.Unmarshal(in.schema, in.data, &m); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		for b.Loop() {
			if _, err := hambaFlat.Marshal(in.schema, m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=goavro", func(b *testing.B) {
		native, _, err := in.goavro.NativeFromBinary(in.data)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		var buf []byte
		for b.Loop() {
			if buf, err = in.goavro.BinaryFromNative(buf[:0], native); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeFrom measures schema resolution: data written with an
// older writer schema (see reorderWithoutLatency). generated-resolved is
// UnmarshalAvroFrom, which for this writer, known at generation time (a
// writerSchema of the alltypes spec), runs the decoder generated for it;
// generated-transcoded is what a writer first met at run time costs: the
// transcoder into the reader's encoding, then decoding. generated-same-schema
// is the fast path UnmarshalAvroFrom takes for the reader's own schema, for
// the lookup's cost.
func BenchmarkDecodeFrom(b *testing.B) {
	in := newBenchInputs(b)
	b.Run("impl=generated-resolved", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.writerData)))
		var v alltypes.Impression
		for b.Loop() {
			v = alltypes.Impression{}
			if err := v.UnmarshalAvroFrom(in.writerSchema, in.writerData); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=generated-transcoded", func(b *testing.B) {
		// A writer first met at run time (a registry id): transcoded, then
		// decoded. A resolver without the generated writer decoders.
		res, err := codec.NewResolver(alltypes.ImpressionSchema).ForWriter(in.writerSchema)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(in.writerData)))
		var v alltypes.Impression
		for b.Loop() {
			v = alltypes.Impression{}
			if err := res.Decode(in.writerData, v.UnmarshalAvro); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=generated-same-schema", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		var v alltypes.Impression
		for b.Loop() {
			v = alltypes.Impression{}
			if err := v.UnmarshalAvroFrom(alltypes.ImpressionSchema, in.data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=hamba-struct-resolved", func(b *testing.B) {
		resolved, err := avro.NewSchemaCompatibility().Resolve(in.schema, in.writer)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(in.writerData)))
		var v alltypes.Impression
		for b.Loop() {
			v = alltypes.Impression{}
			if err := hambaFlat.Unmarshal(resolved, in.writerData, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeProjected decodes the benchmark's Impression into the
// anomaly detector's projection (campaign_id, timestamp, geo.country: the
// projection case's ImpressionsValue) against decoding all of it, from
// the encoding AppendAvro writes, from one with each block's byte size
// (hamba's default: its arrays and maps are skipped whole), and from
// another writer schema (transcoded first, as the full type would be).
func BenchmarkDecodeProjected(b *testing.B) {
	in := newBenchInputs(b)
	sized, err := hambaSized.Marshal(in.schema, &in.value)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("impl=full", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		var v projection.Impression
		for b.Loop() {
			v = projection.Impression{}
			if err := v.UnmarshalAvro(in.data); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, c := range []struct {
		name string
		data []byte
	}{{"projected", in.data}, {"projected-sized-blocks", sized}} {
		b.Run("impl="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			var v projection.ImpressionsValue
			for b.Loop() {
				v = projection.ImpressionsValue{}
				if err := v.UnmarshalAvro(c.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("impl=full-transcoded", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.writerData)))
		var v projection.Impression
		for b.Loop() {
			v = projection.Impression{}
			if err := v.UnmarshalAvroFrom(in.writerSchema, in.writerData); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=projected-transcoded", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.writerData)))
		var v projection.ImpressionsValue
		for b.Loop() {
			v = projection.ImpressionsValue{}
			if err := v.UnmarshalAvroFrom(in.writerSchema, in.writerData); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecimal isolates the conversions of the bid_price decimal that
// UnmarshalAvro and AppendAvro call, to show their share of the figures above.
func BenchmarkDecimal(b *testing.B) {
	in := newBenchInputs(b)
	enc, err := codec.AppendDecimalBytes(nil, in.value.BidPrice, 12, 6)
	if err != nil {
		b.Fatal(err)
	}
	raw := enc[1:] // less the one-byte length
	if got := codec.DecimalFromBytes(raw, 6); got.Cmp(in.value.BidPrice) != 0 {
		b.Fatalf("DecimalFromBytes(%x) = %s, want %s", raw, got.RatString(), in.value.BidPrice.RatString())
	}
	b.Run("op=from-bytes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			codec.DecimalFromBytes(raw, 6)
		}
	})
	b.Run("op=append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			if buf, err = codec.AppendDecimalBytes(buf[:0], in.value.BidPrice, 12, 6); err != nil {
				b.Fatal(err)
			}
		}
	})
}
