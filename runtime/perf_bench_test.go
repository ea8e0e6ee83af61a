package runtime_test

// The engine's performance figures, with the real generated codec:
// scripts/bench-engine.sh runs these and writes BENCHMARKS-engine.md. This
// is an external test package because the generated code imports the
// runtime.
//
// Knobs (environment): PERF_RECORDS (records in the throughput cluster,
// default 1,800,000), PERF_INTERVAL_MS (the engine's batch interval in
// BenchmarkThroughput, default 100), PERF_FETCH_MAX and PERF_FETCH_PART
// (kgo.FetchMaxBytes and FetchMaxPartitionBytes for the engine),
// PERF_WORKERS (the engine's Workers), PERF_RSS
// (set to 1 to run TestPeakRSS, which takes about half a minute and a few
// gigabytes).

import (
	"context"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	goruntime "runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/generated_test/cases/projection/projection"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
)

const (
	perfTopic      = "impressions"
	perfPartitions = 18
)

// perfImpression is the 356-byte Impression of the codec benchmarks
// (generated_test/bench_test.go), with i folded into its ids so records
// differ without changing their size.
func perfImpression(i int) alltypes.Impression {
	ua := "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
	floor := float32(0.35)
	return alltypes.Impression{
		ImpressionID: fmt.Sprintf("3f2c8a9e-5b1d-4e7f-9a6c-%012d", i%1_000_000_000_000),
		CampaignID:   48_213_977,
		CreativeID:   902_114,
		PublisherID:  "pub-example-com",
		Timestamp:    time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC),
		Device:       alltypes.DeviceTypePhone,
		Geo:          alltypes.GeoPoint{Lat: 48.8566, Lon: 2.3522, Country: "FR"},
		UserAgent:    &ua,
		BidPrice:     big.NewRat(1_254_300, 1_000_000),
		FloorPrice:   &floor,
		Viewable:     true,
		Segments:     []string{"auto-intenders", "sports-fans", "frequent-travelers", "early-adopters", "parents"},
		Labels:       map[string]string{"placement": "above-the-fold", "exchange": "openx", "page_type": "article"},
		LatencyMs:    37,
		Fingerprint:  alltypes.Md5{0x9e, 0x10, 0x7d, 0x9d, 0x37, 0x2b, 0xb6, 0x82, 0x6b, 0xd8, 0x1d, 0x35, 0x42, 0xa4, 0x19, 0xd6},
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// perfProduce writes perPartition Impressions to each of the topic's
// partitions and waits until kfake has them all.
func perfProduce(tb testing.TB, addrs []string, topic string, parts, perPartition int) {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	var bad atomic.Pointer[error]
	for i := range perPartition {
		for p := range parts {
			imp := perfImpression(i*parts + p)
			v, err := imp.AppendAvro(nil)
			if err != nil {
				tb.Fatal(err)
			}
			if len(v) != 356 {
				tb.Fatalf("benchmark Impression encodes to %d bytes, want 356", len(v))
			}
			cl.Produce(context.Background(), &kgo.Record{Topic: topic, Partition: int32(p), Value: v}, func(_ *kgo.Record, err error) {
				if err != nil {
					bad.CompareAndSwap(nil, &err)
				}
			})
		}
	}
	if err := cl.Flush(context.Background()); err != nil {
		tb.Fatal(err)
	}
	if err := bad.Load(); err != nil {
		tb.Fatal(*err)
	}
}

// The throughput cluster is made and filled once per process, so every
// implementation reads the same records from the same broker.
var (
	perfOnce    sync.Once
	perfAddrs   []string
	perfRecords int
)

func perfCluster(b *testing.B) ([]string, int) {
	perfOnce.Do(func() {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(perfPartitions, perfTopic))
		if err != nil {
			b.Fatal(err)
		}
		// Left open for the other benchmarks of the process.
		perfAddrs = c.ListenAddrs()
		per := envInt("PERF_RECORDS", 1_800_000) / perfPartitions
		perfProduce(b, perfAddrs, perfTopic, perfPartitions, per)
		perfRecords = per * perfPartitions
	})
	if perfAddrs == nil {
		b.Fatal("no cluster")
	}
	return perfAddrs, perfRecords
}

func perfAssign() []runtime.TopicPartition {
	tps := make([]runtime.TopicPartition, perfPartitions)
	for i := range tps {
		tps[i] = runtime.TopicPartition{Topic: perfTopic, Partition: int32(i)}
	}
	return tps
}

