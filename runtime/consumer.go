package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// source is the untyped half of a stream: its name, consumer strategy and
// options, and how its records are decoded.
type source struct {
	e    *Engine
	idx  int // position in Engine.streams
	name string
	cs   ConsumerStrategy
	cfg  streamCfg
	// decode fills in a chunk's decoded form; set by the typed stream.
	decode func(ctx context.Context, c *chunk)
	bad    badLog
}

// consumer is one franz-go client and the partitions it owns: the job's
// group member, which reads every Subscribe and SubscribePattern stream,
// or the client of its Assign streams (kgo cannot mix the two). Records are
// routed to their stream by topic: a topic feeds one stream.
type consumer struct {
	e      *Engine
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

func newConsumer(e *Engine, srcs []*source, direct bool) *consumer {
	return &consumer{e: e, srcs: srcs, direct: direct, decoded: make(chan struct{}, 1), parts: make(map[TopicPartition]*partState)}
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
	e := c.e
	opts := e.kgoBase()
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
			kgo.ConsumerGroup(e.cfg.group),
			kgo.DisableAutoCommit(),
			kgo.BlockRebalanceOnPoll(),
			kgo.Balancers(c.balancers()...),
			kgo.AdjustFetchOffsetsFn(c.adjustOffsets),
			kgo.OnPartitionsRevoked(c.drop),
			kgo.OnPartitionsLost(c.drop),
		)
		if e.cfg.instanceID != "" {
			opts = append(opts, kgo.InstanceID(e.cfg.instanceID))
		}
	}
	cl, err := kgo.NewClient(append(opts, e.cfg.kgoOpts...)...)
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
	start, err := c.e.startOffsets(ctx, tps, first, explicit)
	if err != nil {
		return nil, err
	}
	leaders := c.e.leaders(ctx, tps)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started = true
	for tp, off := range start {
		s := srcs[tp]
		c.parts[tp] = &partState{src: s, next: off, fetched: off, hwm: -1, slot: c.e.place(s, leaders, tp)}
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
		c.setFatal(err)
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

// drop forgets revoked or lost partitions. Revocation only happens between
// batches (BlockRebalanceOnPoll), after the last batch's offsets were
// stored.
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
		err := c.fatal
		c.mu.Unlock()
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
	bound := c.e.pauseAt()
	var pause map[string][]int32
	var jobs []*chunk
	c.mu.Lock()
	var ferr error
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		tp := TopicPartition{fp.Topic, fp.Partition}
		st := c.parts[tp]
		if fp.Err != nil {
			if ferr != nil || errors.Is(fp.Err, context.Canceled) || errors.Is(fp.Err, context.DeadlineExceeded) ||
				errors.Is(fp.Err, kgo.ErrClientClosed) || kerr.IsRetriable(fp.Err) {
				return
			}
			if fp.Topic == "" { // the client's, not a partition's: joining the group
				ferr = fmt.Errorf("consumer group %q: %w", c.e.cfg.group, fp.Err)
				return
			}
			off := int64(-1)
			if st != nil {
				off = st.fetched
			}
			ferr = &FetchError{Topic: fp.Topic, Partition: fp.Partition, Offset: off, Err: fp.Err}
			return
		}
		if st == nil {
			return
		}
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
		if len(st.buf) > n && st.src.decode != nil {
			for lo := n; lo < len(st.buf); lo += chunkRecords {
				hi := min(lo+chunkRecords, len(st.buf))
				ch := &chunk{src: st.src, raw: st.buf[lo:hi:hi], done: make(chan struct{}), bad: -1}
				for _, r := range ch.raw {
					ch.size += int64(len(r.Key) + len(r.Value))
				}
				st.chunks = append(st.chunks, ch)
				jobs = append(jobs, ch)
			}
		}
		if bound > 0 && !st.paused && int64(len(st.buf)) >= bound {
			st.paused = true
			pause = addTP(pause, tp)
		}
	})
	c.mu.Unlock()
	if pause != nil {
		c.cl.PauseFetchPartitions(pause)
	}
	for _, ch := range jobs {
		c.undecoded.Add(ch.size)
		ok := c.e.pool.submitDecode(func(dctx context.Context) {
			ch.src.decode(dctx, ch)
			close(ch.done)
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
			break
		}
	}
	return ferr
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
	cfg := &c.e.cfg
	c.mu.Lock()
	defer c.mu.Unlock()
	lag := make(map[TopicPartition]int64, len(c.parts))
	for tp, st := range c.parts {
		lag[tp] = st.fetched - st.next
	}
	tps := slices.SortedFunc(maps.Keys(c.parts), compareTP)
	limits := maxMessagesPerPartition(lag, rate, cfg.maxRate, cfg.minRate, cfg.interval)
	bound := c.e.pauseAt()
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
