package runtime

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestMaxMessagesPerPartition(t *testing.T) {
	a, b, c := TopicPartition{"t", 0}, TopicPartition{"t", 1}, TopicPartition{"t", 2}
	for _, tc := range []struct {
		name     string
		lag      map[TopicPartition]int64
		rate     float64
		maxRate  int64
		minRate  int64
		interval time.Duration
		want     map[TopicPartition]int64 // nil: no limit
	}{
		{"no limit without rate or estimate", map[TopicPartition]int64{a: 5, b: 7}, 0, 0, 1, time.Second, nil},
		{"maxRate × interval", map[TopicPartition]int64{a: 5, b: 7, c: 0}, 0, 100, 1, time.Second,
			map[TopicPartition]int64{a: 100, b: 100, c: 100}},
		{"seconds are fractional and truncated", map[TopicPartition]int64{a: 1}, 0, 3, 0, 1500 * time.Millisecond,
			map[TopicPartition]int64{a: 4}},
		{"estimate split by lag", map[TopicPartition]int64{a: 100, b: 300, c: 600}, 1000, 0, 1, time.Second,
			map[TopicPartition]int64{a: 100, b: 300, c: 600}},
		{"estimate capped by maxRate", map[TopicPartition]int64{a: 100, b: 300, c: 600}, 1000, 250, 1, time.Second,
			map[TopicPartition]int64{a: 100, b: 250, c: 250}},
		{"estimate over a half-second interval", map[TopicPartition]int64{a: 10, b: 10}, 1000, 0, 1, 500 * time.Millisecond,
			map[TopicPartition]int64{a: 250, b: 250}},
		{"floor is minRate × interval", map[TopicPartition]int64{a: 1, b: 999}, 1000, 0, 10, 2 * time.Second,
			map[TopicPartition]int64{a: 20, b: 1998}},
		{"negative lag counts as none", map[TopicPartition]int64{a: -5, b: 10}, 100, 0, 1, time.Second,
			map[TopicPartition]int64{a: 1, b: 100}},
		{"estimate with no lag anywhere is no limit", map[TopicPartition]int64{a: 0, b: 0}, 1000, 50, 1, time.Second, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := maxMessagesPerPartition(tc.lag, tc.rate, tc.maxRate, tc.minRate, tc.interval)
			if (got == nil) != (tc.want == nil) || !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPIDEstimator(t *testing.T) {
	// Spark's defaults; expected rates worked by hand from
	// PIDRateEstimator.compute.
	p := newPIDEstimator(time.Second, 1.0, 0.2, 0.0, 100)
	at := func(s int) time.Time { return time.Unix(1000+int64(s), 0) }
	ms := time.Millisecond
	for i, step := range []struct {
		time       time.Time
		records    int64
		processing time.Duration
		scheduling time.Duration
		want       float64
		ok         bool
	}{
		{at(1), 1000, 500 * ms, 0, 0, false},          // first run only seeds: rate 2000
		{at(2), 1000, 1000 * ms, 200 * ms, 960, true}, // 2000 - 1.0×1000 - 0.2×200
		{at(3), 500, 1000 * ms, 0, 500, true},         // 960 - 1.0×460
		{at(3), 500, 1000 * ms, 0, 0, false},          // not after the last update
		{at(4), 0, 1000 * ms, 0, 0, false},            // empty batch
		{at(5), 10, 1000 * ms, 5000 * ms, 100, true},  // 500-490-0.2×50 = 0, floored at minRate
	} {
		got, ok := p.compute(step.time, step.records, step.processing, step.scheduling)
		if ok != step.ok || got != step.want {
			t.Errorf("step %d: got %v %v, want %v %v", i, got, ok, step.want, step.ok)
		}
	}
}

// sparkStep is one PIDRateEstimator.compute call in Spark's units: batch
// time, processing and scheduling delay in milliseconds.
type sparkStep struct {
	timeMs, elements, procMs, schedMs int64
}

func runSpark(p *pidEstimator, steps []sparkStep) []float64 {
	out := make([]float64, len(steps)) // -1 where Spark returns None
	for i, s := range steps {
		r, ok := p.compute(time.UnixMilli(s.timeMs), s.elements, time.Duration(s.procMs)*time.Millisecond, time.Duration(s.schedMs)*time.Millisecond)
		out[i] = -1
		if ok {
			out[i] = r
		}
	}
	return out
}

// TestPIDEstimatorSparkSuite replays Spark's PIDRateEstimatorSuite with
// its expected values (the random case with a fixed seed).
func TestPIDEstimatorSparkSuite(t *testing.T) {
	series := func(n int, f func(i int64) sparkStep) []sparkStep {
		s := make([]sparkStep, n)
		for i := range s {
			s[i] = f(int64(i))
		}
		return s
	}
	rates := func(n int, f func(i int64) float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = f(int64(i))
		}
		return s
	}
	none := func(n int) []float64 { return slices.Repeat([]float64{-1}, n) }
	def := func() *pidEstimator { return newPIDEstimator(20*time.Millisecond, 1, 0.2, 0, 10) }
	for _, tc := range []struct {
		name  string
		p     *pidEstimator
		steps []sparkStep
		want  []float64
	}{
		{"first estimate is None", def(), []sparkStep{{0, 10, 10, 0}}, none(1)},
		{"second estimate is 1000 elements/s", def(), []sparkStep{{0, 10, 10, 0}, {10, 10, 10, 0}}, []float64{-1, 1000}},
		{"no estimate without time difference", def(), []sparkStep{{0, 10, 10, 0}, {10, 10, 10, 0}, {10, 1, 1, 0}}, []float64{-1, 1000, -1}},
		{"no estimate without records", def(), []sparkStep{{0, 10, 10, 0}, {10, 0, 10, 0}, {20, -5, 10, 0}}, none(3)},
		{"no estimate without processing delay", def(), []sparkStep{{0, 10, 10, 0}, {10, 10, 0, 0}, {20, 10, -1, 0}}, none(3)},
		{"estimate is never less than min rate", newPIDEstimator(20*time.Millisecond, 1, 1, 0, 5),
			series(50, func(i int64) sparkStep { return sparkStep{i * 20, max(1-i, 0), 20, 100} }), none(50)},
		{"no accumulated error follows increasing speed", newPIDEstimator(20*time.Millisecond, 1, 1, 0, 10),
			series(50, func(i int64) sparkStep { return sparkStep{i * 20, (i + 1) * 20, 20, 0} }),
			append(none(1), rates(49, func(i int64) float64 { return float64(i+2) * 1000 })...)},
		{"no accumulated error follows decreasing speed", newPIDEstimator(20*time.Millisecond, 1, 1, 0, 10),
			series(50, func(i int64) sparkStep { return sparkStep{i * 20, (50 - i) * 20, 20, 0} }),
			append(none(1), rates(49, func(i int64) float64 { return float64(49-i) * 1000 })...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := runSpark(tc.p, tc.steps); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("accumulated and positive error stay below the processing speed", func(t *testing.T) {
		const minRate = 10.0
		p := newPIDEstimator(20*time.Millisecond, 1, 0.01, 0, minRate)
		rng := rand.New(rand.NewPCG(1, 2))
		steps := series(50, func(i int64) sparkStep {
			return sparkStep{i * 20, int64(rng.IntN(1000) + 1000), 20, int64(rng.IntN(19) + 1)}
		})
		got := runSpark(p, steps)
		if got[0] != -1 {
			t.Errorf("first estimate %v, want none", got[0])
		}
		for n := 1; n < 50; n++ {
			speed := float64(steps[n].elements) / 20 * 1000
			if got[n] < minRate || got[n] >= speed {
				t.Errorf("step %d: estimate %v, want in [%v, %v)", n, got[n], minRate, speed)
			}
		}
	})

	t.Run("sub-millisecond processing is no estimate", func(t *testing.T) {
		p := def()
		p.compute(time.UnixMilli(0), 10, 10*time.Millisecond, 0)
		if r, ok := p.compute(time.UnixMilli(10), 10, 900*time.Microsecond, 0); ok {
			t.Errorf("estimate %v from 0.9ms of processing; Spark sees 0ms and gives none", r)
		}
		if r, ok := p.compute(time.UnixMilli(20), 10, 1900*time.Microsecond, 0); !ok || r != 10000 {
			t.Errorf("estimate %v %v from 1.9ms of processing, want Spark's 10 records / 1ms = 10000", r, ok)
		}
	})
}

// TestPIDEstimatorFormula checks every term, derivative included, against
// Spark's formula written out by hand for each step.
func TestPIDEstimatorFormula(t *testing.T) {
	const kp, ki, kd, minRate = 0.8, 0.3, 0.1, 50.0
	p := newPIDEstimator(100*time.Millisecond, kp, ki, kd, minRate)
	// seed: latestRate = 2000/200ms = 10000/s, latestError = 0
	steps := []struct {
		s    sparkStep
		want float64
	}{
		{sparkStep{1000, 2000, 200, 0}, -1},
		// processingRate 1500/100ms = 15000; error = 10000-15000 = -5000;
		// historical = 50 × 15000 / 100 = 7500; dError = (-5000-0)/0.1 = -50000
		// 10000 + 0.8×5000 - 0.3×7500 + 0.1×50000 = 16750
		{sparkStep{1100, 1500, 100, 50}, 16750},
		// processingRate 1000/250ms = 4000; error = 16750-4000 = 12750;
		// historical = 300 × 4000 / 100 = 12000; dError = (12750+5000)/0.2 = 88750
		// 16750 - 0.8×12750 - 0.3×12000 - 0.1×88750 = -5925 → minRate
		{sparkStep{1300, 1000, 250, 300}, minRate},
		// processingRate 100/50ms = 2000; error = 50-2000 = -1950;
		// historical = 0; dError = (-1950-12750)/0.1 = -147000
		// 50 + 0.8×1950 + 0.1×147000 = 16310
		{sparkStep{1400, 100, 50, 0}, 16310},
	}
	for i, st := range steps {
		got := runSpark(p, []sparkStep{st.s})[0]
		if math.Abs(got-st.want) > 1e-9 {
			t.Errorf("step %d: got %v, want %v", i, got, st.want)
		}
	}
}