func perfKgoConsume() kgo.Opt {
	ps := make(map[int32]kgo.Offset, perfPartitions)
	for p := range int32(perfPartitions) {
		ps[p] = kgo.NewOffset().At(0)
	}
	return kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{perfTopic: ps})
}

// cpuTime is the process's user plus system CPU time: the broker (kfake
// runs in the process) included, which all implementations share alike.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perfInterval is the engine's batch interval in BenchmarkThroughput. It
// is short compared to a run (two seconds and more), so the last batch's
// wait for its interval boundary (50 ms on average) costs the engine a few
// percent at most, and
// long enough that per-batch costs are amortized over 10^4–10^5 records.
const perfInterval = 100 * time.Millisecond

// BenchmarkThroughput consumes every record of the shared cluster once per
// implementation and op: engine is typed decode with the generated codec,
// batch cutting and ForeachPartition with an empty function;
// engine-projected is the same with the anomaly detector's projection
// (spec fields: campaign, time and country; the rest skipped); loop-decode
// is one goroutine polling franz-go and decoding each value with the same
// codec; loop-raw polls without decoding. Each op runs the three in turn
// (starting with a different one each op), so the ratios compare runs made
// seconds apart on the same broker, and are the median of the per-op
// ratios: on a shared machine that is what stays comparable.
func BenchmarkThroughput(b *testing.B) {
	addrs, n := perfCluster(b)
	impls := []struct {
		name string
		run  func(b *testing.B, addrs []string, n int) (wall, cpu time.Duration)
	}{
		{"engine", throughputEngine[alltypes.Impression]},
		// The anomaly detector's projection (spec fields): campaign, time
		// and country of the Impression, the rest skipped.
		{"engine-projected", throughputEngine[projection.ImpressionsValue]},
		{"loop-decode", func(b *testing.B, addrs []string, n int) (time.Duration, time.Duration) {
			return throughputLoop(b, addrs, n, true)
		}},
		{"loop-raw", func(b *testing.B, addrs []string, n int) (time.Duration, time.Duration) {
			return throughputLoop(b, addrs, n, false)
		}},
	}
	rate := make([][]float64, len(impls))
	cpu := make([][]float64, len(impls))
	allocs := make([][]float64, len(impls))
	steady := make([][]float64, 2) // engine, engine-projected
	var vsDecode, vsRaw, vsProjected []float64
	for op := range b.N {
		got := make([]float64, len(impls))
		for k := range impls {
			i := (op + k) % len(impls)
			goruntime.GC() // the previous run's garbage is not this one's work
			var m0, m1 goruntime.MemStats
			goruntime.ReadMemStats(&m0)
			// Labelled, so that a -cpuprofile tells the implementations
			// apart (go tool pprof -tagfocus impl=engine): goroutines
			// inherit the label, the broker's and the GC's have none.
			var w, c time.Duration
			pprof.Do(context.Background(), pprof.Labels("impl", impls[i].name), func(context.Context) {
				w, c = impls[i].run(b, addrs, n)
			})
			goruntime.ReadMemStats(&m1)
			got[i] = float64(n) / w.Seconds()
			rate[i] = append(rate[i], got[i])
			cpu[i] = append(cpu[i], c.Seconds()/(float64(n)/1e6))
			// The in-process broker's allocations are in every
			// implementation's count alike; the differences are the
			// consumers'.
			allocs[i] = append(allocs[i], float64(m1.Mallocs-m0.Mallocs)/float64(n))
			if i < 2 {
				steady[i] = append(steady[i], steadyAllocs)
			}
		}
		vsProjected = append(vsProjected, got[1]/got[0])
		vsDecode = append(vsDecode, got[0]/got[2])
		vsRaw = append(vsRaw, got[0]/got[3])
	}
	for i, impl := range impls {
		b.ReportMetric(median(rate[i]), impl.name+"-records/s")
		b.ReportMetric(median(cpu[i]), impl.name+"-cpu-s/Mrecords")
		b.ReportMetric(median(allocs[i]), impl.name+"-allocs/record")
		if i < len(steady) {
			b.ReportMetric(median(steady[i]), impl.name+"-allocs/record-2nd-half")
		}
	}
	b.ReportMetric(median(vsDecode), "engine/loop-decode")
	b.ReportMetric(median(vsRaw), "engine/loop-raw")
	b.ReportMetric(median(vsProjected), "engine-projected/engine")
	b.ReportMetric(0, "ns/op") // an op is three runs; the rates say it all
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func throughputLoop(b *testing.B, addrs []string, n int, decode bool) (wall, cpu time.Duration) {
	t0, c0 := time.Now(), cpuTime()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), perfKgoConsume())
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	got := 0
	for got < n {
		fs := cl.PollFetches(context.Background())
		if err := fs.Err0(); err != nil {
			b.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if decode {
				var v alltypes.Impression
				if err := v.UnmarshalAvro(r.Value); err != nil {
					b.Fatal(err)
				}
			}
			got++
		})
	}
	return time.Since(t0), cpuTime() - c0
}

