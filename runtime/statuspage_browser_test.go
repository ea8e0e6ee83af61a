package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/metrics"
)

// chromium is the headless browser the status page is tested in: Debian's
// package (.ci/run installs it). Missing, the test fails in CI and is
// skipped elsewhere.
const chromium = "/usr/bin/chromium"

func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing (apt-get install -y chromium): %v", chromium, err)
		}
		t.Skipf("%s missing (apt-get install -y chromium); the status page's browser test needs it", chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1300, 1000),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// artifact writes a test output file to $STREAMGEN_ARTIFACTS, or the
// test's temporary directory, and logs where.
func artifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := os.Getenv("STREAMGEN_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// retry runs an action on a page that refreshes itself: a refresh in the
// middle destroys the page's JavaScript context, and the next try reads
// the new page.
func retry[T any](ctx context.Context, a chromedp.Action[T]) (T, error) {
	var err error
	for range 5 {
		var v T
		if v, err = chromedp.Run(ctx, a); err == nil {
			return v, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	var zero T
	return zero, err
}

// TestStatusPageInBrowser runs a job on kfake, opens its status page in
// headless Chromium, checks the batch table against the records produced,
// follows a batch's link and checks its offset ranges against the
// engine's, and saves screenshots of both pages.
func TestStatusPageInBrowser(t *testing.T) {
	ctx := browser(t)
	addrs, prod := kafkatest.Cluster(t, 3, "impressions")
	st := runtime.NewStatus("impressions-etl")
	m := metrics.New("impressions-etl")
	e, err := runtime.New(append(m.Options(), runtime.JobName("impressions-etl"), runtime.Group("impressions-etl"),
		runtime.Brokers(addrs...), runtime.BatchInterval(200*time.Millisecond), st.Attach())...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewStream(e, "impressions", runtime.Subscribe("impressions"), runtime.BytesDecoder, runtime.StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		errc <- e.Run(context.Background(), func(ctx context.Context, bs *runtime.JobBatch) error {
			// Some work, so the charts have something to show.
			time.Sleep(time.Duration(s.Batch(bs).Len()) * time.Millisecond)
			return nil
		})
	}()
	defer func() {
		e.Stop(context.Background())
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}()
	srv := httptest.NewServer(st)
	defer srv.Close()

	// Three rounds of records with idle batches between them.
	const perRound = 3 * 20
	seen := func() int {
		n := 0
		for _, b := range e.Snapshot().Batches {
			n += b.Records
		}
		return n
	}
	for round := 1; round <= 3; round++ {
		kafkatest.Produce(t, prod, "impressions", 3, 20)
		deadline := time.Now().Add(20 * time.Second)
		for seen() < round*perRound {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d records in batches", round, seen())
			}
			time.Sleep(20 * time.Millisecond)
		}
		// A run of empty batches before the next round.
		for n := len(e.Snapshot().Batches); len(e.Snapshot().Batches) < n+5; {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no run of empty batches", round)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible("#batches")); err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID      string `json:"id"`
		Records string `json:"records"`
	}
	rows, err := retry(ctx, chromedp.Evaluate[[]row](`Array.from(document.querySelectorAll('#batches tr[data-batch]')).map(r => ({id: r.dataset.batch, records: r.querySelector('td.records').textContent}))`))
	if err != nil {
		t.Fatal(err)
	}
	total, busiest, most := 0, "", 0
	for _, r := range rows {
		n, err := strconv.Atoi(strings.ReplaceAll(r.Records, ",", ""))
		if err != nil {
			t.Fatalf("batch %s: records %q", r.ID, r.Records)
		}
		total += n
		if n > most {
			busiest, most = r.ID, n
		}
	}
	if total != 3*perRound {
		t.Errorf("the batch table shows %d records in %d rows, want %d", total, len(rows), 3*perRound)
	}
	collapsed, err := retry(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#batches tr.empty').length`))
	if err != nil {
		t.Fatal(err)
	}
	if collapsed == 0 {
		t.Error("no run of empty batches was collapsed")
	}
	shot, err := retry(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	artifact(t, "status-page.png", shot)

	// Follow the busiest batch's link.
	if err := chromedp.Do(ctx, chromedp.Click(fmt.Sprintf(`tr[data-batch="%s"] a`, busiest)), chromedp.WaitVisible("#ranges")); err != nil {
		t.Fatal(err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(loc, "/batch/"+busiest) {
		t.Fatalf("after the click the browser is at %q (%v)", loc, err)
	}
	cells, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll('#ranges tr')).slice(1).map(r => Array.from(r.cells).map(c => c.textContent))`))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, b := range e.Snapshot().Batches {
		if strconv.FormatInt(b.ID, 10) == busiest {
			for _, r := range b.Ranges["impressions"] {
				want = append(want, fmt.Sprintf("impressions %s %d %d %d %d", r.Topic, r.Partition, r.FromOffset, r.UntilOffset, r.Count()))
			}
		}
	}
	var got []string
	for _, c := range cells {
		got = append(got, strings.Join(c, " "))
	}
	if len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("batch %s's offset table:\n%s\nwant:\n%s", busiest, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	sum := 0
	for _, c := range cells {
		n, _ := strconv.Atoi(c[5])
		sum += n
	}
	if sum != most {
		t.Errorf("batch %s: ranges count %d offsets, the batch table %d records", busiest, sum, most)
	}
	shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	artifact(t, "batch-page.png", shot)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("browser timed out")
	}
}
