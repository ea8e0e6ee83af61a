package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Engine cuts micro-batches from its streams every BatchInterval and hands
// them, decoded, to one handler, one batch at a time and in order. Build it
// with New, add streams with NewStream, then Run it.
//
// Between batches the engine drains franz-go's fetches into per-partition
// buffers; that is the only time group rebalances may run
// (BlockRebalanceOnPoll), so a batch never loses a partition midway. At
// each interval boundary a partition's range is [next, until) with
// until = min(fetched, next + maxMessages): "latest" is the offset the
// engine has fetched through, control records included, rather than a
// fresh ListOffsets. Cutting therefore never waits on the broker, and
// transaction markers and compaction gaps cannot stall it; the price is
// that records produced within the last fetch round trip wait for the next
// batch. Offsets are exact from the start: each newly owned partition's
// first offset is resolved (committed, reset policy, start position) before
// fetching begins.
//
// Records are decoded on the worker pool as they are fetched, in chunks of
// up to 512, and a batch takes only records already decoded, so its
// processing never waits on decoding. Polling waits while more than a few
// megabytes of fetched records are not decoded yet.
//
// Memory is bounded by rate × interval. With r the per-partition rate a
// batch is cut at — MaxRatePerPartition, or with backpressure the
// estimated rate if lower — and i the interval, fetching of a partition
// pauses (kgo's PauseFetchPartitions) once it buffers 2·r·i records, and
// resumes when a cut takes it below. A partition therefore holds at most
// 2·r·i records buffered plus what one fetch brings past the bound (F, up
// to kgo.FetchMaxPartitionBytes of compressed batches, 256 KiB unless
// KgoOpts sets it) plus one response kgo has buffered, and r·i more in the batch being handled: with P
// partitions and B bytes per record in memory (the raw value, about 200
// bytes of kgo.Record, and the decoded Record with what its decoder
// allocated), the live heap stays under P·(3·r·i + 2·F)·B, and the
// process's RSS under about twice that (the GC's headroom at GOGC=100)
// plus its baseline. For 356-byte Impressions (B ≈ 1.7 kB, F ≈ 3,700
// records of 256 KiB with snappy), 18 partitions, r = 10,000 and i = 5 s
// that is 9.6 GB; BENCHMARKS-engine.md has the measured peak.
// Without MaxRatePerPartition or backpressure nothing bounds the buffers
// but the backlog.
type Engine struct {
	cfg      engineCfg
	streams  []builder
	running  atomic.Bool
	stopC    chan struct{}
	stopOnce sync.Once
	done     chan struct{}

	pool *pool // set by Run before any source opens

	mu      sync.Mutex
	history []BatchInfo // ring, oldest at histAt once full
	histAt  int
	slots   map[string]int
	load    []int
	rate    float64 // latest backpressure estimate, records/s, 0 for none
}

// Handler processes one batch of all the engine's streams. Returning an
// error fails the batch: nothing of it is committed and Run returns the
// error, so a restart re-reads it from the last committed offsets.
type Handler func(ctx context.Context, b *Batches) error

// Batches is one micro-batch across the engine's streams; get a stream's
// typed share with Stream.Batch.
type Batches struct {
	id       int64
	time     time.Time
	byStream map[*source]any
	// badRecords counts the records the streams' DecodePolicy left out.
	badRecords int
}

// ID numbers batches from 1.
func (b *Batches) ID() int64 { return b.id }

// Time is the interval boundary the batch was cut at.
func (b *Batches) Time() time.Time { return b.time }

// builder is the typed half of a stream, which the untyped engine drives.
type builder interface {
	source() *source
	build(ctx context.Context, p *pool, b *Batches, c cut) error
}

// New validates the options and returns an engine without connecting.
func New(opts ...Opt) (*Engine, error) {
	cfg := defaultEngineCfg()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if len(cfg.brokers) == 0 {
		return nil, errors.New("runtime: no brokers (use the Brokers option)")
	}
	if cfg.shutdownTimeout <= 0 {
		cfg.shutdownTimeout = 10 * cfg.interval
	}
	return &Engine{
		cfg:   cfg,
		stopC: make(chan struct{}),
		done:  make(chan struct{}),
		slots: make(map[string]int),
		load:  make([]int, cfg.workers),
	}, nil
}

