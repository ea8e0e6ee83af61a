package runtime

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// This file owns the status server: the status page, /status.json,
// /healthz and /readyz.

// Status serves the state of a job's engine over HTTP, all of it read from
// Engine.Snapshot at request time:
//
//   - "/": the status page, HTML in the shape of Spark's Streaming tab
//     (summary, partitions with their lag, charts of input rate and
//     delays, the completed batches), refreshing itself every interval;
//   - "/batch/{id}": one batch, with its offset ranges and bad records;
//   - "/status.json": the same data as JSON, durations in milliseconds;
//   - "/healthz": 200 while the job is alive, 503 once it stopped on error;
//   - "/readyz": 200 while the job owns partitions, reaches its brokers and
//     its last batch succeeded, 503 with the reason otherwise;
//   - "POST /side/{name}/reload": asks the side input name for a load now
//     (side.Value), 202 once asked;
//   - whatever the engine's StatusHandler options add (metrics' "/metrics").
type Status struct {
	name   string
	engine atomic.Pointer[Engine]
	// stopped holds Run's error once Watch saw it return one.
	stopped atomic.Pointer[error]
	mux     *http.ServeMux
}

// NewStatus serves the job name's status once Attach's option has been
// given to its engine.
func NewStatus(name string) *Status {
	s := &Status{name: name, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.servePage)
	s.mux.HandleFunc("GET /batch/{id}", s.serveBatch)
	s.mux.HandleFunc("GET /status.json", s.serveJSON)
	s.mux.HandleFunc("GET /healthz", s.serveHealth)
	s.mux.HandleFunc("GET /readyz", s.serveReady)
	s.mux.HandleFunc("POST /side/{name}/reload", s.serveSideReload)
	s.mux.HandleFunc("/", s.servePlugin)
	return s
}

// Attach is the engine option that makes s serve that engine's state.
func (s *Status) Attach() Opt { return OnEngine(s.engine.Store) }

// Watch wraps a job's run function so that an error it returns turns
// /healthz to 503: the job has stopped on error.
func (s *Status) Watch(run func(ctx context.Context) error) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		err := run(ctx)
		if err != nil {
			s.stopped.Store(&err)
		}
		return err
	}
}

// Snapshot is the attached engine's snapshot, empty before one is.
func (s *Status) Snapshot() Snapshot {
	if e := s.engine.Load(); e != nil {
		return e.Snapshot()
	}
	return Snapshot{Job: s.name}
}

func (s *Status) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Status) servePlugin(w http.ResponseWriter, r *http.Request) {
	if e := s.engine.Load(); e != nil {
		if h, ok := e.cfg.statusHandlers[r.URL.Path]; ok {
			h.ServeHTTP(w, r)
			return
		}
	}
	http.NotFound(w, r)
}

// Alive is nil while the job runs (or has not started yet) and the reason
// once it has stopped on error: /healthz.
func (s *Status) Alive() error { return s.alive(s.Snapshot()) }

func (s *Status) alive(snap Snapshot) error {
	if err := s.stopped.Load(); err != nil {
		return fmt.Errorf("stopped on error: %w", *err)
	}
	// A batch read again, or lost at most once, does not end Run.
	if b, ok := lastBatch(snap); ok && b.endsRun() {
		return fmt.Errorf("stopped on error: batch %d failed: %w", b.ID, b.Err)
	}
	return nil
}

// Ready is nil while the job does its work, and otherwise says why it is
// not: not started, owning no partition, brokers failing, last batch
// failed, stopped. It is what /readyz answers.
func (s *Status) Ready() error {
	snap := s.Snapshot()
	if err := s.alive(snap); err != nil {
		return err
	}
	return readiness(snap)
}

