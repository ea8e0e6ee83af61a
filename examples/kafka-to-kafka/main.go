// Command kafka-to-kafka enriches impressions into EnrichedImpression
// records on another topic, exactly once: each batch's output and its
// offsets commit in one Kafka transaction. Each gets its campaign's name
// from the campaigns table (the compacted topic campaigns), as the batch
// sees it.
package main

//go:generate go run github.com/streamgen/streamgen/cmd/streamgen generate

import (
	"context"
	"math/big"

	"github.com/streamgen/streamgen/examples/kafka-to-kafka/enrich"
	"github.com/streamgen/streamgen/runtime/sink"
)

func main() { enrich.Main(enricher{}) }

// enricher writes one EnrichedImpression per impression, keyed as the
// impression was, from each partition's task, with its campaign's name:
// empty for a campaign the table does not hold (not yet written, or
// deleted).
type enricher struct{}

func (enricher) ProcessBatch(ctx context.Context, b *enrich.Batch) error {
	return b.Impressions.ForeachPartition(ctx, func(ctx context.Context, p enrich.ImpressionsPartition) error {
		for r := range p.Records() {
			out := Enrich(&r.Value)
			if c, ok := b.Campaigns.Get(r.Value.CampaignID); ok {
				out.CampaignName = c.Name
			}
			if err := b.Sink.Write(ctx, sink.OriginOf(r), r.Key, &out); err != nil {
				return err
			}
		}
		return nil
	})
}

// Enrich flattens an impression and derives what downstream consumers
// ask for: the country, whether it was mobile, the hour it was served and
// the bid in micro-dollars.
func Enrich(imp *enrich.Impression) enrich.EnrichedImpression {
	var micros int64
	if imp.BidPrice != nil {
		m := new(big.Rat).Mul(imp.BidPrice, big.NewRat(1_000_000, 1))
		micros = new(big.Int).Quo(m.Num(), m.Denom()).Int64()
	}
	return enrich.EnrichedImpression{
		ImpressionID: imp.ImpressionID,
		CampaignID:   imp.CampaignID,
		PublisherID:  imp.PublisherID,
		Timestamp:    imp.Timestamp,
		Country:      imp.Geo.Country,
		Device:       imp.Device.String(),
		Mobile:       imp.Device == enrich.DeviceTypePhone || imp.Device == enrich.DeviceTypeTablet,
		HourOfDay:    int32(imp.Timestamp.UTC().Hour()),
		BidMicros:    micros,
	}
}
