// Command etl-warehouse copies impressions from Kafka into Parquet files
// for the data warehouse, exactly once: a file per partition and hour of
// the impressions' timestamps, kept open across batches and published once
// its hour has passed (or by the sink.roll limits), laid out as
// topic=T/dt=YYYY-MM-DD/hour=HH/partition=P/FROM-UNTIL.parquet under
// ETL_WAREHOUSE_SINK_URL (or --sink-url; default file://./warehouse-data,
// s3://BUCKET?region=R for S3), each published with the partition's
// offsets by a conditional create. Each impression becomes a
// WarehouseImpression row with its campaign's name and advertiser from the
// campaigns table (the compacted topic campaigns), as the batch sees it.
package main

//go:generate go run github.com/streamgen/streamgen/cmd/streamgen generate

import (
	"context"
	"fmt"

	"github.com/streamgen/streamgen/examples/etl-warehouse/warehouse"
)

func main() { warehouse.Main(enricher{}) }

// enricher writes each partition's share of a batch through the sink's
// writer for that partition: each row at its impression's offset, so the
// sink files it in its hour's open file and, after a restart, leaves out
// a row that a published file already holds. A
// campaign the table does not hold (never written, or deleted by a
// tombstone) leaves the name and advertiser empty: the row is kept, and a
// later correction is a query's join, not a lost impression.
type enricher struct{}

func (enricher) ProcessBatch(ctx context.Context, b *warehouse.Batch) error {
	return b.Impressions.ForeachPartition(ctx, func(ctx context.Context, p warehouse.ImpressionsPartition) error {
		w := b.Sink.Writer(p.OffsetRange())
		for r := range p.Records() {
			row := Row(&r.Value)
			// The table as the whole batch sees it: an update shows
			// from the next batch on.
			if c, ok := b.Campaigns.Get(r.Value.CampaignID); ok {
				row.CampaignName, row.Advertiser = c.Name, c.Advertiser
			}
			if err := w.WriteAt(r.Offset, &row); err != nil {
				return fmt.Errorf("%s/%d at offset %d: %w", r.Topic, r.Partition, r.Offset, err)
			}
		}
		return nil
	})
}

// Row is the warehouse's row of an impression, without its campaign's
// columns, which come from the table.
func Row(imp *warehouse.Impression) warehouse.WarehouseImpression {
	return warehouse.WarehouseImpression{
		ImpressionID: imp.ImpressionID,
		CampaignID:   imp.CampaignID,
		CreativeID:   imp.CreativeID,
		PublisherID:  imp.PublisherID,
		Timestamp:    imp.Timestamp,
		Device:       imp.Device.String(),
		Country:      imp.Geo.Country,
		BidPrice:     imp.BidPrice,
		Viewable:     imp.Viewable,
		Segments:     imp.Segments,
	}
}
