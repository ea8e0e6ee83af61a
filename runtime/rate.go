package runtime

import (
	"math"
	"time"
)

// This file owns the per-partition rate a batch is cut at:
// MaxRatePerPartition and the backpressure's PID estimator.

// maxMessagesPerPartition is Spark's DirectKafkaInputDStream method of the
// same name: how many offsets each partition may advance in one batch, or
// nil for no limit.
//
//   - rate ≤ 0 (no backpressure estimate): every partition gets maxRate.
//   - rate > 0: the rate is split across partitions in proportion to their
//     lag, each share capped by maxRate when maxRate > 0.
//
// The per-partition rate times the interval in seconds, truncated, is the
// limit, never below minRate × interval (Spark floors at minRate alone; we
// follow issue 3, which makes the floor a rate like the others). When the
// rates sum to zero — no maxRate and no estimate, or no lag at all — there
// is no limit, as in Spark.
func maxMessagesPerPartition(lag map[TopicPartition]int64, rate float64, maxRate, minRate int64, interval time.Duration) map[TopicPartition]int64 {
	perPart := make(map[TopicPartition]float64, len(lag))
	if rate > 0 {
		var total int64
		for _, l := range lag {
			total += max(l, 0)
		}
		for tp, l := range lag {
			// A zero total makes every share NaN in Spark, whose sum is
			// not > 0, so Spark returns None: no limit. Keep that.
			share := math.NaN()
			if total > 0 {
				share = float64(max(l, 0)) / float64(total) * rate
			}
			if maxRate > 0 {
				share = math.Min(share, float64(maxRate))
			}
			perPart[tp] = share
		}
	} else {
		for tp := range lag {
			perPart[tp] = float64(maxRate)
		}
	}
	var sum float64
	for _, r := range perPart {
		sum += r
	}
	if !(sum > 0) {
		return nil
	}
	secs := interval.Seconds()
	floor := int64(float64(minRate) * secs)
	out := make(map[TopicPartition]int64, len(perPart))
	for tp, r := range perPart {
		n := int64(0)
		if !math.IsNaN(r) {
			n = int64(secs * r)
		}
		out[tp] = max(n, floor)
	}
	return out
}

// pidEstimator is Spark's PIDRateEstimator: it proposes a total ingestion
// rate (records/s) from each completed batch's size, processing time and
// scheduling delay, so batches settle at a size the job can process within
// one interval. Like Spark it works in whole milliseconds: times and delays
// are truncated to milliseconds before use, so the estimates are Spark's
// to the last bit.
//
// With error = latestRate - processingRate and historicalError =
// schedulingDelay × processingRate / interval, the new rate is
// latestRate - proportional·error - integral·historicalError -
// derivative·dError/dt, floored at minRate.
type pidEstimator struct {
	intervalMs   int64
	proportional float64
	integral     float64
	derivative   float64
	minRate      float64

	firstRun    bool
	latestMs    int64 // batch time of the last update, Unix ms; -1 before
	latestRate  float64
	latestError float64
}

func newPIDEstimator(interval time.Duration, proportional, integral, derivative, minRate float64) *pidEstimator {
	return &pidEstimator{
		intervalMs: max(interval.Milliseconds(), 1), proportional: proportional, integral: integral,
		derivative: derivative, minRate: minRate,
		firstRun: true, latestMs: -1, latestRate: -1, latestError: -1,
	}
}

// compute returns the new rate and true when the batch updated the
// estimate. Like Spark, the first usable batch only seeds the estimator
// with its processing rate and yields no estimate; a batch that is not
// later than the last update, is empty or took no whole millisecond is
// ignored.
func (p *pidEstimator) compute(batchTime time.Time, records int64, processing, scheduling time.Duration) (float64, bool) {
	t, procMs, schedMs := batchTime.UnixMilli(), processing.Milliseconds(), scheduling.Milliseconds()
	if t <= p.latestMs || records <= 0 || procMs <= 0 {
		return 0, false
	}
	delaySinceUpdate := float64(t-p.latestMs) / 1000
	processingRate := float64(records) / float64(procMs) * 1000
	err := p.latestRate - processingRate
	historicalError := float64(schedMs) * processingRate / float64(p.intervalMs)
	dError := (err - p.latestError) / delaySinceUpdate
	newRate := math.Max(p.latestRate-p.proportional*err-p.integral*historicalError-p.derivative*dError, p.minRate)
	p.latestMs = t
	if p.firstRun {
		p.latestRate = processingRate
		p.latestError = 0
		p.firstRun = false
		return 0, false
	}
	p.latestRate = newRate
	p.latestError = err
	return newRate, true
}
