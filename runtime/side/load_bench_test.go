package side

import (
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/runtime"
)

// BenchmarkTableLoad loads a table topic of SIDE_RECORDS records (default
// 200,000; 1,000,000 for the figure) across 6 partitions two
// ways in the same run: the table's Load (bootstrap to the watermarks
// seen at start), and a plain franz-go loop that consumes the topic from
// the start and decodes each key and value into a map. It reports both
// rates, their ratio, and the heap the loaded table holds per entry
// beside the size of its decoded key and value.
func BenchmarkTableLoad(b *testing.B) {
	n := 200_000
	if s := getenv("SIDE_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const parts = 6
	addrs, produce := benchCluster(b, parts, tableTopic)
	produce(tableTopic, n, func(i int) *kgo.Record {
		return &kgo.Record{Topic: tableTopic, Partition: int32(i % parts), Key: []byte("campaign-" + strconv.Itoa(i)),
			Value: []byte(fmt.Sprintf("Campaign %d of advertiser %d, country ES", i, i%977))}
	})
	var tableRate, loopRate, perEntry float64
	for b.Loop() {
		tableRate = float64(n) / timeIt(b, func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var before, after goruntime.MemStats
			goruntime.GC()
			goruntime.ReadMemStats(&before)
			tab := NewTable(tableTopic, tableTopic, runtime.StringDecoder, runtime.StringDecoder)
			if err := tab.Load(ctx, env(addrs, nil)); err != nil {
				b.Fatal(err)
			}
			tab.Swap()
			if tab.Len() != n {
				b.Fatalf("the table holds %d entries, want %d", tab.Len(), n)
			}
			goruntime.GC()
			goruntime.ReadMemStats(&after)
			perEntry = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
			goruntime.KeepAlive(tab)
		}).Seconds()
		loopRate = float64(n) / timeIt(b, func() { plainLoad(b, addrs, n) }).Seconds()
	}
	b.ReportMetric(tableRate, "table-records/s")
	b.ReportMetric(loopRate, "loop-records/s")
	b.ReportMetric(tableRate/loopRate, "table/loop")
	b.ReportMetric(perEntry, "heap-B/entry")
	// The decoded entry: a string key and value (headers and bytes).
	b.ReportMetric(float64(2*unsafe.Sizeof(""))+float64(len("campaign-100000")+len("Campaign 100000 of advertiser 342, country ES")), "decoded-B/entry")
	b.ReportMetric(0, "ns/op")
}

// benchCluster is an in-process cluster with the topics, and a function
// that writes count records made by rec to one of them, 10,000 at a time.
func benchCluster(b *testing.B, parts int32, topics ...string) ([]string, func(topic string, count int, rec func(i int) *kgo.Record)) {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, topics...))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	return addrs, func(topic string, count int, rec func(i int) *kgo.Record) {
		var rs []*kgo.Record
		for i := range count {
			rs = append(rs, rec(i))
			if len(rs) == 10_000 || i == count-1 {
				if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
					b.Fatal(err)
				}
				rs = rs[:0]
			}
		}
	}
}

func timeIt(b *testing.B, f func()) time.Duration {
	b.Helper()
	start := time.Now()
	f()
	return time.Since(start)
}

// plainLoad is the hand-written loop a user would write: consume from
// the start, decode, keep the latest value of each key.
func plainLoad(b *testing.B, addrs []string, n int) {
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(tableTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	m := make(map[string]string)
	for read := 0; read < n; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			k, _ := runtime.StringDecoder(ctx, r.Key)
			v, _ := runtime.StringDecoder(ctx, r.Value)
			m[k] = v
			read++
		})
	}
	if len(m) != n {
		b.Fatalf("the loop holds %d entries, want %d", len(m), n)
	}
}

func getenv(k string) string { return os.Getenv(k) }