func (e *Engine) addSource(name string, cs ConsumerStrategy, opts []StreamOpt) (*source, error) {
	if err := cs.validate(); err != nil {
		return nil, fmt.Errorf("runtime: stream %s: %w", name, err)
	}
	var cfg streamCfg
	for _, o := range opts {
		o.applyStream(&cfg)
	}
	if cs.kind != kindAssign && cfg.group == "" {
		return nil, fmt.Errorf("runtime: stream %s: %s needs a consumer group (use the Group option)", name, cs)
	}
	if err := cfg.validateBad(); err != nil {
		return nil, fmt.Errorf("runtime: stream %s: %w", name, err)
	}
	if e.running.Load() {
		return nil, fmt.Errorf("runtime: stream %s added after Run", name)
	}
	for _, b := range e.streams {
		o := b.source()
		if o.name == name {
			return nil, fmt.Errorf("runtime: two streams named %s", name)
		}
		if cfg.group != "" && o.cfg.group == cfg.group {
			// One group per stream: with two, each stream's member would
			// be handed the other's partitions and revoke them back and
			// forth (the reason for Spark's "partitions revoked" error).
			return nil, fmt.Errorf("runtime: streams %s and %s share consumer group %q; give each stream its own group", o.name, name, cfg.group)
		}
	}
	return &source{e: e, name: name, cs: cs, cfg: cfg, parts: make(map[TopicPartition]*partState), decoded: make(chan struct{}, 1)}, nil
}

// place returns the worker slot for a partition's tasks. A key keeps the
// slot it was first given, and new keys go to the least loaded slot, so
// placement is both sticky across batches and even.
func (e *Engine) place(s *source, leaders map[TopicPartition]int32, tp TopicPartition) int {
	key := "tp:" + tp.String()
	switch s.cfg.location.kind {
	case locBrokers:
		if leader, ok := leaders[tp]; ok && leader >= 0 {
			key = fmt.Sprintf("broker:%d", leader)
		}
	case locFixed:
		if host, ok := s.cfg.location.fixed[tp]; ok {
			key = "host:" + host
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if slot, ok := e.slots[key]; ok {
		e.load[slot]++ // load counts partitions, so a shared key weighs more
		return slot
	}
	best := 0
	for i, l := range e.load {
		if l < e.load[best] {
			best = i
		}
	}
	e.load[best]++
	e.slots[key] = best
	return best
}

// History returns the retained BatchInfos of completed batches, oldest
// first.
func (e *Engine) History() []BatchInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]BatchInfo, 0, len(e.history))
	out = append(out, e.history[e.histAt:]...)
	return append(out, e.history[:e.histAt]...)
}

func (e *Engine) record(info BatchInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cfg.retained == 0 {
		return
	}
	if len(e.history) < e.cfg.retained {
		e.history = append(e.history, info)
		return
	}
	e.history[e.histAt] = info
	e.histAt = (e.histAt + 1) % len(e.history)
}

// Stop asks Run to stop cutting batches, finish the in-flight one, commit
// and leave the groups, and waits until it has or ctx is done. Run's own
// bound is ShutdownTimeout. Stop before Run makes Run return at once.
func (e *Engine) Stop(ctx context.Context) error {
	e.stopOnce.Do(func() { close(e.stopC) })
	if !e.running.Load() {
		return nil
	}
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run connects the streams and processes batches until ctx is cancelled or
// Stop is called, which both stop gracefully and make Run return nil; a
// failed batch, fetch or commit makes it return that error. Run may be
// called once.
func (e *Engine) Run(ctx context.Context, h Handler) (err error) {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("runtime: Engine.Run called twice")
	}
	defer close(e.done)

	// Work runs under hard, which only ends when a stop overruns
	// ShutdownTimeout: cancelling the caller's ctx means "stop
	// gracefully", not "abandon the in-flight batch".
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	stopping := make(chan struct{})
	var timedOut atomic.Bool
	go func() {
		select {
		case <-ctx.Done():
		case <-e.stopC:
		case <-hard.Done():
			return
		}
		close(stopping)
		t := time.NewTimer(e.cfg.shutdownTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			timedOut.Store(true)
			cancelHard()
		case <-hard.Done():
		}
	}()

	srcs := e.sources()
	defer func() {
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			for _, s := range srcs {
				if s.cl != nil {
					// Leaving revokes, and revocation waits for
					// AllowRebalance.
					s.cl.CloseAllowingRebalance()
				}
			}
		}()
		select {
		case <-closed:
		case <-hard.Done():
			// Out of shutdown time: the close finishes in the
			// background rather than holding Run past its bound.
		}
		if err == nil && timedOut.Load() {
			err = fmt.Errorf("runtime: shutdown exceeded %s", e.cfg.shutdownTimeout)
		}
	}()
	p := newPool(e.cfg.workers)
	e.pool = p
	defer func() {
		// Decodes are only submitted by fill, which is over by now; one
		// can still be waiting on a schema registry that does not
		// answer. Out of shutdown time, it is abandoned rather than
		// holding Run past its bound.
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			p.close()
		}()
		select {
		case <-closed:
		case <-hard.Done():
		}
	}()
	for _, s := range srcs {
		if err := s.open(hard); err != nil {
			return fmt.Errorf("runtime: stream %s: %w", s.name, err)
		}
	}

	var est *pidEstimator
	if e.cfg.backpressure {
		est = newPIDEstimator(e.cfg.interval, e.cfg.pid[0], e.cfg.pid[1], e.cfg.pid[2], e.cfg.pidMinRate)
	}
	fillCtx, cancelFill := context.WithCancel(hard)
	defer cancelFill()
	go func() {
		select {
		case <-stopping:
			cancelFill()
		case <-fillCtx.Done():
		}
	}()

	next := time.Now().Add(e.cfg.interval)
	var id int64
	for {
		if err := e.fillAll(fillCtx, srcs, next); err != nil && fillCtx.Err() == nil {
			return err
		}
		select {
		case <-stopping:
			return e.flushCommits(hard, srcs)
		default:
		}
		id++
		if err := e.runBatch(hard, h, p, srcs, est, id, next); err != nil {
			return err
		}
		next = next.Add(e.cfg.interval)
	}
}

