package generated_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/generated_test/cases/evolution_v1/impressionv1"
	"github.com/streamgen/streamgen/generated_test/cases/evolution_v2/impressionv2"
	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/internal/pgtest"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/offsets"
)

// v1IDs is the first build's handler: it only notes the ids it was given.
type v1IDs struct {
	mu  sync.Mutex
	ids map[string]int
}

func (h *v1IDs) ProcessBatch(_ context.Context, b *impressionv1.Batch) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for r := range b.Impressions.Records() {
		h.ids[r.Value.ID]++
	}
	return nil
}

// TestRebuiltJobResumes: offsets in the PostgreSQL store are plain rows,
// never code, so a job rebuilt with another handler and an evolved schema
// (the v1 build, then the v2 build of the impressions job) resumes
// exactly where the old build stopped: the new build is given exactly the
// records the old one was not.
func TestRebuiltJobResumes(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	table := pgtest.Table(t, dsn, "offsets")
	addrs, prod := kafkatest.Cluster(t, 3, "impressions")
	reg := srfake.New()
	defer reg.Close()
	producerReg, err := runtime.NewSchemaRegistry(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	ser, err := producerReg.Serializer(ctx, "impressions-value", evolutionSchema(t, 1), true)
	if err != nil {
		t.Fatal(err)
	}
	produce := func(from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			id := fmt.Sprintf("imp-%03d", i)
			b, err := ser.Append(nil, &impressionv1.Impression{ID: id, CampaignID: int32(i), Device: impressionv1.DeviceTypePhone, Country: "US"})
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: "impressions", Partition: int32(i % 3), Key: []byte(id), Value: b})
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	store := func() runtime.OffsetStore {
		s, err := offsets.NewPostgres(ctx, dsn, "impressions-job", offsets.Table(table))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}

	produce(0, 60)
	old := impressionv1.DefaultConfig()
	// The specs say startFrom earliest, for their other tests; a job that
	// resumes starts from what is stored.
	old.Brokers, old.Group, old.RegistryURL, old.StartFrom = addrs, "impressions-job", reg.URL(), runtime.StartCommitted()
	old.BatchInterval = 50 * time.Millisecond
	old.EngineOptions = []runtime.Opt{runtime.WithOffsetStore(store())}
	first := &v1IDs{ids: map[string]int{}}
	runUntil(t, func(ctx context.Context) error { return impressionv1.Run(ctx, old, first) }, func() bool {
		first.mu.Lock()
		defer first.mu.Unlock()
		return len(first.ids) == 60
	})

	produce(60, 40)
	rebuilt := impressionv2.DefaultConfig()
	rebuilt.Brokers, rebuilt.Group, rebuilt.RegistryURL, rebuilt.StartFrom = addrs, "impressions-job", reg.URL(), runtime.StartCommitted()
	rebuilt.BatchInterval = 50 * time.Millisecond
	rebuilt.EngineOptions = []runtime.Opt{runtime.WithOffsetStore(store())}
	second := &v2Collector{got: map[string]impressionv2.Impression{}}
	runUntil(t, func(ctx context.Context) error { return impressionv2.Run(ctx, rebuilt, second) }, func() bool { return second.len() >= 40 })
	time.Sleep(200 * time.Millisecond) // a re-read would show in the next batches
	second.mu.Lock()
	defer second.mu.Unlock()
	if len(second.got) != 40 || len(second.errs) > 0 {
		t.Errorf("the rebuilt job was given %d impressions (%v), want the 40 the old build had not", len(second.got), second.errs)
	}
	for i := 60; i < 100; i++ {
		id := fmt.Sprintf("imp-%03d", i)
		if v, ok := second.got[id]; !ok || v.CampaignID != int64(i) || v.Country != "US" {
			t.Errorf("the rebuilt job read %s as %+v (present %v), want campaign %d from country US", id, v, ok, i)
		}
	}
}
