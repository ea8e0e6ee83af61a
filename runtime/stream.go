package runtime

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Decoder turns a record's key or value bytes into T. The position is given
// so a decoder can name it in its error; the engine wraps every decode
// failure in a *DecodeError anyway. Decoders run concurrently on the
// worker pool and must not keep b, which the client may reuse.
type Decoder[T any] func(topic string, partition int32, offset int64, b []byte) (T, error)

// DecoderInto is a Decoder that decodes in place, into *dst, which holds
// T's zero value: the record's own field, so a large T is not copied
// after decoding. Generated record types decode this way
// (ConfluentAvroInto, RawAvroInto).
type DecoderInto[T any] func(dst *T, topic string, partition int32, offset int64, b []byte) error

// Into adapts d to decode into its destination; nil stays nil.
func Into[T any](d Decoder[T]) DecoderInto[T] {
	if d == nil {
		return nil
	}
	return func(dst *T, topic string, partition int32, offset int64, b []byte) error {
		v, err := d(topic, partition, offset, b)
		*dst = v
		return err
	}
}

// Decoder adapts d to return the value it decodes; nil stays nil.
func (d DecoderInto[T]) Decoder() Decoder[T] {
	if d == nil {
		return nil
	}
	return func(topic string, partition int32, offset int64, b []byte) (T, error) {
		var v T
		err := d(&v, topic, partition, offset, b)
		return v, err
	}
}

// BytesDecoder passes the bytes through as a copy.
func BytesDecoder(_ string, _ int32, _ int64, b []byte) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	return append([]byte(nil), b...), nil
}

// StringDecoder decodes UTF-8 (unchecked) bytes as a string.
func StringDecoder(_ string, _ int32, _ int64, b []byte) (string, error) { return string(b), nil }

// Stream is one typed input of an engine: a consumer strategy, a group and
// the decoders of its keys and values.
type Stream[K, V any] struct {
	src   *source
	key   DecoderInto[K]
	value DecoderInto[V]
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
		return nil, err
	}
	s := &Stream[K, V]{src: src, key: key, value: value}
	src.decode = func(c *chunk) {
		recs, skipped, bad, err := s.decodePrefix(c.raw)
		c.out, c.skipped, c.bad, c.err = recs, skipped, bad, err
	}
	e.streams = append(e.streams, s)
	return s, nil
}

// Name is the stream's name.
func (s *Stream[K, V]) Name() string { return s.src.name }

// Batch returns this stream's share of b, an empty batch if it has none.
func (s *Stream[K, V]) Batch(b *Batches) *Batch[K, V] {
	if v, ok := b.byStream[s.src].(*Batch[K, V]); ok {
		return v
	}
	return &Batch[K, V]{time: b.time, id: b.id}
}

// CommitAsync queues ranges for commit to the stream's group (Spark's
// CanCommitOffsets.commitAsync): the highest UntilOffset per partition
// wins, the commit is sent after the current batch's handler returns, and
// callback (which may be nil) gets what was committed and the error.
func (s *Stream[K, V]) CommitAsync(ranges []OffsetRange, callback func(committed []OffsetRange, err error)) {
	s.src.mu.Lock()
	defer s.src.mu.Unlock()
	if s.src.pending == nil {
		s.src.pending = make(map[TopicPartition]int64)
	}
	for _, r := range ranges {
		tp := r.TopicPartition()
		if cur, ok := s.src.pending[tp]; !ok || r.UntilOffset > cur {
			s.src.pending[tp] = r.UntilOffset
		}
	}
	s.src.callback = append(s.src.callback, callback)
}

func (s *Stream[K, V]) source() *source { return s.src }

// build decodes a cut on the worker pool, one task per partition on the
// partition's worker, so decoding scales with cores.
func (s *Stream[K, V]) build(ctx context.Context, p *pool, bs *Batches, c cut) error {
	b := &Batch[K, V]{
		time:   bs.time,
		id:     bs.id,
		ranges: c.ranges,
		parts:  make([]Partition[K, V], len(c.ranges)),
		pool:   p,
		retry:  retryPolicy{maxFailures: s.src.e.cfg.maxTaskFailures, backoff: s.src.e.cfg.taskBackoff},
	}
	b.reread = func(i int) (Partition[K, V], error) {
		recs, _, err := s.decode(c.recs[i])
		return Partition[K, V]{rng: c.ranges[i], recs: recs, slot: c.slots[i]}, err
	}
	// The records the DecodePolicy leaves out, per partition; a task's
	// retry (reread) finds the same ones again and does not count them.
	skipped := make([][]badRecord, len(c.ranges))
	// Most records were decoded on the pool while they were being
	// fetched; what is left is waiting for the last chunks and slicing.
	var rest []int
	for i, ps := range c.pieces {
		if ps == nil && len(c.recs[i]) > 0 {
			rest = append(rest, i)
			continue
		}
		recs, bad, err := assemble[K, V](ctx, ps)
		if err != nil {
			return err
		}
		skipped[i] = bad
		b.parts[i] = Partition[K, V]{rng: c.ranges[i], recs: recs, slot: c.slots[i]}
	}
	for i := range c.ranges {
		if c.pieces[i] == nil && len(c.recs[i]) == 0 {
			b.parts[i] = Partition[K, V]{rng: c.ranges[i], slot: c.slots[i]}
		}
	}
	err := p.run(ctx, len(rest), func(j int) int { return c.slots[rest[j]] }, func(_ context.Context, j int) error {
		i := rest[j]
		recs, bad, err := s.decode(c.recs[i])
		b.parts[i] = Partition[K, V]{rng: c.ranges[i], recs: recs, slot: c.slots[i]}
		skipped[i] = bad
		return err
	})
	if err != nil {
		return err
	}
	for _, bad := range skipped {
		s.src.pendingBad = append(s.src.pendingBad, bad...)
	}
	bs.byStream[s.src] = b
	return nil
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

// decode decodes a partition's records: those decoded and those the
// DecodePolicy left out, or the first failure.
func (s *Stream[K, V]) decode(raw []*kgo.Record) ([]*Record[K, V], []badRecord, error) {
	recs, skipped, _, err := s.decodePrefix(raw)
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
func (s *Stream[K, V]) decodePrefix(raw []*kgo.Record) (out []*Record[K, V], skipped []badRecord, bad int, _ error) {
	policy := s.src.cfg.onBad
	vals := make([]Record[K, V], len(raw))
	out = make([]*Record[K, V], len(raw))
	for i, r := range raw {
		d := &vals[i]
		d.Topic, d.Partition, d.Offset, d.Timestamp = r.Topic, r.Partition, r.Offset, r.Timestamp
		if len(r.Headers) > 0 {
			d.Headers = make([]Header, len(r.Headers))
			for j, h := range r.Headers {
				d.Headers[j] = Header{Key: h.Key, Value: h.Value}
			}
		}
		var err error
		key := false
		if s.key != nil {
			err = s.key(&d.Key, r.Topic, r.Partition, r.Offset, r.Key)
			key = err != nil
		}
		if err == nil && s.value != nil {
			err = s.value(&d.Value, r.Topic, r.Partition, r.Offset, r.Value)
		}
		if err != nil {
			de := newDecodeError(r, key, err)
			if !policy.skippable(err) {
				return out[:i], skipped, i, de
			}
			skipped = append(skipped, badRecord{raw: r, err: de})
			continue
		}
		out[i] = d
	}
	return out, skipped, -1, nil
}
