package cloud_test

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
	"github.com/streamgen/streamgen/internal/s3test"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/sink"
)

// BenchmarkETLBlobParquet is the Parquet blob sink's cost in a whole job,
// same run: the warehouse ETL (decode, Parquet with snappy, hourly Hive
// partitions, stage, claim, copy, exactly-once) into a versitygw S3
// server on loopback and into a file:// directory, against the same job
// with no sink (at-least-once, Kafka offsets, a handler that only reads
// each value), each draining a backlog of ETL_RECORDS (default 240,000)
// raw-Avro Impressions of two hours on 12 partitions, rounds
// interleaved. ETL_INTERVAL (default 1s) is the batch interval.
// records/s is over the drain, from Run's start to the last record's
// batch done.
//
//	go test -run '^$' -bench ETLBlobParquet -benchtime 3x ./runtime/sink/cloud
func BenchmarkETLBlobParquet(b *testing.B) {
	n := benchEnvInt("ETL_RECORDS", 240_000)
	interval := time.Second
	if d, err := time.ParseDuration(os.Getenv("ETL_INTERVAL")); err == nil && d > 0 {
		interval = d
	}
	const parts = 12
	const topic = "impressions"
	srv := s3test.Start(b)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, topic))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	per := n / parts
	total := int64(per * parts)
	for from := 0; from < per; from += 1000 {
		var recs []*kgo.Record
		for p := range int32(parts) {
			for o := from; o < min(from+1000, per); o++ {
				v := impression(int64(o), "")
				v.Timestamp = v.Timestamp.Add(time.Duration(o%60) * time.Minute) // two hours, so each batch splits in two
				val, err := v.AppendAvro(nil)
				if err != nil {
					b.Fatal(err)
				}
				recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: val})
			}
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}

	drain := func(round int, url string) float64 {
		group := fmt.Sprintf("bench-%d-%s", round, url)
		opts := []runtime.Opt{runtime.Group(group), runtime.Brokers(c.ListenAddrs()...), runtime.BatchInterval(interval)}
		var s *impressions
		if url != "" {
			if s, err = sink.OpenBlob[alltypes.Impression](context.Background(), url,
				sink.BlobFormat(sink.FormatParquet), sink.PartitionByTime("timestamp", sink.Hour)); err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			opts = append(opts, runtime.WithSemantics(runtime.ExactlyOnce), runtime.WithOffsetStore(s))
		}
		e, err := runtime.New(opts...)
		if err != nil {
			b.Fatal(err)
		}
		st, err := runtime.NewStreamInto[struct{}](e, topic, runtime.Subscribe(topic), nil, runtime.RawAvroInto[alltypes.Impression]())
		if err != nil {
			b.Fatal(err)
		}
		var seen, sum atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		var end time.Time
		err = e.Run(ctx, func(ctx context.Context, bs *runtime.JobBatch) error {
			sb := st.Batch(bs)
			if s != nil {
				if err := sink.WriteBlob(ctx, s, sb); err != nil {
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
	var none, file, s3 float64
	for round := range b.N {
		none += drain(round, "")
		file += drain(round, "file://"+b.TempDir())
		// A bucket per round: the claims are the job's offsets.
		s3 += drain(round, srv.NewBucket(b, fmt.Sprintf("round%d", round)))
	}
	rounds := float64(b.N)
	b.ReportMetric(none/rounds, "nosink-records/s")
	b.ReportMetric(file/rounds, "file-records/s")
	b.ReportMetric(s3/rounds, "s3-records/s")
	b.ReportMetric(file/none, "file/nosink")
	b.ReportMetric(s3/none, "s3/nosink")
	b.ReportMetric(s3/file, "s3/file")
}

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
