package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// partState is what a source knows about one owned partition.
type partState struct {
	// next is the FromOffset of the next batch: exact, never guessed.
	next int64
	// fetched is one past the last offset received, control records
	// included, so transaction markers never leave the engine waiting for
	// an offset that holds no data record.
	fetched int64
	buf     []*kgo.Record
	// chunks hold buf's records as fetched, each decoded on the pool as
	// soon as it arrives, so decoding overlaps fetching; chunkAt is how
	// many of chunks[0]'s records earlier batches took.
	chunks  []*chunk
	chunkAt int
	paused  bool
	slot    int
}

// chunk is one fetch's records of one partition and, once done is closed,
// their decoded form: out (the stream's []*Record[K, V]) holds the records
// before bad, the first record that failed with err (bad is -1 if none).
type chunk struct {
	raw  []*kgo.Record
	size int64 // bytes of raw's keys and values, for decodeAhead
	done chan struct{}
	out  any
	bad  int
	// skipped are the records the stream's DecodePolicy left out, in
	// order; their entries in out are nil.
	skipped []badRecord
	err     error
}

// piece is the part [lo, hi) of a chunk that falls into one batch.
type piece struct {
	c      *chunk
	lo, hi int
}

// source is the Kafka side of one stream: a franz-go client and, per owned
// partition, the exact position and the records fetched past it.
type source struct {
	e    *Engine
	name string
	// decode fills in a chunk's decoded form; set by the typed stream.
	decode func(*chunk)
	cs     ConsumerStrategy
	cfg    streamCfg
	cl     *kgo.Client // used by the engine goroutine only

	// undecoded is the size of the records absorbed but not decoded yet;
	// polling waits while it is at decodeAhead (awaitDecode). decoded is
	// signalled when it drops below.
	undecoded atomic.Int64
	decoded   chan struct{}

	// bad counts and logs records left out by the DecodePolicy;
	// pendingBad holds the current batch's until handleBad.
	bad        badLog
	pendingBad []badRecord

	mu       sync.Mutex
	groupCl  *kgo.Client // cl, as kgo's group callbacks see it
	parts    map[TopicPartition]*partState
	started  bool  // first assignment applied StartFrom and WithOffsets
	fatal    error // set from callbacks, returned by the next fill
	pending  map[TopicPartition]int64
	callback []func([]OffsetRange, error)
}

// fetchPartitionBytes is the engine's kgo.FetchMaxPartitionBytes, a
// quarter of kgo's (and Kafka's) 1 MiB; KgoOpts overrides it. A fetch
// takes up to this much of every partition, compressed: with snappy and
// 18 partitions kgo's default made responses of 90 MB and 260,000
// records, which kgo decompresses and parses on one goroutine before the
// workers see any of them, so decoding went in bursts, and a partition
// could overshoot its pause bound by 15,000 records. At 256 KiB a response
// of 18 partitions is still 20 MB, BenchmarkThroughput's engine is about
// 10% faster, and the memory bound's fetch term is a quarter.
const fetchPartitionBytes = 256 << 10

func (s *source) kgoOpts() []kgo.Opt {
	c := &s.e.cfg
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.brokers...),
		kgo.KeepControlRecords(),
		kgo.MetadataMaxAge(c.metadataMaxAge),
		kgo.MetadataMinAge(min(c.metadataMaxAge, 100*time.Millisecond)),
		kgo.FetchMaxPartitionBytes(fetchPartitionBytes),
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

