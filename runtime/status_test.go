package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// statusJob runs a job of one stream over topic (parts partitions) with a
// Status attached; fail makes its handler fail batches while it is true.
func statusJob(t *testing.T, parts int32, fail *atomic.Bool, opts ...Opt) (*Status, []string, *runner) {
	t.Helper()
	addrs := newCluster(t, parts, testTopic)
	st := NewStatus("status-test")
	e, err := New(append([]Opt{JobName("status-test"), Group("status-test"), Brokers(addrs...), BatchInterval(100 * time.Millisecond), st.Attach()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "impressions", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, st, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not started") {
		t.Errorf("readyz before Run: %d %q, want 503 not started", code, body)
	}
	r := start(t, e, func(ctx context.Context, bs *JobBatch) error {
		if b := s.Batch(bs); fail != nil && fail.Load() && b.Len() > 0 {
			return errors.New("handler refuses the batch")
		}
		return nil
	})
	return st, addrs, r
}

// recordsSeen is the records in the retained batches.
func recordsSeen(st *Status) int {
	n := 0
	for _, b := range st.Snapshot().Batches {
		n += b.Records
	}
	return n
}

func TestStatusServesBatchesAndRanges(t *testing.T) {
	st, addrs, r := statusJob(t, 3, nil)
	produced := produce(t, addrs, testTopic, 3, 7)
	waitFor(t, "21 records in batches", 20*time.Second, func() bool { return recordsSeen(st) == 21 })
	waitFor(t, "ready", 10*time.Second, func() bool { code, _ := get(t, st, "/readyz"); return code == 200 })

	code, page := get(t, st, "/")
	if code != 200 {
		t.Fatalf("/: %d %s", code, page)
	}
	for _, want := range []string{`<meta http-equiv="refresh" content="2">`, "status-test", "at-least-once", "impressions", `<table id="partitions">`, `<table id="batches">`, "<svg", "polyline"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The batch rows carrying the records: their counts add up to what
	// was produced.
	rows := regexp.MustCompile(`data-batch="(\d+)"><td class="l"><a href="/batch/\d+">[^<]*</a></td><td>\d+</td><td class="records">(\d+)</td>`).FindAllStringSubmatch(page, -1)
	total, id := 0, ""
	for _, m := range rows {
		var n int
		fmt.Sscan(m[2], &n)
		total += n
		if n > 0 {
			id = m[1]
		}
	}
	if total != 21 {
		t.Errorf("batch table shows %d records in %d rows, want 21", total, len(rows))
	}

	code, js := get(t, st, "/status.json")
	if code != 200 {
		t.Fatal(code, js)
	}
	var doc struct {
		Job        string  `json:"job"`
		IntervalMs float64 `json:"intervalMs"`
		Ready      bool    `json:"ready"`
		Partitions []struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Next      int64  `json:"next"`
			Lag       int64  `json:"lag"`
		} `json:"partitions"`
		Batches []struct {
			ID                int64   `json:"id"`
			Records           int     `json:"records"`
			SchedulingDelayMs float64 `json:"schedulingDelayMs"`
			ProcessingTimeMs  float64 `json:"processingTimeMs"`
			TotalDelayMs      float64 `json:"totalDelayMs"`
			Ranges            []struct {
				Stream      string `json:"stream"`
				Topic       string `json:"topic"`
				Partition   int32  `json:"partition"`
				FromOffset  int64  `json:"fromOffset"`
				UntilOffset int64  `json:"untilOffset"`
				Count       int64  `json:"count"`
			} `json:"ranges"`
		} `json:"batches"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatal(err, js)
	}
	if doc.Job != "status-test" || doc.IntervalMs != 100 || !doc.Ready || len(doc.Partitions) != 3 {
		t.Errorf("status.json: job %q interval %v ms ready %v partitions %d", doc.Job, doc.IntervalMs, doc.Ready, len(doc.Partitions))
	}
	covered := map[TopicPartition]int64{}
	records := 0
	for _, b := range doc.Batches {
		records += b.Records
		if b.TotalDelayMs < b.ProcessingTimeMs || b.TotalDelayMs < b.SchedulingDelayMs {
			t.Errorf("batch %d: total delay %v ms below its parts %v, %v", b.ID, b.TotalDelayMs, b.SchedulingDelayMs, b.ProcessingTimeMs)
		}
		for _, rg := range b.Ranges {
			tp := TopicPartition{rg.Topic, rg.Partition}
			if rg.Stream != "impressions" || rg.FromOffset != covered[tp] || rg.Count != rg.UntilOffset-rg.FromOffset {
				t.Errorf("batch %d: range %+v, want from %d", b.ID, rg, covered[tp])
			}
			covered[tp] = rg.UntilOffset
		}
	}
	for tp, offs := range produced {
		if covered[tp] != offs[len(offs)-1]+1 {
			t.Errorf("%s: ranges cover until %d, want %d", tp, covered[tp], offs[len(offs)-1]+1)
		}
	}
	if records != 21 {
		t.Errorf("status.json: %d records, want 21", records)
	}

	// The batch page of a batch with records lists its ranges.
	code, bp := get(t, st, "/batch/"+id)
	if code != 200 {
		t.Fatalf("/batch/%s: %d %s", id, code, bp)
	}
	var b BatchInfo
	fmt.Sscan(id, &b.ID)
	for _, x := range st.Snapshot().Batches {
		if x.ID == b.ID {
			b = x
		}
	}
	for _, rg := range b.Ranges["impressions"] {
		row := fmt.Sprintf("<tr><td class=\"l\">impressions</td><td class=\"l\">%s</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td></tr>", rg.Topic, rg.Partition, rg.FromOffset, rg.UntilOffset, rg.Count())
		if !strings.Contains(bp, row) {
			t.Errorf("batch page lacks the row of %s:\n%s", rg, bp)
		}
	}
	for _, path := range []string{"/batch/999999", "/batch/x", "/nope"} {
		if code, _ := get(t, st, path); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
	if code, body := get(t, st, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", code, body)
	}
	r.stop(t)
}

// A failed batch makes the job not ready, and, as an at-least-once job
// stops on it, not alive.
func TestReadyzAndHealthzAfterFailedBatch(t *testing.T) {
	var fail atomic.Bool
	st, addrs, r := statusJob(t, 2, &fail)
	waitFor(t, "ready", 20*time.Second, func() bool { code, _ := get(t, st, "/readyz"); return code == 200 })
	fail.Store(true)
	produce(t, addrs, testTopic, 2, 3)
	if err := <-r.errc; err == nil {
		t.Fatal("Run returned nil after a failed batch")
	}
	code, body := get(t, st, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "handler refuses the batch") || strings.Count(body, "\n") != 1 {
		t.Errorf("readyz: %d %q, want 503 naming the failure on one line", code, body)
	}
	if code, body := get(t, st, "/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "stopped on error") {
		t.Errorf("healthz: %d %q, want 503 stopped on error", code, body)
	}
	_, page := get(t, st, "/")
	if !strings.Contains(page, `<tr class="failed"`) || !strings.Contains(page, "handler refuses the batch") {
		t.Error("page does not show the failed batch")
	}
}

// At-most-once a failed batch is lost, not fatal: alive, but not ready
// until a batch succeeds again.
func TestReadyzAtMostOnceRecovers(t *testing.T) {
	var fail atomic.Bool
	st, addrs, r := statusJob(t, 1, &fail, WithSemantics(AtMostOnce))
	waitFor(t, "ready", 20*time.Second, func() bool { code, _ := get(t, st, "/readyz"); return code == 200 })
	fail.Store(true)
	produce(t, addrs, testTopic, 1, 3)
	waitFor(t, "a lost batch", 20*time.Second, func() bool { return st.Snapshot().LostBatches > 0 })
	if code, body := get(t, st, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "failed") {
		t.Errorf("readyz after a lost batch: %d %q", code, body)
	}
	if code, _ := get(t, st, "/healthz"); code != 200 {
		t.Errorf("healthz after an at-most-once failure: %d, want 200", code)
	}
	fail.Store(false)
	waitFor(t, "ready again", 20*time.Second, func() bool { code, _ := get(t, st, "/readyz"); return code == 200 })
	r.stop(t)
}

func TestReadinessReasons(t *testing.T) {
	now := time.Now()
	parts := []PartitionStatus{{Stream: "s", TopicPartition: TopicPartition{"t", 0}}}
	for _, c := range []struct {
		snap Snapshot
		want string
	}{
		{Snapshot{}, "not started"},
		{Snapshot{Started: now}, "no partitions assigned"},
		{Snapshot{Started: now, Kafka: KafkaHealth{WaitingForPartitions: true}}, "waiting for the group"},
		{Snapshot{Started: now, Partitions: parts, Kafka: KafkaHealth{FailingSince: now, LastError: "t/0: dial tcp:\nconnection refused"}}, "brokers failing since " + now.UTC().Format(time.RFC3339) + ": t/0: dial tcp: connection refused"},
		{Snapshot{Started: now, Partitions: parts, Batches: []BatchInfo{{ID: 3, Err: errors.New("boom")}}}, "last batch 3 failed: boom"},
		{Snapshot{Started: now, Partitions: parts, Batches: []BatchInfo{{ID: 3, Err: errors.New("boom")}, {ID: 4}}}, ""},
	} {
		err := readiness(c.snap)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if !strings.HasPrefix(got, c.want) || (c.want == "") != (got == "") {
			t.Errorf("readiness = %q, want %q", got, c.want)
		}
	}
}

func TestBatchRowsCollapseEmptyRuns(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	var bs []BatchInfo
	add := func(records int, err error) {
		bs = append(bs, BatchInfo{ID: int64(len(bs) + 1), Time: t0.Add(time.Duration(len(bs)) * time.Second), Records: records, Err: err})
	}
	add(5, nil) // 1
	for range 40 {
		add(0, nil) // 2..41
	}
	add(0, errors.New("boom")) // 42: failed, not collapsed
	add(0, nil)                // 43: a lone empty batch stays a row
	add(9, nil)                // 44
	add(0, nil)                // 45
	add(0, nil)                // 46
	rows, omitted := batchRows(bs, time.Second)
	type row struct {
		id    int64
		empty int
		first int64
	}
	var got []row
	for _, r := range rows {
		got = append(got, row{r.B.ID, r.Empty, r.FirstID})
	}
	want := []row{{46, 2, 45}, {44, 0, 0}, {43, 0, 0}, {42, 0, 0}, {41, 40, 2}, {1, 0, 0}}
	if fmt.Sprint(got) != fmt.Sprint(want) || omitted != 0 {
		t.Errorf("rows %v (omitted %d), want %v", got, omitted, want)
	}
	if !rows[3].Failed || rows[5].Rate != 5 {
		t.Errorf("row 42 failed %v, row 1 rate %v", rows[3].Failed, rows[5].Rate)
	}

	// Rendered: the run is one row, the batches with records keep theirs.
	st := NewStatus("collapse")
	d := st.page(Snapshot{Job: "collapse", Interval: time.Second, Started: t0, Batches: bs}, t0.Add(time.Minute))
	var buf strings.Builder
	if err := statusPages.ExecuteTemplate(&buf, "page.html", d); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{"40 empty batches from", "batches 2–41", `data-batch="44"`, `data-batch="1"`, `<tr class="failed" data-batch="42"`, "2 empty batches from"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, "<tr class="); n != 6 {
		t.Errorf("%d batch rows, want 6", n)
	}

	// Past maxRows rows, older ones are counted, not shown.
	bs = nil
	for range maxRows + 7 {
		add(1, nil)
	}
	rows, omitted = batchRows(bs, time.Second)
	if len(rows) != maxRows || omitted != 7 || rows[0].B.ID != maxRows+7 {
		t.Errorf("%d rows, %d omitted, newest %d", len(rows), omitted, rows[0].B.ID)
	}
}

func TestStatusPluginEndpoint(t *testing.T) {
	st := NewStatus("plugin")
	if code, _ := get(t, st, "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics before an engine: %d", code)
	}
	// Before an engine: the page renders, empty, without a metrics link.
	if code, page := get(t, st, "/"); code != 200 || !strings.Contains(page, "No completed batches yet") || !strings.Contains(page, "not started") || strings.Contains(page, `href="/metrics"`) {
		t.Errorf("/ before an engine: %d\n%s", code, page)
	}
	_, err := New(Brokers("127.0.0.1:1"), st.Attach(), StatusHandler("/metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "plugged")
	})))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, st, "/metrics"); code != 200 || body != "plugged" {
		t.Errorf("/metrics: %d %q", code, body)
	}
	if _, page := get(t, st, "/"); !strings.Contains(page, `href="/metrics"`) {
		t.Error("the page does not link /metrics")
	}
	// A plug-in cannot shadow the status server's own paths.
	_, err = New(Brokers("127.0.0.1:1"), st.Attach(), StatusHandler("/healthz", http.NotFoundHandler()))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, st, "/healthz"); code != 200 {
		t.Errorf("/healthz shadowed: %d", code)
	}
}

// A batch's page lists the bad records its ranges held.
func TestBatchPageShowsBadRecords(t *testing.T) {
	addrs := newCluster(t, 1, testTopic)
	st := NewStatus("bad")
	e, err := New(Group("bad"), Brokers(addrs...), BatchInterval(50*time.Millisecond), st.Attach())
	if err != nil {
		t.Fatal(err)
	}
	notSeven := func(_ context.Context, b []byte) (string, error) {
		if string(b) == "7" {
			return "", errors.New("seven is not a value")
		}
		return string(b), nil
	}
	if _, err := NewStream(e, "impressions", Subscribe(testTopic), BytesDecoder, notSeven, OnDecodeError(SkipBadRecords)); err != nil {
		t.Fatal(err)
	}
	r := start(t, e, func(context.Context, *JobBatch) error { return nil })
	produce(t, addrs, testTopic, 1, 10)
	var bad BatchInfo
	waitFor(t, "the batch with the bad record", 20*time.Second, func() bool {
		for _, b := range st.Snapshot().Batches {
			if b.BadRecords > 0 {
				bad = b
				return true
			}
		}
		return false
	})
	code, page := get(t, st, fmt.Sprintf("/batch/%d", bad.ID))
	if code != 200 {
		t.Fatal(code, page)
	}
	row := fmt.Sprintf(`<tr><td class="l">impressions</td><td class="l">%s</td><td>0</td><td class="l">corrupt body</td><td>1</td><td>7</td><td>7</td></tr>`, testTopic)
	if !strings.Contains(page, `<table id="bad-records">`) || !strings.Contains(page, row) {
		t.Errorf("batch page lacks the bad record row %s:\n%s", row, page)
	}
	// Another batch's page does not list it.
	for _, b := range st.Snapshot().Batches {
		if b.ID != bad.ID {
			if _, p := get(t, st, fmt.Sprintf("/batch/%d", b.ID)); strings.Contains(p, `id="bad-records"`) {
				t.Errorf("batch %d's page lists the bad record of batch %d", b.ID, bad.ID)
			}
			break
		}
	}
	r.stop(t)
}