// steadyAllocs is what the last throughputEngine measured: allocations
// per record over the records handled after the first half (the broker's
// and kgo's included, as in loop-raw's allocs/record).
var steadyAllocs float64

func throughputEngine[T any, PT codec.RecordPtr[T]](b *testing.B, addrs []string, n int) (wall, cpu time.Duration) {
	t0, c0 := time.Now(), cpuTime()
	opts := []runtime.Opt{runtime.Brokers(addrs...), runtime.BatchInterval(time.Duration(envInt("PERF_INTERVAL_MS", int(perfInterval/time.Millisecond))) * time.Millisecond)}
	if v := envInt("PERF_WORKERS", 0); v > 0 {
		opts = append(opts, runtime.Workers(v))
	}
	if v := envInt("PERF_FETCH_MAX", 0); v > 0 {
		opts = append(opts, runtime.KgoOpts(kgo.FetchMaxBytes(int32(v)), kgo.FetchMaxPartitionBytes(int32(envInt("PERF_FETCH_PART", v)))))
	}
	e, err := runtime.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	s, err := runtime.NewStreamInto[struct{}](e, "impressions", runtime.Assign(perfAssign()...), nil, runtime.RawAvroInto[T, PT]())
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	done := make(chan struct{})
	errc := make(chan error, 1)
	// The allocations of the records handled after the first half: the
	// engine's steady state, once the records it recycles are warm.
	var half goruntime.MemStats
	var halfAt int64
	go func() {
		errc <- e.Run(context.Background(), func(ctx context.Context, bs *runtime.JobBatch) error {
			sb := s.Batch(bs)
			err := sb.ForeachPartition(ctx, func(context.Context, runtime.Partition[struct{}, T]) error { return nil })
			had := got.Load()
			now := got.Add(int64(sb.Len()))
			if had < int64(n)/2 && now >= int64(n)/2 {
				goruntime.ReadMemStats(&half)
				halfAt = now
			}
			if now == int64(n) {
				close(done)
			}
			return err
		})
	}()
	select {
	case <-done:
	case err := <-errc:
		b.Fatalf("engine stopped early: %v", err)
	}
	wall, cpu = time.Since(t0), cpuTime()-c0
	var end goruntime.MemStats
	goruntime.ReadMemStats(&end)
	steadyAllocs = float64(end.Mallocs-half.Mallocs) / float64(int64(n)-halfAt)
	if err := e.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	if os.Getenv("PERF_VERBOSE") != "" {
		b.Logf("run started %s", t0.Format(time.RFC3339Nano))
		for _, h := range e.History() {
			b.Logf("%s", h)
		}
	}
	if got.Load() != int64(n) {
		b.Fatalf("engine delivered %d records, want %d", got.Load(), n)
	}
	return wall, cpu
}

// BenchmarkBatchOverhead is the engine's cost per batch when there is
// nothing to do: 1,000 partitions, every range empty, a handler that runs
// ForeachPartition (1,000 tasks) with an empty function. ms/batch is the
// time from the interval boundary until the handler returned (scheduling
// delay plus processing time: cutting, building, the tasks, the commit
// seam); cpu-ms/batch is the process's CPU over the run divided by the
// batches, the idle fetch loop and the broker included.
func BenchmarkBatchOverhead(b *testing.B) {
	const parts = 1000
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "empty"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	tps := make([]runtime.TopicPartition, parts)
	for i := range tps {
		tps[i] = runtime.TopicPartition{Topic: "empty", Partition: int32(i)}
	}
	e, err := runtime.New(runtime.Brokers(c.ListenAddrs()...), runtime.BatchInterval(20*time.Millisecond),
		runtime.RetainedBatches(b.N+10))
	if err != nil {
		b.Fatal(err)
	}
	s, err := runtime.NewStreamInto[struct{}](e, "empty", runtime.Assign(tps...), nil, runtime.RawAvroInto[alltypes.Impression]())
	if err != nil {
		b.Fatal(err)
	}
	var batches atomic.Int64
	var c0 time.Duration
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- e.Run(context.Background(), func(ctx context.Context, bs *runtime.JobBatch) error {
			sb := s.Batch(bs)
			if len(sb.Partitions()) != parts {
				return fmt.Errorf("batch has %d partitions, want %d", len(sb.Partitions()), parts)
			}
			err := sb.ForeachPartition(ctx, func(context.Context, runtime.Partition[struct{}, alltypes.Impression]) error { return nil })
			switch batches.Add(1) {
			case 1:
				c0 = cpuTime() // the first batch also pays for connecting
			case int64(b.N) + 1:
				close(done)
			}
			return err
		})
	}()
	select {
	case <-done:
	case err := <-errc:
		b.Fatalf("engine stopped early: %v", err)
	}
	cpu := cpuTime() - c0
	if err := e.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	var total, worst time.Duration
	hist := e.History()[1 : b.N+1]
	for _, h := range hist {
		if h.Records != 0 {
			b.Fatalf("batch %d has %d records", h.ID, h.Records)
		}
		total += h.TotalDelay
		worst = max(worst, h.TotalDelay)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(len(hist)), "ms/batch")
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms/batch")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/batch")
	b.ReportMetric(0, "ns/op") // an op is an interval: 20 ms by construction
}

