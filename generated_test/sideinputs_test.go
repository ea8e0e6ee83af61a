package generated_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/generated_test/cases/sideinputs/enrichcampaigns"
)

// enricher looks each impression's campaign up in the generated job's
// tables.
type enricher struct {
	mu       sync.Mutex
	names    map[string]string // impression id → campaign name
	rawLen   int
	failures []string
}

func (h *enricher) ProcessBatch(ctx context.Context, b *enrichcampaigns.Batch) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rawLen = b.CampaignNamesRaw.Len()
	for rec := range b.Impressions.Records() {
		c, ok := b.Campaigns.Get(rec.Value.CampaignID)
		if !ok {
			h.failures = append(h.failures, fmt.Sprintf("impression %s: no campaign %d", rec.Value.ImpressionID, rec.Value.CampaignID))
			continue
		}
		h.names[rec.Value.ImpressionID] = c.Name
	}
	return nil
}

// confluentFramed is v's Confluent wire format under schema id.
func confluentFramed(t *testing.T, id int, v interface{ AppendAvro([]byte) ([]byte, error) }) []byte {
	t.Helper()
	b := binary.BigEndian.AppendUint32([]byte{0}, uint32(id))
	b, err := v.AppendAvro(b)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGeneratedTables runs the generated Run of a spec with tables: the
// handler finds every impression's campaign in the table read from the
// compacted topic (Confluent-framed values, int64 keys over several
// partitions), and the raw table is loaded too, before the first batch.
func TestGeneratedTables(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "impressions"), kfake.SeedTopics(3, "campaign-names"), kfake.SeedTopics(1, "campaign-names-raw"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	reg := srfake.New()
	defer reg.Close()
	impID, _, err := reg.RegisterSchema("impressions-value", sr.Schema{Schema: enrichcampaigns.ImpressionSchema})
	if err != nil {
		t.Fatal(err)
	}
	campID, _, err := reg.RegisterSchema("campaign-names-value", sr.Schema{Schema: enrichcampaigns.CampaignSchema})
	if err != nil {
		t.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	const campaigns, impressions = 50, 200
	var recs []*kgo.Record
	for i := range int64(campaigns) {
		c := enrichcampaigns.Campaign{ID: i, Name: fmt.Sprintf("campaign %d", i)}
		recs = append(recs,
			&kgo.Record{Topic: "campaign-names", Key: binary.BigEndian.AppendUint64(nil, uint64(i)), Value: confluentFramed(t, campID, &c)},
		)
		raw, err := c.AppendAvro(nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "campaign-names-raw", Key: []byte(fmt.Sprint(i)), Value: raw})
	}
	for i := range impressions {
		imp := enrichcampaigns.NewImpression()
		imp.ImpressionID, imp.CampaignID = fmt.Sprintf("imp-%d", i), int64(i%campaigns)
		imp.Device, imp.Timestamp, imp.BidPrice = enrichcampaigns.DeviceTypePhone, time.UnixMilli(int64(i)).UTC(), big.NewRat(1, 100)
		recs = append(recs, &kgo.Record{Topic: "impressions", Key: []byte(imp.ImpressionID), Value: confluentFramed(t, impID, &imp)})
	}
	if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cfg := enrichcampaigns.DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	cfg.RegistryURL = reg.URL()
	cfg.BatchInterval = 50 * time.Millisecond
	h := &enricher{names: map[string]string{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- enrichcampaigns.Run(ctx, cfg, h) }()
	for {
		h.mu.Lock()
		got := len(h.names) + len(h.failures)
		h.mu.Unlock()
		if got >= impressions {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-ctx.Done():
			t.Fatalf("timed out with %d of %d impressions", got, impressions)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if len(h.failures) > 0 {
		t.Errorf("%d impressions without their campaign, first: %s", len(h.failures), h.failures[0])
	}
	for id, name := range h.names {
		var i int
		fmt.Sscanf(id, "imp-%d", &i)
		if want := fmt.Sprintf("campaign %d", i%campaigns); name != want {
			t.Errorf("impression %s: campaign %q, want %q", id, name, want)
		}
	}
	if h.rawLen != campaigns {
		t.Errorf("the raw table held %d campaigns, want %d", h.rawLen, campaigns)
	}
}
