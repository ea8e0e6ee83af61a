package codec

import (
	"testing"

	"github.com/hamba/avro/v2"
)

func BenchmarkDecoderLong(b *testing.B) {
	var src []byte
	for i := range 1000 {
		src = AppendLong(src, int64(i*i*1000-500000))
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		d := NewDecoder(src)
		for range 1000 {
			d.Long()
		}
		if d.Err() != nil {
			b.Fatal(d.Err())
		}
	}
}

func BenchmarkDecoderString(b *testing.B) {
	var src []byte
	for range 100 {
		src = AppendString(src, "campaign-000042")
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDecoder(src)
		for range 100 {
			_ = d.String()
		}
		if d.Err() != nil {
			b.Fatal(d.Err())
		}
	}
}

// The shape of a generated record decoder, against hamba's reflection decoder.
const benchSchema = `{"type":"record","name":"Impression","namespace":"com.ads","fields":[
	{"name":"id","type":"long"},{"name":"campaign_id","type":"string"},
	{"name":"price","type":"double"},{"name":"ts","type":"long"},
	{"name":"country","type":["null","string"]},{"name":"clicks","type":"int"}]}`

type impression struct {
	ID         int64   `avro:"id"`
	CampaignID string  `avro:"campaign_id"`
	Price      float64 `avro:"price"`
	TS         int64   `avro:"ts"`
	Country    *string `avro:"country"`
	Clicks     int32   `avro:"clicks"`
}

func (r *impression) unmarshal(src []byte) error {
	d := NewDecoder(src)
	r.ID = d.Long()
	r.CampaignID = d.String()
	r.Price = d.Double()
	r.TS = d.Long()
	switch d.UnionIndex(2) {
	case 0:
		r.Country = nil
	case 1:
		s := d.String()
		r.Country = &s
	}
	r.Clicks = d.Int()
	return d.Finish()
}

func benchImpression(b *testing.B) []byte {
	c := "DE"
	src, err := avro.Marshal(avro.MustParse(benchSchema), impression{ID: 1 << 40, CampaignID: "campaign-42", Price: 0.25, TS: 1700000000000, Country: &c, Clicks: 3})
	if err != nil {
		b.Fatal(err)
	}
	return src
}

func BenchmarkRecordCodec(b *testing.B) {
	src := benchImpression(b)
	b.ReportAllocs()
	var r impression
	for b.Loop() {
		if err := r.unmarshal(src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRecordHamba(b *testing.B) {
	src := benchImpression(b)
	sch := avro.MustParse(benchSchema)
	b.ReportAllocs()
	var r impression
	for b.Loop() {
		if err := avro.Unmarshal(sch, src, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTranscode(b *testing.B) {
	writer, reader, src := evolutionSample(b)
	res := mustForWriter(b, reader, writer)
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		var err error
		if out, err = res.Transcode(out[:0], src); err != nil {
			b.Fatal(err)
		}
	}
}
