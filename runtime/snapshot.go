package runtime

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// This file owns Snapshot, the engine's state at one moment, and the
// listener queue.

// Snapshot is what the engine is doing, taken at one moment: the one
// source the status page, /status.json and metrics read.
type Snapshot struct {
	Job       string
	Group     string
	Semantics Semantics
	Interval  time.Duration
	// Started is when Run began; zero before.
	Started time.Time
	// Streams are the job's streams by name, once Run has started.
	Streams []string
	// Batches are the retained completed batches, oldest first.
	Batches []BatchInfo
	// Partitions are the partitions the engine owns now, by topic and
	// partition.
	Partitions []PartitionStatus
	// BadRecords are the records left out of batches so far (see
	// Engine.BadRecords).
	BadRecords []BadRecordCount
	// Rate is the backpressure estimate, records/s across all partitions;
	// 0 without backpressure or before the first estimate.
	Rate float64
	// LostBatches and LostRecords count the at-most-once batches that
	// failed after their offsets were stored, and their records: never
	// read again.
	LostBatches, LostRecords int64
	// Commits and CommitFailures count the batches' offset stores (every
	// semantics, every store) that succeeded and that failed.
	Commits, CommitFailures int64
	// SideInputs are the side inputs' states (WithSideInputs).
	SideInputs []SideHealth
	// OpenFiles is what the offset store holds open across batches, for
	// a store that does (OpenFilesReporter: the rolling blob sink); nil
	// otherwise.
	OpenFiles *OpenFiles
	// AbortFailures counts failed batches whose output the store could
	// not discard (a rollback or a transaction abort that failed; the
	// batch was read again either way).
	AbortFailures int64
	// Kafka is the job's connection to its brokers, for readiness.
	Kafka KafkaHealth
	// Registry is how the job's schema registry lookups fare, for
	// readiness: records wait for a registry that does not answer.
	Registry RegistryHealth
	// Store is how the offset store (or sink) fares, for a store that
	// reports its outages (OutageAware: PostgreSQL's).
	Store StoreHealth
	// ListenerEventsDropped counts batch events not delivered to the
	// BatchListeners because they fell too far behind.
	ListenerEventsDropped int64
}

// KafkaHealth is how the job's requests to the brokers fare.
type KafkaHealth struct {
	// FailingSince is when requests to the brokers started failing
	// without a success since; zero while they succeed.
	FailingSince time.Time
	// LastError is the latest failure while FailingSince is set, naming
	// topic and partition where there is one; "" otherwise.
	LastError string
	// WaitingForPartitions is true while the job is in its group but owns
	// no partition yet (a rebalance, or another member's session that
	// has not expired).
	WaitingForPartitions bool
}

// RegistryHealth is how the job's schema registry lookups fare.
type RegistryHealth struct {
	// FailingSince is when lookups started getting no answer (errors,
	// timeouts) without one answered since; zero while it answers.
	FailingSince time.Time
	// LastError is the latest failure while FailingSince is set.
	LastError string
}

// PartitionStatus is one owned partition.
type PartitionStatus struct {
	Stream string
	TopicPartition
	// Next is where the next batch starts; Fetched is one past the last
	// offset fetched; HighWatermark is the end of the partition's log as
	// the latest fetch reported it (-1 before one did).
	Next, Fetched, HighWatermark int64
	// Lag is HighWatermark - Next: offsets not yet in a finished batch.
	Lag int64
	// Buffered is how many fetched records wait for a batch.
	Buffered int
	// Paused is true while fetching waits for batches to drain the
	// buffer (the memory bound).
	Paused bool
	// Worker is the worker the partition's tasks run on.
	Worker int
}

