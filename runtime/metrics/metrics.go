// Package metrics exports a job's engine to Prometheus: batches, records,
// delays, lag, commits, bad records, schema registry lookups and lost
// batches, plus franz-go's client metrics (kprom). The engine knows
// nothing of Prometheus: Metrics plugs in through the engine's hooks
// (Listener, OnEngine, KgoOpts, RegistryHooks, StatusHandler), and the
// gauges are read from Engine.Snapshot when Prometheus scrapes.
//
// Every metric is named streamgen_* and carries the label job, the job's
// name.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/streamgen/streamgen/runtime"
)

// Path is where the status server serves the metrics.
const Path = "/metrics"

// Metrics collects one engine's metrics into a Prometheus registry of its
// own. Give Options to exactly one engine.
type Metrics struct {
	job    string
	reg    *prometheus.Registry
	engine atomic.Pointer[runtime.Engine]
	kafka  *kafkaHooks

	batches                    *prometheus.CounterVec
	batchOffsets               *prometheus.CounterVec
	records                    prometheus.Counter
	offsets                    *prometheus.CounterVec
	schedDelay, procTime, totl prometheus.Histogram
	lookups                    *prometheus.CounterVec
}

// delayBuckets are seconds, from 1 ms to about 2 min: batch intervals run
// from a few hundred milliseconds to minutes.
var delayBuckets = prometheus.ExponentialBuckets(0.001, 2, 18)

// New returns the metrics of the job named job.
func New(job string) *Metrics {
	m := &Metrics{job: job, reg: prometheus.NewRegistry()}
	labels := prometheus.Labels{"job": job}
	f := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "streamgen", Name: name, Help: help, ConstLabels: labels}
	}
	h := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "streamgen", Name: name, Help: help, ConstLabels: labels, Buckets: delayBuckets})
	}
	m.batches = prometheus.NewCounterVec(prometheus.CounterOpts(f("batches_total", "Completed batches, by result (ok or failed).")), []string{"result"})
	m.batchOffsets = prometheus.NewCounterVec(prometheus.CounterOpts(f("batch_offsets_total", "Completed batches by what became of their offsets: stored; refused (by the group: stored with a later batch or read again by the partitions' next owner); reread (read again in the process); lost (at-most-once); not_stored (the batch failed); by_handler (ManualCommit). Only stored batches are never read again.")), []string{"outcome"})
	m.records = prometheus.NewCounter(prometheus.CounterOpts(f("records_total", "Records in completed batches: their input size, all streams, including records the decode policy left out.")))
	m.offsets = prometheus.NewCounterVec(prometheus.CounterOpts(f("offsets_total", "Offsets covered by completed batches' ranges, by stream: the stream's records, plus compacted-away offsets and transaction markers.")), []string{"stream"})
	m.schedDelay = h("batch_scheduling_delay_seconds", "How long each batch waited for the previous one, from its batch time until processing started.")
	m.procTime = h("batch_processing_time_seconds", "How long each batch took: handler, offset store and dead letters.")
	m.totl = h("batch_total_delay_seconds", "Scheduling delay plus processing time of each batch.")
	m.lookups = prometheus.NewCounterVec(prometheus.CounterOpts(f("registry_lookups_total", "Requests to the schema registry for writer schemas, by result (ok, unknown, unusable, error); cached ids make none.")), []string{"result"})
	for _, b := range []string{"ok", "failed"} {
		m.batches.WithLabelValues(b)
	}
	for o := runtime.OffsetsNotStored; o <= runtime.OffsetsByHandler; o++ {
		m.batchOffsets.WithLabelValues(o.Label())
	}
	for _, r := range []string{"ok", "unknown", "unusable", "error"} {
		m.lookups.WithLabelValues(r)
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(m.batches, m.batchOffsets, m.records, m.offsets, m.schedDelay, m.procTime, m.totl, m.lookups, newSnapshotCollector(m, labels))
	m.kafka = &kafkaHooks{Metrics: kprom.NewMetrics("streamgen_kafka", kprom.Registerer(m.reg), kprom.WithStaticLabel(labels))}
	return m
}

// Registry is the registry the metrics are in; a job may add its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus' exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(withoutClientBuffers{m.reg}, promhttp.HandlerOpts{})
}

// Options are the engine options that feed m and serve it at Path on the
// engine's status server (runtime.Status).
func (m *Metrics) Options() []runtime.Opt {
	return []runtime.Opt{
		runtime.OnEngine(m.engine.Store),
		runtime.Listener(listener{m}),
		runtime.KgoOpts(kgo.WithHooks(m.kafka)),
		runtime.RegistryHooks(m),
		runtime.StatusHandler(Path, m.Handler()),
	}
}

// RegistryLookup counts a schema registry request (runtime.RegistryHook).
func (m *Metrics) RegistryLookup(_ int, err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, runtime.ErrUnknownSchemaID):
		result = "unknown"
	case errors.Is(err, runtime.ErrBadWriterSchema):
		result = "unusable"
	default:
		result = "error"
	}
	m.lookups.WithLabelValues(result).Inc()
}

