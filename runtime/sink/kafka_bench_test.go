package sink

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
)

// BenchmarkKafkaSink compares, in the same run and on the same in-process
// broker (kfake, one broker, 6 partitions), three ways of copying
// 356-byte Impressions from one topic to another, each decoded and
// re-encoded with the generated codec:
//
//   - transactional: the engine, exactly-once through the Kafka sink, one
//     Kafka transaction per 5 s batch (output records, offsets, EndTxn);
//   - at-least-once: the same job and handler, the sink's idempotent
//     producer flushed before the group commit;
//   - loop: a plain franz-go consume-produce loop (PollFetches, decode,
//     encode, Produce), flushed and committed at the end.
//
// The jobs' records/s are over their batches' processing time (handler,
// flush, offsets, EndTxn), not the waits for the next interval boundary,
// which are the micro-batch schedule, not the sink's cost; the loop's is
// over its wall time. Each 5 s batch is capped by MaxRatePerPartition to
// about a quarter of KAFKA_SINK_RECORDS (default 400,000), so a run has
// four or five transactions; the two jobs take turns running first. Reported
// (medians over the rounds): records/s of each, transactional/at-least-once
// (the median of the rounds' ratios), transactions per second of
// processing, EndTxn's mean time per batch, and the sink's Store per
// batch in each job (flush, offsets, and for the transactional job
// AddOffsetsToTxn, TxnOffsetCommit and EndTxn): the records/s of both
// jobs are mostly their handlers' producing, which is the same code, so
// on a shared machine the Store times show the transaction's own cost
// more steadily than the ratio does.
func BenchmarkKafkaSink(b *testing.B) {
	n := 400_000
	if v, err := strconv.Atoi(os.Getenv("KAFKA_SINK_RECORDS")); err == nil && v > 0 {
		n = v
	}
	const parts = 6
	interval := 5 * time.Second
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, etlTopic))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	addrs := c.ListenAddrs()
	prod, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	createTopic := func(t string) {
		if _, err := kadm.NewClient(prod).CreateTopic(context.Background(), parts, 1, nil, t); err != nil {
			b.Fatal(err)
		}
	}
	next := make(map[int32]int64)
	for produced := 0; produced < n; produced += 6000 {
		produceImpressions(b, prod, parts, next, 1000)
	}
	total := int64(0)
	for _, v := range next {
		total += v
	}
	rate := total/parts/4/int64(interval/time.Second) + 1

	var txnRate, alo, loop, txns, endTxn, txnStore, aloStore []float64
	for round := range b.N {
		modes := []runtime.Semantics{runtime.ExactlyOnce, runtime.AtLeastOnce}
		if round%2 == 1 { // neither always runs first, on a colder process
			modes[0], modes[1] = modes[1], modes[0]
		}
		for _, mode := range modes {
			out := fmt.Sprintf("out-%d-%v", round, mode)
			createTopic(out)
			recs, busy, st := runSinkBench(b, addrs, mode, out, fmt.Sprintf("bench-%d-%v", round, mode), total, interval, rate)
			perSec := float64(recs) / busy.Seconds()
			storeMs := float64(st.StoreTime.Microseconds()) / 1000 / float64(max(st.Stores, 1))
			if mode == runtime.ExactlyOnce {
				txnStore = append(txnStore, storeMs)
				txnRate = append(txnRate, perSec)
				txns = append(txns, float64(st.Committed)/busy.Seconds())
				if st.Committed > 0 {
					endTxn = append(endTxn, float64(st.EndTxn.Microseconds())/1000/float64(st.Committed))
				}
			} else {
				alo = append(alo, perSec)
				aloStore = append(aloStore, storeMs)
			}
		}
		createTopic(fmt.Sprintf("loop-%d", round))
		loop = append(loop, runLoopBench(b, addrs, fmt.Sprintf("loop-%d", round), total))
	}
	med := func(xs []float64) float64 {
		s := append([]float64(nil), xs...)
		for i := range s {
			for j := i + 1; j < len(s); j++ {
				if s[j] < s[i] {
					s[i], s[j] = s[j], s[i]
				}
			}
		}
		if len(s) == 0 {
			return 0
		}
		return s[len(s)/2]
	}
	ratios := make([]float64, len(txnRate))
	for i := range txnRate {
		ratios[i] = txnRate[i] / alo[i]
	}
	b.ReportMetric(med(txnRate), "txn-records/s")
	b.ReportMetric(med(alo), "alo-records/s")
	b.ReportMetric(med(loop), "loop-records/s")
	b.ReportMetric(med(ratios), "txn/alo")
	b.ReportMetric(med(txns), "txns/s")
	b.ReportMetric(med(endTxn), "EndTxn-ms/batch")
	b.ReportMetric(med(txnStore), "txn-Store-ms/batch")
	b.ReportMetric(med(aloStore), "alo-Store-ms/batch")
}

