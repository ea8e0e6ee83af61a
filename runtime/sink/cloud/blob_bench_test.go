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
// server on loopback and into a file:// directory, each with a file per
// batch and rolling (the generated job's default limits, files published
// by the stop's Drain), against the same job with no sink (at-least-once,
// Kafka offsets, a handler that only reads each value), each draining a
// backlog of ETL_RECORDS (default 600,000) raw-Avro Impressions of two
// hours on 12 partitions, rounds interleaved. ETL_INTERVAL (default
// 200ms) is the batch interval: short against the drain, so a figure is
// the sink's cost and not the wait for the next batch boundary.
// records/s is over the drain, from Run's start to its return (every
// batch stored, a rolling sink's open files published).
//
//	go test -run '^$' -bench ETLBlobParquet -benchtime 3x ./runtime/sink/cloud
func BenchmarkETLBlobParquet(b *testing.B) {
	n := benchEnvInt("ETL_RECORDS", 600_000)
	interval := 200 * time.Millisecond
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

	drain := func(round int, url string, roll bool, format sink.Format) float64 {
		group := fmt.Sprintf("bench-%d-%s", round, url)
		opts := []runtime.Opt{runtime.Group(group), runtime.Brokers(c.ListenAddrs()...), runtime.BatchInterval(interval)}
		var s *impressions
		if url != "" {
			sopts := []sink.BlobOpt{sink.BlobFormat(format), sink.PartitionByTime("timestamp", sink.Hour)}
			if roll {
				sopts = append(sopts, sink.BlobRoll(sink.RollLimits{MaxRecords: 1_000_000, MaxBytes: 128 << 20, MaxOpen: 90 * time.Minute, Lateness: 5 * time.Minute, MaxOpenFiles: 64}))
			}
			if s, err = sink.OpenBlob[alltypes.Impression](context.Background(), url, sopts...); err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			opts = append(opts, runtime.WithSemantics(runtime.ExactlyOnce), runtime.WithOffsetStore(s))
		}
		var seen, sum atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		opts = append(opts, runtime.Listener(doneAt{func() {
			if seen.Load() >= total {
				cancel()
			}
		}}))
		e, err := runtime.New(opts...)
		if err != nil {
			b.Fatal(err)
		}
		st, err := runtime.NewStreamInto[struct{}](e, topic, runtime.Subscribe(topic), nil, runtime.RawAvroInto[alltypes.Impression]())
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
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
			seen.Add(int64(sb.Len()))
			return nil
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			b.Fatal(err)
		}
		if s != nil && s.OpenFiles().Files != 0 {
			b.Fatalf("%s: %d files still open after the stop", url, s.OpenFiles().Files)
		}
		return float64(total) / time.Since(start).Seconds()
	}
	var none, file, fileRoll, fileAvroRoll, s3, s3Roll float64
	for round := range b.N {
		none += drain(round, "", false, "")
		file += drain(round, "file://"+b.TempDir(), false, sink.FormatParquet)
		fileRoll += drain(round, "file://"+b.TempDir(), true, sink.FormatParquet)
		// The same sink writing Avro files (OCF, the values' bytes as they
		// are held): what the sink costs without Parquet's encoding.
		fileAvroRoll += drain(round, "file://"+b.TempDir(), true, sink.FormatAvro)
		// A bucket per round and kind: the claims are the job's offsets.
		s3 += drain(round, srv.NewBucket(b, fmt.Sprintf("round%d", round)), false, sink.FormatParquet)
		s3Roll += drain(round, srv.NewBucket(b, fmt.Sprintf("round%d-roll", round)), true, sink.FormatParquet)
	}
	rounds := float64(b.N)
	b.ReportMetric(none/rounds, "nosink-records/s")
	b.ReportMetric(file/rounds, "file-records/s")
	b.ReportMetric(fileRoll/rounds, "file-roll-records/s")
	b.ReportMetric(s3/rounds, "s3-records/s")
	b.ReportMetric(s3Roll/rounds, "s3-roll-records/s")
	b.ReportMetric(file/none, "file/nosink")
	b.ReportMetric(fileRoll/none, "file-roll/nosink")
	b.ReportMetric(fileAvroRoll/none, "file-avro-roll/nosink")
	b.ReportMetric(s3/none, "s3/nosink")
	b.ReportMetric(s3Roll/none, "s3-roll/nosink")
}

// doneAt calls f after each completed batch (its offsets stored).
type doneAt struct{ f func() }

func (doneAt) BatchSubmitted(runtime.BatchInfo)   {}
func (doneAt) BatchStarted(runtime.BatchInfo)     {}
func (d doneAt) BatchCompleted(runtime.BatchInfo) { d.f() }

func benchEnvInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