func readiness(snap Snapshot) error {
	k := snap.Kafka
	switch {
	case snap.Started.IsZero():
		return fmt.Errorf("not started")
	case !k.FailingSince.IsZero():
		msg := fmt.Sprintf("brokers failing since %s", k.FailingSince.UTC().Format(time.RFC3339))
		if k.LastError != "" {
			msg += ": " + k.LastError
		}
		return fmt.Errorf("%s", oneLine(msg))
	case !snap.Store.FailingSince.IsZero():
		return fmt.Errorf("%s", oneLine(snap.Store.String()))
	case sideUnready(snap) != "":
		return fmt.Errorf("%s", oneLine(sideUnready(snap)))
	case !snap.Registry.FailingSince.IsZero():
		msg := fmt.Sprintf("schema registry failing since %s: %s", snap.Registry.FailingSince.UTC().Format(time.RFC3339), snap.Registry.LastError)
		return fmt.Errorf("%s", oneLine(msg))
	case k.WaitingForPartitions:
		return fmt.Errorf("waiting for the group to assign partitions")
	case len(snap.Partitions) == 0:
		return fmt.Errorf("no partitions assigned")
	}
	if b, ok := lastBatch(snap); ok && b.Err != nil {
		return fmt.Errorf("last batch %d failed: %s", b.ID, oneLine(b.Err.Error()))
	}
	return nil
}

// sideUnready is why a side input keeps the job unready, "" if none does.
func sideUnready(snap Snapshot) string {
	for _, h := range snap.SideInputs {
		if h.Unready != "" {
			return "side input " + h.Name + ": " + h.Unready
		}
	}
	return ""
}

func lastBatch(snap Snapshot) (BatchInfo, bool) {
	if n := len(snap.Batches); n > 0 {
		return snap.Batches[n-1], true
	}
	return BatchInfo{}, false
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (s *Status) serveHealth(w http.ResponseWriter, r *http.Request) {
	probe(w, s.Alive())
}

func (s *Status) serveReady(w http.ResponseWriter, r *http.Request) {
	probe(w, s.Ready())
}

func probe(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, oneLine(err.Error()))
		return
	}
	fmt.Fprintln(w, "ok")
}