// open creates the client. For group strategies, starting offsets are
// resolved in AdjustFetchOffsetsFn so every partition starts at an exact
// offset: that is what makes the first range of a partition begin exactly
// where the previous owner's last committed range ended.
func (s *source) open(ctx context.Context) error {
	opts := s.kgoOpts()
	switch s.cs.kind {
	case kindAssign:
		cl, err := kgo.NewClient(append(opts, s.e.cfg.kgoOpts...)...)
		if err != nil {
			return err
		}
		if err := s.e.ping(ctx, cl); err != nil {
			cl.Close()
			return err
		}
		tps := slices.Clone(s.cs.partitions)
		start, err := s.resolve(ctx, cl, tps, s.committed(ctx, cl, tps))
		if err != nil {
			cl.Close()
			return err
		}
		consume := make(map[string]map[int32]kgo.Offset)
		for tp, off := range start {
			if consume[tp.Topic] == nil {
				consume[tp.Topic] = make(map[int32]kgo.Offset)
			}
			consume[tp.Topic][tp.Partition] = kgo.NewOffset().At(off)
		}
		leaders := s.leaders(ctx, cl, tps)
		s.mu.Lock()
		s.started = true
		for tp, off := range start {
			s.parts[tp] = &partState{next: off, fetched: off, slot: s.e.place(s, leaders, tp)}
		}
		s.mu.Unlock()
		cl.Close()
		opts = append(opts, kgo.ConsumePartitions(consume))
	default:
		topics := s.cs.topics
		if s.cs.kind == kindPattern {
			topics = []string{s.cs.pattern.String()}
			opts = append(opts, kgo.ConsumeRegex())
		}
		opts = append(opts,
			kgo.ConsumeTopics(topics...),
			kgo.ConsumerGroup(s.cfg.group),
			kgo.DisableAutoCommit(),
			kgo.BlockRebalanceOnPoll(),
			kgo.Balancers(s.balancers()...),
			// AtStart's sentinel (-2) marks "nothing committed" in
			// adjustOffsets; the real reset policy is applied there.
			kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
			kgo.AdjustFetchOffsetsFn(s.adjustOffsets),
			// kgo calls this before AdjustFetchOffsetsFn, possibly
			// before NewClient returned to open; it is how
			// adjustOffsets gets the client.
			kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, _ map[string][]int32) {
				s.mu.Lock()
				s.groupCl = cl
				s.mu.Unlock()
			}),
			kgo.OnPartitionsRevoked(s.drop),
			kgo.OnPartitionsLost(s.drop),
		)
		if s.e.cfg.instanceID != "" {
			opts = append(opts, kgo.InstanceID(s.e.cfg.instanceID))
		}
	}
	cl, err := kgo.NewClient(append(opts, s.e.cfg.kgoOpts...)...)
	if err != nil {
		return err
	}
	if s.cs.kind != kindAssign {
		if err := s.e.ping(ctx, cl); err != nil {
			cl.Close()
			return err
		}
	}
	s.cl = cl
	return nil
}

// adjustOffsets turns the offsets kgo fetched for newly assigned
// partitions into exact ones and records them as the partitions' state.
func (s *source) adjustOffsets(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	committed := make(map[TopicPartition]int64)
	var tps []TopicPartition
	for t, ps := range offs {
		for p, o := range ps {
			tp := TopicPartition{t, p}
			tps = append(tps, tp)
			if at := o.EpochOffset().Offset; at >= 0 {
				committed[tp] = at
			}
		}
	}
	s.mu.Lock()
	cl := s.groupCl
	s.mu.Unlock()
	start, err := s.resolve(ctx, cl, tps, committed)
	if err != nil {
		s.mu.Lock()
		if s.fatal == nil {
			s.fatal = err
		}
		s.mu.Unlock()
		return nil, err
	}
	leaders := s.leaders(ctx, cl, tps)
	out := make(map[string]map[int32]kgo.Offset)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	for tp, off := range start {
		if out[tp.Topic] == nil {
			out[tp.Topic] = make(map[int32]kgo.Offset)
		}
		out[tp.Topic][tp.Partition] = kgo.NewOffset().At(off)
		s.parts[tp] = &partState{next: off, fetched: off, slot: s.e.place(s, leaders, tp)}
	}
	return out, nil
}

// drop forgets revoked or lost partitions. Revocation only happens between
// batches (BlockRebalanceOnPoll), after the last batch's commit.
//
// A pause outlives the assignment in kgo, so a partition paused here and
// assigned back later would never be fetched again: resume it on the way
// out.
func (s *source) drop(_ context.Context, cl *kgo.Client, lost map[string][]int32) {
	s.mu.Lock()
	var resume map[string][]int32
	for t, ps := range lost {
		for _, p := range ps {
			tp := TopicPartition{t, p}
			if st := s.parts[tp]; st != nil && st.paused {
				resume = addTP(resume, tp)
			}
			delete(s.parts, tp)
		}
	}
	s.mu.Unlock()
	if resume != nil {
		cl.ResumeFetchPartitions(resume)
	}
}

