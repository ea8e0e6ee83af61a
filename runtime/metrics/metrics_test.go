package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/metrics"
)

// scrape reads /metrics from the status server into name{labels} → value.
func scrape(t *testing.T, h http.Handler) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			key := name + "{" + strings.Join(ls, ",") + "}"
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[name+"_count{"+strings.Join(ls, ",")+"}"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// odd refuses odd values, so a stream that skips bad records leaves them
// out with the cause "corrupt body".
func odd(_ context.Context, b []byte) (string, error) {
	n, _ := strconv.Atoi(string(b))
	if n%2 == 1 {
		return "", errors.New("odd")
	}
	return string(b), nil
}

func TestMetricsAfterRealBatches(t *testing.T) {
	addrs, prod := kafkatest.Cluster(t, 3, "clicks")
	m := metrics.New("clicks-job")
	st := runtime.NewStatus("clicks-job")
	e, err := runtime.New(append(m.Options(), runtime.JobName("clicks-job"), runtime.Group("g"), runtime.Brokers(addrs...),
		runtime.BatchInterval(100*time.Millisecond), st.Attach())...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewStream(e, "clicks", runtime.Subscribe("clicks"), runtime.BytesDecoder, odd, runtime.OnDecodeError(runtime.SkipBadRecords))
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan int, 100)
	errc := make(chan error, 1)
	go func() {
		errc <- e.Run(context.Background(), func(ctx context.Context, bs *runtime.JobBatch) error {
			handled <- s.Batch(bs).Len()
			return nil
		})
	}()
	kafkatest.Produce(t, prod, "clicks", 3, 10) // values 0..9 per partition: 15 even, 15 odd
	for n := 0; n < 15; {
		select {
		case k := <-handled:
			n += k
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d records handled", n)
		}
	}
	// Lag and commits are read at scrape time, from the engine's snapshot,
	// the batch counters as the listener hears of each batch: one scrape
	// can fall between a batch's commit and its completion, and between
	// two counters of one completion (Gather runs collectors
	// concurrently). Wait until every figure checked below has settled.
	deadline := time.Now().Add(10 * time.Second)
	var got map[string]float64
	for {
		got = scrape(t, st)
		// Input size counts the records left out too.
		if got[`streamgen_records_total{job="clicks-job"}`] == 30 && got[`streamgen_offsets_total{job="clicks-job",stream="clicks"}`] == 30 &&
			got[`streamgen_commits_total{job="clicks-job"}`] >= 1 && got[`streamgen_batch_offsets_total{job="clicks-job",outcome="stored"}`] >= 1 &&
			got[`streamgen_partition_lag{job="clicks-job",partition="2",stream="clicks",topic="clicks"}`] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never settled: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	snap := e.Snapshot()
	ok := got[`streamgen_batches_total{job="clicks-job",result="ok"}`]
	if ok < 1 || ok > float64(len(snap.Batches)) || got[`streamgen_batches_total{job="clicks-job",result="failed"}`] != 0 {
		t.Errorf("batches ok %v, want at most the %d completed", ok, len(snap.Batches))
	}
	// A scrape can fall between a batch's counter and its histograms.
	for _, h := range []string{"processing_time", "scheduling_delay", "total_delay"} {
		if n := got[`streamgen_batch_`+h+`_seconds_count{job="clicks-job"}`]; n < ok-1 || n > ok+1 {
			t.Errorf("%s histogram has %v samples, want %v", h, n, ok)
		}
	}
	want := map[string]float64{
		`streamgen_offsets_total{job="clicks-job",stream="clicks"}`:                                         30,
		`streamgen_bad_records_total{cause="corrupt body",job="clicks-job",stream="clicks"}`:                15,
		`streamgen_assigned_partitions{job="clicks-job"}`:                                                   3,
		`streamgen_partition_high_watermark{job="clicks-job",partition="0",stream="clicks",topic="clicks"}`: 10,
		`streamgen_partition_next_offset{job="clicks-job",partition="1",stream="clicks",topic="clicks"}`:    10,
		`streamgen_partition_lag{job="clicks-job",partition="0",stream="clicks",topic="clicks"}`:            0,
		`streamgen_kafka_failing{job="clicks-job"}`:                                                         0,
		`streamgen_lost_batches_total{job="clicks-job"}`:                                                    0,
		`streamgen_commit_failures_total{job="clicks-job"}`:                                                 0,
		`streamgen_abort_failures_total{job="clicks-job"}`:                                                  0,
		`streamgen_batch_offsets_total{job="clicks-job",outcome="refused"}`:                                 0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if c := got[`streamgen_commits_total{job="clicks-job"}`]; c < 1 || c > float64(snap.Commits) {
		t.Errorf("commits %v, snapshot %d", c, snap.Commits)
	}
	// franz-go's client metrics, through the KgoOpts hook.
	var kafka float64
	for k, v := range got {
		if strings.HasPrefix(k, "streamgen_kafka_connects_total{") && strings.Contains(k, `job="clicks-job"`) {
			kafka += v
		}
		if strings.HasPrefix(k, "streamgen_kafka_buffered_") {
			t.Errorf("%s: the first client's buffers are not the job's", k)
		}
	}
	if kafka < 1 {
		t.Errorf("no kprom connects counted: %v", got)
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	// The client metrics outlive the clients.
	if got := scrape(t, st); got[`streamgen_records_total{job="clicks-job"}`] != 30 || got[`streamgen_kafka_connects_total{job="clicks-job",node_id="0"}`] < 1 {
		t.Errorf("after stop: %v", got)
	}
}

// A failed batch counts as failed and as a processing time sample.
func TestMetricsCountFailedBatch(t *testing.T) {
	addrs, prod := kafkatest.Cluster(t, 1, "t")
	m := metrics.New("failing")
	e, err := runtime.New(append(m.Options(), runtime.Group("g"), runtime.Brokers(addrs...), runtime.BatchInterval(50*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewStream(e, "t", runtime.Subscribe("t"), runtime.BytesDecoder, runtime.StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.Produce(t, prod, "t", 1, 3)
	err = e.Run(context.Background(), func(ctx context.Context, bs *runtime.JobBatch) error {
		if s.Batch(bs).Len() > 0 {
			return errors.New("no")
		}
		return nil
	})
	if err == nil {
		t.Fatal("Run returned nil")
	}
	got := scrape(t, m.Handler())
	if f := got[`streamgen_batches_total{job="failing",result="failed"}`]; f != 1 {
		t.Errorf("failed batches %v, want 1", f)
	}
	if n := got[`streamgen_batch_total_delay_seconds_count{job="failing"}`]; n != got[`streamgen_batches_total{job="failing",result="ok"}`]+1 {
		t.Errorf("total delay samples %v", n)
	}
}

func TestMetricsCountRegistryLookups(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	id, _, err := reg.RegisterSchema("r-value", sr.Schema{Schema: `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New("lookups")
	e, err := runtime.New(append(m.Options(), runtime.Brokers("127.0.0.1:1"))...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := runtime.NewSchemaRegistry(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	r.Log, r.Hook = e.Logger(), e.RegistryHook()
	for range 3 { // one request; the id is cached after it
		if _, err := r.WriterSchema(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.WriterSchema(context.Background(), 9999); !errors.Is(err, runtime.ErrUnknownSchemaID) {
		t.Fatalf("unknown id: %v", err)
	}
	got := scrape(t, m.Handler())
	if n := got[`streamgen_registry_lookups_total{job="lookups",result="ok"}`]; n != 1 {
		t.Errorf("ok lookups %v, want 1", n)
	}
	// An unknown id is asked a few times before it is believed.
	if n := got[`streamgen_registry_lookups_total{job="lookups",result="unknown"}`]; n < 2 {
		t.Errorf("unknown lookups %v, want the retries", n)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "# HELP streamgen_registry_lookups_total") {
		t.Error("no HELP line")
	}
}
