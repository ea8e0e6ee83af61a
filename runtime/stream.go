package runtime

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This file owns Stream, a typed stream of the engine: its decoders, its
// batches and CommitAsync.

// Decoder turns a record's key or value bytes into T. Decoders run
// concurrently and must not keep b, which the client may reuse. ctx ends
// when the job stops: a decoder that waits (on a schema registry) must
// return then. The engine wraps every failure in a *DecodeError naming
// topic, partition and offset, so a decoder need not.
type Decoder[T any] func(ctx context.Context, b []byte) (T, error)

// DecoderInto is a Decoder that decodes in place, into *dst, which holds
// T's zero value: the record's own field, so a large T is not copied
// after decoding. Generated record types decode this way
// (ConfluentAvroInto, RawAvroInto).
type DecoderInto[T any] func(ctx context.Context, dst *T, b []byte) error

// Into adapts d to decode into its destination; nil stays nil.
func Into[T any](d Decoder[T]) DecoderInto[T] {
	if d == nil {
		return nil
	}
	return func(ctx context.Context, dst *T, b []byte) error {
		v, err := d(ctx, b)
		*dst = v
		return err
	}
}

// Decoder adapts d to return the value it decodes; nil stays nil.
func (d DecoderInto[T]) Decoder() Decoder[T] {
	if d == nil {
		return nil
	}
	return func(ctx context.Context, b []byte) (T, error) {
		var v T
		err := d(ctx, &v, b)
		return v, err
	}
}

// BytesDecoder passes the bytes through as a copy.
func BytesDecoder(_ context.Context, b []byte) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	return append([]byte(nil), b...), nil
}

// StringDecoder decodes UTF-8 (unchecked) bytes as a string.
func StringDecoder(_ context.Context, b []byte) (string, error) { return string(b), nil }

// StringDecoderInto is StringDecoder decoding in place, with the string
// copied into the memory the engine shares among a chunk's strings (one
// allocation per block of records, not one per record), when it decodes
// a chunk; what generated jobs use for string keys.
func StringDecoderInto(ctx context.Context, dst *string, b []byte) error {
	if sh, _ := ctx.Value(sharedKey{}).(*shared); sh != nil {
		*dst = sh.strs.String(b)
		return nil
	}
	*dst = string(b)
	return nil
}

// Stream is one typed input of an engine: a consumer strategy and the
// decoders of its keys and values.
type Stream[K, V any] struct {
	src   *source
	key   DecoderInto[K]
	value DecoderInto[V]
	// free holds the records of chunks whose batches are over, for
	// later chunks to be decoded into: at most as many as were ever
	// decoded and not yet recycled at once, which the engine's memory
	// bound bounds. (A sync.Pool drops what two garbage collections
	// find in it, and a batch lasts longer than that.)
	freeMu sync.Mutex
	free   []*decoded[K, V]
}

// decoded is the memory a chunk's records are decoded into: the records,
// the pointers a batch's partitions hold, and the blocks their strings
// are copied to. A chunk's decoded is recycled (source.recycle) when the
// batch that took its last records is over, and the next chunk decoded
// into it reuses the records' own memory too (their slices, maps and
// pointed-to values: generated decoders decode in place), so that a
// stream in a steady state allocates nothing per record. shared is the
// memory the chunk's values are decoded with (their strings' blocks).
type decoded[K, V any] struct {
	vals   []Record[K, V]
	out    []*Record[K, V]
	shared shared
}

// NewStream adds a stream to e. A nil key or value decoder leaves that
// field at its zero value, skipping the work.
func NewStream[K, V any](e *Engine, name string, cs ConsumerStrategy, key Decoder[K], value Decoder[V], opts ...StreamOpt) (*Stream[K, V], error) {
	return NewStreamInto(e, name, cs, Into(key), Into(value), opts...)
}

// NewStreamInto is NewStream with decoders that decode in place.
func NewStreamInto[K, V any](e *Engine, name string, cs ConsumerStrategy, key DecoderInto[K], value DecoderInto[V], opts ...StreamOpt) (*Stream[K, V], error) {
	src, err := e.addSource(name, cs, opts)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	s := &Stream[K, V]{src: src, key: key, value: value}
	src.decode = func(ctx context.Context, c *chunk) {
		into := s.takeFree()
		recs, skipped, bad, err := s.decodePrefix(ctx, c.raw, into)
		c.out, c.skipped, c.bad, c.err = recs, skipped, bad, err
		c.store = into
	}
	src.recycle = func(c *chunk) {
		if into, ok := c.store.(*decoded[K, V]); ok {
			c.store, c.out = nil, nil
			// Headers alias the fetched records' memory, which a
			// recycled record must not keep alive; their arrays stay.
			for i := range into.vals {
				clear(into.vals[i].Headers[:cap(into.vals[i].Headers)])
			}
			s.freeMu.Lock()
			s.free = append(s.free, into)
			s.freeMu.Unlock()
		}
	}
	e.streams = append(e.streams, s)
	return s, nil
}

