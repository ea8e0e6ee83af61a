package sink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
)

// BenchmarkFilesBatch is the files sink's cost per batch: 12 partitions
// of 1,000 Impressions each, encoded, written as container files, synced
// and published. The engine's decoding is not in it; the ETL job's end
// to end figures belong in BENCHMARKS-engine.md.
func BenchmarkFilesBatch(b *testing.B) {
	for _, c := range []Codec{CodecNull, CodecSnappy, CodecDeflate} {
		b.Run(string(c), func(b *testing.B) {
			const parts, per = 12, 1000
			f, err := NewFiles[impressionType](b.TempDir(), OCFCodec(c))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			vals := make([]impressionType, per)
			for i := range vals {
				vals[i] = impression(int64(i))
			}
			ctx := context.Background()
			next := int64(0)
			start := time.Now()
			for b.Loop() {
				batch := runtime.StoredBatch{ID: next}
				for p := range int32(parts) {
					batch.Ranges = append(batch.Ranges, rng("imps", p, next, next+per))
				}
				if err := f.Begin(ctx, batch); err != nil {
					b.Fatal(err)
				}
				for _, r := range batch.Ranges {
					w := f.Writer(r)
					for i := range vals {
						if err := w.Write(&vals[i]); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := f.Store(ctx, batch); err != nil {
					b.Fatal(err)
				}
				next += per
			}
			b.ReportMetric(float64(b.N*parts*per)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkETLFilesVsNoSink is the files sink's cost in a whole job, same
// run: the warehouse ETL (decode, OCF encode with snappy, fsync per
// partition-batch, publish, exactly-once) against the same job with no
// sink (at-least-once, Kafka offsets, a handler that only reads each
// value), draining a backlog of ETL_RECORDS (default 240,000) raw-Avro
// Impressions on 12 partitions, rounds interleaved. ETL_INTERVAL (default
// 1s) is the batch interval. records/s is over the drain, from Run's
// start to the last record's batch done; files/nosink is the ratio.
func BenchmarkETLFilesVsNoSink(b *testing.B) {
	n := envInt("ETL_RECORDS", 240_000)
	interval := time.Second
	if d, err := time.ParseDuration(os.Getenv("ETL_INTERVAL")); err == nil && d > 0 {
		interval = d
	}
	const parts = 12
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, etlTopic))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	next := make(map[int32]int64)
	for range n / parts / 1000 {
		produceImpressions(b, cl, parts, next, 1000)
	}
	total := int64(n / parts / 1000 * 1000 * parts)
	drain := func(round int, files bool) float64 {
		group := fmt.Sprintf("bench-%d-%v", round, files)
		opts := []runtime.Opt{runtime.Group(group), runtime.Brokers(c.ListenAddrs()...), runtime.BatchInterval(interval)}
		var f *impressions
		if files {
			if f, err = NewFiles[impressionType](b.TempDir()); err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			opts = append(opts, runtime.WithSemantics(runtime.ExactlyOnce), runtime.WithOffsetStore(f))
		}
		e, err := runtime.New(opts...)
		if err != nil {
			b.Fatal(err)
		}
		s, err := runtime.NewStreamInto[struct{}](e, "impressions", runtime.Subscribe(etlTopic), nil, runtime.RawAvroInto[alltypes.Impression]())
		if err != nil {
			b.Fatal(err)
		}
		var seen atomic.Int64
		var sum atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		var end time.Time
		err = e.Run(ctx, func(ctx context.Context, bs *runtime.JobBatch) error {
			sb := s.Batch(bs)
			if files {
				if err := WriteBatch(ctx, f, sb); err != nil {
					return err
				}
			} else {
				for r := range sb.Records() {
					sum.Add(r.Value.CampaignID)
				}
			}
			if seen.Add(int64(sb.Len())) >= total && end.IsZero() {
				end = time.Now()
				cancel()
			}
			return nil
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			b.Fatal(err)
		}
		return float64(total) / end.Sub(start).Seconds()
	}
	var withFiles, without float64
	for round := range b.N {
		without += drain(round, false)
		withFiles += drain(round, true)
	}
	b.ReportMetric(withFiles/float64(b.N), "files-records/s")
	b.ReportMetric(without/float64(b.N), "nosink-records/s")
	b.ReportMetric(withFiles/without, "files/nosink")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