// runSinkBench runs the copy job until the group's offsets reach every
// partition's end and returns the records its batches held, their total
// processing time, and the sink's transaction counts.
func runSinkBench(b *testing.B, addrs []string, mode runtime.Semantics, out, group string, total int64, interval time.Duration, rate int64) (int64, time.Duration, KafkaStats) {
	b.Helper()
	ctx := context.Background()
	k, err := NewKafka(out, mode)
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	e, err := runtime.New(runtime.Group(group), runtime.WithSemantics(mode), runtime.WithOffsetStore(k),
		runtime.Brokers(addrs...), runtime.BatchInterval(interval), runtime.MaxRatePerPartition(rate), runtime.RetainedBatches(1000))
	if err != nil {
		b.Fatal(err)
	}
	st, err := runtime.NewStreamInto[struct{}](e, "impressions", runtime.Subscribe(etlTopic), nil, runtime.RawAvroInto[alltypes.Impression]())
	if err != nil {
		b.Fatal(err)
	}
	w := RawKafkaWriter[struct{}, alltypes.Impression](k)
	done := make(chan struct{})
	var seen int64
	errc := make(chan error, 1)
	go func() {
		errc <- e.Run(ctx, func(ctx context.Context, bs *runtime.JobBatch) error {
			batch := st.Batch(bs)
			err := batch.ForeachPartition(ctx, func(ctx context.Context, p runtime.Partition[struct{}, alltypes.Impression]) error {
				for r := range p.Records() {
					v := r.Value
					v.CampaignID *= 10
					if err := w.Write(ctx, OriginOf(r), struct{}{}, &v); err != nil {
						return err
					}
				}
				return nil
			})
			if seen += int64(batch.Len()); seen >= total {
				select {
				case <-done:
				default:
					close(done)
				}
			}
			return err
		})
	}()
	select {
	case <-done:
	case err := <-errc:
		b.Fatalf("the job stopped: %v", err)
	case <-time.After(10 * time.Minute):
		b.Fatal("the job did not finish in 10 minutes")
	}
	if err := e.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	var recs int64
	var busy time.Duration
	for _, bi := range e.History() {
		if bi.Records > 0 {
			recs += int64(bi.Records)
			busy += bi.ProcessingTime
		}
	}
	return recs, busy, k.Stats()
}

// runLoopBench copies the topic with a plain franz-go loop and returns its
// records/s.
func runLoopBench(b *testing.B, addrs []string, out string, total int64) float64 {
	b.Helper()
	ctx := context.Background()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumerGroup(out), kgo.ConsumeTopics(etlTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.DefaultProduceTopic(out),
		kgo.FetchMaxPartitionBytes(256<<10))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	start := time.Now()
	var n int64
	var perr atomic.Pointer[error]
	for n < total {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var v alltypes.Impression
			if err := v.UnmarshalAvro(r.Value); err != nil {
				b.Fatal(err)
			}
			v.CampaignID *= 10
			val, err := v.AppendAvro(nil)
			if err != nil {
				b.Fatal(err)
			}
			cl.Produce(ctx, &kgo.Record{Value: val}, func(_ *kgo.Record, err error) {
				if err != nil {
					perr.CompareAndSwap(nil, &err)
				}
			})
			n++
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := perr.Load(); err != nil {
		b.Fatal(*err)
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		b.Fatal(err)
	}
	return float64(n) / time.Since(start).Seconds()
}
