package main

import (
	"context"
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
// impression is in exactly one published file, each partition's files
// chain from its first offset to its end, and no temporary file is left.
func TestWarehouseETL(t *testing.T) {
	ctx := context.Background()
	addrs, prod := kafkatest.Cluster(t, 3, "impressions")
	dir := t.TempDir()
	n := 0
	produce := func(count int) {
		var recs []*kgo.Record
		for range count {
			imp := warehouse.Impression{ImpressionID: fmt.Sprintf("imp-%04d", n), CampaignID: int64(n % 7), Device: warehouse.DeviceTypePhone, BidPrice: big.NewRat(int64(n), 1000), Timestamp: time.UnixMilli(int64(n)).UTC()}
			val, err := imp.AppendAvro([]byte{0, 0, 0, 0, 1})
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: "impressions", Partition: int32(n % 3), Value: val})
			n++
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	run := func(want int) {
		t.Helper()
		cfg := warehouse.DefaultConfig()
		cfg.Brokers, cfg.SinkDir, cfg.OffsetsDir, cfg.StatusAddr = addrs, dir, dir, ""
		cfg.BatchInterval = 50 * time.Millisecond
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- warehouse.Run(rctx, cfg, warehouse.Passthrough()) }()
		deadline := time.After(30 * time.Second)
		for len(readWarehouse(t, dir)) < want {
			select {
			case err := <-errc:
				t.Fatalf("job stopped: %v", err)
			case <-deadline:
				t.Fatalf("the warehouse holds %d impressions, want %d", len(readWarehouse(t, dir)), want)
			case <-time.After(20 * time.Millisecond):
			}
		}
		cancel()
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
	produce(300)
	run(300)
	produce(150)
	run(450)

	ids := readWarehouse(t, dir)
	if len(ids) != 450 {
		t.Fatalf("the warehouse holds %d impressions, want 450", len(ids))
	}
	slices.Sort(ids)
	for i, id := range ids {
		if want := fmt.Sprintf("imp-%04d", i); id != want {
			t.Fatalf("impression %d of the warehouse is %s, want %s: one is missing or twice", i, id, want)
		}
	}
	for p := range 3 {
		var next int64
		files, _ := filepath.Glob(filepath.Join(dir, "topic=impressions", fmt.Sprintf("partition=%d", p), "*.avro"))
		for _, f := range files {
			from, until := fileRange(t, f)
			if from != next {
				t.Errorf("%s starts at %d, want %d: files of a partition chain", f, from, next)
			}
			next = until
		}
		if next != 150 {
			t.Errorf("partition %d's files end at %d, want 150", p, next)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "_streamgen", "tmp", "*", "*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// readWarehouse reads every published file with hamba's Avro container
// reader and returns the impression ids in them.
func readWarehouse(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "topic=impressions", "partition=*", "*.avro"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, name := range files {
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
			ids = append(ids, v["impression_id"].(string))
		}
		if err := dec.Error(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f.Close()
	}
	return ids
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
