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
	f := newFixture(t)
	addrs, reg := f.addrs, f.reg
	// Every campaign but 6 has a name.
	for c := range int64(6) {
		f.campaign(c, fmt.Sprintf("campaign %d", c))
	}
	n := 0
	produce := func(count int) {
		f.impressions(n, count, func(seq int) int64 { return int64(seq % 7) })
		n += count
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
		name := fmt.Sprintf("campaign %d", seq%7)
		if seq%7 == 6 {
			name = ""
		}
		if want := string(devices[seq%len(devices)]); v.Device != want || v.BidMicros != int64(seq)*1000 || v.HourOfDay != int32(seq%24) || v.Country != "FR" || v.CampaignName != name {
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

// TestCampaignUpdates: while the enricher runs, campaign 1 is renamed and
// campaign 2 deleted (a tombstone) on the campaigns topic. The output
// comes to show the new name and no name; in each output partition, whose
// records are in batch order, the old name never follows the new one,
// since the table changes only between batches.
func TestCampaignUpdates(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.campaign(1, "spring sale")
	f.campaign(2, "winter sale")
	cfg := enrich.DefaultConfig()
	cfg.Brokers, cfg.RegistryURL, cfg.StatusAddr = f.addrs, f.reg.URL(), ""
	cfg.BatchInterval = 50 * time.Millisecond
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- enrich.Run(rctx, cfg, enricher{}) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("the job stopped with %v", err)
		}
	}()

	committed := newReader(t, f.addrs, kgo.ReadCommitted())
	n := 0
	// until produces impressions of campaigns 1 and 2 until the output
	// holds one of campaign c named name.
	until := func(c int64, name string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			f.impressions(n, 20, func(seq int) int64 { return int64(1 + seq%2) })
			n += 20
			committed.read(t)
			for _, v := range decodeAll(t, committed.out) {
				if v.CampaignID == c && v.CampaignName == name {
					return
				}
			}
			select {
			case err := <-errc:
				t.Fatalf("the job stopped: %v", err)
			case <-deadline:
				t.Fatalf("no output of campaign %d named %q in 30s", c, name)
			default:
			}
		}
	}
	until(1, "spring sale")
	until(2, "winter sale")
	f.campaign(1, "spring sale 2")
	f.campaign(2, "")
	until(1, "spring sale 2")
	until(2, "")

	names := map[int64][]string{1: {"spring sale", "spring sale 2"}, 2: {"winter sale", ""}}
	for p := range int32(3) {
		now := map[int64]int{} // per campaign, the index in names of the last name seen
		for i, v := range decodeAll(t, committed.out) {
			if committed.out[i].Partition != p {
				continue
			}
			at := slices.Index(names[v.CampaignID], v.CampaignName)
			switch {
			case at < 0:
				t.Errorf("output %s of campaign %d is named %q", v.ImpressionID, v.CampaignID, v.CampaignName)
			case at < now[v.CampaignID]:
				t.Errorf("output partition %d: %s of campaign %d is named %q after a record named %q", p, v.ImpressionID, v.CampaignID, v.CampaignName, names[v.CampaignID][now[v.CampaignID]])
			default:
				now[v.CampaignID] = at
			}
		}
	}
}

// fixture is an in-process Kafka (impressions, impressions-enriched and
// campaigns, 3 partitions each) and schema registry, with the impressions'
// and the campaigns' schemas registered.
type fixture struct {
	t            *testing.T
	addrs        []string
	prod         *kgo.Client
	reg          *srfake.Registry
	inID, campID int
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t}
	f.addrs, f.prod = kafkatest.Cluster(t, 3, "impressions", "impressions-enriched", "campaigns")
	f.reg = srfake.New()
	t.Cleanup(f.reg.Close)
	var err error
	if f.inID, _, err = f.reg.RegisterSchema("impressions-value", sr.Schema{Schema: enrich.ImpressionSchema, Type: sr.TypeAvro}); err != nil {
		t.Fatal(err)
	}
	if f.campID, _, err = f.reg.RegisterSchema("campaigns-value", sr.Schema{Schema: enrich.CampaignSchema, Type: sr.TypeAvro}); err != nil {
		t.Fatal(err)
	}
	return f
}

// impressions writes count impressions, imp-<from> on, of the campaigns
// campaign gives each sequence number.
func (f *fixture) impressions(from, count int, campaign func(seq int) int64) {
	f.t.Helper()
	var recs []*kgo.Record
	for n := from; n < from+count; n++ {
		imp := enrich.Impression{ImpressionID: fmt.Sprintf("imp-%04d", n), CampaignID: campaign(n), Device: devices[n%len(devices)],
			BidPrice: big.NewRat(int64(n), 1000), Timestamp: time.UnixMilli(int64(n) * 3_600_000).UTC(), Geo: enrich.GeoPoint{Country: "FR"}}
		val, err := imp.AppendAvro(binary.BigEndian.AppendUint32([]byte{0}, uint32(f.inID)))
		if err != nil {
			f.t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "impressions", Partition: int32(n % 3), Key: []byte(imp.ImpressionID), Value: val})
	}
	if err := f.prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		f.t.Fatal(err)
	}
}

// campaign writes campaign id named name to the campaigns topic, keyed as
// Kafka's LongSerializer does; an empty name writes a tombstone.
func (f *fixture) campaign(id int64, name string) {
	f.t.Helper()
	rec := &kgo.Record{Topic: "campaigns", Key: binary.BigEndian.AppendUint64(nil, uint64(id))}
	if name != "" {
		c := enrich.Campaign{ID: id, Name: name}
		var err error
		if rec.Value, err = c.AppendAvro(binary.BigEndian.AppendUint32([]byte{0}, uint32(f.campID))); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.prod.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		f.t.Fatal(err)
	}
}

// decodeAll decodes Confluent-framed enriched impressions.
func decodeAll(t *testing.T, recs []*kgo.Record) []enrich.EnrichedImpression {
	t.Helper()
	out := make([]enrich.EnrichedImpression, len(recs))
	for i, r := range recs {
		if err := out[i].UnmarshalAvro(r.Value[5:]); err != nil {
			t.Fatal(err)
		}
	}
	return out
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
