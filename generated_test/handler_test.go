package generated_test

import (
	"context"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
)

// etl is the handler a user writes against generated code; it must keep
// compiling against what the generator emits.
type etl struct{ campaigns map[int64]int }

func (h *etl) ProcessBatch(ctx context.Context, b *alltypes.Batch) error {
	return b.Impressions.ForeachPartition(ctx, func(ctx context.Context, p alltypes.ImpressionsPartition) error {
		osr := p.OffsetRange() // topic, partition, from, until
		_ = osr.Count()
		for rec := range p.Records() {
			h.campaigns[rec.Value.CampaignID]++
		}
		return nil
	})
}

var _ alltypes.Handler = (*etl)(nil)
