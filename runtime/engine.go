package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/internal/backoff"
)

// This file owns the Engine: New, Run's life cycle (stop, shutdown bound,
// leaving the group), connecting, and the batch loop's timing.

// Engine cuts micro-batches from its streams every BatchInterval and hands
// them, decoded, to one handler, one batch at a time and in order. Build it
// with New, add streams with NewStream, then Run it.
//
// A job is one consumer group (Group), whatever its number of streams: one
// franz-go client is the group's member for every Subscribe and
// SubscribePattern stream and routes records to their stream by topic (a
// topic feeds one stream), and one more client reads the Assign streams.
// Adding or removing a stream therefore never moves another stream's
// offsets, and a batch's offsets can be stored in one step.
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
// first offset is decided (starting offsets, the offset store, ResetTo)
// before fetching begins.
//
// Each batch runs its steps in the order its semantics set (policy.go):
//
//	semantics      dead letters   offsets stored             handler
//	at-most-once   1st            2nd, before the handler    3rd
//	at-least-once  2nd            3rd, after the handler     1st
//	exactly-once   1st            3rd, with the output       2nd
//	ManualCommit   1st            by the handler             2nd
//
// Brokers failing requests (down, restarting, unreachable, a coordinator
// moving) do not fail a batch: franz-go and the engine retry, batches are
// cut from what was fetched, the in-flight batch's commit waits, and
// Snapshot's KafkaHealth says since when requests fail; Run gives up with
// an *OutageError past OutageLimit (health.go).
//
// With a store that writes dead letters into the batch's transaction
// (DeadLetterWriter: the Kafka sink), exactly-once begins the transaction
// first and writes the dead letters into it, before the handler.
//
// Records are decoded by their own goroutines as they are fetched, in
// chunks of up to 512, and a batch takes only records already decoded, so
// its processing never waits on decoding, and a decoder waiting on a
// schema registry never holds up a handler's task. Polling waits while
// more than a few megabytes of fetched records are not decoded yet.
//
// Memory is bounded by rate × interval. With r the per-partition rate a
// batch is cut at — MaxRatePerPartition, or with backpressure the
// estimated rate if lower — and i the interval, fetching of a partition
// pauses (kgo's PauseFetchPartitions) once it buffers 2·r·i records, and
// resumes when a cut takes it below. A partition therefore holds at most
// 2·r·i records buffered plus what one fetch brings past the bound (F, up
// to kgo.FetchMaxPartitionBytes of compressed batches, 256 KiB unless
// KgoOpts sets it) plus one response kgo has buffered, and r·i more in the
// batch being handled: with P partitions and B bytes per record in memory
// (the raw value, about 200 bytes of kgo.Record, and the decoded Record
// with what its decoder allocated), the live heap stays under
// P·(3·r·i + 2·F)·B, and the process's RSS under about twice that (the
// GC's headroom at GOGC=100) plus its baseline. For 356-byte Impressions
// (B ≈ 1.7 kB, F ≈ 3,700 records of 256 KiB with snappy), 18 partitions,
// r = 10,000 and i = 5 s that is 9.6 GB; BENCHMARKS-engine.md has the
// measured peak. Without MaxRatePerPartition or backpressure nothing
// bounds the buffers but the backlog.
type Engine struct {
	cfg      engineCfg
	policy   policy // what the semantics decide (policy.go)
	streams  []builder
	running  atomic.Bool
	inflight atomic.Int64 // the id of the batch being processed, 0 between batches
	stopping atomic.Bool  // the stop began: failed requests are the clients closing
	stopC    chan struct{}
	stopOnce sync.Once
	done     chan struct{}

	// Set by Run before any consumer opens.
	pool      *pool
	consumers []*consumer
	admin     *kgo.Client // offsets, metadata and dead letters
	adm       *kadm.Client
	store     OffsetStore
	notify    *notifier

	// Parts with their own locks, each in its own file.
	rec         *recorder       // batch history and counters (recorder.go)
	commits     *commitQueue    // what CommitAsync queued (commits.go)
	brokers     *brokerHealth   // whether the brokers answer (health.go)
	registry    *registryHealth // the schema registry's (registry.go)
	storeHealth *storeHealth    // an OutageAware store's (storehealth.go)

	// mu guards consumers, notify, the side inputs added before Run, and
	// the placement's slots and load.
	mu    sync.Mutex
	slots map[string]int
	load  []int
}

