package side

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/runtime"
)

// BenchmarkEnrichedJob runs the same engine job over SIDE_JOB_RECORDS
// impressions (default 300,000, 6 partitions) twice in the same run: once
// looking every record's campaign up in a 10,000-entry table, once
// without the lookup. It reports both rates and their ratio: what a
// table costs the warehouse ETL's enrichment.
func BenchmarkEnrichedJob(b *testing.B) {
	n := 300_000
	if s := getenv("SIDE_JOB_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const parts, campaigns = 6, 10_000
	addrs, produceAll := benchCluster(b, parts, impressions, tableTopic)
	produceAll(tableTopic, campaigns, func(i int) *kgo.Record {
		return &kgo.Record{Topic: tableTopic, Partition: int32(i % parts), Key: []byte("c" + strconv.Itoa(i)), Value: []byte("campaign " + strconv.Itoa(i) + " of advertiser " + strconv.Itoa(i%97))}
	})
	produceAll(impressions, n, func(i int) *kgo.Record {
		return &kgo.Record{Topic: impressions, Partition: int32(i % parts), Key: []byte("c" + strconv.Itoa(i*7919%campaigns)), Value: []byte("impression " + strconv.Itoa(i))}
	})

	run := func(group string, lookup bool) float64 {
		tab := NewTable(tableTopic, tableTopic, runtime.StringDecoder, runtime.StringDecoder)
		opts := []runtime.Opt{runtime.Group(group), runtime.Brokers(addrs...), runtime.BatchInterval(50 * time.Millisecond),
			runtime.StartFrom(runtime.StartEarliest())}
		if lookup {
			opts = append(opts, runtime.WithSideInputs(tab))
		}
		e, err := runtime.New(opts...)
		if err != nil {
			b.Fatal(err)
		}
		s, err := runtime.NewStream(e, impressions, runtime.Subscribe(impressions), runtime.StringDecoder, runtime.StringDecoder)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		seen, found := 0, 0
		start := time.Now() // the table's bootstrap is the enriched job's cost too
		err = e.Run(ctx, func(_ context.Context, bs *runtime.JobBatch) error {
			for r := range s.Batch(bs).Records() {
				if lookup {
					if name, ok := tab.Get(r.Key); ok {
						found += len(name)
					}
				} else {
					found += len(r.Key)
				}
				seen++
			}
			if seen >= n {
				cancel()
			}
			return nil
		})
		if seen < n {
			b.Fatalf("the job handled %d of %d records: %v", seen, n, err)
		}
		if found == 0 {
			b.Fatal("no lookup found a campaign")
		}
		return float64(n) / time.Since(start).Seconds()
	}
	var with, without float64
	i := 0
	for b.Loop() {
		i++
		without = run("plain-"+strconv.Itoa(i), false)
		with = run("enriched-"+strconv.Itoa(i), true)
	}
	b.ReportMetric(with, "enriched-records/s")
	b.ReportMetric(without, "plain-records/s")
	b.ReportMetric(with/without, "enriched/plain")
	b.ReportMetric(0, "ns/op")
}