// committed reads the group's committed offsets for Assign streams; an
// Assign stream without a group has none.
func (s *source) committed(ctx context.Context, cl *kgo.Client, tps []TopicPartition) map[TopicPartition]int64 {
	out := make(map[TopicPartition]int64)
	if s.cfg.group == "" {
		return out
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = s.cfg.group
	byTopic := make(map[string][]int32)
	for _, tp := range tps {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	for t, ps := range byTopic {
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic = t
		rt.Partitions = ps
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return out
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 && p.Offset >= 0 {
				out[TopicPartition{t.Topic, p.Partition}] = p.Offset
			}
		}
	}
	return out
}

// resolve decides each partition's exact start: WithOffsets, then the
// StartFrom position, then the committed offset, then the reset policy; the
// result is clamped into [log start, end] as Kafka would reset it anyway.
func (s *source) resolve(ctx context.Context, cl *kgo.Client, tps []TopicPartition, committed map[TopicPartition]int64) (map[TopicPartition]int64, error) {
	s.mu.Lock()
	first := !s.started
	s.mu.Unlock()
	if len(tps) == 0 {
		return map[TopicPartition]int64{}, nil
	}
	earliest, err := listOffsets(ctx, cl, tps, -2, s.e.cfg.readCommitted)
	if err != nil {
		return nil, err
	}
	latest, err := listOffsets(ctx, cl, tps, -1, s.e.cfg.readCommitted)
	if err != nil {
		return nil, err
	}
	var byTime map[TopicPartition]int64
	if first && s.cfg.start.kind == startTime {
		if byTime, err = listOffsets(ctx, cl, tps, s.cfg.start.at.UnixMilli(), s.e.cfg.readCommitted); err != nil {
			return nil, err
		}
	}
	out := make(map[TopicPartition]int64, len(tps))
	var missing []TopicPartition
	for _, tp := range tps {
		off, explicit := s.cs.offsets[tp]
		switch {
		case first && explicit:
		case first && s.cfg.start.kind == startEarliest:
			off = earliest[tp]
		case first && s.cfg.start.kind == startLatest:
			off = latest[tp]
		case first && s.cfg.start.kind == startTime:
			off = byTime[tp]
			if off < 0 {
				off = latest[tp]
			}
		default:
			c, ok := committed[tp]
			switch {
			case ok:
				off = c
			case s.cfg.reset == ResetLatest:
				off = latest[tp]
			case s.cfg.reset == ResetError:
				missing = append(missing, tp)
				continue
			default:
				off = earliest[tp]
			}
		}
		out[tp] = min(max(off, earliest[tp]), latest[tp])
	}
	if len(missing) > 0 {
		return nil, &NoOffsetError{Group: s.cfg.group, Partitions: missing}
	}
	return out, nil
}

// listOffsets asks partition leaders for an offset by timestamp (-2 log
// start, -1 end, else the first offset at or after the millisecond).
func listOffsets(ctx context.Context, cl *kgo.Client, tps []TopicPartition, ts int64, committed bool) (map[TopicPartition]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	if committed {
		req.IsolationLevel = 1
	}
	seen := make(map[string]bool)
	for _, tp := range tps {
		if seen[tp.Topic] {
			continue
		}
		seen[tp.Topic] = true
		t := kmsg.NewListOffsetsRequestTopic()
		t.Topic = tp.Topic
		for _, tp2 := range tps {
			if tp2.Topic == tp.Topic {
				p := kmsg.NewListOffsetsRequestTopicPartition()
				p.Partition = tp2.Partition
				p.Timestamp = ts
				p.CurrentLeaderEpoch = -1
				t.Partitions = append(t.Partitions, p)
			}
		}
		req.Topics = append(req.Topics, t)
	}
	out := make(map[TopicPartition]int64, len(tps))
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			return nil, fmt.Errorf("runtime: listing offsets: %w", shard.Err)
		}
		resp := shard.Resp.(*kmsg.ListOffsetsResponse)
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return nil, &FetchError{Topic: t.Topic, Partition: p.Partition, Offset: ts, Err: err}
				}
				out[TopicPartition{t.Topic, p.Partition}] = p.Offset
			}
		}
	}
	for _, tp := range tps {
		if _, ok := out[tp]; !ok {
			return nil, &FetchError{Topic: tp.Topic, Partition: tp.Partition, Offset: ts, Err: errors.New("no offset in ListOffsets response")}
		}
	}
	return out, nil
}