// takeFree returns recycled records to decode a chunk into, or new ones.
func (s *Stream[K, V]) takeFree() *decoded[K, V] {
	s.freeMu.Lock()
	defer s.freeMu.Unlock()
	n := len(s.free)
	if n == 0 {
		return new(decoded[K, V])
	}
	into := s.free[n-1]
	s.free[n-1] = nil
	s.free = s.free[:n-1]
	return into
}

// Name is the stream's name.
func (s *Stream[K, V]) Name() string { return s.src.name }

// Batch returns this stream's share of b, an empty batch if it has none.
func (s *Stream[K, V]) Batch(b *JobBatch) *Batch[K, V] {
	if s.src.idx < len(b.byStream) {
		if v, ok := b.byStream[s.src.idx].(*Batch[K, V]); ok {
			return v
		}
	}
	return &Batch[K, V]{time: b.time, id: b.id}
}

// CommitAsync queues ranges for the job's offset store (Spark's
// CanCommitOffsets.commitAsync): the highest UntilOffset per partition
// wins, they are stored after the current batch's steps, and callback
// (which may be nil) gets what was stored and the error. With ManualCommit
// it is how a handler stores its offsets.
func (s *Stream[K, V]) CommitAsync(ranges []OffsetRange, callback func(committed []OffsetRange, err error)) {
	s.src.commits.add(ranges, callback)
}

func (s *Stream[K, V]) source() *source { return s.src }