// TestPeakRSS measures the engine's peak resident memory against the bound
// of the runtime's package documentation: a 5 s interval, MaxRatePerPartition
// 10,000, 18 partitions and a backlog of three batches and more, so
// fetching runs into its pause bound. The broker runs in this process and
// the engine in a child process (this test binary again), whose VmHWM is
// the engine's alone. Only with PERF_RSS=1: it takes about half a minute.
func TestPeakRSS(t *testing.T) {
	if addrs := os.Getenv("PERF_RSS_CHILD"); addrs != "" {
		rssChild(t, strings.Split(addrs, ","))
		return
	}
	if os.Getenv("PERF_RSS") == "" {
		t.Skip("set PERF_RSS=1 to measure the engine's peak RSS (about 30 s, a few GB)")
	}
	const perPartition = 4 * rssRate * 5 // four batches' worth
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(perfPartitions, perfTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	perfProduce(t, c.ListenAddrs(), perfTopic, perfPartitions, perPartition)
	goruntime.GC()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestPeakRSS$", "-test.v")
	cmd.Env = append(os.Environ(), "PERF_RSS_CHILD="+strings.Join(c.ListenAddrs(), ","))
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	var peak, bound, perRecord float64
	for _, line := range strings.Split(string(out), "\n") {
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "RSS peak %g MiB bound %g MiB record %g B", &peak, &bound, &perRecord); err == nil {
			break
		}
	}
	if peak == 0 {
		t.Fatal("the child reported no figures")
	}
	fmt.Printf("PeakRSS: %.0f MiB peak, %.0f MiB bound, %.0f B per record in memory\n", peak, bound, perRecord)
	if peak > bound {
		t.Errorf("peak RSS %.0f MiB is over the documented bound %.0f MiB", peak, bound)
	}
}

const rssRate = 10_000 // MaxRatePerPartition of TestPeakRSS

// rssChild runs the engine against the parent's broker for three batches
// and prints its peak RSS and the documented bound for this job.
func rssChild(t *testing.T, addrs []string) {
	const interval = 5 * time.Second
	perRecord := recordFootprint(t)
	base := vmKB(t, "VmRSS") * 1024

	e, err := runtime.New(runtime.Brokers(addrs...), runtime.BatchInterval(interval), runtime.MaxRatePerPartition(rssRate))
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewStreamInto[struct{}](e, "impressions", runtime.Assign(perfAssign()...), nil, runtime.RawAvroInto[alltypes.Impression]())
	if err != nil {
		t.Fatal(err)
	}
	var batches atomic.Int64
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- e.Run(context.Background(), func(ctx context.Context, bs *runtime.JobBatch) error {
			sb := s.Batch(bs)
			err := sb.ForeachPartition(ctx, func(context.Context, runtime.Partition[struct{}, alltypes.Impression]) error { return nil })
			if batches.Add(1) == 3 {
				close(done)
			}
			return err
		})
	}()
	select {
	case <-done:
	case err := <-errc:
		t.Fatalf("engine stopped early: %v", err)
	}
	peak := vmKB(t, "VmHWM") * 1024
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	for _, h := range e.History() {
		t.Logf("%s", h)
	}
	// The bound of the package documentation: per partition at most
	// 2·r·i buffered plus two fetches (the one that crossed the pause
	// bound, and kgo's buffered one), and r·i in the batch being handled,
	// each record taking perRecord bytes; the heap grows to
	// (1 + GOGC/100) times what is live before it is collected.
	ri := float64(rssRate) * interval.Seconds()
	fetch := float64(256<<10) * 5 / 356 // the engine's 256 KiB per partition of snappy batches, ~5x
	live := float64(perfPartitions) * (3*ri + 2*fetch) * perRecord
	bound := float64(base) + 2*live
	fmt.Printf("RSS peak %.1f MiB bound %.1f MiB record %.0f B\n", float64(peak)/(1<<20), bound/(1<<20), perRecord)
}

