package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/metrics"
)

// BenchmarkThroughput is the engine's throughput without and with the
// status server and metrics, a scraper reading /metrics and the status
// page every 250 ms (a harder load than Prometheus' usual 15 s). With
// -count the two variants alternate, so machine noise hits both:
//
//	go test -run '^$' -bench Throughput -benchtime 100000x -count 6 ./runtime/metrics
func BenchmarkThroughput(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) { benchThroughput(b, on) })
	}
}

func benchThroughput(b *testing.B, on bool) {
	const parts = 18
	addrs, prod := kafkatest.Cluster(b, parts, "impressions")
	val := make([]byte, 356)
	for i := range val {
		val[i] = byte(i)
	}
	var rs []*kgo.Record
	for i := range b.N {
		rs = append(rs, &kgo.Record{Topic: "impressions", Partition: int32(i % parts), Value: val})
	}
	if err := prod.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	opts := []runtime.Opt{runtime.Group("bench"), runtime.Brokers(addrs...), runtime.BatchInterval(100 * time.Millisecond)}
	var st *runtime.Status
	if on {
		st = runtime.NewStatus("bench")
		opts = append(append(opts, metrics.New("bench").Options()...), st.Attach())
	}
	e, err := runtime.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	s, err := runtime.NewStream(e, "impressions", runtime.Subscribe("impressions"), runtime.BytesDecoder, runtime.BytesDecoder)
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
	b.ResetTimer()
	start := time.Now()
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
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	b.StopTimer()
	close(stopScrape)
	<-scraped
	if err := e.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