// Handler processes one batch of all the engine's streams. Returning an
// error fails the batch, and it is not retried in the process (only a
// ForeachPartition task is, see MaxTaskFailures): nothing of it is stored
// and Run returns the error, so a restart re-reads it from the stored
// offsets. At-most-once,
// the batch's offsets were stored before the handler ran: the failure is
// logged and counted (Snapshot.LostBatches) and the job goes on.
//
// ctx ends when a stop overruns ShutdownTimeout; a handler still running
// then is left behind (Run returns "shutdown exceeded" without waiting
// for it) and its batch's offsets are not stored.
type Handler func(ctx context.Context, b *JobBatch) error

// JobBatch is one micro-batch across all the engine's streams: the same
// id and time on every stream. Get a stream's share, a Batch, with
// Stream.Batch.
type JobBatch struct {
	id       int64
	time     time.Time
	byStream []any // *Batch[K, V] by stream index
}

// ID numbers batches from 1.
func (b *JobBatch) ID() int64 { return b.id }

// Time is the interval boundary the batch was cut at.
func (b *JobBatch) Time() time.Time { return b.time }

// builder is the typed half of a stream, which the untyped engine drives.
type builder interface {
	source() *source
	// build decodes what the cut did not have decoded yet and returns
	// the stream's typed batch and the records its DecodePolicy left out.
	build(ctx context.Context, p *pool, b *JobBatch, c cut) (any, []badRecord, error)
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
	pol, err := newPolicy(&cfg)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		cfg:     cfg,
		policy:  pol,
		rec:     &recorder{retained: cfg.retained},
		commits: &commitQueue{},
		stopC:   make(chan struct{}),
		done:    make(chan struct{}),
		slots:   make(map[string]int),
		load:    make([]int, cfg.workers),
	}
	e.registry = &registryHealth{stopping: &e.stopping}
	e.storeHealth = &storeHealth{group: cfg.group, limit: cfg.outageLimit, log: e.Logger}
	e.brokers = &brokerHealth{group: cfg.group, instanceID: cfg.instanceID, session: cfg.sessionTimeout, limit: cfg.outageLimit,
		log: e.Logger, stopping: &e.stopping, owned: e.owned}
	for _, f := range cfg.onNew {
		f(e)
	}
	return e, nil
}

func (e *Engine) addSource(name string, cs ConsumerStrategy, opts []StreamOpt) (*source, error) {
	if err := cs.validate(); err != nil {
		return nil, fmt.Errorf("stream %s: %w", name, err)
	}
	var cfg streamCfg
	for _, o := range opts {
		o.applyStream(&cfg)
	}
	if cs.kind != kindAssign && e.cfg.group == "" {
		return nil, fmt.Errorf("stream %s: %s needs a consumer group (use the Group option)", name, cs)
	}
	if err := cfg.validateBad(); err != nil {
		return nil, fmt.Errorf("stream %s: %w", name, err)
	}
	if e.running.Load() {
		return nil, fmt.Errorf("stream %s added after Run", name)
	}
	for _, b := range e.streams {
		if o := b.source(); o.name == name {
			return nil, fmt.Errorf("two streams named %s", name)
		}
	}
	return &source{commits: e.commits, tasks: e.policy.tasks, idx: len(e.streams), name: name, cs: cs, cfg: cfg}, nil
}

// History returns the retained BatchInfos of completed batches, oldest
// first.
func (e *Engine) History() []BatchInfo { return e.rec.batches() }

// Stop asks Run to stop cutting batches, finish the in-flight one, store
// its offsets and leave the group, and waits until it has or ctx is done.
// Run's own bound is ShutdownTimeout. Stop before Run makes Run return at
// once.
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
// failed batch, fetch or store makes it return that error. Brokers that
// fail requests (down, restarting, unreachable) are retried, at start
// too, and end Run with an *OutageError only past OutageLimit. Run may be
// called once.
func (e *Engine) Run(ctx context.Context, h Handler) (err error) {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("runtime: Engine.Run called twice")
	}
	defer close(e.done)
	e.rec.start()
	e.logStart()

	st := e.watchStop(ctx)
	defer st.cancel()
	defer func() { err = st.outcome(err) }()
	hard, soft := st.hard, st.soft

	notify := newNotifier(e.cfg.listeners, e.Logger())
	e.mu.Lock()
	e.notify = notify
	e.mu.Unlock()
	defer notify.close(e.cfg.shutdownTimeout)
	e.pool = newPool(soft, e.cfg.workers)
	defer boundedBy(hard, e.pool.close)
	defer e.leave(hard)
	// A failed Run ends what runs on soft (fetching, decoding, a lookup
	// waiting for the schema registry) before the waits above, which
	// would otherwise last until ctx ends.
	defer func() {
		if err != nil {
			st.cancelSoft()
		}
	}()
	if err := e.connect(hard, soft); err != nil {
		if soft.Err() != nil && hard.Err() == nil {
			return nil // stopped while waiting for the brokers
		}
		return err
	}
	go e.watchTopics(soft)
	if err := e.loadSides(soft); err != nil {
		if soft.Err() != nil && hard.Err() == nil {
			return nil // stopped while loading
		}
		return err
	}
	return e.batches(hard, soft, h)
}

