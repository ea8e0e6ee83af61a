package runtime

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// benchValue stands in for a generated codec: it touches every byte and
// allocates, as a real decoder does. The engine/loop ratio, not the
// absolute figure, is what the benchmarks are for.
type benchValue struct {
	ID  string
	Sum uint64
}

func benchDecode(_ context.Context, b []byte) (benchValue, error) {
	var v benchValue
	for _, c := range b {
		v.Sum = v.Sum*31 + uint64(c)
	}
	v.ID = string(b[:16])
	return v, nil
}

func benchCluster(b *testing.B, n int) []string {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(18, testTopic))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	val := make([]byte, 356)
	for i := range val {
		val[i] = byte(i)
	}
	for range n {
		cl.Produce(context.Background(), &kgo.Record{Topic: testTopic, Value: val}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	return c.ListenAddrs()
}

func allPartitions() []TopicPartition {
	tps := make([]TopicPartition, 18)
	for i := range tps {
		tps[i] = TopicPartition{testTopic, int32(i)}
	}
	return tps
}

// BenchmarkEngine: typed decode, batch cutting and ForeachPartition with an
// empty handler.
func BenchmarkEngine(b *testing.B) {
	addrs := benchCluster(b, b.N)
	e, err := New(Brokers(addrs...), BatchInterval(100*time.Millisecond), KgoOpts(kgo.FetchMaxPartitionBytes(256<<10)))
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewStream[[]byte](e, "s", Assign(allPartitions()...), nil, benchDecode)
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	done := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	go func() {
		_ = e.Run(context.Background(), func(ctx context.Context, bs *JobBatch) error {
			err := s.Batch(bs).ForeachPartition(ctx, func(_ context.Context, p Partition[[]byte, benchValue]) error {
				got.Add(int64(p.Len()))
				return nil
			})
			if got.Load() >= int64(b.N) {
				select {
				case <-done:
				default:
					close(done)
				}
			}
			return err
		})
	}()
	<-done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	b.StopTimer()
	_ = e.Stop(context.Background())
	if testing.Verbose() {
		for _, h := range e.History() {
			b.Logf("%s", h)
		}
	}
}

// BenchmarkPollLoop is the baseline: one goroutine polling and decoding.
func BenchmarkPollLoop(b *testing.B) {
	addrs := benchCluster(b, b.N)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(testTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	b.ResetTimer()
	start := time.Now()
	var n int
	for n < b.N {
		fs := cl.PollFetches(context.Background())
		fs.EachRecord(func(r *kgo.Record) {
			if _, err := benchDecode(context.Background(), r.Value); err == nil {
				n++
			}
		})
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}
