package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2/ocf"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/examples/etl-warehouse/warehouse"
	"github.com/streamgen/streamgen/internal/kafkatest"
)

// TestWarehouseETL runs the ETL job on an in-process Kafka twice, with
// more impressions in between, then reads the warehouse back: every
// impression is in exactly one published file, with its campaign's name
// and advertiser from the campaigns table (none for campaign 6, which the
// table does not hold), each partition's files chain from its first
// offset to its end, and no temporary file is left.
func TestWarehouseETL(t *testing.T) {
	f := newFixture(t)
	for c := range int64(6) {
		f.campaign(c, fmt.Sprintf("campaign %d", c))
	}
	f.impressions(300, func(seq int) int64 { return int64(seq % 7) })
	f.run(t, 300)
	f.impressions(150, func(seq int) int64 { return int64(seq % 7) })
	f.run(t, 450)

	rows := readWarehouse(t, f.dir)
	if len(rows) != 450 {
		t.Fatalf("the warehouse holds %d impressions, want 450", len(rows))
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.id, b.id) })
	for i, r := range rows {
		if want := fmt.Sprintf("imp-%04d", i); r.id != want {
			t.Fatalf("impression %d of the warehouse is %s, want %s: one is missing or twice", i, r.id, want)
		}
		name, adv := fmt.Sprintf("campaign %d", i%7), fmt.Sprintf("advertiser of campaign %d", i%7)
		if i%7 == 6 {
			name, adv = "", ""
		}
		if r.campaign != int64(i%7) || r.name != name || r.advertiser != adv {
			t.Errorf("%s: campaign %d named %q of %q, want %d named %q of %q", r.id, r.campaign, r.name, r.advertiser, i%7, name, adv)
		}
	}
	for p := range 3 {
		var next int64
		files, _ := filepath.Glob(filepath.Join(f.dir, "topic=impressions", fmt.Sprintf("partition=%d", p), "*.avro"))
		for _, file := range files {
			from, until := fileRange(t, file)
			if from != next {
				t.Errorf("%s starts at %d, want %d: files of a partition chain", file, from, next)
			}
			next = until
		}
		if next != 150 {
			t.Errorf("partition %d's files end at %d, want 150", p, next)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(f.dir, "_streamgen", "tmp", "*", "*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// TestCampaignUpdates: while the job runs, campaign 1 is renamed and
// campaign 2 deleted (a tombstone) on the campaigns topic. The warehouse
// comes to hold rows with the new name and with none; in each Kafka
// partition, whose files are in offset order, a row with the old name
// never follows one with the new, since the table changes only between
// batches.
func TestCampaignUpdates(t *testing.T) {
	f := newFixture(t)
	f.campaign(1, "spring sale")
	f.campaign(2, "winter sale")
	cfg := f.config()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- warehouse.Run(ctx, cfg, enricher{}) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("the job stopped with %v", err)
		}
	}()
	// until writes impressions of campaigns 1 and 2 until the warehouse
	// holds one of campaign c named name.
	until := func(c int64, name string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			f.impressions(20, func(seq int) int64 { return int64(1 + seq%2) })
			for _, r := range readWarehouse(t, f.dir) {
				if r.campaign == c && r.name == name {
					return
				}
			}
			select {
			case err := <-errc:
				t.Fatalf("the job stopped: %v", err)
			case <-deadline:
				t.Fatalf("no row of campaign %d named %q in 30s", c, name)
			case <-time.After(50 * time.Millisecond): // the next batch
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
	now := map[[2]int64]int{} // per partition and campaign, the index in names of the last name seen
	for _, r := range readWarehouse(t, f.dir) {
		k := [2]int64{int64(r.partition), r.campaign}
		at := slices.Index(names[r.campaign], r.name)
		switch {
		case at < 0:
			t.Errorf("%s of campaign %d is named %q", r.id, r.campaign, r.name)
		case at < now[k]:
			t.Errorf("partition %d: %s of campaign %d is named %q after a row named %q", r.partition, r.id, r.campaign, r.name, names[r.campaign][now[k]])
		default:
			now[k] = at
		}
	}
}

// fixture is an in-process Kafka (impressions and campaigns, 3 partitions
// each) and a warehouse directory.
type fixture struct {
	t     *testing.T
	addrs []string
	prod  *kgo.Client
	dir   string
	n     int // impressions written
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, dir: t.TempDir()}
	f.addrs, f.prod = kafkatest.Cluster(t, 3, "impressions", "campaigns")
	return f
}

func (f *fixture) config() warehouse.Config {
	cfg := warehouse.DefaultConfig()
	cfg.Brokers, cfg.SinkDir, cfg.OffsetsDir, cfg.StatusAddr = f.addrs, f.dir, f.dir, ""
	cfg.BatchInterval = 50 * time.Millisecond
	return cfg
}

// run runs the job until the warehouse holds want impressions, then
// stops it.
func (f *fixture) run(t *testing.T, want int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- warehouse.Run(ctx, f.config(), enricher{}) }()
	deadline := time.After(30 * time.Second)
	for len(readWarehouse(t, f.dir)) < want {
		select {
		case err := <-errc:
			t.Fatalf("job stopped: %v", err)
		case <-deadline:
			t.Fatalf("the warehouse holds %d impressions, want %d", len(readWarehouse(t, f.dir)), want)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// impressions writes count impressions, round-robin over the partitions,
// of the campaigns campaign gives each sequence number. Without a
// registry the job reads the Confluent-framed body with its own schema,
// whatever the id.
func (f *fixture) impressions(count int, campaign func(seq int) int64) {
	f.t.Helper()
	var recs []*kgo.Record
	for range count {
		n := f.n
		imp := warehouse.Impression{ImpressionID: fmt.Sprintf("imp-%04d", n), CampaignID: campaign(n), Device: warehouse.DeviceTypePhone,
			BidPrice: big.NewRat(int64(n), 1000), Timestamp: time.UnixMilli(int64(n)).UTC(), Geo: warehouse.GeoPoint{Country: "FR"}}
		val, err := imp.AppendAvro([]byte{0, 0, 0, 0, 1})
		if err != nil {
			f.t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "impressions", Partition: int32(n % 3), Value: val})
		f.n++
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
		c := warehouse.Campaign{ID: id, Name: name, Advertiser: "advertiser of " + name}
		var err error
		if rec.Value, err = c.AppendAvro([]byte{0, 0, 0, 0, 2}); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.prod.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		f.t.Fatal(err)
	}
}

// row is what the tests check of a warehouse row, and where it is.
type row struct {
	partition        int
	id               string
	campaign         int64
	name, advertiser string
}

// readWarehouse reads every published file with hamba's Avro container
// reader, in offset order within each partition.
func readWarehouse(t *testing.T, dir string) []row {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "topic=impressions", "partition=*", "*.avro"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files) // partition=P/FROM-UNTIL, zero-padded
	var rows []row
	for _, name := range files {
		p, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(filepath.Dir(name)), "partition="))
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := ocf.NewDecoder(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for dec.HasNext() {
			var v map[string]any
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			rows = append(rows, row{partition: p, id: v["impression_id"].(string), campaign: v["campaign_id"].(int64),
				name: v["campaign_name"].(string), advertiser: v["advertiser"].(string)})
		}
		if err := dec.Error(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f.Close()
	}
	return rows
}

// fileRange parses FROM-UNTIL.avro.
func fileRange(t *testing.T, name string) (from, until int64) {
	t.Helper()
	a, b, _ := strings.Cut(strings.TrimSuffix(filepath.Base(name), ".avro"), "-")
	f, err1 := strconv.ParseInt(a, 10, 64)
	u, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || len(a) != 20 || len(b) != 20 {
		t.Fatalf("%s is not FROM-UNTIL.avro with 20 digits each", name)
	}
	return f, u
}