// batches runs a batch at every interval boundary until the stop, then
// flushes the queued commits.
func (e *Engine) batches(hard, soft context.Context, h Handler) error {
	var est *pidEstimator
	if e.cfg.backpressure {
		est = newPIDEstimator(e.cfg.interval, e.cfg.pid[0], e.cfg.pid[1], e.cfg.pid[2], e.cfg.pidMinRate)
	}
	next := time.Now().Add(e.cfg.interval)
	for id := int64(1); ; id++ {
		if err := e.fillAll(soft, next); err != nil && soft.Err() == nil {
			return err
		}
		if err := e.brokers.over(); err != nil {
			return err
		}
		if err := e.registry.over(e.cfg.outageLimit); err != nil {
			return err
		}
		if soft.Err() != nil {
			e.commits.flush(hard, e.store, e.rec.commit)
			return e.drain(hard)
		}
		if err := e.runBatch(hard, h, est, id, next); err != nil {
			return err
		}
		next = next.Add(e.cfg.interval)
	}
}

// drain lets a store that holds output open across batches publish it
// at a graceful stop (Drainer), while the engine still owns its
// partitions.
func (e *Engine) drain(ctx context.Context) error {
	d, ok := e.store.(Drainer)
	if !ok {
		return nil
	}
	start := time.Now()
	err := d.Drain(ctx)
	var fe *FencedError
	switch {
	case errors.As(err, &fe):
		e.Logger().Info("stopping: another instance owns a partition now; it reads again what this one held open", "err", err)
		return nil
	case err != nil:
		return &OffsetStoreError{Op: "drain", Err: err}
	}
	e.Logger().Info("stopping: published the output held open across batches", "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// stop is Run's two contexts. Work runs under hard, which only ends when
// a stop overruns ShutdownTimeout: cancelling the caller's ctx means
// "stop gracefully", not "abandon the in-flight batch". soft ends when
// the stop begins: fetching and decoding for batches that will never run
// stop there.
type stop struct {
	hard, soft context.Context
	cancel     context.CancelFunc // ends both
	cancelSoft context.CancelFunc
	timeout    time.Duration
	timedOut   atomic.Bool
}

// watchStop begins the stop when ctx ends or Stop is called, and ends
// hard once the stop has taken ShutdownTimeout.
func (e *Engine) watchStop(ctx context.Context) *stop {
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	soft, cancelSoft := context.WithCancel(hard)
	st := &stop{hard: hard, soft: soft, cancelSoft: cancelSoft, timeout: e.cfg.shutdownTimeout}
	st.cancel = func() { cancelSoft(); cancelHard() }
	go func() {
		select {
		case <-ctx.Done():
		case <-e.stopC:
		case <-hard.Done():
			return
		}
		e.stopping.Store(true)
		e.logStopping()
		cancelSoft()
		t := time.NewTimer(st.timeout)
		defer t.Stop()
		select {
		case <-t.C:
			st.timedOut.Store(true)
			cancelHard()
		case <-hard.Done():
		}
	}()
	return st
}

// outcome is Run's error: errors say "runtime:" once, here at the
// boundary, and a stop that overran says so.
func (st *stop) outcome(err error) error {
	switch {
	case st.timedOut.Load() && err != nil:
		return fmt.Errorf("runtime: shutdown exceeded %s: %w", st.timeout, err)
	case st.timedOut.Load():
		return fmt.Errorf("runtime: shutdown exceeded %s", st.timeout)
	case err != nil:
		return fmt.Errorf("runtime: %w", err)
	}
	return nil
}

// leave closes the clients, which leaves the group. Leaving matters most
// when the stop overran: a member that never left holds the next start's
// rebalance until its session expires, so it gets leaveGrace even then.
func (e *Engine) leave(hard context.Context) {
	ctx := hard
	if hard.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), leaveGrace)
		defer cancel()
	}
	boundedBy(ctx, e.closeClients)
}

