package runtime

import (
	"maps"
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
