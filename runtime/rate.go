package runtime

import (
	"math"
	"time"
)

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
// one interval.
type pidEstimator struct {
	interval     time.Duration
	proportional float64
	integral     float64
	derivative   float64
	minRate      float64

	firstRun    bool
	latestTime  time.Time
	latestRate  float64
	latestError float64
}

func newPIDEstimator(interval time.Duration, proportional, integral, derivative, minRate float64) *pidEstimator {
	return &pidEstimator{
		interval: interval, proportional: proportional, integral: integral,
		derivative: derivative, minRate: minRate,
		firstRun: true, latestRate: -1, latestError: -1,
	}
}

// compute returns the new rate and true when the batch updated the
// estimate. Like Spark, the first usable batch only seeds the estimator
// with its processing rate and yields no estimate.
func (p *pidEstimator) compute(batchTime time.Time, records int64, processing, scheduling time.Duration) (float64, bool) {
	procMs := float64(processing) / float64(time.Millisecond)
	if !(p.latestTime.IsZero() || batchTime.After(p.latestTime)) || records <= 0 || procMs <= 0 {
		return 0, false
	}
	delaySinceUpdate := 0.0
	if !p.latestTime.IsZero() {
		delaySinceUpdate = batchTime.Sub(p.latestTime).Seconds()
	}
	processingRate := float64(records) / procMs * 1000
	err := p.latestRate - processingRate
	schedMs := float64(scheduling) / float64(time.Millisecond)
	historicalError := schedMs * processingRate / (float64(p.interval) / float64(time.Millisecond))
	dError := 0.0
	if delaySinceUpdate > 0 {
		dError = (err - p.latestError) / delaySinceUpdate
	}
	newRate := math.Max(p.latestRate-p.proportional*err-p.integral*historicalError-p.derivative*dError, p.minRate)
	p.latestTime = batchTime
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
