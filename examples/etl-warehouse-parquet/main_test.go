package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/examples/etl-warehouse-parquet/lake"
	"github.com/streamgen/streamgen/internal/kafkatest"
)

// TestParquetWarehouseETL runs the ETL job on an in-process Kafka twice,
// with more impressions in between, into a file:// warehouse, then reads
// it back with parquet-go: every impression is in exactly one published
// file, in the directory of its timestamp's hour, and nothing staged is
// left.
func TestParquetWarehouseETL(t *testing.T) {
	dir := t.TempDir()
	runTwice(t, "file://"+dir, func() int { return len(readWarehouse(t, dir)) })

	got := readWarehouse(t, dir)
	var ids []string
	for id, hourDir := range got {
		ids = append(ids, id)
		var i, hour int
		fmt.Sscanf(id, "imp-%04d", &i)
		if hour = 6 + i%2; !strings.Contains(hourDir, fmt.Sprintf("dt=2026-12-05/hour=%02d/", hour)) {
			t.Errorf("%s is in %s, want the directory of hour %02d", id, hourDir, hour)
		}
	}
	slices.Sort(ids)
	if len(ids) != 450 {
		t.Fatalf("the warehouse holds %d impressions, want 450", len(ids))
	}
	for i, id := range ids {
		if want := fmt.Sprintf("imp-%04d", i); id != want {
			t.Fatalf("impression %d of the warehouse is %s, want %s", i, id, want)
		}
	}
	staged, _ := filepath.Glob(filepath.Join(dir, "_streamgen", "staged", "*", "*", "*"))
	if len(staged) > 0 {
		t.Errorf("staged objects left: %v", staged)
	}
}

// runTwice runs the ETL job on an in-process Kafka twice into the
// warehouse at url, 300 impressions then 150 more (impression n to
// partition n%3, of hour 6 or 7 by its parity), each run until count
// says the warehouse holds all produced so far.
func runTwice(t *testing.T, url string, count func() int) {
	ctx := context.Background()
	addrs, prod := kafkatest.Cluster(t, 3, "impressions")
	n := 0
	produce := func(num int) {
		var recs []*kgo.Record
		for range num {
			// Impressions of two hours, so each batch splits in two.
			ts := time.Date(2026, 12, 5, 6+n%2, n%60, 0, 0, time.UTC)
			imp := lake.Impression{ImpressionID: fmt.Sprintf("imp-%04d", n), CampaignID: int64(n % 7), Device: lake.DeviceTypePhone, BidPrice: big.NewRat(int64(n), 1000), Timestamp: ts}
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
		cfg := lake.DefaultConfig()
		cfg.Brokers, cfg.SinkURL, cfg.StatusAddr = addrs, url, ""
		cfg.BatchInterval = 50 * time.Millisecond
		// Files roll across batches; small limits publish them while
		// the test watches (the defaults keep a file for up to 90m).
		cfg.SinkRollMaxRecords, cfg.SinkRollMaxOpen = 40, 100*time.Millisecond
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- lake.Run(rctx, cfg, lake.Passthrough()) }()
		deadline := time.After(30 * time.Second)
		for count() < want {
			select {
			case err := <-errc:
				t.Fatalf("job stopped: %v", err)
			case <-deadline:
				t.Fatalf("the warehouse holds %d impressions, want %d", count(), want)
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
}

// readWarehouse reads every published Parquet file and returns each
// impression id with the file's directory; an id in two files fails.
func readWarehouse(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	files, err := filepath.Glob(filepath.Join(dir, "topic=impressions", "dt=*", "hour=*", "partition=*", "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rd := parquet.NewReader(pf)
		for {
			row := map[string]any{}
			if err := rd.Read(&row); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			id := row["impression_id"].(string)
			if prev, dup := out[id]; dup {
				t.Fatalf("%s is in %s and in %s", id, prev, name)
			}
			out[id] = name
		}
		f.Close()
	}
	return out
}
