package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file owns a franz-go client's side of the engine: opening it,
// deciding where newly owned partitions start, buffering and decoding what
// it fetches, cutting each partition's range, pausing and resuming
// fetches, and the group's rebalance callbacks.

// source is the untyped half of a stream: its name, consumer strategy and
// options, and how its records are decoded.
type source struct {
	// What the stream uses of its engine: CommitAsync's queue and the
	// policy's task retries.
	commits *commitQueue
	tasks   retryPolicy

	idx  int // position in Engine.streams
	name string
	cs   ConsumerStrategy
	cfg  streamCfg
	// decode fills in a chunk's decoded form; set by the typed stream.
	decode func(ctx context.Context, c *chunk)
	// recycle takes back a decoded chunk's records once the batches that
	// held them are over, for decode to decode later chunks into; set by
	// the typed stream.
	recycle func(c *chunk)
	bad     badLog
}

// consumer is one franz-go client and the partitions it owns: the job's
// group member, which reads every Subscribe and SubscribePattern stream,
// or the client of its Assign streams (kgo cannot mix the two). Records are
// routed to their stream by topic: a topic feeds one stream.
type consumer struct {
	// What the consumer uses of its engine, and no more.
	eng     consumerEngine
	cfg     *engineCfg
	pool    *pool
	store   OffsetStore
	brokers *brokerHealth
	rec     *recorder

	srcs   []*source
	direct bool
	cl     *kgo.Client // used by the engine goroutine, and polled during batches

	// undecoded is the size of the records absorbed but not decoded yet;
	// polling waits while it is at decodeAhead (awaitDecode). decoded is
	// signalled when it drops below.
	undecoded atomic.Int64
	decoded   chan struct{}

	mu      sync.Mutex
	parts   map[TopicPartition]*partState
	started bool  // the first assignment applied StartFrom and WithOffsets
	fatal   error // set from kgo's callbacks, returned by the next fill
	// unstored are handled ranges whose commit the group refused
	// (staleBatch), one merged range a partition. They outlive the
	// partition's state: a member whose generation ended loses every
	// partition (onLost) and usually gets the same ones back when it
	// rejoins; then it resumes after what it handled, and its next batch
	// stores the range with its own (assign). A partition revoked while it
	// has one stores it in the revoke callback (revoked).
	unstored map[TopicPartition]OffsetRange
}

// partState is what the engine knows about one owned partition.
type partState struct {
	src *source
	// next is the FromOffset of the next batch: exact, never guessed.
	next int64
	// fetched is one past the last offset received, control records
	// included, so transaction markers never leave the engine waiting for
	// an offset that holds no data record.
	fetched int64
	buf     []*kgo.Record
	// chunks hold buf's records as fetched, each decoded as soon as it
	// arrives, so decoding overlaps fetching; chunkAt is how many of
	// chunks[0]'s records earlier batches took.
	chunks  []*chunk
	chunkAt int
	paused  bool
	slot    int
	hwm     int64 // the high watermark the latest fetch reported, -1 before
}

// consumerEngine is what a consumer asks of its engine: decisions that
// span the engine's consumers and stores.
type consumerEngine interface {
	Logger() *slog.Logger
	// kgoBase are the options of every client the engine makes.
	kgoBase() []kgo.Opt
	// startOffsets decides where newly owned partitions start.
	startOffsets(ctx context.Context, tps []TopicPartition, first bool, explicit map[TopicPartition]int64) (map[TopicPartition]int64, error)
	// leaders and place decide which worker runs a partition.
	leaders(ctx context.Context, tps []TopicPartition) map[TopicPartition]int32
	place(s *source, leaders map[TopicPartition]int32, tp TopicPartition) int
	// pauseAt is the buffered-records count at which fetching pauses.
	pauseAt() int64
}

func newConsumer(e *Engine, srcs []*source, direct bool) *consumer {
	return &consumer{eng: e, cfg: &e.cfg, pool: e.pool, store: e.store, brokers: e.brokers, rec: e.rec,
		srcs: srcs, direct: direct, decoded: make(chan struct{}, 1),
		parts: make(map[TopicPartition]*partState), unstored: make(map[TopicPartition]OffsetRange)}
}

func (c *consumer) setFatal(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fatal == nil {
		c.fatal = err
	}
}