// The JSON of /status.json. Field names are stable; every duration is in
// milliseconds, in a field whose name ends in Ms; times are RFC 3339.
type (
	statusJSON struct {
		Job            string          `json:"job"`
		Group          string          `json:"group"`
		Semantics      string          `json:"semantics"`
		IntervalMs     float64         `json:"intervalMs"`
		Started        *time.Time      `json:"started"`
		UptimeMs       float64         `json:"uptimeMs"`
		Streams        []string        `json:"streams"`
		Ready          bool            `json:"ready"`
		NotReady       string          `json:"notReady,omitempty"`
		Alive          bool            `json:"alive"`
		RateEstimate   float64         `json:"rateEstimate"`
		TotalLag       int64           `json:"totalLag"`
		Commits        int64           `json:"commits"`
		CommitFailures int64           `json:"commitFailures"`
		AbortFailures  int64           `json:"abortFailures"`
		LostBatches    int64           `json:"lostBatches"`
		LostRecords    int64           `json:"lostRecords"`
		Kafka          kafkaJSON       `json:"kafka"`
		Partitions     []partitionJSON `json:"partitions"`
		BadRecords     []badJSON       `json:"badRecords"`
		SideInputs     []sideJSON      `json:"sideInputs"`
		OpenFiles      *openFilesJSON  `json:"openFiles,omitempty"`
		Batches        []batchJSON     `json:"batches"`
	}
	openFilesJSON struct {
		Files     int     `json:"files"`
		Bytes     int64   `json:"bytes"`
		OldestMs  float64 `json:"oldestMs"`
		Published int64   `json:"published"`
		Dropped   int64   `json:"dropped"`
	}
	sideJSON struct {
		Name         string     `json:"name"`
		Kind         string     `json:"kind"`
		Entries      int64      `json:"entries"`
		Bytes        int64      `json:"bytes"`
		Version      int64      `json:"version"`
		LoadedAt     *time.Time `json:"loadedAt"`
		AgeMs        float64    `json:"ageMs"`
		FailingSince *time.Time `json:"failingSince"`
		LastError    string     `json:"lastError,omitempty"`
		Failures     int64      `json:"failures"`
		Skipped      int64      `json:"skipped"`
		Unready      string     `json:"unready,omitempty"`
	}
	kafkaJSON struct {
		FailingSince         *time.Time `json:"failingSince"`
		LastError            string     `json:"lastError,omitempty"`
		WaitingForPartitions bool       `json:"waitingForPartitions"`
	}
	partitionJSON struct {
		Stream        string `json:"stream"`
		Topic         string `json:"topic"`
		Partition     int32  `json:"partition"`
		Next          int64  `json:"next"`
		Fetched       int64  `json:"fetched"`
		HighWatermark int64  `json:"highWatermark"`
		Lag           int64  `json:"lag"`
		Buffered      int    `json:"buffered"`
		Paused        bool   `json:"paused"`
		Worker        int    `json:"worker"`
	}
	badJSON struct {
		Stream    string `json:"stream"`
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Cause     string `json:"cause"`
		Count     int64  `json:"count"`
		First     int64  `json:"firstOffset"`
		Last      int64  `json:"lastOffset"`
	}
	batchJSON struct {
		ID                int64       `json:"id"`
		Time              time.Time   `json:"time"`
		Records           int         `json:"records"`
		SchedulingDelayMs float64     `json:"schedulingDelayMs"`
		ProcessingTimeMs  float64     `json:"processingTimeMs"`
		TotalDelayMs      float64     `json:"totalDelayMs"`
		BadRecords        int         `json:"badRecords"`
		Error             string      `json:"error,omitempty"`
		Offsets           string      `json:"offsets"`
		Ranges            []rangeJSON `json:"ranges"`
	}
	rangeJSON struct {
		Stream      string `json:"stream"`
		Topic       string `json:"topic"`
		Partition   int32  `json:"partition"`
		FromOffset  int64  `json:"fromOffset"`
		UntilOffset int64  `json:"untilOffset"`
		Count       int64  `json:"count"`
	}
)

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Status) statusJSON(snap Snapshot, now time.Time) statusJSON {
	out := statusJSON{
		Job: snap.Job, Group: snap.Group, Semantics: snap.Semantics.String(), IntervalMs: ms(snap.Interval),
		Started: timePtr(snap.Started), Streams: streamNames(snap), RateEstimate: snap.Rate,
		Commits: snap.Commits, CommitFailures: snap.CommitFailures, AbortFailures: snap.AbortFailures,
		LostBatches: snap.LostBatches, LostRecords: snap.LostRecords,
		Kafka: kafkaJSON{
			FailingSince: timePtr(snap.Kafka.FailingSince), LastError: snap.Kafka.LastError,
			WaitingForPartitions: snap.Kafka.WaitingForPartitions,
		},
		Partitions: []partitionJSON{}, BadRecords: []badJSON{}, SideInputs: []sideJSON{}, Batches: []batchJSON{},
	}
	if out.Job == "" {
		out.Job = s.name
	}
	if !snap.Started.IsZero() {
		out.UptimeMs = ms(now.Sub(snap.Started))
	}
	alive := s.alive(snap)
	out.Alive = alive == nil
	ready := alive
	if ready == nil {
		ready = readiness(snap)
	}
	if out.Ready = ready == nil; !out.Ready {
		out.NotReady = oneLine(ready.Error())
	}
	for _, p := range snap.Partitions {
		out.TotalLag += p.Lag
		out.Partitions = append(out.Partitions, partitionJSON{
			Stream: p.Stream, Topic: p.Topic, Partition: p.Partition, Next: p.Next, Fetched: p.Fetched,
			HighWatermark: p.HighWatermark, Lag: p.Lag, Buffered: p.Buffered, Paused: p.Paused, Worker: p.Worker,
		})
	}
	for _, b := range snap.BadRecords {
		out.BadRecords = append(out.BadRecords, badJSON{
			Stream: b.Stream, Topic: b.Topic, Partition: b.Partition, Cause: b.Cause, Count: b.Count, First: b.First, Last: b.Last,
		})
	}
	for _, h := range snap.SideInputs {
		j := sideJSON{
			Name: h.Name, Kind: h.Kind, Entries: h.Entries, Bytes: h.Bytes, Version: h.Version,
			LoadedAt: timePtr(h.LoadedAt), FailingSince: timePtr(h.FailingSince), LastError: h.LastError,
			Failures: h.Failures, Skipped: h.Skipped, Unready: h.Unready,
		}
		if !h.LoadedAt.IsZero() {
			j.AgeMs = ms(now.Sub(h.LoadedAt))
		}
		out.SideInputs = append(out.SideInputs, j)
	}
	if of := snap.OpenFiles; of != nil {
		out.OpenFiles = &openFilesJSON{Files: of.Files, Bytes: of.Bytes, OldestMs: ms(of.Oldest), Published: of.Published, Dropped: of.Dropped}
	}
	for _, b := range snap.Batches {
		out.Batches = append(out.Batches, batchToJSON(b))
	}
	return out
}