// fill lets a pending rebalance through, then takes fetched records into
// the partition buffers until deadline. When it returns, rebalances are
// blocked again until the next fill, so the batch cut next sees a stable
// assignment.
func (s *source) fill(ctx context.Context, deadline time.Time) error {
	if s.cl == nil {
		return nil
	}
	s.cl.AllowRebalance()
	for {
		// A deadline already past still drains what kgo has buffered:
		// PollFetches takes buffered fetches before looking at ctx.
		d := deadline
		if min1 := time.Now().Add(time.Millisecond); d.Before(min1) {
			d = min1
		}
		pctx, cancel := context.WithDeadline(ctx, d)
		var fs kgo.Fetches
		if s.awaitDecode(pctx) == nil {
			fs = s.cl.PollFetches(pctx)
		}
		cancel()
		if err := s.absorb(fs); err != nil {
			return err
		}
		s.mu.Lock()
		err := s.fatal
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			return nil
		}
	}
}

// decodeAhead is how many bytes of fetched records may wait for the pool
// to decode them before polling waits. Fetching is several times faster
// than decoding, so without it a backlog is fetched whole while the
// workers fall behind: the raw records, then their decoded form, pile up
// in the heap (a gigabyte for 600k Impressions) and the time goes to
// faulting in and collecting memory, not to decoding. A few fetches' worth
// keeps every worker busy while kgo fetches the next response.
const decodeAhead = 8 << 20