// route is the stream that reads topic, failing when two do: a pattern
// can match a topic another stream reads, which only shows at run time.
func (c *consumer) route(topic string) (*source, error) {
	var found []*source
	for _, s := range c.srcs {
		switch s.cs.kind {
		case kindSubscribe:
			if slices.Contains(s.cs.topics, topic) {
				found = append(found, s)
			}
		case kindPattern:
			if s.cs.pattern.MatchString(topic) {
				found = append(found, s)
			}
		case kindAssign:
			if slices.ContainsFunc(s.cs.partitions, func(tp TopicPartition) bool { return tp.Topic == topic }) {
				found = append(found, s)
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("topic %s was assigned but no stream reads it", topic)
	case 1:
		return found[0], nil
	}
	names := make([]string, len(found))
	for i, s := range found {
		names[i] = fmt.Sprintf("%s (%s)", s.name, s.cs)
	}
	return nil, fmt.Errorf("topic %s is read by streams %s; a topic may feed only one stream", topic, joinAnd(names))
}

// fetchPartitionBytes is the engine's kgo.FetchMaxPartitionBytes, a
// quarter of kgo's (and Kafka's) 1 MiB; KgoOpts overrides it. A fetch
// takes up to this much of every partition, compressed: with snappy and
// 18 partitions kgo's default made responses of 90 MB and 260,000
// records, which kgo decompresses and parses on one goroutine before the
// decoders see any of them, so decoding went in bursts, and a partition
// could overshoot its pause bound by 15,000 records. At 256 KiB a response
// of 18 partitions is still 20 MB, BenchmarkThroughput's engine is about
// 10% faster, and the memory bound's fetch term is a quarter.
const fetchPartitionBytes = 256 << 10

// open creates the client. Every partition starts at an exact offset,
// decided by startOffsets: for the group member in AdjustFetchOffsetsFn,
// whenever a rebalance gives it partitions, so that a partition's first
// range begins exactly where the previous owner's last stored range ended.
func (c *consumer) open(ctx context.Context) error {
	opts := c.eng.kgoBase()
	if c.direct {
		var tps []TopicPartition
		explicit := make(map[TopicPartition]int64)
		for _, s := range c.srcs {
			tps = append(tps, s.cs.partitions...)
			maps.Copy(explicit, s.cs.offsets)
		}
		start, err := c.assign(ctx, tps, explicit)
		if err != nil {
			return err
		}
		consume := make(map[string]map[int32]kgo.Offset)
		for tp, off := range start {
			if consume[tp.Topic] == nil {
				consume[tp.Topic] = make(map[int32]kgo.Offset)
			}
			consume[tp.Topic][tp.Partition] = kgo.NewOffset().At(off)
		}
		opts = append(opts, kgo.ConsumePartitions(consume))
	} else {
		var topics []string
		regex := slices.ContainsFunc(c.srcs, func(s *source) bool { return s.cs.kind == kindPattern })
		for _, s := range c.srcs {
			switch {
			case s.cs.kind == kindPattern:
				topics = append(topics, s.cs.pattern.String())
			case regex:
				for _, t := range s.cs.topics {
					topics = append(topics, "^"+regexp.QuoteMeta(t)+"$")
				}
			default:
				topics = append(topics, s.cs.topics...)
			}
		}
		if regex {
			opts = append(opts, kgo.ConsumeRegex())
		}
		opts = append(opts,
			kgo.ConsumeTopics(topics...),
			kgo.ConsumerGroup(c.cfg.group),
			kgo.DisableAutoCommit(),
			kgo.BlockRebalanceOnPoll(),
			kgo.Balancers(c.balancers()...),
			kgo.AdjustFetchOffsetsFn(c.adjustOffsets),
			kgo.OnPartitionsRevoked(c.revoked),
			kgo.OnPartitionsLost(c.drop),
		)
		if c.cfg.instanceID != "" {
			opts = append(opts, kgo.InstanceID(c.cfg.instanceID))
		}
		if d := c.cfg.sessionTimeout; d > 0 {
			opts = append(opts, kgo.SessionTimeout(d), kgo.HeartbeatInterval(min(d/10, 3*time.Second)))
		}
	}
	cl, err := kgo.NewClient(append(opts, c.cfg.kgoOpts...)...)
	if err != nil {
		return err
	}
	c.cl = cl
	return nil
}

// assign decides the start of newly owned partitions and records them.
func (c *consumer) assign(ctx context.Context, tps []TopicPartition, explicit map[TopicPartition]int64) (map[TopicPartition]int64, error) {
	srcs := make(map[TopicPartition]*source, len(tps))
	for _, tp := range tps {
		s, err := c.route(tp.Topic)
		if err != nil {
			return nil, err
		}
		srcs[tp] = s
	}
	c.mu.Lock()
	first := !c.started
	c.mu.Unlock()
	start, err := c.eng.startOffsets(ctx, tps, first, explicit)
	if err != nil {
		return nil, err
	}
	leaders := c.eng.leaders(ctx, tps)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started = true
	for tp, off := range start {
		if u, ok := c.unstored[tp]; ok {
			if off != u.FromOffset {
				// Another member stored past it (or the start was
				// moved): what it handled is that member's now.
				delete(c.unstored, tp)
			} else {
				// Nobody stored anything since this member handled
				// u: go on after it, and store it with the next batch.
				c.eng.Logger().Info("partition back after a rebalance: resuming after the batch handled before it, whose offsets the next batch stores",
					"topic", tp.Topic, "partition", tp.Partition, "stored", off, "resume_at", u.UntilOffset)
				off = u.UntilOffset
				start[tp] = off
			}
		}
		s := srcs[tp]
		c.parts[tp] = &partState{src: s, next: off, fetched: off, hwm: -1, slot: c.eng.place(s, leaders, tp)}
	}
	return start, nil
}

// adjustOffsets replaces the offsets kgo fetched from the group for newly
// assigned partitions with the ones startOffsets decides (the offset
// store may not be Kafka's), and records them as the partitions' state.
func (c *consumer) adjustOffsets(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	var tps []TopicPartition
	for t, ps := range offs {
		for p := range ps {
			tps = append(tps, TopicPartition{t, p})
		}
	}
	explicit := make(map[TopicPartition]int64)
	for _, s := range c.srcs {
		maps.Copy(explicit, s.cs.offsets)
	}
	start, err := c.assign(ctx, tps, explicit)
	if err != nil {
		// The brokers failing mid-assignment (the session ends, its
		// context with it) is an outage: kgo rejoins and assigns again.
		// So is a partition the group assigned that the brokers do not
		// list yet: a topic created a moment ago.
		if ctx.Err() == nil && !brokerTransient(err) && !errors.Is(err, errNoSuchPartition) {
			c.setFatal(err)
		}
		return nil, err
	}
	out := make(map[string]map[int32]kgo.Offset)
	for tp, off := range start {
		if out[tp.Topic] == nil {
			out[tp.Topic] = make(map[int32]kgo.Offset)
		}
		out[tp.Topic][tp.Partition] = kgo.NewOffset().At(off)
	}
	return out, nil
}

// revoked stores what this member handled of the revoked partitions but
// could not store (unstored), while its generation still lets it commit,
// then forgets the partitions. Revocation only happens between batches
// (BlockRebalanceOnPoll), and at the stop (leaving the group), after the
// last batch's offsets were stored or refused: storing the refused ones
// here is what keeps a graceful stop in a rebalance from handing its
// last batch to the next owner.
func (c *consumer) revoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	c.mu.Lock()
	var ranges []OffsetRange
	for t, ps := range revoked {
		for _, p := range ps {
			if u, ok := c.unstored[TopicPartition{t, p}]; ok {
				ranges = append(ranges, u)
			}
		}
	}
	c.mu.Unlock()
	if len(ranges) > 0 {
		c.storeUnstored(ctx, ranges)
	}
	c.drop(ctx, cl, revoked)
}

// storeUnstored stores ranges that a batch handled but could not store,
// bounded by revokeStoreTimeout since a rebalance waits for it, and
// forgets them once stored. Refused again, they stay: the partitions'
// next owner reads them again, or this member stores them if it gets
// them back.
func (c *consumer) storeUnstored(ctx context.Context, ranges []OffsetRange) {
	ctx, cancel := context.WithTimeout(ctx, revokeStoreTimeout)
	defer cancel()
	err := c.store.Store(ctx, StoredBatch{Time: time.Now(), Ranges: ranges})
	c.rec.commit(err)
	if err != nil {
		c.eng.Logger().Warn("offsets of a handled batch not stored at revocation: the partitions' next owner reads it again",
			"ranges", fmt.Sprint(ranges), "err", err.Error())
		return
	}
	c.eng.Logger().Info("stored the offsets the group had refused, as the partitions were revoked", "ranges", fmt.Sprint(ranges))
	c.mu.Lock()
	for _, r := range ranges {
		if u, ok := c.unstored[r.TopicPartition()]; ok && u.UntilOffset <= r.UntilOffset {
			delete(c.unstored, r.TopicPartition())
		}
	}
	c.mu.Unlock()
}

// revokeStoreTimeout bounds storing refused ranges in the revoke
// callback, which the group's rebalance (or the stop) waits on.
const revokeStoreTimeout = 5 * time.Second

// drop forgets revoked or lost partitions, but not their unstored ranges
// (see consumer.unstored).
//
// A pause outlives the assignment in kgo, so a partition paused here and
// assigned back later would never be fetched again: resume it on the way
// out.
func (c *consumer) drop(_ context.Context, cl *kgo.Client, lost map[string][]int32) {
	c.mu.Lock()
	var resume map[string][]int32
	for t, ps := range lost {
		for _, p := range ps {
			tp := TopicPartition{t, p}
			if st := c.parts[tp]; st != nil && st.paused {
				resume = addTP(resume, tp)
			}
			delete(c.parts, tp)
		}
	}
	c.mu.Unlock()
	if resume != nil {
		cl.ResumeFetchPartitions(resume)
	}
}

// fill lets a pending rebalance through, then takes fetched records into
// the partition buffers until deadline. When it returns, rebalances are
// blocked again until the next fill, so the batch cut next sees a stable
// assignment.
func (c *consumer) fill(ctx context.Context, deadline time.Time) error {
	c.cl.AllowRebalance()
	for {
		// A deadline already past still drains what kgo has buffered:
		// PollFetches takes buffered fetches before looking at ctx.
		d := deadline
		if soon := time.Now().Add(time.Millisecond); d.Before(soon) {
			d = soon
		}
		pctx, cancel := context.WithDeadline(ctx, d)
		var fs kgo.Fetches
		if c.awaitDecode(pctx) == nil {
			fs = c.cl.PollFetches(pctx)
		}
		cancel()
		if err := c.absorb(fs); err != nil {
			return err
		}
		c.mu.Lock()
		err, owns := c.fatal, len(c.parts) > 0
		c.mu.Unlock()
		if !c.direct {
			// A group member owning nothing: joining, more members
			// than partitions, a rebalance, or a dead member's
			// session the group has not expired yet. One notion for
			// the log, Snapshot and /readyz.
			member, _ := c.cl.GroupMetadata()
			c.brokers.setWaiting(!owns, member)
		}
		if err != nil {
			return err
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			return nil
		}
	}
}

// decodeAhead is how many bytes of fetched records may wait for decoding
// before polling waits. Fetching is several times faster than decoding,
// so without it a backlog is fetched whole while the decoders fall behind:
// the raw records, then their decoded form, pile up in the heap (a
// gigabyte for 600k Impressions) and the time goes to faulting in and
// collecting memory, not to decoding. A few fetches' worth keeps every
// decoder busy while kgo fetches the next response.
const decodeAhead = 8 << 20

// awaitDecode waits until the records being decoded are below decodeAhead.
// It returns ctx's error once ctx is done, so a polling loop conditioned
// on it ends.
func (c *consumer) awaitDecode(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for c.undecoded.Load() >= decodeAhead {
		select {
		case <-c.decoded:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// chunkRecords caps a chunk: a fetch brings thousands of records per
// partition, and decoding them as one task would make cutBatch, which
// takes only decoded chunks, see them in coarse steps, and leave decoders
// idle at the end of a fetch while one still decodes a long chunk.
const chunkRecords = 512

// absorb takes fetched records into the partitions' buffers and queues
// their chunks for decoding. Queueing gives up when the engine stops, so a
// stop is never held up by a decode queue that a registry outage filled.
func (c *consumer) absorb(fs kgo.Fetches) error {
	bound := c.eng.pauseAt()
	var a absorbed
	c.mu.Lock()
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		tp := TopicPartition{fp.Topic, fp.Partition}
		st := c.parts[tp]
		switch {
		case fp.Err != nil:
			a.fetchFailed(c.cfg.group, fp, st)
		case st != nil:
			a.jobs = st.buffer(fp, a.jobs)
			if bound > 0 && !st.paused && int64(len(st.buf)) >= bound {
				st.paused = true
				a.pause = addTP(a.pause, tp)
			}
		}
	})
	c.mu.Unlock()
	for _, f := range a.failed {
		c.brokers.failed(f.what, f.err)
	}
	if a.pause != nil {
		c.cl.PauseFetchPartitions(a.pause)
	}
	c.decode(a.jobs)
	return a.err
}

// absorbed is what absorbing one poll's fetches found, for absorb to act
// on once it let go of c.mu.
type absorbed struct {
	pause  map[string][]int32 // partitions past their buffer bound
	jobs   []*chunk           // chunks to decode
	failed []failure          // requests failing for a cause that may pass
	err    error              // the first failure that ends the job
}

// fetchFailed sorts a failed fetch: the stop's own cancellation is
// nothing; brokers and the group coordinator failing for a while are an
// outage to ride out; anything else ends the job.
func (a *absorbed) fetchFailed(group string, fp kgo.FetchTopicPartition, st *partState) {
	if errors.Is(fp.Err, context.Canceled) || errors.Is(fp.Err, context.DeadlineExceeded) ||
		errors.Is(fp.Err, kgo.ErrClientClosed) {
		return
	}
	fail := func(err error) {
		if a.err == nil {
			a.err = err
		}
	}
	if fp.Topic == "" { // the client's, not a partition's: the group's session
		// kgo keeps rejoining after a lost session: an unreachable
		// coordinator is an outage to ride out.
		if gs, ok := errors.AsType[*kgo.ErrGroupSession](fp.Err); ok && !hopeless(gs.Err) && (brokerTransient(gs.Err) || staleCommit(gs.Err)) {
			a.failed = append(a.failed, failure{fmt.Sprintf("the session of group %q", group), fp.Err})
			return
		}
		fail(fmt.Errorf("consumer group %q: %w", group, fp.Err))
		return
	}
	off := int64(-1)
	if st != nil {
		off = st.fetched
	}
	fe := &FetchError{Topic: fp.Topic, Partition: fp.Partition, Offset: off, Err: fp.Err}
	if brokerTransient(fp.Err) {
		a.failed = append(a.failed, failure{fe.where(), fp.Err})
		return
	}
	fail(fe)
}

// buffer appends a fetch's records past what the partition has fetched,
// control records left out, and cuts the new ones into chunks to decode,
// which it appends to jobs.
func (st *partState) buffer(fp kgo.FetchTopicPartition, jobs []*chunk) []*chunk {
	st.hwm = fp.HighWatermark
	n := len(st.buf)
	for _, r := range fp.Records {
		if r.Offset < st.fetched {
			continue
		}
		st.fetched = r.Offset + 1
		if r.Attrs.IsControl() {
			continue
		}
		st.buf = append(st.buf, r)
	}
	if len(st.buf) == n || st.src.decode == nil {
		return jobs
	}
	for lo := n; lo < len(st.buf); lo += chunkRecords {
		hi := min(lo+chunkRecords, len(st.buf))
		ch := &chunk{src: st.src, raw: st.buf[lo:hi:hi], done: make(chan struct{}), bad: -1}
		for _, r := range ch.raw {
			ch.size += int64(len(r.Key) + len(r.Value))
		}
		st.chunks = append(st.chunks, ch)
		jobs = append(jobs, ch)
	}
	return jobs
}

// decode hands chunks to the pool's decoders.
func (c *consumer) decode(jobs []*chunk) {
	for _, ch := range jobs {
		c.undecoded.Add(ch.size)
		ok := c.pool.submitDecode(func(dctx context.Context) {
			ch.src.decode(dctx, ch)
			// A decode the stop cut short (the registry was being
			// waited for) says nothing of the records: the chunk
			// stays undecoded, so the stop's last batch ends before
			// it and it is read again after a restart, instead of
			// failing that batch.
			if dctx.Err() == nil || ch.err == nil || !transient(ch.err) {
				close(ch.done)
			}
			if c.undecoded.Add(-ch.size) < decodeAhead {
				select {
				case c.decoded <- struct{}{}:
				default:
				}
			}
		})
		if !ok {
			// Stopping: the chunk is never decoded, so no batch
			// takes it (decodedUntil stops before it).
			return
		}
	}
}

// failure is a failed request absorb reports once it let go of c.mu.
type failure struct {
	what string
	err  error
}

// cut is one stream's share of a batch, still raw.
type cut struct {
	ranges []OffsetRange
	recs   [][]*kgo.Record
	slots  []int
	// pieces are recs as parts of eagerly decoded chunks; nil for a
	// partition whose records were not decoded eagerly.
	pieces [][]piece
}

// cutBatch decides the batch's ranges, Spark's compute(): for every owned
// partition until = min(latest, from + maxMessages), where latest is what
// has been fetched and decoded (decodedUntil). Each partition's range goes
// to its stream's cut in cuts. Partitions absorb paused are resumed once
// the cut drained them below the bound.
func (c *consumer) cutBatch(rate float64, cuts []cut) {
	cfg := c.cfg
	c.mu.Lock()
	defer c.mu.Unlock()
	lag := make(map[TopicPartition]int64, len(c.parts))
	for tp, st := range c.parts {
		lag[tp] = st.fetched - st.next
	}
	tps := slices.SortedFunc(maps.Keys(c.parts), compareTP)
	limits := maxMessagesPerPartition(lag, rate, cfg.maxRate, cfg.minRate, cfg.interval)
	bound := c.eng.pauseAt()
	var resume map[string][]int32
	for _, tp := range tps {
		st := c.parts[tp]
		until := min(st.fetched, st.decodedUntil())
		if lim, ok := limits[tp]; ok {
			until = min(until, st.next+lim)
		}
		n, _ := slices.BinarySearchFunc(st.buf, until, func(r *kgo.Record, off int64) int { return cmp.Compare(r.Offset, off) })
		out := &cuts[st.src.idx]
		out.ranges = append(out.ranges, OffsetRange{Topic: tp.Topic, Partition: tp.Partition, FromOffset: st.next, UntilOffset: until})
		out.recs = append(out.recs, st.buf[:n:n])
		out.slots = append(out.slots, st.slot)
		out.pieces = append(out.pieces, st.takePieces(n))
		st.buf = slices.Clip(st.buf[n:])
		st.next = until
		if st.paused && int64(len(st.buf)) < bound {
			st.paused = false
			resume = addTP(resume, tp)
		}
	}
	if resume != nil {
		c.cl.ResumeFetchPartitions(resume)
	}
}

// keepUnstored remembers ranges of this consumer's partitions, handled but
// refused by the group, for a later batch (or the revoke callback) to
// store. A partition's ranges merge into one: consecutive batches refused
// in a row make one range from the first's start to the last's end.
func (c *consumer) keepUnstored(ranges []OffsetRange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range ranges {
		tp := r.TopicPartition()
		if c.parts[tp] == nil {
			continue
		}
		if u, ok := c.unstored[tp]; ok {
			r.FromOffset = min(r.FromOffset, u.FromOffset)
			r.UntilOffset = max(r.UntilOffset, u.UntilOffset)
		}
		c.unstored[tp] = r
	}
}

// takeUnstored returns, and forgets, the unstored ranges of the
// partitions this consumer owns.
func (c *consumer) takeUnstored() []OffsetRange {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []OffsetRange
	for tp, u := range c.unstored {
		if c.parts[tp] != nil {
			out = append(out, u)
			delete(c.unstored, tp)
		}
	}
	return out
}

// rewind undoes the cut of ranges on the partitions this consumer owns:
// their next batch starts at the ranges' FromOffset again, and fetching
// restarts there (kgo's SetOffsets drops what it had buffered past it).
// Only between batches, with polling stopped.
func (c *consumer) rewind(ranges []OffsetRange) {
	set := make(map[string]map[int32]kgo.EpochOffset)
	var resume map[string][]int32
	c.mu.Lock()
	for _, r := range ranges {
		tp := r.TopicPartition()
		st := c.parts[tp]
		if st == nil || st.next != r.UntilOffset {
			continue
		}
		st.next, st.fetched = r.FromOffset, r.FromOffset
		st.buf, st.chunks, st.chunkAt = nil, nil, 0
		if st.paused {
			st.paused = false
			resume = addTP(resume, tp)
		}
		if set[tp.Topic] == nil {
			set[tp.Topic] = make(map[int32]kgo.EpochOffset)
		}
		set[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: r.FromOffset}
	}
	c.mu.Unlock()
	if len(set) > 0 {
		c.cl.SetOffsets(set)
	}
	if resume != nil {
		c.cl.ResumeFetchPartitions(resume)
	}
}

func compareTP(a, b TopicPartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

func addTP(m map[string][]int32, tp TopicPartition) map[string][]int32 {
	if m == nil {
		m = make(map[string][]int32)
	}
	m[tp.Topic] = append(m[tp.Topic], tp.Partition)
	return m
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := ""
	for i, x := range s[:len(s)-1] {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out + " and " + s[len(s)-1]
}
