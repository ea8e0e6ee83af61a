package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"gocloud.dev/blob"

	"github.com/streamgen/streamgen/examples/etl-warehouse/warehouse"
	"github.com/streamgen/streamgen/internal/kafkatest"
)

// TestWarehouseETL runs the ETL job on an in-process Kafka twice, with
// more impressions in between, into a file:// warehouse (the spec's
// default kind), then reads every Parquet file back with parquet-go (see
// fixture.check): every impression once, with its campaign's name and
// advertiser, in the directory of its hour and in a file whose offsets
// hold it.
func TestWarehouseETL(t *testing.T) {
	runTwice(t, "file://"+t.TempDir())
}

// runTwice runs the ETL job into the warehouse at url on an in-process
// Kafka, with campaigns 0 to 5 in the table: 300 impressions, then 150
// more, each run until the warehouse holds all produced so far; then it
// checks the warehouse.
func runTwice(t *testing.T, url string) {
	f := newFixture(t, url)
	for c := range int64(6) {
		f.campaign(c, fmt.Sprintf("campaign %d", c))
	}
	f.impressions(300, func(seq int) int64 { return int64(seq % 7) })
	f.run(t, 300)
	f.impressions(150, func(seq int) int64 { return int64(seq % 7) })
	f.run(t, 450)
	f.check(t, 450)
}

// TestCampaignUpdates: while the job runs, campaign 1 is renamed and
// campaign 2 deleted (a tombstone) on the campaigns topic. The warehouse
// comes to hold rows with the new name and with none; in each Kafka
// partition, in offset order (impression n is the n/3-th of partition
// n%3), a row with the old name never follows one with the new, since
// the table changes only between batches.
func TestCampaignUpdates(t *testing.T) {
	f := newFixture(t, "file://"+t.TempDir())
	f.campaign(1, "spring sale")
	f.campaign(2, "winter sale")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- warehouse.Run(ctx, f.config(), enricher{}) }()
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
			for _, r := range f.read(t, false) {
				if r.CampaignID == c && r.CampaignName == name {
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

	rows := f.read(t, true)
	slices.SortFunc(rows, func(a, b row) int { return a.n - b.n })
	names := map[int64][]string{1: {"spring sale", "spring sale 2"}, 2: {"winter sale", ""}}
	now := map[[2]int64]int{} // per partition and campaign, the index in names of the last name seen
	for _, r := range rows {
		k := [2]int64{int64(r.n % 3), r.CampaignID}
		at := slices.Index(names[r.CampaignID], r.CampaignName)
		switch {
		case at < 0:
			t.Errorf("%s of campaign %d is named %q", r.ImpressionID, r.CampaignID, r.CampaignName)
		case at < now[k]:
			t.Errorf("partition %d: %s of campaign %d is named %q after a row named %q", r.n%3, r.ImpressionID, r.CampaignID, r.CampaignName, names[r.CampaignID][now[k]])
		default:
			now[k] = at
		}
	}
}

// fixture is an in-process Kafka (impressions and campaigns, 3 partitions
// each) and a warehouse at url, which the test reads through the bucket.
type fixture struct {
	t        *testing.T
	addrs    []string
	prod     *kgo.Client
	registry string
	url      string
	bucket   *blob.Bucket
	n        int // impressions written
}

func newFixture(t *testing.T, url string) *fixture {
	f := &fixture{t: t, url: url}
	f.addrs, f.prod = kafkatest.Cluster(t, 3, "impressions", "campaigns")
	// The ids the records are framed with (see impressions and campaign).
	f.registry = kafkatest.Registry(t, map[int]string{1: new(warehouse.Impression).AvroSchema(), 2: new(warehouse.Campaign).AvroSchema()})
	var err error
	if f.bucket, err = blob.OpenBucket(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.bucket.Close() })
	return f
}