// serveSideReload asks a side input that can reload (side.Value) for a
// load now: 202, or 404 for a name no side input has, 409 for one that
// cannot reload (a table follows its topic on its own).
func (s *Status) serveSideReload(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	e := s.engine.Load()
	if e == nil {
		http.Error(w, "no job attached", http.StatusServiceUnavailable)
		return
	}
	for _, side := range e.cfg.sides {
		if side.SideName() != name {
			continue
		}
		rl, ok := side.(interface{ Reload() })
		if !ok {
			http.Error(w, "side input "+name+" does not reload on request", http.StatusConflict)
			return
		}
		rl.Reload()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "side input %s: reload requested; the batch after it completes sees it\n", name)
		return
	}
	http.Error(w, "no side input "+name, http.StatusNotFound)
}

func batchToJSON(b BatchInfo) batchJSON {
	j := batchJSON{
		ID: b.ID, Time: b.Time, Records: b.Records, SchedulingDelayMs: ms(b.SchedulingDelay),
		ProcessingTimeMs: ms(b.ProcessingTime), TotalDelayMs: ms(b.TotalDelay), BadRecords: b.BadRecords,
		Offsets: b.Offsets.Label(), Ranges: []rangeJSON{},
	}
	if b.Err != nil {
		j.Error = b.Err.Error()
	}
	for _, stream := range slices.Sorted(maps.Keys(b.Ranges)) {
		for _, r := range b.Ranges[stream] {
			j.Ranges = append(j.Ranges, rangeJSON{
				Stream: stream, Topic: r.Topic, Partition: r.Partition,
				FromOffset: r.FromOffset, UntilOffset: r.UntilOffset, Count: r.Count(),
			})
		}
	}
	return j
}

