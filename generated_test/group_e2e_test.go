package generated_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/examples/anomaly-detector/anomalies"
	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/runtime"
)

// seenImpressions is a one-stream job's handler: the offsets it was given.
type seenImpressions struct {
	mu   sync.Mutex
	seen map[string]int
}

func (s *seenImpressions) ProcessBatch(_ context.Context, b *anomalies.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for rec := range b.Impressions.Records() {
		s.seen[key(rec.Topic, rec.Partition, rec.Offset)]++
	}
	return nil
}

func (s *seenImpressions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// TestRegeneratedWithASecondStreamResumes: a job generated with one
// stream (the anomaly detector's package) stores its offsets; the same
// job regenerated with a second stream (alltypes, which reads the same
// impressions topic and one more) runs in the same group and resumes the
// first stream where it stopped, re-reading and skipping nothing.
func TestRegeneratedWithASecondStreamResumes(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "impressions"), kfake.SeedTopics(2, "all-types"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produceImpressions := func(from, n int) {
		t.Helper()
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			imp := alltypes.Impression{ImpressionID: fmt.Sprintf("imp-%d", i), Device: alltypes.DeviceTypeTv, BidPrice: big.NewRat(1, 1), Timestamp: time.UnixMilli(0).UTC()}
			val, err := imp.AppendAvro([]byte{0, 0, 0, 0, 42})
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: "impressions", Key: []byte(imp.ImpressionID), Value: val})
		}
		if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produceImpressions(0, 60)

	// Run loads the anomaly detector's model from its ModelFile setting.
	file := *anomalies.ModelFile
	*anomalies.ModelFile = "../examples/anomaly-detector/model.json"
	defer func() { *anomalies.ModelFile = file }()
	registry := kafkatest.Registry(t, map[int]string{42: new(alltypes.Impression).AvroSchema()})
	one := anomalies.DefaultConfig()
	one.Brokers, one.Group, one.StartFrom, one.StatusAddr = cluster.ListenAddrs(), "the-job", runtime.StartCommitted(), ""
	one.RegistryURL = registry
	one.BatchInterval = 50 * time.Millisecond
	first := &seenImpressions{seen: map[string]int{}}
	runUntil(t, func(ctx context.Context) error { return anomalies.Run(ctx, one, first) }, func() bool { return first.len() == 60 })

	produceImpressions(60, 40)
	two := alltypes.DefaultConfig()
	two.Brokers, two.Group, two.RegistryURL = cluster.ListenAddrs(), "the-job", registry
	two.BatchInterval = 50 * time.Millisecond
	second := &collector{impressions: map[string]alltypes.Impression{}, everything: map[string]alltypes.AllTypes{}}
	reachedAt := -1 // the batch that brought the 40th impression
	runUntil(t, func(ctx context.Context) error { return alltypes.Run(ctx, two, second) }, func() bool {
		second.mu.Lock()
		defer second.mu.Unlock()
		if len(second.impressions) < 40 {
			return false
		}
		if reachedAt < 0 {
			reachedAt = second.batches
		}
		return second.batches >= reachedAt+3 // a re-read would show in the batches after
	})
	second.mu.Lock()
	defer second.mu.Unlock()
	if len(second.impressions) != 40 {
		t.Errorf("the two-stream job read %d impressions, want the 40 the one-stream job had not", len(second.impressions))
	}
	for k := range second.impressions {
		if first.seen[k] > 0 {
			t.Errorf("impression %s read again after the second stream was added", k)
		}
	}
}

// runUntil runs a job until done reports true, then stops it gracefully.
func runUntil(t *testing.T, run func(context.Context) error, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx) }()
	deadline := time.After(30 * time.Second)
	for !done() {
		select {
		case err := <-errc:
			t.Fatalf("job returned early: %v", err)
		case <-deadline:
			t.Fatal("timed out")
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("job: %v", err)
	}
}