// listener counts batches as they complete (runtime.BatchListener).
type listener struct{ m *Metrics }

func (listener) BatchSubmitted(runtime.BatchInfo) {}
func (listener) BatchStarted(runtime.BatchInfo)   {}
func (l listener) BatchCompleted(b runtime.BatchInfo) {
	m := l.m
	if b.Err != nil {
		m.batches.WithLabelValues("failed").Inc()
	} else {
		m.batches.WithLabelValues("ok").Inc()
	}
	m.batchOffsets.WithLabelValues(b.Offsets.Label()).Inc()
	m.records.Add(float64(b.Records))
	for stream, rs := range b.Ranges {
		var n int64
		for _, r := range rs {
			n += r.Count()
		}
		m.offsets.WithLabelValues(stream).Add(float64(n))
	}
	m.schedDelay.Observe(b.SchedulingDelay.Seconds())
	m.procTime.Observe(b.ProcessingTime.Seconds())
	m.totl.Observe(b.TotalDelay.Seconds())
}

// snapshotCollector reads what the engine counts itself (lag, commits, bad
// records, lost batches) from its Snapshot at scrape time.
type snapshotCollector struct {
	m *Metrics
	lag, hwm, next, buf, paused, commits, commitFailures, abortFailures, bad,
	lostBatches, lostRecords, rate, kafkaFailing, parts, started, listenerDropped,
	sideEntries, sideBytes, sideAge, sideFailures, sideSkipped, sideUnready,
	openFiles, openBytes, openAge, published, dropped *prometheus.Desc
}