// awaitDecode waits until the records being decoded are below decodeAhead.
// It returns ctx's error once ctx is done, so a polling loop conditioned
// on it ends.
func (s *source) awaitDecode(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for s.undecoded.Load() >= decodeAhead {
		select {
		case <-s.decoded:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// chunkRecords caps a chunk: a fetch brings thousands of records per
// partition, and decoding them as one task would make cutBatch, which
// takes only decoded chunks, see them in coarse steps, and leave workers
// idle at the end of a fetch while one still decodes a long chunk.
const chunkRecords = 512

// pauseAt is the buffered-records count at which a partition's fetching
// pauses: two batches' worth, so the next batch never waits on a fetch,
// and no more. A batch takes at most maxMessages records of a partition
// (rate.go): MaxRatePerPartition·interval, and with backpressure the
// estimated rate (records/s across all partitions, an upper bound on any
// one partition's share) times the interval. 0 when neither bounds a
// batch: then nothing bounds the buffers.
func (s *source) pauseAt() int64 {
	c := &s.e.cfg
	perSec := float64(c.maxRate)
	if r := s.e.limitRate(); r > 0 && (perSec <= 0 || r < perSec) {
		perSec = max(r, float64(c.minRate))
	}
	if perSec <= 0 {
		return 0
	}
	return 2 * max(int64(perSec*c.interval.Seconds()), 1)
}

func (s *source) absorb(fs kgo.Fetches) error {
	var (
		pause map[string][]int32
		jobs  []*chunk
	)
	defer func() { // after the unlock below
		if pause != nil {
			s.cl.PauseFetchPartitions(pause)
		}
		for _, c := range jobs {
			s.undecoded.Add(c.size)
			s.e.pool.submitDecode(func() {
				s.decode(c)
				close(c.done)
				if s.undecoded.Add(-c.size) < decodeAhead {
					select {
					case s.decoded <- struct{}{}:
					default:
					}
				}
			})
		}
	}()
	bound := s.pauseAt()
	s.mu.Lock()
	defer s.mu.Unlock()
	var ferr error
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		tp := TopicPartition{fp.Topic, fp.Partition}
		st := s.parts[tp]
		if fp.Err != nil {
			if ferr != nil || errors.Is(fp.Err, context.Canceled) || errors.Is(fp.Err, context.DeadlineExceeded) ||
				errors.Is(fp.Err, kgo.ErrClientClosed) || kerr.IsRetriable(fp.Err) {
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
		if len(st.buf) > n && s.decode != nil && s.e.pool != nil {
			for lo := n; lo < len(st.buf); lo += chunkRecords {
				hi := min(lo+chunkRecords, len(st.buf))
				c := &chunk{raw: st.buf[lo:hi:hi], done: make(chan struct{}), bad: -1}
				for _, r := range c.raw {
					c.size += int64(len(r.Key) + len(r.Value))
				}
				st.chunks = append(st.chunks, c)
				jobs = append(jobs, c)
			}
		}
		if bound > 0 && !st.paused && int64(len(st.buf)) >= bound {
			st.paused = true
			pause = addTP(pause, tp)
		}
	})
	return ferr
}

// cut is one source's share of a batch, still raw.
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
// has been fetched and decoded (decodedUntil). Partitions absorb paused are
// resumed once the cut drained them below the bound.
func (s *source) cutBatch(rate float64) cut {
	c := &s.e.cfg
	s.mu.Lock()
	defer s.mu.Unlock()
	tps := make([]TopicPartition, 0, len(s.parts))
	lag := make(map[TopicPartition]int64, len(s.parts))
	for tp, st := range s.parts {
		tps = append(tps, tp)
		lag[tp] = st.fetched - st.next
	}
	slices.SortFunc(tps, func(a, b TopicPartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	limits := maxMessagesPerPartition(lag, rate, c.maxRate, c.minRate, c.interval)
	bound := s.pauseAt()
	out := cut{ranges: make([]OffsetRange, len(tps)), recs: make([][]*kgo.Record, len(tps)), slots: make([]int, len(tps)), pieces: make([][]piece, len(tps))}
	var resume map[string][]int32
	for i, tp := range tps {
		st := s.parts[tp]
		until := min(st.fetched, st.decodedUntil())
		if lim, ok := limits[tp]; ok {
			until = min(until, st.next+lim)
		}
		n, _ := slices.BinarySearchFunc(st.buf, until, func(r *kgo.Record, off int64) int { return cmp.Compare(r.Offset, off) })
		out.ranges[i] = OffsetRange{Topic: tp.Topic, Partition: tp.Partition, FromOffset: st.next, UntilOffset: until}
		out.recs[i] = st.buf[:n:n]
		out.slots[i] = st.slot
		st.buf = slices.Clip(st.buf[n:])
		st.next = until
		out.pieces[i] = st.takePieces(n)
		if st.paused && int64(len(st.buf)) < bound {
			st.paused = false
			resume = addTP(resume, tp)
		}
	}
	if s.cl != nil && resume != nil {
		s.cl.ResumeFetchPartitions(resume)
	}
	return out
}

func addTP(m map[string][]int32, tp TopicPartition) map[string][]int32 {
	if m == nil {
		m = make(map[string][]int32)
	}
	m[tp.Topic] = append(m[tp.Topic], tp.Partition)
	return m
}

// commit stores ranges' until offsets as the group's position, highest
// until per partition winning.
func (s *source) commit(ctx context.Context, ranges []OffsetRange) error {
	offs := make(map[string]map[int32]kgo.EpochOffset)
	for _, r := range ranges {
		if offs[r.Topic] == nil {
			offs[r.Topic] = make(map[int32]kgo.EpochOffset)
		}
		if cur, ok := offs[r.Topic][r.Partition]; !ok || r.UntilOffset > cur.Offset {
			offs[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: -1, Offset: r.UntilOffset}
		}
	}
	if len(offs) == 0 {
		return nil
	}
	if s.cfg.group == "" {
		return fmt.Errorf("runtime: stream %s has no group to commit %v to", s.name, ranges)
	}
	var resp *kmsg.OffsetCommitResponse
	var err error
	if s.cs.kind != kindAssign {
		// kgo fills in member id, generation (or KIP-848 epoch) and
		// instance id, and fences commits from a stale generation.
		s.cl.CommitOffsetsSync(ctx, offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, r *kmsg.OffsetCommitResponse, e error) {
			resp, err = r, e
		})
	} else {
		resp, err = commitRaw(ctx, s.cl, s.cfg.group, offs)
	}
	if err == nil && resp == nil {
		err = errors.New("commit was not issued (not a group member?)")
	}
	if err != nil {
		return &CommitError{Range: ranges[0], Err: err}
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				r := OffsetRange{Topic: t.Topic, Partition: p.Partition, UntilOffset: offs[t.Topic][p.Partition].Offset}
				for _, rr := range ranges {
					if rr.Topic == r.Topic && rr.Partition == r.Partition && rr.UntilOffset == r.UntilOffset {
						r = rr
					}
				}
				return &CommitError{Range: r, Err: err}
			}
		}
	}
	return nil
}

// commitRaw commits outside group membership (generation -1), as an Assign
// stream does. OffsetCommit v10+ names topics by id only, so ids are looked
// up first; without them the broker would answer UNKNOWN_TOPIC_ID.
func commitRaw(ctx context.Context, cl *kgo.Client, group string, offs map[string]map[int32]kgo.EpochOffset) (*kmsg.OffsetCommitResponse, error) {
	meta := kmsg.NewPtrMetadataRequest()
	for t := range offs {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(t)
		meta.Topics = append(meta.Topics, mt)
	}
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	ids := make(map[string][16]byte)
	for _, t := range mresp.Topics {
		if t.Topic != nil {
			ids[*t.Topic] = t.TopicID
		}
	}
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = group
	req.Generation = -1
	for t, ps := range offs {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = t
		rt.TopicID = ids[t]
		for p, eo := range ps {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition = p
			rp.Offset = eo.Offset
			rp.LeaderEpoch = -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	for i := range resp.Topics {
		// v10+ answers with ids; give callers names back.
		if resp.Topics[i].Topic == "" {
			for name, id := range ids {
				if id == resp.Topics[i].TopicID {
					resp.Topics[i].Topic = name
				}
			}
		}
	}
	return resp, nil
}

// leaders maps partitions to their leader broker for PreferBrokers; other
// strategies skip the metadata request. A failed lookup leaves partitions
// placed consistently rather than failing the stream.
func (s *source) leaders(ctx context.Context, cl *kgo.Client, tps []TopicPartition) map[TopicPartition]int32 {
	if s.cfg.location.kind != locBrokers || len(tps) == 0 {
		return nil
	}
	req := kmsg.NewPtrMetadataRequest()
	seen := make(map[string]bool)
	for _, tp := range tps {
		if !seen[tp.Topic] {
			seen[tp.Topic] = true
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr(tp.Topic)
			req.Topics = append(req.Topics, mt)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil
	}
	out := make(map[TopicPartition]int32)
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		for _, p := range t.Partitions {
			out[TopicPartition{*t.Topic, p.Partition}] = p.Leader
		}
	}
	return out
}

// decodedUntil is the offset before which every buffered record has been
// decoded: the first record of the first chunk still on the pool, or
// MaxInt64 when none is. A batch takes only decoded records, so it never
// waits on decoding and the rest roll into the next batch. Fetching runs
// ahead of decoding (a fetch response holds tens of megabytes and arrives
// in milliseconds); cutting at what was fetched instead made a batch of
// everything fetched, whose processing then waited for all of it to be
// decoded while the next batch's records were fetched and decoded too, so
// a backlog was held decoded in memory twice over and the GC marked it
// again and again (BENCHMARKS-engine.md).
func (st *partState) decodedUntil() int64 {
	at := st.chunkAt
	for _, c := range st.chunks {
		select {
		case <-c.done:
		default:
			return c.raw[at].Offset
		}
		at = 0
	}
	return math.MaxInt64
}

// takePieces takes the next n records from the chunks, which hold buf's
// records in the same order. It returns nil when the chunks do not cover
// them (records absorbed before a decoder was set).
func (st *partState) takePieces(n int) []piece {
	var ps []piece
	for n > 0 && len(st.chunks) > 0 {
		c := st.chunks[0]
		take := min(n, len(c.raw)-st.chunkAt)
		ps = append(ps, piece{c: c, lo: st.chunkAt, hi: st.chunkAt + take})
		n -= take
		st.chunkAt += take
		if st.chunkAt == len(c.raw) {
			st.chunks[0] = nil
			st.chunks = st.chunks[1:]
			st.chunkAt = 0
		}
	}
	if n > 0 {
		return nil
	}
	return ps
}