// ping fails fast, and legibly, on unreachable brokers or rejected
// credentials, which kgo would otherwise retry in the background while
// batches stay empty.
func (e *Engine) ping(ctx context.Context, cl *kgo.Client) error {
	if err := cl.Ping(ctx); err != nil {
		ce := &ConnectError{Brokers: e.cfg.brokers, TLS: e.cfg.tls != nil, Err: err}
		for _, m := range e.cfg.sasl {
			ce.Mechanism = m.Name()
		}
		return ce
	}
	return nil
}

// pollDuringBatch keeps fetching (and decoding, see absorb) while a batch
// is processed; without it franz-go holds one fetch per broker and waits,
// and fetching would only happen between batches. It is safe for
// rebalances: polling only ever blocks them, and they are let through by
// fill's AllowRebalance, after the returned stop function has ended the
// polling.
func (e *Engine) pollDuringBatch(ctx context.Context, srcs []*source) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, s := range srcs {
		if s.cl == nil {
			continue
		}
		wg.Go(func() {
			for s.awaitDecode(ctx) == nil {
				if err := s.absorb(s.cl.PollFetches(ctx)); err != nil {
					s.mu.Lock()
					if s.fatal == nil {
						s.fatal = err
					}
					s.mu.Unlock()
					return
				}
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

func (e *Engine) fillAll(ctx context.Context, srcs []*source, deadline time.Time) error {
	if len(srcs) == 1 {
		return srcs[0].fill(ctx, deadline)
	}
	errs := make([]error, len(srcs))
	var wg sync.WaitGroup
	for i, s := range srcs {
		wg.Go(func() { errs[i] = s.fill(ctx, deadline) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// limitRate is the backpressure rate batches are cut at, records/s across
// all partitions: the latest estimate, the initial rate before the first,
// and 0 without backpressure or before any rate is known.
func (e *Engine) limitRate() float64 {
	if !e.cfg.backpressure {
		return 0
	}
	e.mu.Lock()
	rate := e.rate
	e.mu.Unlock()
	if rate <= 0 {
		rate = float64(e.cfg.initialRate)
	}
	return rate
}

func (e *Engine) runBatch(ctx context.Context, h Handler, p *pool, srcs []*source, est *pidEstimator, id int64, at time.Time) error {
	rate := e.limitRate()
	bs := &Batches{id: id, time: at, byStream: make(map[*source]any, len(srcs))}
	info := BatchInfo{ID: id, Time: at, Ranges: make(map[string][]OffsetRange, len(srcs))}
	cuts := make([]cut, len(srcs))
	for i, s := range srcs {
		cuts[i] = s.cutBatch(rate)
		info.Ranges[s.name] = cuts[i].ranges
		for _, r := range cuts[i].recs {
			info.Records += len(r)
		}
	}
	stopPolling := e.pollDuringBatch(ctx, srcs)
	defer stopPolling()
	for _, l := range e.cfg.listeners {
		l.BatchSubmitted(info)
	}
	start := time.Now()
	info.SchedulingDelay = max(start.Sub(at), 0)
	for _, l := range e.cfg.listeners {
		l.BatchStarted(info)
	}
	err := e.process(ctx, h, p, srcs, cuts, bs)
	info.ProcessingTime = time.Since(start)
	info.BadRecords = bs.badRecords
	info.TotalDelay = info.SchedulingDelay + info.ProcessingTime
	info.Err = err
	e.record(info)
	for _, l := range e.cfg.listeners {
		l.BatchCompleted(info)
	}
	if err == nil && est != nil {
		if r, ok := est.compute(at, int64(info.Records), info.ProcessingTime, info.SchedulingDelay); ok {
			e.mu.Lock()
			e.rate = r
			e.mu.Unlock()
		}
	}
	return err
}

// process is decode, handler and the commit seam. Semantics decide where
// the Kafka commit goes relative to the handler; ExactlyOnce leaves it to
// the handler's own transaction.
func (e *Engine) process(ctx context.Context, h Handler, p *pool, srcs []*source, cuts []cut, bs *Batches) error {
	for _, s := range srcs {
		s.pendingBad = nil
	}
	for i, b := range e.streams {
		if err := b.build(ctx, p, bs, cuts[i]); err != nil {
			return err
		}
	}
	// The records the DecodePolicy left out are disposed of (counted,
	// dead-lettered) before anything can store the offsets past them, so
	// none is stored without its dead letter: right before the engine's
	// commit after the handler for at-least-once streams the engine
	// commits (a failed handler then writes no dead letters), and before
	// the handler for all others, whose offsets are committed before it
	// (at-most-once) or stored by the handler itself (exactly-once, no
	// Kafka commit, CommitAsync).
	handled := make([]bool, len(srcs))
	disposeBad := func(i int) error {
		if handled[i] {
			return nil
		}
		handled[i] = true
		bad := srcs[i].pendingBad
		srcs[i].pendingBad = nil
		bs.badRecords += len(bad)
		return srcs[i].handleBad(ctx, bad)
	}
	for i, s := range srcs {
		if s.cfg.semantics != AtLeastOnce || s.cfg.noCommit || s.cfg.group == "" {
			if err := disposeBad(i); err != nil {
				return err
			}
		}
	}
	commits := func(sem Semantics) error {
		for i, s := range srcs {
			if s.cfg.semantics == sem && !s.cfg.noCommit && s.cfg.group != "" {
				if err := disposeBad(i); err != nil {
					return err
				}
				if err := s.commit(ctx, nonEmpty(cuts[i].ranges)); err != nil {
					return fmt.Errorf("runtime: stream %s: %w", s.name, err)
				}
			}
		}
		return nil
	}
	if err := commits(AtMostOnce); err != nil {
		return err
	}
	if err := h(ctx, bs); err != nil {
		return fmt.Errorf("runtime: batch %d: %w", bs.id, err)
	}
	if err := commits(AtLeastOnce); err != nil {
		return err
	}
	return e.flushCommits(ctx, srcs)
}

func nonEmpty(rs []OffsetRange) []OffsetRange {
	out := make([]OffsetRange, 0, len(rs))
	for _, r := range rs {
		if r.UntilOffset > r.FromOffset {
			out = append(out, r)
		}
	}
	return out
}

// flushCommits sends what CommitAsync queued. A failed queued commit goes
// to its callbacks, not to Run: the caller asked for asynchronous
// reporting, as with Spark's commitAsync.
func (e *Engine) flushCommits(ctx context.Context, srcs []*source) error {
	for _, s := range srcs {
		s.mu.Lock()
		pending, cbs := s.pending, s.callback
		s.pending, s.callback = nil, nil
		s.mu.Unlock()
		if len(pending) == 0 && len(cbs) == 0 {
			continue
		}
		ranges := make([]OffsetRange, 0, len(pending))
		for tp, until := range pending {
			ranges = append(ranges, OffsetRange{Topic: tp.Topic, Partition: tp.Partition, FromOffset: until, UntilOffset: until})
		}
		var err error
		if len(ranges) > 0 {
			err = s.commit(ctx, ranges)
		}
		for _, cb := range cbs {
			if cb != nil {
				cb(ranges, err)
			}
		}
	}
	return nil
}
