package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/metrics"
)

// BenchmarkThroughput is the engine's throughput without and with the
// status server and metrics, a scraper reading /metrics and the status
// page every 250 ms (a harder load than Prometheus' usual 15 s). Each run
// reads the same b.N records 2×rounds times, alternating the variants, so
// the noise of a shared machine hits both; it reports both rates, their
// ratio (on/off, 1 = no cost) and the process's CPU time per record:
//
//	go test -run '^$' -bench Throughput -benchtime 1000000x -count 5 ./runtime/metrics
func BenchmarkThroughput(b *testing.B) {
	const rounds = 8
	addrs := benchTopic(b)
	var wall, cpu [2]time.Duration
	for i := range rounds {
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, on := range order {
			w, c := benchThroughput(b, addrs, on == 1)
			wall[on] += w
			cpu[on] += c
		}
	}
	n := float64(rounds * b.N)
	b.ReportMetric(n/wall[0].Seconds(), "off-records/s")
	b.ReportMetric(n/wall[1].Seconds(), "on-records/s")
	b.ReportMetric(wall[0].Seconds()/wall[1].Seconds(), "on/off")
	b.ReportMetric(float64(cpu[0])/n, "off-cpu-ns/record")
	b.ReportMetric(float64(cpu[1])/n, "on-cpu-ns/record")
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const benchParts = 18

func benchTopic(b *testing.B) []string {
	addrs, prod := kafkatest.Cluster(b, benchParts, "impressions")
	val := make([]byte, 100)
	for i := range val {
		val[i] = byte(i)
	}
	// In chunks, so the producer does not hold every record at once.
	for from := 0; from < b.N; from += 100_000 {
		rs := make([]*kgo.Record, 0, 100_000)
		for i := from; i < min(from+100_000, b.N); i++ {
			rs = append(rs, &kgo.Record{Topic: "impressions", Partition: int32(i % benchParts), Value: val})
		}
		if err := prod.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	return addrs
}

// benchThroughput reads the topic from its start: how long it took, and
// the CPU time the process spent meanwhile.
func benchThroughput(b *testing.B, addrs []string, on bool) (wall, cpu time.Duration) {
	tps := make([]runtime.TopicPartition, benchParts)
	for i := range tps {
		tps[i] = runtime.TopicPartition{Topic: "impressions", Partition: int32(i)}
	}
	// A short interval, so the run is many batches and the per-batch
	// costs (listener, histograms) count.
	opts := []runtime.Opt{runtime.Brokers(addrs...), runtime.BatchInterval(20 * time.Millisecond)}
	var st *runtime.Status
	if on {
		st = runtime.NewStatus("bench")
		opts = append(append(opts, metrics.New("bench").Options()...), st.Attach())
	}
	e, err := runtime.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	s, err := runtime.NewStream(e, "impressions", runtime.Assign(tps...), runtime.BytesDecoder, runtime.BytesDecoder)
	if err != nil {
		b.Fatal(err)
	}
	stopScrape := make(chan struct{})
	scraped := make(chan struct{})
	if on {
		srv := httptest.NewServer(st)
		defer srv.Close()
		go func() {
			defer close(scraped)
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopScrape:
					return
				case <-t.C:
				}
				for _, p := range []string{"/metrics", "/"} {
					if resp, err := http.Get(srv.URL + p); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}
		}()
	} else {
		close(scraped)
	}
	var got atomic.Int64
	done := make(chan struct{})
	start, cpu0 := time.Now(), cpuTime()
	errc := make(chan error, 1)
	go func() {
		errc <- e.Run(context.Background(), func(ctx context.Context, bs *runtime.JobBatch) error {
			err := s.Batch(bs).ForeachPartition(ctx, func(_ context.Context, p runtime.Partition[[]byte, []byte]) error {
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
	wall, cpu = time.Since(start), cpuTime()-cpu0
	close(stopScrape)
	<-scraped
	if err := e.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	return wall, cpu
}