// recordFootprint is what one Impression takes in the engine's memory:
// its raw value and kgo.Record, and its decoded Record with everything the
// generated decoder allocates, measured by decoding 20,000 of them.
func recordFootprint(t *testing.T) float64 {
	const n = 20_000
	raw, err := func() ([]byte, error) { v := perfImpression(1); return v.AppendAvro(nil) }()
	if err != nil {
		t.Fatal(err)
	}
	dec := runtime.RawAvro[alltypes.Impression]()
	var m0, m1 goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&m0)
	keep := make([]*runtime.Record[struct{}, alltypes.Impression], n)
	kept := make([]*kgo.Record, n)
	for i := range keep {
		v, err := dec(context.Background(), raw)
		if err != nil {
			t.Fatal(err)
		}
		keep[i] = &runtime.Record[struct{}, alltypes.Impression]{Topic: perfTopic, Offset: int64(i), Value: v}
		kept[i] = &kgo.Record{Topic: perfTopic, Offset: int64(i), Value: append([]byte(nil), raw...)}
	}
	goruntime.GC()
	goruntime.ReadMemStats(&m1)
	goruntime.KeepAlive(keep)
	goruntime.KeepAlive(kept)
	return float64(m1.HeapAlloc-m0.HeapAlloc) / n
}

// vmKB reads a "Vm..." line of /proc/self/status, in kB.
func vmKB(t *testing.T, field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// BenchmarkDecodeScaling isolates what BenchmarkThroughput's engine pays
// that the single-goroutine loop does not: the generated decoder alone, on
// one Impression's bytes, with no Kafka, by 1 or 2 goroutines, each either
// dropping every value at once (as the loop does) or keeping the last
// 100,000 decoded records alive in the engine's own chunked layout (as a
// batch does until its handler is done). keep=inplace keeps them too but
// decodes into the record (UnmarshalAvro on &Record.Value) instead of
// copying the value a Decoder returns into it, as the engine does.
// records/s is across goroutines.
func BenchmarkDecodeScaling(b *testing.B) {
	imp := perfImpression(7)
	raw, err := imp.AppendAvro(nil)
	if err != nil {
		b.Fatal(err)
	}
	dec := runtime.RawAvro[alltypes.Impression]()
	type rec = runtime.Record[struct{}, alltypes.Impression]
	for _, mode := range []string{"false", "true", "inplace"} {
		keep, inplace := mode != "false", mode == "inplace"
		for _, g := range []int{1, 2} {
			b.Run(fmt.Sprintf("keep=%s/goroutines=%d", mode, g), func(b *testing.B) {
				goruntime.GC()
				per := b.N/g + 1
				var wg sync.WaitGroup
				c0 := cpuTime()
				b.ResetTimer()
				for range g {
					wg.Go(func() {
						const chunk, live = 512, 100_000
						ring := make([][]*rec, live/chunk)
						for i := 0; i < per; i += chunk {
							n := min(chunk, per-i)
							if !keep {
								for range n {
									if _, err := dec(context.Background(), raw); err != nil {
										panic(err)
									}
								}
								continue
							}
							vals := make([]rec, n)
							out := make([]*rec, n)
							for j := range vals {
								if inplace {
									if err := vals[j].Value.UnmarshalAvro(raw); err != nil {
										panic(err)
									}
								} else {
									v, err := dec(context.Background(), raw)
									if err != nil {
										panic(err)
									}
									vals[j].Value = v
								}
								vals[j].Offset = int64(i + j)
								out[j] = &vals[j]
							}
							ring[(i/chunk)%len(ring)] = out
						}
					})
				}
				wg.Wait()
				el := b.Elapsed()
				b.ReportMetric(float64(per*g)/el.Seconds(), "records/s")
				b.ReportMetric((cpuTime()-c0).Seconds()/(float64(per*g)/1e6), "cpu-s/Mrecords")
			})
		}
	}
}