func (f *fixture) config() warehouse.Config {
	cfg := warehouse.DefaultConfig()
	cfg.Brokers, cfg.RegistryURL, cfg.SinkURL, cfg.StatusAddr = f.addrs, f.registry, f.url, ""
	cfg.BatchInterval = 50 * time.Millisecond
	// Files roll across batches, and the defaults keep one open until its
	// hour is 5 minutes past in the records' own time, or for 90 minutes:
	// small limits publish them while the test waits for them.
	cfg.SinkRollMaxRecords, cfg.SinkRollMaxOpen = 40, 100*time.Millisecond
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
	for len(f.read(t, false)) < want {
		select {
		case err := <-errc:
			t.Fatalf("job stopped: %v", err)
		case <-deadline:
			t.Fatalf("the warehouse holds %d impressions, want %d", len(f.read(t, false)), want)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// impressions writes count impressions, impression n to partition n%3
// (so at offset n/3 there, with one producer) with a timestamp in hour 6
// or 7 of 2026-12-05 by its parity, so each batch splits in two hours,
// of the campaigns campaign gives each sequence number. Without a
// registry the job reads the Confluent-framed body with its own schema,
// whatever the id.
func (f *fixture) impressions(count int, campaign func(seq int) int64) {
	f.t.Helper()
	var recs []*kgo.Record
	for range count {
		n := f.n
		imp := warehouse.Impression{ImpressionID: fmt.Sprintf("imp-%04d", n), CampaignID: campaign(n), Device: warehouse.DeviceTypePhone,
			BidPrice: big.NewRat(int64(n), 1000), Timestamp: hourOf(n), Geo: warehouse.GeoPoint{Country: "FR"}}
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

// hourOf is impression n's timestamp: in hour 6 or 7 by its parity.
func hourOf(n int) time.Time { return time.Date(2026, 12, 5, 6+n%2, n%60, 0, 0, time.UTC) }

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

// row is what the tests check of a warehouse row (the columns parquet-go
// reads by name), and where it is.
type row struct {
	ImpressionID string `parquet:"impression_id"`
	CampaignID   int64  `parquet:"campaign_id"`
	CampaignName string `parquet:"campaign_name"`
	Advertiser   string `parquet:"advertiser"`

	n   int    // of imp-NNNN
	key string // of its object
}

// read reads every published Parquet object of the warehouse with
// parquet-go. With strict, an impression in two objects, or an object
// under topic=impressions/ that is not Parquet, fails the test; without,
// an impression is returned once (the job may be midway).
func (f *fixture) read(t *testing.T, strict bool) []row {
	t.Helper()
	ctx := context.Background()
	var rows []row
	seen := map[string]string{}
	it := f.bucket.List(&blob.ListOptions{Prefix: "topic=impressions/"})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(o.Key, ".parquet") {
			if strict {
				t.Fatalf("published object %s is not a Parquet file", o.Key)
			}
			continue
		}
		data, err := f.bucket.ReadAll(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parquet.Read[row](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		for _, r := range got {
			if prev, dup := seen[r.ImpressionID]; dup {
				if strict {
					t.Fatalf("%s is in %s and in %s", r.ImpressionID, prev, o.Key)
				}
				continue
			}
			seen[r.ImpressionID] = o.Key
			if _, err := fmt.Sscanf(r.ImpressionID, "imp-%04d", &r.n); err != nil {
				t.Fatalf("%s: impression id %q", o.Key, r.ImpressionID)
			}
			r.key = o.Key
			rows = append(rows, r)
		}
	}
}

// check reads the warehouse back once the job has written want
// impressions of campaigns n%7, with campaigns 0 to 5 in the table: every
// impression is in exactly one published object, with its campaign's name
// and advertiser (none for campaign 6), under its hour's
// dt=2026-12-05/hour=HH/ and its partition, in an object whose name's
// offset range holds its offset; within a directory no two objects'
// ranges overlap; nothing staged is left.
func (f *fixture) check(t *testing.T, want int) {
	t.Helper()
	rows := f.read(t, true)
	if len(rows) != want {
		t.Errorf("the warehouse holds %d impressions, want %d", len(rows), want)
	}
	slices.SortFunc(rows, func(a, b row) int { return a.n - b.n })
	ranges := map[string][][2]int64{} // per directory, its objects' offset ranges
	for i, r := range rows {
		if r.n != i {
			t.Fatalf("impression %d of the warehouse is %s: one is missing", i, r.ImpressionID)
		}
		name, adv := fmt.Sprintf("campaign %d", i%7), fmt.Sprintf("advertiser of campaign %d", i%7)
		if i%7 == 6 {
			name, adv = "", ""
		}
		if r.CampaignID != int64(i%7) || r.CampaignName != name || r.Advertiser != adv {
			t.Errorf("%s: campaign %d named %q of %q, want %d named %q of %q", r.ImpressionID, r.CampaignID, r.CampaignName, r.Advertiser, i%7, name, adv)
		}
		var hour, part int
		var from, until int64
		if _, err := fmt.Sscanf(r.key, "topic=impressions/dt=2026-12-05/hour=%02d/partition=%d/%020d-%020d.parquet", &hour, &part, &from, &until); err != nil {
			t.Fatalf("published key %s: %v", r.key, err)
		}
		if offset := int64(i / 3); hour != hourOf(i).Hour() || part != i%3 || offset < from || offset >= until {
			t.Errorf("%s (partition %d offset %d, hour %02d) is in %s", r.ImpressionID, i%3, offset, hourOf(i).Hour(), r.key)
		}
		if dir := path.Dir(r.key); !slices.Contains(ranges[dir], [2]int64{from, until}) {
			ranges[dir] = append(ranges[dir], [2]int64{from, until})
		}
	}
	for dir, rs := range ranges {
		slices.SortFunc(rs, func(a, b [2]int64) int { return int(a[0] - b[0]) })
		for i := 1; i < len(rs); i++ {
			if rs[i][0] < rs[i-1][1] {
				t.Errorf("%s: objects %d-%d and %d-%d overlap", dir, rs[i-1][0], rs[i-1][1], rs[i][0], rs[i][1])
			}
		}
	}
	it := f.bucket.List(&blob.ListOptions{Prefix: "_streamgen/staged/"})
	if o, err := it.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Errorf("staged objects left (%v, %v)", o, err)
	}
}