// leaveGrace is how long a stop that overran shutdown.timeout still
// gives its clients to leave the group.
const leaveGrace = 2 * time.Second

// boundedBy runs f, or gives up waiting for it once ctx is done: out of
// shutdown time, a close finishes in the background rather than holding
// Run past its bound.
func boundedBy(ctx context.Context, f func()) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		f()
	}()
	select {
	case <-closed:
	case <-ctx.Done():
	}
}

// connect opens the admin client, checks the brokers answer, and opens
// the consumers: the group's member first, then the Assign streams'.
// Waiting for brokers that refuse connections ends when stop does.
func (e *Engine) connect(ctx, stop context.Context) error {
	admin, err := kgo.NewClient(append(e.kgoBase(), e.cfg.kgoOpts...)...)
	if err != nil {
		return err
	}
	e.admin, e.adm = admin, kadm.NewClient(admin)
	if err := e.ping(stop, admin); err != nil {
		return err
	}
	var group, direct []*source
	for _, s := range e.sources() {
		if s.cs.kind == kindAssign {
			direct = append(direct, s)
		} else {
			group = append(group, s)
		}
	}
	ks := &kafkaStore{health: e.brokers, group: e.cfg.group, adm: e.adm}
	e.store = e.cfg.store
	if e.store == nil {
		e.store = ks
	}
	if oa, ok := e.store.(OutageAware); ok {
		oa.SetOutageReporter(e.storeHealth)
	}
	var member atomic.Pointer[kgo.Client] // for a KafkaBound store
	if kb, ok := e.store.(KafkaBound); ok {
		if err := e.bindKafka(ctx, kb, ks, &member); err != nil {
			return err
		}
	}
	if len(group) > 0 {
		c := newConsumer(e, group, false)
		if err := c.open(ctx); err != nil {
			return err
		}
		e.mu.Lock()
		e.consumers = append(e.consumers, c)
		e.mu.Unlock()
		ks.member = c.cl
		member.Store(c.cl)
	}
	if len(direct) > 0 {
		c := newConsumer(e, direct, true)
		e.mu.Lock()
		e.consumers = append(e.consumers, c)
		e.mu.Unlock()
		if err := c.open(ctx); err != nil {
			return err
		}
	}
	return nil
}

// closeClients leaves the group (revocation waits for AllowRebalance, so
// it is allowed) and closes every client.
func (e *Engine) closeClients() {
	for _, c := range e.consumers {
		if c.cl != nil {
			c.cl.CloseAllowingRebalance()
		}
	}
	if e.admin != nil {
		e.admin.Close()
	}
}

// kgoBase are the options of every client the engine creates.
func (e *Engine) kgoBase() []kgo.Opt {
	c := &e.cfg
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.brokers...),
		kgo.KeepControlRecords(),
		kgo.MetadataMaxAge(c.metadataMaxAge),
		kgo.MetadataMinAge(min(c.metadataMaxAge, 100*time.Millisecond)),
		kgo.FetchMaxPartitionBytes(fetchPartitionBytes),
		kgo.WithHooks(requestHook{e.brokers}),
	}
	if c.readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if c.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(c.tls.Clone()))
	}
	if len(c.sasl) > 0 {
		opts = append(opts, kgo.SASL(c.sasl...))
	}
	return opts
}

// ping fails fast, and legibly, on rejected credentials or a broker that
// speaks no Kafka, which kgo would otherwise retry in the background
// while batches stay empty. Brokers that refuse connections or do not
// answer (not up yet, restarting) are an outage: ping retries them, as
// the running job would, until OutageLimit.
func (e *Engine) ping(ctx context.Context, cl *kgo.Client) error {
	err := backoff.Retry{First: 100 * time.Millisecond, Max: 2 * time.Second, Failed: func(err error, _ int) error {
		if !unreachable(err) {
			return err
		}
		e.brokers.failed("connecting to brokers "+strings.Join(e.cfg.brokers, ","), err)
		return e.brokers.over()
	}}.Do(ctx, func() error { return cl.Ping(ctx) })
	if err == nil {
		return nil
	}
	ce := &ConnectError{Brokers: e.cfg.brokers, TLS: e.cfg.tls != nil, Err: err}
	for _, m := range e.cfg.sasl {
		ce.Mechanism = m.Name()
	}
	return ce
}

