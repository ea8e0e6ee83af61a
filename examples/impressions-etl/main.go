// Command impressions-etl shows the record types of the warehouse ETL,
// which copies impressions from Kafka into Avro files: it encodes an
// Impression with the generated codec, decodes it back, and reads bytes
// written with an older version of the schema. It runs no job: the ETL job
// itself, exactly-once with one Avro file per partition and batch, needs
// the runtime's files sink (see streamgen.yaml).
package main

//go:generate go run github.com/streamgen/streamgen/cmd/streamgen generate

import (
	"fmt"
	"math/big"
	"os"
	"time"

	"github.com/streamgen/streamgen/examples/impressions-etl/impressionsetl"
	"github.com/streamgen/streamgen/runtime/codec"
)

// writerV0 is an older version of the Impression schema as a producer may
// still write it: fewer fields, in another order.
const writerV0 = `{"type":"record","name":"Impression","namespace":"com.example.ads","fields":[
 {"name":"campaign_id","type":"int"},
 {"name":"impression_id","type":{"type":"string","logicalType":"uuid"}},
 {"name":"creative_id","type":"int"},
 {"name":"publisher_id","type":"string"},
 {"name":"timestamp","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"device","type":{"type":"enum","name":"DeviceType","symbols":["DESKTOP","PHONE","TABLET","TV","UNKNOWN"]}},
 {"name":"geo","type":{"type":"record","name":"GeoPoint","fields":[{"name":"lat","type":"double"},{"name":"lon","type":"double"}]}},
 {"name":"bid_price","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":6}},
 {"name":"fingerprint","type":{"type":"fixed","name":"MD5","size":16}}
]}`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "impressions-etl:", err)
		os.Exit(1)
	}
}

func run() error {
	ua := "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
	in := impressionsetl.Impression{
		ImpressionID: "6f1c1d2e-8a44-4a49-9d0e-3b1f6f2f8c11",
		CampaignID:   36892229,
		CreativeID:   17,
		PublisherID:  "pub-0042",
		Timestamp:    time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		Device:       impressionsetl.DeviceTypePhone,
		Geo:          impressionsetl.GeoPoint{Lat: 41.3874, Lon: 2.1686, Country: "ES"},
		UserAgent:    &ua,
		BidPrice:     big.NewRat(1234567, 1000000),
		Viewable:     true,
		Segments:     []string{"sports", "travel"},
		Labels:       map[string]string{"exchange": "adx"},
		LatencyMs:    42,
	}
	buf, err := in.AppendAvro(nil)
	if err != nil {
		return err
	}
	fmt.Printf("encoded %s: %d bytes of Avro binary (fingerprint %016x)\n", "com.example.ads.Impression", len(buf), impressionsetl.ImpressionFingerprint)

	var out impressionsetl.Impression
	if err := out.UnmarshalAvro(buf); err != nil {
		return err
	}
	fmt.Printf("decoded: campaign %d, device %s, geo %.4f,%.4f %s, bid %s USD, segments %v\n",
		out.CampaignID, out.Device, out.Geo.Lat, out.Geo.Lon, out.Geo.Country, out.BidPrice.FloatString(6), out.Segments)

	// A record written by a producer still on the old schema: the campaign
	// id is an int there, and several fields do not exist yet.
	old := codec.AppendInt(nil, 36892229) // campaign_id, an int in v0
	old = codec.AppendString(old, "0b7e6a52-1111-4c22-9a00-5d2c0c9d4e77")
	old = codec.AppendInt(old, 17)
	old = codec.AppendString(old, "pub-7")
	old = codec.AppendLong(old, codec.MillisOf(time.Date(2026, 11, 24, 23, 59, 0, 0, time.UTC)))
	old = codec.AppendLong(old, 1) // device PHONE
	old = codec.AppendDouble(old, 52.52)
	old = codec.AppendDouble(old, 13.405)
	if old, err = codec.AppendDecimalBytes(old, big.NewRat(1, 1000), 12, 6); err != nil {
		return err
	}
	old = append(old, make([]byte, 16)...) // fingerprint
	var evolved impressionsetl.Impression
	if err := evolved.UnmarshalAvroFrom(writerV0, old); err != nil {
		return err
	}
	fmt.Printf("read old writer schema: campaign %d (int promoted to long), geo %.3f,%.3f, country %q (default), viewable %v (default), latency %dms (default)\n",
		evolved.CampaignID, evolved.Geo.Lat, evolved.Geo.Lon, evolved.Geo.Country, evolved.Viewable, evolved.LatencyMs)
	return nil
}