// streamNames are the job's streams, as the spec names them, whether or
// not they own partitions yet (brokers down, waiting for the group); for
// a snapshot without them, those with partitions or with ranges in a
// retained batch.
func streamNames(snap Snapshot) []string {
	set := map[string]bool{}
	for _, s := range snap.Streams {
		set[s] = true
	}
	for _, p := range snap.Partitions {
		set[p.Stream] = true
	}
	for _, b := range snap.Batches {
		for s := range b.Ranges {
			set[s] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func (s *Status) serveJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(s.statusJSON(s.Snapshot(), time.Now()))
}

//go:embed status/*.html
var statusFS embed.FS

var statusPages = template.Must(template.New("").Funcs(template.FuncMap{
	"ms":    func(d time.Duration) string { return formatMs(ms(d)) },
	"clock": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
	// unstored: a batch that did not fail the job, but whose offsets
	// were not stored as the batch's own (a failed batch says so).
	"unstored": func(b BatchInfo) bool { return b.Offsets.unstored() },
	"num":      func(n any) string { return formatInt(toInt64(n)) },
	"numf":     func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"rfc":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"uptime":   func(d time.Duration) string { return d.Round(time.Second).String() },
	"bytes":    formatBytes,
	"msf":      formatMs,
	"clockp":   func(t *time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
}).ParseFS(statusFS, "status/*.html"))

func toInt64(n any) int64 {
	switch n := n.(type) {
	case int:
		return int64(n)
	case int32:
		return int64(n)
	case int64:
		return n
	}
	panic(fmt.Sprintf("status page: num of %T", n))
}

// formatInt writes n with thousands separators, as Spark's page does.
func formatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// formatBytes writes n in binary units, one decimal.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if v < unit {
			break
		}
		v, suffix = v/unit, s
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + suffix
}

func formatMs(v float64) string {
	switch {
	case v >= 10000:
		return strconv.FormatFloat(v/1000, 'f', 1, 64) + " s"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	default:
		return strconv.FormatFloat(v, 'f', 1, 64) + " ms"
	}
}

// pageData is what the status page template shows.
type pageData struct {
	Snap    Snapshot
	JSON    statusJSON
	Uptime  time.Duration
	Refresh int
	Charts  []chart
	Rows    []batchRow
	Shown   int // batches in Rows
	Omitted int // older rows not shown
	Totals  batchTotals
	// Metrics is true when the engine serves /metrics (package metrics).
	Metrics bool
}

type batchTotals struct {
	Batches, Failed, Empty int
	Records                int64
	AvgRate                float64
	AvgSched, AvgProc      time.Duration
}

// batchRow is one row of the batch table: a batch, or a run of empty
// batches collapsed into one (Empty > 0).
type batchRow struct {
	B          BatchInfo
	Empty      int
	FirstID    int64
	FirstTime  time.Time
	LastTime   time.Time
	Rate       float64
	Failed     bool
	ErrMessage string
}

// maxRows bounds the batch table; older rows are counted, not shown.
const maxRows = 200

// batchRows lists batches newest first, collapsing each run of two or
// more consecutive empty, successful batches into one row, so the batches
// that carried records or failed stay on the page when an idle job piles
// up empty ones.
func batchRows(batches []BatchInfo, interval time.Duration) (rows []batchRow, omitted int) {
	empty := func(b BatchInfo) bool { return b.Records == 0 && b.Err == nil && b.BadRecords == 0 }
	for i := len(batches) - 1; i >= 0; {
		b := batches[i]
		j := i
		for j > 0 && empty(b) && empty(batches[j-1]) {
			j--
		}
		var row batchRow
		if n := i - j + 1; n > 1 {
			row = batchRow{B: b, Empty: n, FirstID: batches[j].ID, FirstTime: batches[j].Time, LastTime: b.Time}
		} else {
			row = batchRow{B: b, Failed: b.Err != nil}
			if b.Err != nil {
				row.ErrMessage = oneLine(b.Err.Error())
			}
			if interval > 0 {
				row.Rate = float64(b.Records) / interval.Seconds()
			}
		}
		if len(rows) < maxRows {
			rows = append(rows, row)
		} else {
			omitted++
		}
		i = j - 1
	}
	return rows, omitted
}

func (s *Status) servePage(w http.ResponseWriter, r *http.Request) {
	render(w, "page.html", s.page(s.Snapshot(), time.Now()))
}

func (s *Status) page(snap Snapshot, now time.Time) pageData {
	d := pageData{Snap: snap, JSON: s.statusJSON(snap, now), Refresh: max(int(math.Ceil(snap.Interval.Seconds())), 2)}
	if e := s.engine.Load(); e != nil {
		_, d.Metrics = e.cfg.statusHandlers["/metrics"]
	}
	if !snap.Started.IsZero() {
		d.Uptime = now.Sub(snap.Started)
	}
	d.Rows, d.Omitted = batchRows(snap.Batches, snap.Interval)
	d.Charts = charts(snap.Batches, snap.Interval)
	var sched, proc time.Duration
	for _, b := range snap.Batches {
		d.Totals.Batches++
		d.Totals.Records += int64(b.Records)
		sched += b.SchedulingDelay
		proc += b.ProcessingTime
		if b.Err != nil {
			d.Totals.Failed++
		} else if b.Records == 0 {
			d.Totals.Empty++
		}
	}
	if n := d.Totals.Batches; n > 0 {
		d.Totals.AvgSched, d.Totals.AvgProc = sched/time.Duration(n), proc/time.Duration(n)
		if snap.Interval > 0 {
			d.Totals.AvgRate = float64(d.Totals.Records) / (float64(n) * snap.Interval.Seconds())
		}
	}
	return d
}

// batchPage is what a batch's page shows.
type batchPage struct {
	Job        string
	B          BatchInfo
	Status     string
	Ranges     []rangeJSON
	BadRecords []badJSON
}

func (s *Status) serveBatch(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, fmt.Sprintf("batch %q: not a batch id", r.PathValue("id")), http.StatusNotFound)
		return
	}
	snap := s.Snapshot()
	i := slices.IndexFunc(snap.Batches, func(b BatchInfo) bool { return b.ID == id })
	if i < 0 {
		http.Error(w, fmt.Sprintf("batch %d: not among the %d retained completed batches", id, len(snap.Batches)), http.StatusNotFound)
		return
	}
	b := snap.Batches[i]
	p := batchPage{Job: snap.Job, B: b, Status: "succeeded", Ranges: batchToJSON(b).Ranges}
	if p.Job == "" {
		p.Job = s.name
	}
	if b.Err != nil {
		p.Status = "failed: " + oneLine(b.Err.Error())
	}
	if b.Offsets.unstored() {
		p.Status += "; offsets " + b.Offsets.String()
	}
	// The job's bad-record counts are per partition and cause, not per
	// batch: show those whose offsets fall in this batch's ranges.
	for _, bad := range snap.BadRecords {
		for _, rg := range b.Ranges[bad.Stream] {
			if rg.Topic == bad.Topic && rg.Partition == bad.Partition && bad.First < rg.UntilOffset && bad.Last >= rg.FromOffset {
				p.BadRecords = append(p.BadRecords, badJSON{Stream: bad.Stream, Topic: bad.Topic, Partition: bad.Partition, Cause: bad.Cause, Count: bad.Count, First: bad.First, Last: bad.Last})
				break
			}
		}
	}
	render(w, "batch.html", p)
}