// unreachable reports whether err is brokers refusing connections or not
// answering, rather than rejecting the client once connected.
func unreachable(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || (errors.As(err, &ne) && ne.Timeout())
}

func (e *Engine) fillAll(ctx context.Context, deadline time.Time) error {
	if len(e.consumers) == 1 {
		return e.consumers[0].fill(ctx, deadline)
	}
	errs := make([]error, len(e.consumers))
	var wg sync.WaitGroup
	for i, c := range e.consumers {
		wg.Go(func() { errs[i] = c.fill(ctx, deadline) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pollDuringBatch keeps fetching (and decoding, see absorb) while a batch
// is processed; without it franz-go holds one fetch per broker and waits,
// and fetching would only happen between batches. It is safe for
// rebalances: polling only ever blocks them, and they are let through by
// fill's AllowRebalance, after the returned stop function has ended the
// polling.
func (e *Engine) pollDuringBatch(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, c := range e.consumers {
		wg.Go(func() {
			for c.awaitDecode(ctx) == nil {
				if err := c.absorb(c.cl.PollFetches(ctx)); err != nil {
					c.setFatal(err)
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

// limitRate is the backpressure rate batches are cut at, records/s across
// all partitions: the latest estimate, the initial rate before the first,
// and 0 without backpressure or before any rate is known.
func (e *Engine) limitRate() float64 {
	if !e.cfg.backpressure {
		return 0
	}
	rate := e.rec.currentRate()
	if rate <= 0 {
		rate = float64(e.cfg.initialRate)
	}
	return rate
}

// pauseAt is the buffered-records count at which a partition's fetching
// pauses: two batches' worth, so the next batch never waits on a fetch,
// and no more. A batch takes at most maxMessages records of a partition
// (rate.go): MaxRatePerPartition·interval, and with backpressure the
// estimated rate (records/s across all partitions, an upper bound on any
// one partition's share) times the interval. 0 when neither bounds a
// batch: then nothing bounds the buffers.
func (e *Engine) pauseAt() int64 {
	c := &e.cfg
	perSec := float64(c.maxRate)
	if r := e.limitRate(); r > 0 && (perSec <= 0 || r < perSec) {
		perSec = max(r, float64(c.minRate))
	}
	if perSec <= 0 {
		return 0
	}
	return 2 * max(int64(perSec*c.interval.Seconds()), 1)
}

// Logger sets where the engine logs what it does not return as an error,
// such as records left out of batches, offsets reset, and registry
// outages. Default slog.Default().
func Logger(l *slog.Logger) Opt { return optFunc(func(c *engineCfg) { c.logger = l }) }

// Logger is the logger the engine was given (Logger), or slog.Default():
// what the engine logs, and the parts of a job the engine does not own,
// such as its schema registry, log the same way.
func (e *Engine) Logger() *slog.Logger {
	if e.cfg.logger != nil {
		return e.cfg.logger
	}
	return slog.Default()
}

// logStopping says at once what the stop waits for: without it a stop
// that finishes a long batch is seconds of silence.
func (e *Engine) logStopping() {
	if id := e.inflight.Load(); id > 0 {
		e.Logger().Info("stopping: finishing batch "+strconv.FormatInt(id, 10)+" and storing its offsets", "batch", id, "shutdown_timeout", e.cfg.shutdownTimeout.String())
		return
	}
	e.Logger().Info("stopping: no batch in flight", "shutdown_timeout", e.cfg.shutdownTimeout.String())
}

// logStart names what the engine runs with, as it will run: the group
// and streams it was built with, whatever configuration they came from.
func (e *Engine) logStart() {
	streams := make([]string, len(e.streams))
	for i, s := range e.sources() {
		streams[i] = s.name + " (" + s.cs.String() + ")"
	}
	e.Logger().Info("starting", "group", e.cfg.group, "streams", streams, "brokers", e.cfg.brokers,
		"semantics", e.cfg.semantics.String(), "interval", e.cfg.interval.String())
}

func (e *Engine) sources() []*source {
	out := make([]*source, len(e.streams))
	for i, b := range e.streams {
		out[i] = b.source()
	}
	return out
}
