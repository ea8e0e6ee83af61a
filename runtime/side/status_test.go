package side

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/metrics"
)

func request(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// statusJob runs a job with the campaigns table and the model value
// behind a status server, until the test ends.
func statusJob(t *testing.T, m *model, maxAge time.Duration) (*runtime.Engine, *runtime.Status) {
	t.Helper()
	addrs, cl := kafkatest.Cluster(t, 2, tableTopic, impressions)
	put(t, cl, 0, "c1", "spring sale", "c2", "summer sale")
	kafkatest.Produce(t, cl, impressions, 2, 5)
	val := NewValue("model", m.load, Interval(time.Hour), RetryWait(time.Millisecond), MaxAge(maxAge), OnStale(StaleContinue))
	met := metrics.New("etl")
	st := runtime.NewStatus("etl")
	e, err := runtime.New(append(met.Options(), runtime.Group("etl"), runtime.Brokers(addrs...), runtime.BatchInterval(20*time.Millisecond),
		runtime.StartFrom(runtime.StartEarliest()), runtime.WithSideInputs(newStringTable(), val), st.Attach())...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runtime.NewStream(e, "impressions", runtime.Subscribe(impressions), runtime.BytesDecoder, runtime.StringDecoder); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, func(context.Context, *runtime.JobBatch) error { return nil }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return e, st
}

// TestStatusShowsSideInputs: the status page, status.json and /metrics
// show each side input's entries, bytes, age and failures; POST
// /side/{name}/reload reloads a value on request.
func TestStatusShowsSideInputs(t *testing.T) {
	m := &model{}
	_, st := statusJob(t, m, time.Hour)
	waitFor(t, "the job to be ready", func() bool {
		code, _ := request(t, st, http.MethodGet, "/readyz")
		return code == http.StatusOK
	})

	code, page := request(t, st, http.MethodGet, "/")
	if code != 200 || !strings.Contains(page, `<table id="side-inputs">`) || !strings.Contains(page, "<td class=\"l\">campaigns</td><td class=\"l\">table</td><td>2</td><td>26 B</td>") {
		t.Errorf("status page %d without the side inputs:\n%s", code, page)
	}
	_, body := request(t, st, http.MethodGet, "/status.json")
	var js struct {
		SideInputs []struct {
			Name     string
			Entries  int64
			Bytes    int64
			AgeMs    float64
			LoadedAt *time.Time
		}
	}
	if err := json.Unmarshal([]byte(body), &js); err != nil {
		t.Fatal(err)
	}
	if len(js.SideInputs) != 2 || js.SideInputs[0].Entries != 2 || js.SideInputs[0].Bytes != 26 || js.SideInputs[1].Name != "model" || js.SideInputs[1].LoadedAt == nil {
		t.Errorf("status.json sideInputs = %+v", js.SideInputs)
	}

	_, text := request(t, st, http.MethodGet, "/metrics")
	for _, want := range []string{
		`streamgen_side_input_entries{job="etl",kind="table",side_input="campaigns"} 2`,
		`streamgen_side_input_bytes{job="etl",kind="table",side_input="campaigns"} 26`,
		`streamgen_side_input_entries{job="etl",kind="value",side_input="model"} 1`,
		`streamgen_side_input_load_failures_total{job="etl",kind="value",side_input="model"} 0`,
		`streamgen_side_input_skipped_records_total{job="etl",kind="table",side_input="campaigns"} 0`,
		`streamgen_side_input_unready{job="etl",kind="value",side_input="model"} 0`,
		`streamgen_side_input_age_seconds{job="etl",kind="value",side_input="model"} `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if code, body := request(t, st, http.MethodPost, "/side/model/reload"); code != http.StatusAccepted {
		t.Errorf("reload: %d %s", code, body)
	}
	waitFor(t, "the requested reload", func() bool { return m.calls.Load() == 2 })
	if code, _ := request(t, st, http.MethodPost, "/side/campaigns/reload"); code != http.StatusConflict {
		t.Errorf("reloading a table: %d, want 409", code)
	}
	if code, _ := request(t, st, http.MethodPost, "/side/nope/reload"); code != http.StatusNotFound {
		t.Errorf("reloading no side input: %d, want 404", code)
	}
}

// TestReadyzNamesStaleValue: a value whose reloads fail past its MaxAge
// makes /readyz unready naming it, and /metrics counts it. The value is
// checked before the group's assignment, so the wait is for the stale
// value's own answer, whatever the group is doing.
func TestReadyzNamesStaleValue(t *testing.T) {
	m := &model{}
	e, st := statusJob(t, m, 50*time.Millisecond)
	// Batches run only once every side input has loaded.
	waitFor(t, "a batch", func() bool { return len(e.Snapshot().Batches) > 0 })
	m.fail.Store(true)
	if code, body := request(t, st, http.MethodPost, "/side/model/reload"); code != http.StatusAccepted {
		t.Errorf("reload: %d %s", code, body)
	}
	waitFor(t, "/readyz to name the stale value", func() bool {
		code, body := request(t, st, http.MethodGet, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "side input model: is stale")
	})
	waitFor(t, "the failed reload", func() bool { return m.calls.Load() >= 2 })
	_, text := request(t, st, http.MethodGet, "/metrics")
	if !strings.Contains(text, `streamgen_side_input_unready{job="etl",kind="value",side_input="model"} 1`) || strings.Contains(text, `streamgen_side_input_load_failures_total{job="etl",kind="value",side_input="model"} 0`) {
		t.Errorf("/metrics does not show the failing value:\n%s", text)
	}
}

// TestReadyzWhileTableLoads: /readyz says the job is loading its table,
// with how far it got, until the table caught up.
func TestReadyzWhileTableLoads(t *testing.T) {
	addrs, cl := kafkatest.Cluster(t, 1, tableTopic, impressions)
	var kv []string
	for i := range 300 {
		kv = append(kv, fmt.Sprint(i), "x")
	}
	put(t, cl, 0, kv...)
	kafkatest.Produce(t, cl, impressions, 1, 1)
	tab := NewTable(tableTopic, tableTopic, runtime.StringDecoder, slowDecoder(2*time.Millisecond))
	st := runtime.NewStatus("etl")
	e, err := runtime.New(runtime.Group("etl"), runtime.Brokers(addrs...), runtime.BatchInterval(20*time.Millisecond),
		runtime.WithSideInputs(tab), st.Attach())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runtime.NewStream(e, "impressions", runtime.Subscribe(impressions), runtime.BytesDecoder, runtime.StringDecoder); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx, func(context.Context, *runtime.JobBatch) error { return nil }) }()
	defer func() {
		cancel()
		<-done
	}()
	waitFor(t, "/readyz to say the table is loading", func() bool {
		code, body := request(t, st, http.MethodGet, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "side input campaigns: loading topic campaigns: read ")
	})
	waitFor(t, "the table to load", func() bool { return tab.SideHealth().Unready == "" })
}
