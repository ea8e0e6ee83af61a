package generated_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/generated_test/cases/evolution_v1/impressionv1"
	"github.com/streamgen/streamgen/generated_test/cases/evolution_v2/impressionv2"
	"github.com/streamgen/streamgen/generated_test/cases/evolution_v3/impressionv3"
	"github.com/streamgen/streamgen/runtime"
)

// v2Collector keeps every impression the v2 job receives, by id.
type v2Collector struct {
	mu   sync.Mutex
	got  map[string]impressionv2.Impression
	errs []error
}

func (c *v2Collector) ProcessBatch(ctx context.Context, b *impressionv2.Batch) error {
	return b.Impressions.ForeachPartition(ctx, func(ctx context.Context, p impressionv2.ImpressionsPartition) error {
		for rec := range p.Records() {
			c.mu.Lock()
			if _, dup := c.got[rec.Value.ID]; dup {
				c.errs = append(c.errs, fmt.Errorf("%s delivered twice (again at %s/%d/%d)", rec.Value.ID, rec.Topic, rec.Partition, rec.Offset))
			}
			if rec.Key != rec.Value.ID {
				c.errs = append(c.errs, fmt.Errorf("record %s has key %q", rec.Value.ID, rec.Key))
			}
			c.got[rec.Value.ID] = rec.Value
			c.mu.Unlock()
		}
		return nil
	})
}

func (c *v2Collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

// TestEvolutionEndToEnd: one topic of four partitions receives v1, v2 and
// v3 Impressions interleaved in every partition, each Confluent-framed
// with the id the runtime's Serializer registered for its version. The
// job generated from v2 (its Run, with the registry URL) receives every
// record once, as a v2 Impression: v1's int campaign widened and viewable
// defaulted to false, v3's missing country defaulted to "ZZ". The
// registry is asked for each schema id once.
func TestEvolutionEndToEnd(t *testing.T) {
	const partitions, n = 4, 240
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, "impressions"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	reg := srfake.New()
	defer reg.Close()
	var mu sync.Mutex
	byID := map[string]int{}
	reg.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		if id, ok := strings.CutPrefix(r.URL.Path, "/schemas/ids/"); ok {
			mu.Lock()
			byID[id]++
			mu.Unlock()
		}
		return false
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	producerReg, err := runtime.NewSchemaRegistry(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	var sers [4]*runtime.Serializer
	for v := 1; v <= 3; v++ {
		if sers[v], err = producerReg.Serializer(ctx, "impressions-value", evolutionSchema(t, v), true); err != nil {
			t.Fatal(err)
		}
	}

	devices := []string{"DESKTOP", "PHONE", "TABLET"}
	want := map[string]impressionv2.Impression{}
	var recs []*kgo.Record
	for i := range n {
		id := fmt.Sprintf("imp-%03d", i)
		device := devices[i%len(devices)]
		var payload *string
		if i%4 < 2 {
			payload = new(fmt.Sprint("payload-", i))
		}
		var val avroWriter
		v := i%3 + 1
		switch v {
		case 1:
			val = &impressionv1.Impression{ID: id, CampaignID: int32(-i), Device: impressionv1.DeviceType(device), Country: "C" + fmt.Sprint(i), Payload: payload}
			want[id] = impressionv2.Impression{ID: id, CampaignID: int64(-i), Device: impressionv2.DeviceType(device), Country: "C" + fmt.Sprint(i), Payload: payload, Viewable: false}
		case 2:
			val = &impressionv2.Impression{ID: id, CampaignID: 1<<33 + int64(i), Device: impressionv2.DeviceType(device), Country: "US", Payload: payload, Viewable: i%2 == 0}
			want[id] = *val.(*impressionv2.Impression)
		case 3:
			v3 := &impressionv3.Impression{ID: id, CampaignID: int64(i), Device: impressionv3.DeviceType(device), Viewable: i%2 == 1}
			if payload != nil {
				v3.Payload = impressionv3.ImpressionPayloadString{Value: *payload}
			}
			val = v3
			want[id] = impressionv2.Impression{ID: id, CampaignID: int64(i), Device: impressionv2.DeviceType(device), Country: "ZZ", Payload: payload, Viewable: i%2 == 1}
		}
		b, err := sers[v].Append(nil, val)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "impressions", Partition: int32(i % partitions), Key: []byte(id), Value: b})
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cfg := impressionv2.DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	cfg.RegistryURL = reg.URL()
	cfg.BatchInterval = 50 * time.Millisecond
	cfg.MaxRatePerPartition = 400 // 20 records per partition per batch: several batches
	cfg.StatusAddr = ""
	c := &v2Collector{got: map[string]impressionv2.Impression{}}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- impressionv2.Run(runCtx, cfg, c) }()
	for c.len() < n {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-ctx.Done():
			t.Fatalf("timed out with %d of %d records", c.len(), n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, runtime.ErrStopped) {
		t.Fatalf("Run: %v", err)
	}
	for _, err := range c.errs {
		t.Error(err)
	}
	if d := cmp.Diff(want, c.got); d != "" {
		t.Errorf("the v2 job's impressions (-want +got):\n%s", d)
	}
	mu.Lock()
	defer mu.Unlock()
	for v := 1; v <= 3; v++ {
		if got := byID[fmt.Sprint(sers[v].ID())]; got != 1 {
			t.Errorf("the registry was asked for v%d's schema id %d %d times, want once", v, sers[v].ID(), got)
		}
	}
}
