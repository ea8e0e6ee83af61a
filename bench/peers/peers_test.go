package peers

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/big"
	"testing"
	"time"

	"github.com/actgardner/gogen-avro/v10/compiler"
	"github.com/actgardner/gogen-avro/v10/vm"
	hamba "github.com/hamba/avro/v2"
	heetch "github.com/heetch/avro"
	"github.com/linkedin/goavro/v2"

	"github.com/streamgen/streamgen/bench/peers/gogen"
	"github.com/streamgen/streamgen/bench/peers/heetchgen"
	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime/codec"
)

// impression is the benchmark datum of generated_test/bench_test.go.
func impression() alltypes.Impression {
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
		BidPrice:     big.NewRat(1_254_300, 1_000_000),
		FloorPrice:   &floor,
		Viewable:     true,
		Segments:     []string{"auto-intenders", "sports-fans", "frequent-travelers", "early-adopters", "parents"},
		Labels:       map[string]string{"placement": "above-the-fold", "exchange": "openx", "page_type": "article"},
		LatencyMs:    37,
		Fingerprint:  alltypes.Md5{0x9e, 0x10, 0x7d, 0x9d, 0x37, 0x2b, 0xb6, 0x82, 0x6b, 0xd8, 0x1d, 0x35, 0x42, 0xa4, 0x19, 0xd6},
	}
}

// registry is heetch's schema registry for one schema, id 1, in the
// Confluent framing (a zero byte and a 4-byte id before the body).
type registry struct{ t *heetch.Type }

func (r registry) DecodeSchemaID(msg []byte) (int64, []byte) {
	if len(msg) < 5 || msg[0] != 0 {
		return 0, nil
	}
	return int64(binary.BigEndian.Uint32(msg[1:5])), msg[5:]
}

func (r registry) SchemaForID(context.Context, int64) (*heetch.Type, error) { return r.t, nil }

func (r registry) AppendSchemaID(buf []byte, id int64) []byte {
	return binary.BigEndian.AppendUint32(append(buf, 0), uint32(id))
}

func (r registry) IDForSchema(context.Context, *heetch.Type) (int64, error) { return 1, nil }

type inputs struct {
	value  alltypes.Impression
	data   []byte
	framed []byte // data behind the Confluent header, for heetch
	hamba  hamba.Schema
	goavro *goavro.Codec
	gogen  *vm.Program
	heetch registry
}

var hambaFlat = hamba.Config{DisableBlockSizeHeader: true}.Freeze()

func newInputs(tb testing.TB) *inputs {
	in := &inputs{value: impression()}
	var err error
	if in.data, err = in.value.AppendAvro(nil); err != nil {
		tb.Fatal(err)
	}
	in.framed = append([]byte{0, 0, 0, 0, 1}, in.data...)
	if in.hamba, err = hamba.ParseWithCache(alltypes.ImpressionSchema, "", &hamba.SchemaCache{}); err != nil {
		tb.Fatal(err)
	}
	if in.goavro, err = goavro.NewCodec(alltypes.ImpressionSchema); err != nil {
		tb.Fatal(err)
	}
	// gogen-avro compiles a (writer, reader) program; its generated
	// DeserializeImpression would compile it on every call.
	if in.gogen, err = compiler.CompileSchemaBytes([]byte(alltypes.ImpressionSchema), []byte(gogen.NewImpression().Schema())); err != nil {
		tb.Fatal(err)
	}
	t, err := heetch.ParseType(alltypes.ImpressionSchema)
	if err != nil {
		tb.Fatal(err)
	}
	in.heetch = registry{t}
	return in
}

// TestPeersDecodeTheDatum checks that every peer reads and writes the
// benchmark datum, so that the figures are for the same work.
func TestPeersDecodeTheDatum(t *testing.T) {
	in := newInputs(t)
	g := gogen.NewImpression()
	if err := vm.Eval(bytes.NewReader(in.data), in.gogen, &g); err != nil {
		t.Fatal(err)
	}
	if g.Impression_id != in.value.ImpressionID || len(g.Labels) != 3 || g.Latency_ms != 37 || g.User_agent.String != *in.value.UserAgent {
		t.Errorf("gogen-avro decoded %+v", g)
	}
	var buf bytes.Buffer
	// gogen-avro writes map keys in Go's random order: compare the values.
	if err := g.Serialize(&buf); err != nil || len(buf.Bytes()) != len(in.data) {
		t.Errorf("gogen-avro encodes %x (%v), want %x", buf.Bytes(), err, in.data)
	}
	var back alltypes.Impression
	if err := back.UnmarshalAvro(buf.Bytes()); err != nil || back.Labels["exchange"] != "openx" || back.BidPrice.Cmp(in.value.BidPrice) != 0 {
		t.Errorf("gogen-avro's encoding decodes to %+v (%v)", back, err)
	}
	var h heetchgen.Impression
	dec := heetch.NewSingleDecoder(in.heetch, nil)
	if _, err := dec.Unmarshal(context.Background(), in.framed, &h); err != nil {
		t.Fatal(err)
	}
	if h.Impression_id.String() != in.value.ImpressionID || len(h.Labels) != 3 || h.Latency_ms != 37 || *h.User_agent != *in.value.UserAgent {
		t.Errorf("heetch decoded %+v", h)
	}
	enc := heetch.NewSingleEncoder(in.heetch, nil)
	b, err := enc.Marshal(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.UnmarshalAvro(b[5:]); err != nil || back.Geo.Country != "FR" || back.BidPrice.Cmp(in.value.BidPrice) != 0 {
		t.Errorf("heetch's encoding decodes to %+v (%v)", back, err)
	}
}

func BenchmarkPeersDecode(b *testing.B) {
	in := newInputs(b)
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
	b.Run("impl=gogen-avro", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		r := bytes.NewReader(nil)
		for b.Loop() {
			r.Reset(in.data)
			v := gogen.NewImpression()
			if err := vm.Eval(r, in.gogen, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=heetch", func(b *testing.B) {
		dec := heetch.NewSingleDecoder(in.heetch, nil)
		ctx := context.Background()
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		for b.Loop() {
			var v heetchgen.Impression
			if _, err := dec.Unmarshal(ctx, in.framed, &v); err != nil {
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
			if err := hambaFlat.Unmarshal(in.hamba, in.data, &v); err != nil {
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

func BenchmarkPeersEncode(b *testing.B) {
	in := newInputs(b)
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
	b.Run("impl=gogen-avro", func(b *testing.B) {
		g := gogen.NewImpression()
		if err := vm.Eval(bytes.NewReader(in.data), in.gogen, &g); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if err := g.Serialize(&buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=heetch", func(b *testing.B) {
		var h heetchgen.Impression
		if _, err := heetch.NewSingleDecoder(in.heetch, nil).Unmarshal(context.Background(), in.framed, &h); err != nil {
			b.Fatal(err)
		}
		enc := heetch.NewSingleEncoder(in.heetch, nil)
		ctx := context.Background()
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		for b.Loop() {
			if _, err := enc.Marshal(ctx, h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=hamba-struct", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in.data)))
		for b.Loop() {
			if _, err := hambaFlat.Marshal(in.hamba, &in.value); err != nil {
				b.Fatal(err)
			}
		}
	})
}
