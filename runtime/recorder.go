package runtime

import (
	"sync"
	"time"
)

// This file owns what the engine remembers of its batches for Snapshot,
// the status page and metrics: the retained BatchInfos, the counts of
// stored, failed, lost and unaborted batches, and the backpressure rate.
// The batch loop writes it; any goroutine reads it.

// recorder is the engine's batch history and counters.
type recorder struct {
	retained int

	mu      sync.Mutex
	started time.Time   // when Run began
	history []BatchInfo // ring, oldest at histAt once full
	histAt  int
	rate    float64 // latest backpressure estimate, records/s, 0 for none
	// lostBatches and lostRecords count at-most-once batches that failed
	// after their offsets were stored.
	lostBatches, lostRecords int64
	// commits and commitFailures count batch offset stores.
	commits, commitFailures int64
	// abortFailures counts failed batches whose output the store could
	// not discard (TransactionalStore.Abort failed).
	abortFailures int64
	// abortedSince is when the first of the batches aborted in a row
	// (AbortedError) was; zero after a stored batch.
	abortedSince time.Time
}

func (r *recorder) start() {
	r.mu.Lock()
	r.started = time.Now()
	r.mu.Unlock()
}

// record retains a completed batch's info.
func (r *recorder) record(info BatchInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.retained == 0 {
		return
	}
	if len(r.history) < r.retained {
		r.history = append(r.history, info)
		return
	}
	r.history[r.histAt] = info
	r.histAt = (r.histAt + 1) % len(r.history)
}

// batches are the retained BatchInfos, oldest first.
func (r *recorder) batches() []BatchInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]BatchInfo, 0, len(r.history))
	out = append(out, r.history[r.histAt:]...)
	return append(out, r.history[:r.histAt]...)
}

// commit counts a batch's offset store.
func (r *recorder) commit(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.commitFailures++
		return
	}
	r.commits++
	r.abortedSince = time.Time{}
}

// lost counts an at-most-once batch that failed after its offsets were
// stored.
func (r *recorder) lost(records int) {
	r.mu.Lock()
	r.lostBatches++
	r.lostRecords += int64(records)
	r.mu.Unlock()
}

// abortFailed counts an Abort that failed.
func (r *recorder) abortFailed() {
	r.mu.Lock()
	r.abortFailures++
	r.mu.Unlock()
}

// aborted notes a batch whose transaction aborted and returns when the
// run of aborted batches it belongs to began.
func (r *recorder) aborted(now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.abortedSince.IsZero() {
		r.abortedSince = now
	}
	return r.abortedSince
}

func (r *recorder) setRate(rate float64) {
	r.mu.Lock()
	r.rate = rate
	r.mu.Unlock()
}

func (r *recorder) currentRate() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rate
}

// fill copies the history and counters into s.
func (r *recorder) fill(s *Snapshot) {
	s.Batches = r.batches()
	r.mu.Lock()
	defer r.mu.Unlock()
	s.Rate, s.Started = r.rate, r.started
	s.LostBatches, s.LostRecords = r.lostBatches, r.lostRecords
	s.Commits, s.CommitFailures, s.AbortFailures = r.commits, r.commitFailures, r.abortFailures
}
