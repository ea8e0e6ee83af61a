package generated_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/runtime"
)

// collector records every record of both streams, by topic/partition/offset.
type collector struct {
	mu          sync.Mutex
	impressions map[string]alltypes.Impression
	everything  map[string]alltypes.AllTypes
	batches     int
	cancel      context.CancelFunc
}

func key(topic string, p int32, off int64) string { return fmt.Sprintf("%s/%d/%d", topic, p, off) }

func (c *collector) ProcessBatch(ctx context.Context, b *alltypes.Batch) error {
	err := b.Impressions.ForeachPartition(ctx, func(ctx context.Context, p alltypes.ImpressionsPartition) error {
		for rec := range p.Records() {
			if rec.Offset < p.OffsetRange().FromOffset || rec.Offset >= p.OffsetRange().UntilOffset {
				return fmt.Errorf("record at %d outside its range %v", rec.Offset, p.OffsetRange())
			}
			c.mu.Lock()
			k := key(rec.Topic, rec.Partition, rec.Offset)
			if _, dup := c.impressions[k]; dup {
				c.mu.Unlock()
				return fmt.Errorf("record %s delivered twice", k)
			}
			c.impressions[k] = rec.Value
			c.mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for rec := range b.Everything.Records() {
		c.everything[key(rec.Topic, rec.Partition, rec.Offset)] = rec.Value
	}
	c.batches++
	return nil
}

// TestGeneratedRunDeliversEveryRecord runs the generated Run against an
// in-process Kafka: Confluent-framed records on a subscribed topic and raw
// Avro on assigned partitions all arrive, decoded, exactly once.
func TestGeneratedRunDeliversEveryRecord(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "impressions"), kfake.SeedTopics(2, "all-types"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	const n = 600
	want := map[string]int64{} // impression id → campaign
	var recs []*kgo.Record
	for i := range n {
		imp := alltypes.Impression{
			ImpressionID: fmt.Sprintf("imp-%d", i),
			CampaignID:   int64(i * 7),
			Device:       alltypes.DeviceTypeTv,
			Timestamp:    time.UnixMilli(int64(i)).UTC(),
			BidPrice:     big.NewRat(int64(i), 100),
			Segments:     []string{"a"},
		}
		val, err := imp.AppendAvro([]byte{0, 0, 0, 0, 42})
		if err != nil {
			t.Fatal(err)
		}
		want[imp.ImpressionID] = imp.CampaignID
		recs = append(recs, &kgo.Record{Topic: "impressions", Key: []byte(imp.ImpressionID), Value: val})
	}
	for p := range int32(2) {
		for i := range 5 {
			v := sampleAllTypes(int64(i))
			val, err := v.AppendAvro(nil)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: "all-types", Partition: p, Value: val})
		}
	}
	if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cfg := alltypes.DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	cfg.RegistryURL = kafkatest.Registry(t, map[int]string{42: new(alltypes.Impression).AvroSchema()})
	cfg.BatchInterval = 50 * time.Millisecond
	cfg.MaxRatePerPartition = 1000 // 50 records per partition per batch: several batches
	c := &collector{impressions: map[string]alltypes.Impression{}, everything: map[string]alltypes.AllTypes{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- alltypes.Run(ctx, cfg, c) }()
	for {
		c.mu.Lock()
		got := len(c.impressions) + len(c.everything)
		c.mu.Unlock()
		if got >= n+10 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-ctx.Done():
			t.Fatalf("timed out with %d of %d records", got, n+10)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if len(c.impressions) != n || len(c.everything) != 10 {
		t.Fatalf("got %d impressions and %d all-types records, want %d and 10", len(c.impressions), len(c.everything), n)
	}
	for _, imp := range c.impressions {
		if want[imp.ImpressionID] != imp.CampaignID {
			t.Errorf("impression %s: campaign %d, want %d", imp.ImpressionID, imp.CampaignID, want[imp.ImpressionID])
		}
	}
}

func TestGeneratedRunReportsBadFraming(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "impressions"), kfake.SeedTopics(2, "all-types"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	// Plain Avro on a topic the spec says is Confluent-framed.
	imp := alltypes.Impression{ImpressionID: "abc", BidPrice: big.NewRat(1, 1), Device: alltypes.DeviceTypePhone}
	val, _ := imp.AppendAvro(nil)
	if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: "impressions", Value: val}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cfg := alltypes.DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	cfg.RegistryURL = kafkatest.Registry(t, nil)
	cfg.BatchInterval = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = alltypes.Run(ctx, cfg, &collector{impressions: map[string]alltypes.Impression{}, everything: map[string]alltypes.AllTypes{}})
	var de *runtime.DecodeError
	if !errors.As(err, &de) || de.Topic != "impressions" || de.Partition != 0 || de.Offset != 0 || !errors.Is(err, runtime.ErrBadMagic) {
		t.Fatalf("Run error %v; want a DecodeError at impressions/0 offset 0 wrapping ErrBadMagic", err)
	}
	if !de.Fails || !strings.Contains(err.Error(), "the producers may write another encoding than the stream's (encoding: confluent, single-object or raw), or set onDecodeError to skip or dead-letter") {
		t.Errorf("Run error %v; want it to say what may be done about the record", err)
	}
}

func sampleAllTypes(i int64) alltypes.AllTypes {
	return alltypes.AllTypes{
		L:        i,
		S:        fmt.Sprint("s", i),
		E:        alltypes.SuitHearts,
		U:        alltypes.AllTypesULong{Value: i},
		TsMs:     time.UnixMilli(i).UTC(),
		Date:     time.Unix(0, 0).UTC(),
		DecBytes: big.NewRat(i, 1000),
		DecFixed: big.NewRat(i, 100),
	}
}

// TestGeneratedRunNeedsARegistry: a job whose streams are Confluent-framed
// does not start without a registry (none in the spec, none set), and
// says which stream needs one and where to set it: read without it, a
// record from another writer schema would decode into wrong values.
func TestGeneratedRunNeedsARegistry(t *testing.T) {
	cfg := alltypes.DefaultConfig()
	cfg.Brokers = []string{"127.0.0.1:1"} // never reached
	err := alltypes.Run(context.Background(), cfg, &collector{})
	if err == nil || !strings.Contains(err.Error(), "no schema registry: Confluent-framed Avro (stream impressions)") ||
		!strings.Contains(err.Error(), "--registry-url or ALLTYPES_REGISTRY_URL (spec key schemas.registry.url)") {
		t.Fatalf("Run without a registry: %v; want the error naming stream impressions and the setting", err)
	}
}
