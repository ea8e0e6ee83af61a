package generated_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/generated_test/cases/kafkacopy/kafkacopy"
	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/runtime"
)

// TestGeneratedKafkaPassthrough runs the generated Passthrough of a
// kafka-sink spec with partitioning input, exactly-once: every input
// record is in the output topic once (read_committed), on its input's
// partition number, with its key, its value unchanged and headers naming
// its source.
func TestGeneratedKafkaPassthrough(t *testing.T) {
	ctx := context.Background()
	addrs, prod := kafkatest.Cluster(t, 3, "impressions", "impressions-copy")
	var recs []*kgo.Record
	for i := range 300 {
		imp := kafkacopy.Impression{ImpressionID: fmt.Sprintf("imp-%04d", i), CampaignID: int64(i), BidPrice: big.NewRat(int64(i), 1000), Timestamp: time.UnixMilli(int64(i)).UTC(), Device: kafkacopy.DeviceTypeTv}
		val, err := imp.AppendAvro(nil)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "impressions", Partition: int32(i % 3), Key: binary.BigEndian.AppendUint64(nil, uint64(i)), Value: val})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cfg := kafkacopy.DefaultConfig()
	cfg.Brokers, cfg.StatusAddr, cfg.BatchInterval = addrs, "", 50*time.Millisecond
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- kafkacopy.Run(rctx, cfg, kafkacopy.Passthrough()) }()

	rd, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("impressions-copy"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < len(recs) && time.Now().Before(deadline) {
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		rd.PollFetches(pctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
		pcancel()
	}
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if len(out) != len(recs) {
		t.Fatalf("read_committed sees %d copies, want %d", len(out), len(recs))
	}
	seen := make(map[int64]bool)
	for _, r := range out {
		var src struct {
			topic     string
			partition int64
			offset    int64
		}
		for _, h := range r.Headers {
			switch h.Key {
			case runtime.HeaderSourceTopic:
				src.topic = string(h.Value)
			case runtime.HeaderSourcePartition:
				src.partition, _ = strconv.ParseInt(string(h.Value), 10, 32)
			case runtime.HeaderSourceOffset:
				src.offset, _ = strconv.ParseInt(string(h.Value), 10, 64)
			}
		}
		i := int64(binary.BigEndian.Uint64(r.Key))
		in := recs[i]
		switch {
		case seen[i]:
			t.Errorf("input %d copied twice", i)
		case src.topic != "impressions" || int32(src.partition) != in.Partition || src.offset != i/3:
			t.Errorf("copy of input %d names source %+v, want impressions/%d/%d", i, src, in.Partition, i/3)
		case r.Partition != in.Partition:
			t.Errorf("copy of input %d is on partition %d, want its input's %d", i, r.Partition, in.Partition)
		case string(r.Value) != string(in.Value):
			t.Errorf("copy of input %d has another value", i)
		}
		seen[i] = true
	}
}
