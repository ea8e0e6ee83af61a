package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/examples/kafka-to-kafka/enrich"
	"github.com/streamgen/streamgen/internal/kafkatest"
)

var devices = []enrich.DeviceType{enrich.DeviceTypeDesktop, enrich.DeviceTypePhone, enrich.DeviceTypeTablet, enrich.DeviceTypeTv, enrich.DeviceTypeUnknown}

// failOnce is the enricher, failing its first batch after writing it.
type failOnce struct{ failed atomic.Bool }

func (f *failOnce) ProcessBatch(ctx context.Context, b *enrich.Batch) error {
	if err := (enricher{}).ProcessBatch(ctx, b); err != nil {
		return err
	}
	if b.Impressions.Len() > 0 && f.failed.CompareAndSwap(false, true) {
		return errors.New("the enricher failed after writing its batch")
	}
	return nil
}

// TestKafkaToKafka runs the enricher on an in-process Kafka and schema
// registry: a first run fails a batch after writing it (the batch's
// transaction is aborted), a second run enriches everything, and a third,
// after more impressions, the rest. A read_committed consumer of the
// output then sees every impression's enriched record exactly once,
// Confluent-framed under the schema id the job registered. (That aborted
// output reaches the log and read_committed skips it is shown by
// runtime/sink's TestKafkaSinkAbortedOutputSkippedByReadCommitted.)
func TestKafkaToKafka(t *testing.T) {
	ctx := context.Background()
	addrs, prod := kafkatest.Cluster(t, 3, "impressions", "impressions-enriched")
	reg := srfake.New()
	t.Cleanup(reg.Close)
	inID, _, err := reg.RegisterSchema("impressions-value", sr.Schema{Schema: enrich.ImpressionSchema, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	produce := func(count int) {
		var recs []*kgo.Record
		for range count {
			imp := enrich.Impression{ImpressionID: fmt.Sprintf("imp-%04d", n), CampaignID: int64(n % 7), Device: devices[n%len(devices)],
				BidPrice: big.NewRat(int64(n), 1000), Timestamp: time.UnixMilli(int64(n) * 3_600_000).UTC(), Geo: enrich.GeoPoint{Country: "FR"}}
			val, err := imp.AppendAvro(binary.BigEndian.AppendUint32([]byte{0}, uint32(inID)))
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: "impressions", Partition: int32(n % 3), Key: []byte(imp.ImpressionID), Value: val})
			n++
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	committed := newReader(t, addrs, kgo.ReadCommitted())
	run := func(h enrich.Handler, want int) error {
		t.Helper()
		cfg := enrich.DefaultConfig()
		cfg.Brokers, cfg.RegistryURL, cfg.StatusAddr = addrs, reg.URL(), ""
		cfg.BatchInterval = 50 * time.Millisecond
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- enrich.Run(rctx, cfg, h) }()
		deadline := time.After(30 * time.Second)
		for committed.read(t) < want {
			select {
			case err := <-errc:
				return err
			case <-deadline:
				t.Fatalf("the output holds %d committed records, want %d", len(committed.out), want)
			default:
			}
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
	produce(300)
	if err := run(&failOnce{}, 300); err == nil {
		t.Fatal("the failing run did not fail")
	}
	if err := run(enricher{}, 300); err != nil {
		t.Fatal(err)
	}
	produce(150)
	if err := run(enricher{}, 450); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // anything written twice would show now
	committed.read(t)

	outID, _, err := reg.RegisterSchema("impressions-enriched-value", sr.Schema{Schema: enrich.EnrichedImpressionSchema, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range committed.out {
		if id := int(binary.BigEndian.Uint32(r.Value[1:5])); r.Value[0] != 0 || id != outID {
			t.Fatalf("output at partition %d offset %d is framed with schema id %d, want %d", r.Partition, r.Offset, id, outID)
		}
		var v enrich.EnrichedImpression
		if err := v.UnmarshalAvro(r.Value[5:]); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != v.ImpressionID {
			t.Errorf("output %s is keyed %q", v.ImpressionID, r.Key)
		}
		var seq int
		fmt.Sscanf(v.ImpressionID, "imp-%d", &seq)
		if want := string(devices[seq%len(devices)]); v.Device != want || v.BidMicros != int64(seq)*1000 || v.HourOfDay != int32(seq%24) || v.Country != "FR" {
			t.Errorf("output %+v is not impression %d enriched", v, seq)
		}
		ids = append(ids, v.ImpressionID)
	}
	slices.Sort(ids)
	if len(ids) != 450 {
		t.Fatalf("read_committed sees %d enriched impressions, want 450", len(ids))
	}
	for i, id := range ids {
		if want := fmt.Sprintf("imp-%04d", i); id != want {
			t.Fatalf("enriched impression %d is %s, want %s: one is missing or twice", i, id, want)
		}
	}
}

// reader reads the output topic from its start.
type reader struct {
	cl  *kgo.Client
	out []*kgo.Record
}

func newReader(t *testing.T, addrs []string, iso kgo.IsolationLevel) *reader {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("impressions-enriched"), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &reader{cl: cl}
}

// read takes what was written since the last read and returns the
// total.
func (r *reader) read(t *testing.T) int {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	r.cl.PollFetches(ctx).EachRecord(func(rec *kgo.Record) { r.out = append(r.out, rec) })
	return len(r.out)
}