// Snapshot returns the engine's state now. It is safe to call at any time
// from any goroutine, and cheap enough for every scrape.
func (e *Engine) Snapshot() Snapshot {
	s := Snapshot{
		Job: e.cfg.job, Group: e.cfg.group, Semantics: e.cfg.semantics, Interval: e.cfg.interval,
		BadRecords: e.BadRecords(),
	}
	if e.running.Load() { // streams are added before Run only
		for _, src := range e.sources() {
			s.Streams = append(s.Streams, src.name)
		}
	}
	e.rec.fill(&s)
	e.mu.Lock()
	s.Kafka = e.brokers.snapshot()
	s.Registry = e.registry.snapshot()
	consumers := e.consumers
	s.Store = e.storeHealth.snapshot()
	if e.notify != nil {
		s.ListenerEventsDropped = e.notify.dropped.Load()
	}
	e.mu.Unlock()
	s.SideInputs = e.sideHealth()
	if r, ok := e.cfg.store.(OpenFilesReporter); ok {
		of := r.OpenFiles()
		s.OpenFiles = &of
	}
	for _, c := range consumers {
		c.mu.Lock()
		for tp, st := range c.parts {
			ps := PartitionStatus{
				Stream: st.src.name, TopicPartition: tp, Next: st.next, Fetched: st.fetched,
				HighWatermark: st.hwm, Buffered: len(st.buf), Paused: st.paused, Worker: st.slot,
			}
			if st.hwm >= 0 {
				ps.Lag = max(st.hwm-st.next, 0)
			}
			s.Partitions = append(s.Partitions, ps)
		}
		c.mu.Unlock()
	}
	slices.SortFunc(s.Partitions, func(a, b PartitionStatus) int { return compareTP(a.TopicPartition, b.TopicPartition) })
	return s
}

// notifier tells the BatchListeners about batches from a goroutine of its
// own, in order, so a slow listener never delays a batch. Its queue is
// bounded (maxQueuedEvents): a listener that falls that far behind loses
// the newest events, counted in dropped and logged once a streak, rather
// than growing the heap or blocking the batch loop. close waits until
// every queued event was delivered, or its bound passed.
type notifier struct {
	listeners []BatchListener
	log       *slog.Logger
	mu        sync.Mutex
	queue     []func(BatchListener)
	dropping  bool // a streak of dropped events, logged at its start
	dropped   atomic.Int64
	wake      chan struct{}
	done      chan struct{}
}

// maxQueuedEvents bounds the listener queue: three events a batch, so a
// listener stuck for a thousand batches.
const maxQueuedEvents = 3000

func newNotifier(ls []BatchListener, log *slog.Logger) *notifier {
	n := &notifier{listeners: ls, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go n.loop()
	return n
}

func (n *notifier) loop() {
	defer close(n.done)
	for range n.wake {
		for {
			n.mu.Lock()
			q := n.queue
			n.queue = nil
			n.mu.Unlock()
			if len(q) == 0 {
				break
			}
			for _, ev := range q {
				for _, l := range n.listeners {
					ev(l)
				}
			}
		}
	}
}

func (n *notifier) post(ev func(BatchListener)) {
	if len(n.listeners) == 0 {
		return
	}
	n.mu.Lock()
	if len(n.queue) >= maxQueuedEvents {
		n.dropped.Add(1)
		first := !n.dropping
		n.dropping = true
		n.mu.Unlock()
		if first {
			n.log.Warn("a batch listener is too slow: its events are dropped until it catches up", "queued", maxQueuedEvents)
		}
		return
	}
	n.dropping = false
	n.queue = append(n.queue, ev)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *notifier) submitted(i BatchInfo) { n.post(func(l BatchListener) { l.BatchSubmitted(i) }) }
func (n *notifier) started(i BatchInfo)   { n.post(func(l BatchListener) { l.BatchStarted(i) }) }
func (n *notifier) completed(i BatchInfo) { n.post(func(l BatchListener) { l.BatchCompleted(i) }) }

// close delivers what is queued, waiting at most d for the listeners.
func (n *notifier) close(d time.Duration) {
	close(n.wake)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-n.done:
	case <-t.C:
		n.log.Warn("batch listeners still busy at the stop; their last events are not delivered", "waited", d)
	}
}