func render(w http.ResponseWriter, name string, data any) {
	var buf strings.Builder
	if err := statusPages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, buf.String())
}

// chart is one inline SVG line chart over the recent batches.
type chart struct {
	Title, Unit string
	Points      string // the polyline's "x,y x,y ..."
	Max, Avg    string
	From, To    time.Time
	N           int
}

const (
	chartW, chartH = 600.0, 140.0
	chartBatches   = 300 // the newest this many batches
)

func charts(batches []BatchInfo, interval time.Duration) []chart {
	batches = batches[max(len(batches)-chartBatches, 0):]
	series := []struct {
		title, unit string
		v           func(BatchInfo) float64
		format      func(float64) string
	}{
		{"Input rate", "records/s", func(b BatchInfo) float64 {
			if interval <= 0 {
				return 0
			}
			return float64(b.Records) / interval.Seconds()
		}, func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " records/s" }},
		{"Scheduling delay", "ms", func(b BatchInfo) float64 { return ms(b.SchedulingDelay) }, formatMs},
		{"Processing time", "ms", func(b BatchInfo) float64 { return ms(b.ProcessingTime) }, formatMs},
	}
	out := make([]chart, 0, len(series))
	for _, s := range series {
		c := chart{Title: s.title, Unit: s.unit, N: len(batches)}
		if len(batches) == 0 {
			out = append(out, c)
			continue
		}
		c.From, c.To = batches[0].Time, batches[len(batches)-1].Time
		top, sum := 0.0, 0.0
		for _, b := range batches {
			v := s.v(b)
			top = max(top, v)
			sum += v
		}
		c.Max, c.Avg = s.format(top), s.format(sum/float64(len(batches)))
		scale := top
		if scale == 0 {
			scale = 1
		}
		var pts strings.Builder
		for i, b := range batches {
			x := chartW
			if len(batches) > 1 {
				x = float64(i) * chartW / float64(len(batches)-1)
			}
			y := chartH - s.v(b)/scale*(chartH-10)
			fmt.Fprintf(&pts, "%.1f,%.1f ", x, y)
		}
		c.Points = strings.TrimSpace(pts.String())
		out = append(out, c)
	}
	return out
}

// WriteBatchPage writes one batch as Spark's batch page does: its delays
// and the offset range of every partition it read.
func WriteBatchPage(w io.Writer, b BatchInfo) {
	fmt.Fprintf(w, "\nBatch %d at %s\n", b.ID, b.Time.Format(time.RFC3339))
	fmt.Fprintf(w, "Input data size: %d records\nScheduling delay: %s\nProcessing time: %s\nTotal delay: %s\n",
		b.Records, b.SchedulingDelay.Round(time.Millisecond), b.ProcessingTime.Round(time.Millisecond), b.TotalDelay.Round(time.Millisecond))
	if b.BadRecords > 0 {
		fmt.Fprintf(w, "Records left out by onDecodeError: %d\n", b.BadRecords)
	}
	if b.Err != nil {
		fmt.Fprintf(w, "Failed: %v\n", b.Err)
	}
	for _, stream := range slices.Sorted(maps.Keys(b.Ranges)) {
		for _, r := range b.Ranges[stream] {
			fmt.Fprintf(w, "  %-14s %s\n", stream, r)
		}
	}
}