// build assembles the stream's share of a batch from its cut: records
// decoded while they were fetched, and the rest decoded now on the worker
// pool, one task per partition on the partition's worker. It returns the
// records the DecodePolicy left out; a task's retry (reread) finds the
// same ones again and does not count them.
func (s *Stream[K, V]) build(ctx context.Context, p *pool, bs *JobBatch, c cut) (any, []badRecord, error) {
	b := &Batch[K, V]{
		time:   bs.time,
		id:     bs.id,
		ranges: c.ranges,
		parts:  make([]Partition[K, V], len(c.ranges)),
		pool:   p,
		retry:  s.src.tasks,
	}
	b.reread = func(ctx context.Context, i int) (Partition[K, V], error) {
		recs, _, err := s.decode(ctx, c.recs[i])
		return Partition[K, V]{rng: c.ranges[i], recs: recs, slot: c.slots[i]}, err
	}
	skipped := make([][]badRecord, len(c.ranges))
	var rest []int
	for i, ps := range c.pieces {
		switch {
		case ps == nil && len(c.recs[i]) > 0:
			rest = append(rest, i)
			continue
		case ps == nil:
			b.parts[i] = Partition[K, V]{rng: c.ranges[i], slot: c.slots[i]}
			continue
		}
		recs, bad, err := assemble[K, V](ctx, ps)
		if err != nil {
			return nil, nil, err
		}
		skipped[i] = bad
		b.parts[i] = Partition[K, V]{rng: c.ranges[i], recs: recs, slot: c.slots[i]}
	}
	err := p.run(ctx, len(rest), func(j int) int { return c.slots[rest[j]] }, func(ctx context.Context, j int) error {
		i := rest[j]
		recs, bad, err := s.decode(ctx, c.recs[i])
		b.parts[i] = Partition[K, V]{rng: c.ranges[i], recs: recs, slot: c.slots[i]}
		skipped[i] = bad
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return b, slices.Concat(skipped...), nil
}

// chunk is one fetch's records of one partition and, once done is closed,
// their decoded form: out (the stream's []*Record[K, V]) holds the records
// before bad, the first record that failed with err (bad is -1 if none).
type chunk struct {
	src  *source
	raw  []*kgo.Record
	size int64 // bytes of raw's keys and values, for decodeAhead
	done chan struct{}
	out  any
	// store is the memory out's records are in (the stream's
	// *decoded[K, V]), recycled after the chunk's last batch.
	store any
	bad   int
	// skipped are the records the stream's DecodePolicy left out, in
	// order; their entries in out are nil.
	skipped []badRecord
	err     error
}

// piece is the part [lo, hi) of a chunk that falls into one batch; last
// when it is the chunk's last part, so that the chunk's records can be
// recycled once that batch is over.
type piece struct {
	c      *chunk
	lo, hi int
	last   bool
}

// assemble joins a partition's pieces of eagerly decoded chunks, leaving
// out the records the DecodePolicy skipped, which it returns.
func assemble[K, V any](ctx context.Context, ps []piece) ([]*Record[K, V], []badRecord, error) {
	var out []*Record[K, V]
	var bad []badRecord
	for _, p := range ps {
		select {
		case <-p.c.done:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if p.c.bad >= 0 && p.c.bad < p.hi {
			return nil, nil, p.c.err
		}
		recs := p.c.out.([]*Record[K, V])[p.lo:p.hi:p.hi]
		if n := len(bad); len(p.c.skipped) > 0 && p.hi > p.lo {
			lo, hi := p.c.raw[p.lo].Offset, p.c.raw[p.hi-1].Offset
			for _, sk := range p.c.skipped {
				if o := sk.raw.Offset; o >= lo && o <= hi {
					bad = append(bad, sk)
				}
			}
			if len(bad) > n {
				recs = slices.DeleteFunc(slices.Clone(recs), func(r *Record[K, V]) bool { return r == nil })
			}
		}
		if len(ps) == 1 {
			return recs, bad, nil
		}
		out = append(out, recs...)
	}
	return out, bad, nil
}

// decodedUntil is the offset before which every buffered record has been
// decoded: the first record of the first chunk not decoded yet, or
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
		ps = append(ps, piece{c: c, lo: st.chunkAt, hi: st.chunkAt + take, last: st.chunkAt+take == len(c.raw)})
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

// decode decodes a partition's records: those decoded and those the
// DecodePolicy left out, or the first failure.
func (s *Stream[K, V]) decode(ctx context.Context, raw []*kgo.Record) ([]*Record[K, V], []badRecord, error) {
	recs, skipped, _, err := s.decodePrefix(ctx, raw, new(decoded[K, V]))
	if len(skipped) > 0 {
		recs = slices.DeleteFunc(recs, func(r *Record[K, V]) bool { return r == nil })
	}
	return recs, skipped, err
}

// decodePrefix decodes raw up to the first failure, returning the records
// before it, its index (-1 if none) and its *DecodeError. A bad record fails
// only the batch it falls in, not the batches before it. Records the
// stream's DecodePolicy leaves out are returned in skipped, with nil in
// their place among the records.
//
// The records are into's, decoded in place: a recycled into's records
// still hold an earlier batch's values, whose memory the decoders reuse.
// Values' strings are copied into into's blocks (shared).
func (s *Stream[K, V]) decodePrefix(ctx context.Context, raw []*kgo.Record, into *decoded[K, V]) (out []*Record[K, V], skipped []badRecord, bad int, _ error) {
	policy := s.src.cfg.onBad
	if cap(into.vals) < len(raw) {
		// Grown, the records decoded before keep their memory (maps,
		// slices) for the values decoded into them now: chunks come in
		// sizes, and a recycled container a record short must not cost
		// every record's maps again.
		vals := make([]Record[K, V], len(raw))
		copy(vals, into.vals[:cap(into.vals)])
		into.vals = vals
		into.out = make([]*Record[K, V], len(raw))
	}
	vals, out := into.vals[:len(raw)], into.out[:len(raw)]
	clear(out)
	ctx = withShared(ctx, &into.shared)
	// The Decoder's input is a fetched record's, not to be kept alive
	// by into while it waits to be recycled.
	defer into.shared.d.Reset(nil)
	for i, r := range raw {
		d := &vals[i]
		d.Topic, d.Partition, d.Offset, d.Timestamp = r.Topic, r.Partition, r.Offset, r.Timestamp
		d.Headers = d.Headers[:0]
		if len(r.Headers) == 0 {
			d.Headers = nil
		}
		for _, h := range r.Headers {
			d.Headers = append(d.Headers, Header{Key: h.Key, Value: h.Value})
		}
		var err error
		key := false
		if s.key != nil {
			err = s.key(ctx, &d.Key, r.Key)
			key = err != nil
		} else {
			var zero K
			d.Key = zero // a recycled record's, if a handler set it
		}
		switch {
		case err == nil && s.value != nil:
			err = s.value(ctx, &d.Value, r.Value)
		case s.value == nil:
			var zero V
			d.Value = zero
		}
		if err != nil {
			de := newDecodeError(r, key, err)
			if !skippable(policy, err) {
				de.Fails = !transient(err)
				return out[:i], skipped, i, de
			}
			skipped = append(skipped, badRecord{raw: r, err: de})
			continue
		}
		out[i] = d
	}
	return out, skipped, -1, nil
}