func newSnapshotCollector(m *Metrics, labels prometheus.Labels) *snapshotCollector {
	d := func(name, help string, variable ...string) *prometheus.Desc {
		return prometheus.NewDesc("streamgen_"+name, help, variable, labels)
	}
	p := []string{"stream", "topic", "partition"}
	return &snapshotCollector{
		m:               m,
		lag:             d("partition_lag", "Offsets of the partition not yet in a finished batch: high watermark minus the next batch's start.", p...),
		hwm:             d("partition_high_watermark", "The partition's high watermark as the latest fetch reported it.", p...),
		next:            d("partition_next_offset", "Where the partition's next batch starts.", p...),
		buf:             d("partition_buffered_records", "Fetched records of the partition waiting for a batch.", p...),
		paused:          d("partition_paused", "1 while fetching of the partition is paused to bound memory, else 0.", p...),
		commits:         d("commits_total", "Batch offset stores that succeeded."),
		commitFailures:  d("commit_failures_total", "Batch offset stores that failed."),
		abortFailures:   d("abort_failures_total", "Failed batches whose output the store could not discard (a failed rollback or transaction abort)."),
		bad:             d("bad_records_total", "Records left out of batches by the stream's decode policy (skipped or dead-lettered), by cause.", "stream", "cause"),
		lostBatches:     d("lost_batches_total", "At-most-once batches that failed after their offsets were stored: never read again."),
		lostRecords:     d("lost_records_total", "Records of the lost batches."),
		listenerDropped: d("listener_events_dropped_total", "Batch events not delivered to the batch listeners (these metrics' own counters among them) because they fell too far behind."),
		rate:            d("backpressure_rate", "The backpressure estimate, records/s across all partitions; 0 without backpressure or before the first estimate."),
		kafkaFailing:    d("kafka_failing", "1 while requests to the brokers fail without a success since, else 0."),
		parts:           d("assigned_partitions", "Partitions the job owns now."),
		started:         d("start_time_seconds", "When the engine started running, seconds since the Unix epoch; 0 before."),
		sideEntries:     d("side_input_entries", "Entries the side input holds as handlers see it (a table's keys; 1 for a loaded value).", "side_input", "kind"),
		sideBytes:       d("side_input_bytes", "Approximate size of the side input as handlers see it (a table's keys and values as they were on its topic).", "side_input", "kind"),
		sideAge:         d("side_input_age_seconds", "Seconds since what handlers see of the side input was loaded (a value's last good load; a table's last applied update).", "side_input", "kind"),
		sideFailures:    d("side_input_load_failures_total", "Failed loads of the side input (a value's loader failing; a table's fetch errors).", "side_input", "kind"),
		sideSkipped:     d("side_input_skipped_records_total", "Records of a table's topic its decode policy left out.", "side_input", "kind"),
		openFiles:       d("blob_open_files", "Files the blob sink keeps open across batches (rolling), not yet published."),
		openBytes:       d("blob_open_bytes", "Size of what the open files hold (their values' Avro binary)."),
		openAge:         d("blob_oldest_open_seconds", "Seconds the oldest open file has been open (0 with none): about what a restart reads again."),
		published:       d("blob_published_files_total", "Files the rolling blob sink published."),
		dropped:         d("blob_reread_dropped_total", "Values read again after a restart and dropped, a published file holding them."),
		sideUnready:     d("side_input_unready", "1 while the side input keeps the job unready (loading, stale past its maxAge, failed), else 0.", "side_input", "kind"),
	}
}

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.lag, c.hwm, c.next, c.buf, c.paused, c.commits, c.commitFailures, c.abortFailures, c.bad, c.lostBatches, c.lostRecords, c.rate, c.kafkaFailing, c.parts, c.started, c.listenerDropped,
		c.sideEntries, c.sideBytes, c.sideAge, c.sideFailures, c.sideSkipped, c.sideUnready,
		c.openFiles, c.openBytes, c.openAge, c.published, c.dropped} {
		ch <- d
	}
}

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	e := c.m.engine.Load()
	if e == nil {
		return
	}
	s := e.Snapshot()
	put := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	for _, p := range s.Partitions {
		l := []string{p.Stream, p.Topic, strconv.Itoa(int(p.Partition))}
		put(c.lag, prometheus.GaugeValue, float64(p.Lag), l...)
		if p.HighWatermark >= 0 {
			put(c.hwm, prometheus.GaugeValue, float64(p.HighWatermark), l...)
		}
		put(c.next, prometheus.GaugeValue, float64(p.Next), l...)
		put(c.buf, prometheus.GaugeValue, float64(p.Buffered), l...)
		put(c.paused, prometheus.GaugeValue, b2f(p.Paused), l...)
	}
	bad := map[[2]string]int64{}
	for _, b := range s.BadRecords {
		bad[[2]string{b.Stream, b.Cause}] += b.Count
	}
	for k, n := range bad {
		put(c.bad, prometheus.CounterValue, float64(n), k[0], k[1])
	}
	put(c.commits, prometheus.CounterValue, float64(s.Commits))
	put(c.commitFailures, prometheus.CounterValue, float64(s.CommitFailures))
	put(c.abortFailures, prometheus.CounterValue, float64(s.AbortFailures))
	put(c.lostBatches, prometheus.CounterValue, float64(s.LostBatches))
	put(c.lostRecords, prometheus.CounterValue, float64(s.LostRecords))
	put(c.listenerDropped, prometheus.CounterValue, float64(s.ListenerEventsDropped))
	put(c.rate, prometheus.GaugeValue, s.Rate)
	put(c.kafkaFailing, prometheus.GaugeValue, b2f(!s.Kafka.FailingSince.IsZero()))
	put(c.parts, prometheus.GaugeValue, float64(len(s.Partitions)))
	var start float64
	if !s.Started.IsZero() {
		start = float64(s.Started.UnixNano()) / 1e9
	}
	put(c.started, prometheus.GaugeValue, start)
	if of := s.OpenFiles; of != nil {
		put(c.openFiles, prometheus.GaugeValue, float64(of.Files))
		put(c.openBytes, prometheus.GaugeValue, float64(of.Bytes))
		put(c.openAge, prometheus.GaugeValue, of.Oldest.Seconds())
		put(c.published, prometheus.CounterValue, float64(of.Published))
		put(c.dropped, prometheus.CounterValue, float64(of.Dropped))
	}
	for _, h := range s.SideInputs {
		l := []string{h.Name, h.Kind}
		put(c.sideEntries, prometheus.GaugeValue, float64(h.Entries), l...)
		put(c.sideBytes, prometheus.GaugeValue, float64(h.Bytes), l...)
		if !h.LoadedAt.IsZero() {
			put(c.sideAge, prometheus.GaugeValue, time.Since(h.LoadedAt).Seconds(), l...)
		}
		put(c.sideFailures, prometheus.CounterValue, float64(h.Failures), l...)
		put(c.sideSkipped, prometheus.CounterValue, float64(h.Skipped), l...)
		put(c.sideUnready, prometheus.GaugeValue, b2f(h.Unready != ""), l...)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// kafkaHooks are kprom's hooks for every client the engine opens (the
// admin client, the group's consumer, the Assign streams' consumer), all
// counted together: kprom registers its metrics once, with the first
// client, and keeps them when a client closes.
type kafkaHooks struct {
	*kprom.Metrics
	once sync.Once
}

func (k *kafkaHooks) OnNewClient(cl *kgo.Client) { k.once.Do(func() { k.Metrics.OnNewClient(cl) }) }

func (k *kafkaHooks) OnClientClosed(*kgo.Client) {}

// withoutClientBuffers leaves out kprom's buffered-records gauges: they
// read the first client only, which is the admin client with nothing
// buffered. streamgen_partition_buffered_records counts the engine's
// buffers instead.
type withoutClientBuffers struct{ g prometheus.Gatherer }

func (w withoutClientBuffers) Gather() ([]*dto.MetricFamily, error) {
	fams, err := w.g.Gather()
	out := fams[:0]
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "streamgen_kafka_buffered_") {
			out = append(out, f)
		}
	}
	return out, err
}
