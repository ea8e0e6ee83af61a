package generated_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/generated_test/cases/rawwriter/rawwriter"
)

type readings struct {
	mu  sync.Mutex
	got map[string]rawwriter.Reading
}

func (r *readings) ProcessBatch(_ context.Context, b *rawwriter.Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for rec := range b.Readings.Records() {
		r.got[rec.Value.Sensor] = rec.Value
	}
	return nil
}

func (r *readings) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// TestRawTopicWithWriterSchema: producers write headerless Avro with an
// older schema (int value, a battery field, fields in another order); the
// job generated with writerSchema resolves every record to its Reading,
// the int widened and the missing unit defaulted.
func TestRawTopicWithWriterSchema(t *testing.T) {
	ws, err := os.ReadFile("cases/rawwriter/writer_v1.avsc")
	if err != nil {
		t.Fatal(err)
	}
	writer := avro.MustParse(string(ws))
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "readings"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 90
	var recs []*kgo.Record
	for i := range n {
		b, err := avro.Marshal(writer, map[string]any{"value": int32(-i), "sensor": fmt.Sprintf("s%d", i), "battery": float32(0.5)})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "readings", Value: b})
	}
	if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cfg := rawwriter.DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	cfg.BatchInterval = 50 * time.Millisecond
	h := &readings{got: map[string]rawwriter.Reading{}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- rawwriter.Run(ctx, cfg, h) }()
	for h.count() < n {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-ctx.Done():
			t.Fatalf("timed out with %d of %d readings", h.count(), n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	for i := range n {
		want := rawwriter.Reading{Sensor: fmt.Sprintf("s%d", i), Value: int64(-i), Unit: "celsius"}
		if got := h.got[want.Sensor]; got != want {
			t.Errorf("reading %d = %+v, want %+v", i, got, want)
		}
	}
}
