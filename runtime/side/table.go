// Package side gives a job data it reads beside its streams, typed, and
// swapped only between batches so a handler sees one state of each for
// its whole batch:
//
//   - Table, a lookup table read from a compacted topic (the warehouse
//     ETL's campaign names), the way Kafka Streams has a GlobalKTable;
//   - Value, a value loaded again on a schedule (the anomaly detector's
//     batch-computed model), the way Spark has a broadcast variable.
//
// Both are runtime.SideInput: give them to the engine with
// runtime.WithSideInputs, and read them from handlers.
package side

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/internal/backoff"
	"github.com/streamgen/streamgen/runtime"
)

// TableOpt configures a Table.
type TableOpt func(*tableCfg)

type tableCfg struct {
	maxEntries, maxBytes int64
	catchUp              time.Duration
	skipBad              bool
}

// MaxEntries bounds the table's entries: a table that would hold more
// fails the start (while catching up) or the job (between batches), with
// an error naming it. Zero, the default, is no bound; without one a topic
// that grows without end grows the job's memory with it.
func MaxEntries(n int64) TableOpt { return func(c *tableCfg) { c.maxEntries = n } }

// MaxBytes bounds the table's size, counted as the bytes of its entries'
// keys and values as they were on the topic (decoded values may take more
// or less; the table keeps two maps of them, see Table). Exceeding it
// fails like MaxEntries. Zero, the default, is no bound.
func MaxBytes(n int64) TableOpt { return func(c *tableCfg) { c.maxBytes = n } }

// CatchUpTimeout bounds how long the table may take to read its topic up
// to the high watermarks it saw at start; past it the start fails with an
// error naming the table, its topic and how far it got. Default 5m, which
// zero or less also means.
func CatchUpTimeout(d time.Duration) TableOpt {
	return func(c *tableCfg) {
		if d > 0 {
			c.catchUp = d
		}
	}
}

// SkipBadRecords leaves records whose key or value the table's decoders
// reject out of the table, logging each with its topic, partition and
// offset and counting them (SideHealth.Skipped). By default such a record
// fails the start, or the job between batches: a table missing an entry
// silently is worse than a job that stops.
func SkipBadRecords() TableOpt { return func(c *tableCfg) { c.skipBad = true } }

// Table is a lookup table read from a compacted topic: the latest value
// of each key, a record with a nil value (a tombstone) deleting its key.
//
// Every replica of the job reads every partition of the topic from its
// start, outside the job's consumer group, so each holds the whole table.
// Load returns once the table has read up to the high watermarks it saw
// when it started; the engine runs no batch before. Updates read after
// that wait until the engine's next Swap, between batches: a handler sees
// one state of the table for its whole batch.
//
// Get, Len and All take no lock and allocate nothing: the table keeps two
// maps, the one handlers read and a spare that Swap brings up to date and
// makes the one handlers read. Memory is therefore about twice the map.
// Call them from handlers (or goroutines that end with their batch), and
// only once the engine has loaded the table.
type Table[K comparable, V any] struct {
	name, topic string
	key         runtime.Decoder[K]
	val         runtime.Decoder[V]
	cfg         tableCfg
	log         *slog.Logger

	live atomic.Pointer[map[K]item[V]] // what handlers see
	// spare is the other map, owned by Swap; lag are the changes made to
	// the live map since it was last the live one.
	spare map[K]item[V]
	lag   []change[K, V]

	mu      sync.Mutex
	pending map[K]change[K, V] // read since the last Swap, the latest per key
	err     error              // ends the job (Err)
	loading string             // Unready while loading
	failing time.Time
	lastErr string

	entries, bytes, version, loadedAt atomic.Int64
	skipped, failures                 atomic.Int64
}

// item is an entry and the bytes it took on the topic.
type item[V any] struct {
	v V
	n int64
}

// change is an update read from the topic: a new value, or a deletion.
type change[K comparable, V any] struct {
	k   K
	it  item[V]
	del bool
}

// NewTable is the lookup table name (for logs, the status page and
// metrics) read from topic, its keys and values decoded by key and value.
func NewTable[K comparable, V any](name, topic string, key runtime.Decoder[K], value runtime.Decoder[V], opts ...TableOpt) *Table[K, V] {
	t := &Table[K, V]{name: name, topic: topic, key: key, val: value, cfg: tableCfg{catchUp: 5 * time.Minute}}
	for _, o := range opts {
		o(&t.cfg)
	}
	empty := map[K]item[V]{}
	t.live.Store(&empty)
	// spare stays nil until the first Swap with updates.
	t.loading = "not loaded yet"
	return t
}

// Get is the value of key k as of the batch, and whether it has one.
func (t *Table[K, V]) Get(k K) (V, bool) {
	it, ok := (*t.live.Load())[k]
	return it.v, ok
}

// Len is the number of entries as of the batch.
func (t *Table[K, V]) Len() int { return len(*t.live.Load()) }

// All is every entry as of the batch, in no particular order.
func (t *Table[K, V]) All() iter.Seq2[K, V] {
	m := *t.live.Load()
	return func(yield func(K, V) bool) {
		for k, it := range m {
			if !yield(k, it.v) {
				return
			}
		}
	}
}

// SideName implements runtime.SideInput.
func (t *Table[K, V]) SideName() string { return t.name }

// Load implements runtime.SideInput: it reads the topic up to the high
// watermarks it sees now, then keeps reading it until ctx ends.
func (t *Table[K, V]) Load(ctx context.Context, env runtime.SideEnv) error {
	t.log = env.Logger
	if t.log == nil {
		t.log = slog.Default()
	}
	t.log = t.log.With("side_input", t.name, "topic", t.topic)
	began := time.Now()
	cctx, cancel := context.WithTimeout(ctx, t.cfg.catchUp)
	defer cancel()
	// A table topic written in transactions (a job's exactly-once Kafka
	// sink) holds the records of aborted ones too: the table reads
	// committed records only, up to the last stable offset, as a
	// read_committed consumer does. Control records mark the end of
	// transactions: a partition whose last offsets are one is caught up
	// only once the table has seen it. Consuming the topic without a group
	// reads every partition from its start, and the partitions added to it
	// later too.
	cl, err := kgo.NewClient(append(slices.Clone(env.ClientOpts), kgo.KeepControlRecords(), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeTopics(t.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return fmt.Errorf("table %s: %w", t.name, err)
	}
	ends, err := t.watermarks(cctx, cl)
	if err != nil {
		cl.Close()
		return err
	}
	c := catchUp{waiting: map[int32]int64{}, parts: len(ends)}
	for p, w := range ends {
		if w[0] < w[1] { // an empty partition has nothing to wait for
			c.waiting[p] = w[1]
			c.total += w[1] - w[0]
		}
	}
	building, err := t.catchUp(ctx, cctx, cl, &c)
	if err != nil {
		cl.Close()
		return err
	}
	// The spare map is made at the first Swap with updates: a table that
	// never changes holds one map, and the bootstrap does not pay for a
	// copy.
	t.live.Store(&building)
	t.loadedAt.Store(time.Now().UnixNano())
	t.setLoading("")
	t.log.Info("side input table caught up", "records", c.read, "entries", len(building), "bytes", t.bytes.Load(), "partitions", c.parts, "took", time.Since(began).Round(time.Millisecond).String())
	go t.follow(ctx, cl)
	return nil
}

// catchUp reads the topic into a new map until every partition reached
// the end offset c waits for, ctx ends, cctx's bound passes or a record
// fails the table.
func (t *Table[K, V]) catchUp(ctx, cctx context.Context, cl *kgo.Client, c *catchUp) (map[K]item[V], error) {
	// Sized for the records to read (bounded, as a compacted topic may
	// hold many updates of few keys): growing the map as it fills costs
	// more than the rest of the bootstrap.
	building := make(map[K]item[V], min(c.total, presizeLimit))
	for len(c.waiting) > 0 {
		t.setLoading(c.String())
		fs := cl.PollFetches(cctx)
		if err := t.stopped(ctx, cctx, c); err != nil {
			return nil, err
		}
		t.fetchErrors(fs)
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			select {
			case <-cctx.Done(): // ctx's end or the bound's, in either case stop now
				return nil, t.stopped(ctx, cctx, c)
			default:
			}
			c.saw(r)
			if r.Attrs.IsControl() {
				continue
			}
			ch, ok, err := t.decode(cctx, r)
			if err != nil {
				if err := t.stopped(ctx, cctx, c); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("table %s: %w", t.name, err)
			}
			if !ok {
				continue
			}
			t.account(building, ch)
			apply(building, ch)
			if err := t.bound(); err != nil {
				return nil, err
			}
		}
	}
	return building, nil
}

// presizeLimit bounds the entries a table's map is sized for before it
// is read.
const presizeLimit = 4 << 20

// stopped is the error of a catch-up that ctx stopped or that took longer
// than CatchUpTimeout (cctx), nil if neither.
func (t *Table[K, V]) stopped(ctx, cctx context.Context, c *catchUp) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case cctx.Err() != nil:
		return fmt.Errorf("table %s: topic %s not caught up after %s: %s", t.name, t.topic, t.cfg.catchUp, c)
	}
	return nil
}

// catchUp is how far the table has read towards the high watermarks it
// saw at start.
type catchUp struct {
	waiting     map[int32]int64 // partitions not caught up: their end offset
	parts       int
	read, total int64
}

func (c *catchUp) saw(r *kgo.Record) {
	c.read++
	if end, ok := c.waiting[r.Partition]; ok && r.Offset+1 >= end {
		delete(c.waiting, r.Partition)
	}
}

func (c *catchUp) String() string {
	return fmt.Sprintf("read %d of %d records, %d of %d partitions caught up", c.read, c.total, c.parts-len(c.waiting), c.parts)
}

// watermarks lists the topic's partitions' start and last stable offsets
// (the end offsets of a topic without open transactions): what the table
// catches up with at start. A topic that does not exist fails. (A
// partition whose last record below the last stable offset belongs to a
// transaction that was aborted, and whose abort marker comes after the
// first record of a transaction still open, is caught up only once that
// transaction ends: read_committed reads no further.)
func (t *Table[K, V]) watermarks(ctx context.Context, cl *kgo.Client) (map[int32][2]int64, error) {
	adm := kadm.NewClient(cl)
	var starts, ends kadm.ListedOffsets
	err := backoff.Retry{First: 100 * time.Millisecond, Max: 5 * time.Second, Failed: func(err error, _ int) error {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return err // waiting will not create it
		}
		t.log.Warn("side input table cannot list its topic's offsets; retrying", "err", err)
		return nil
	}}.Do(ctx, func() error {
		var err error
		if starts, err = adm.ListStartOffsets(ctx, t.topic); err == nil {
			err = starts.Error()
		}
		if err == nil {
			if ends, err = adm.ListCommittedOffsets(ctx, t.topic); err == nil {
				err = ends.Error()
			}
		}
		return err
	})
	if err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("table %s: topic %s does not exist", t.name, t.topic)
		}
		return nil, fmt.Errorf("table %s: listing the offsets of topic %s: %w", t.name, t.topic, err)
	}
	out := map[int32][2]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(o.Topic, o.Partition)
		out[o.Partition] = [2]int64{s.Offset, o.Offset}
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("table %s: topic %s does not exist", t.name, t.topic)
	}
	return out, nil
}

// follow reads the topic's updates after the catch-up into pending, for
// the next Swap, until ctx ends or an update fails the table.
func (t *Table[K, V]) follow(ctx context.Context, cl *kgo.Client) {
	defer cl.Close()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		t.fetchErrors(fs)
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			if r.Attrs.IsControl() {
				continue
			}
			ch, ok, err := t.decode(ctx, r)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				t.fail(fmt.Errorf("table %s: %w", t.name, err))
				return
			}
			if ok {
				t.mu.Lock()
				if t.pending == nil {
					t.pending = map[K]change[K, V]{}
				}
				t.pending[ch.k] = ch
				t.mu.Unlock()
			}
		}
	}
}

// Swap implements runtime.SideInput: the updates read since the last Swap
// become what handlers see.
func (t *Table[K, V]) Swap() {
	t.mu.Lock()
	delta := t.pending
	t.pending = nil
	t.mu.Unlock()
	if len(delta) == 0 && len(t.lag) == 0 {
		return
	}
	if t.spare == nil { // the first Swap with updates
		t.spare = maps.Clone(*t.live.Load())
	}
	// The spare was the live map until the last Swap: no handler reads it
	// now, and it lacks what that Swap applied.
	for _, c := range t.lag {
		apply(t.spare, c)
	}
	t.lag = t.lag[:0]
	if len(delta) == 0 {
		return
	}
	for _, c := range delta {
		t.account(t.spare, c)
		apply(t.spare, c)
		t.lag = append(t.lag, c)
	}
	next, old := t.spare, t.live.Load()
	t.live.Store(&next)
	t.spare = *old
	t.version.Add(1)
	t.loadedAt.Store(time.Now().UnixNano())
	if err := t.bound(); err != nil {
		t.fail(err)
	}
}

// Err is why the table fails the job, nil while it does not: an update it
// could not decode, or a bound it passed. The engine checks it between
// batches.
func (t *Table[K, V]) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// SideHealth implements runtime.SideInput.
func (t *Table[K, V]) SideHealth() runtime.SideHealth {
	h := runtime.SideHealth{
		Name: t.name, Kind: "table",
		Entries: t.entries.Load(), Bytes: t.bytes.Load(), Version: t.version.Load(),
		Failures: t.failures.Load(), Skipped: t.skipped.Load(),
	}
	if at := t.loadedAt.Load(); at != 0 {
		h.LoadedAt = time.Unix(0, at)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	h.FailingSince, h.LastError = t.failing, t.lastErr
	switch {
	case t.err != nil:
		h.Unready = t.err.Error()
	case t.loading != "":
		h.Unready = "loading topic " + t.topic + ": " + t.loading
	}
	return h
}

func (t *Table[K, V]) setLoading(s string) {
	t.mu.Lock()
	t.loading = s
	t.mu.Unlock()
}

func (t *Table[K, V]) fail(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = err
		t.log.Error("side input table failed", "err", err)
	}
}

// fetchErrors notes the fetch's errors: kgo retries them, but the status
// page shows them and the first of a streak is logged.
func (t *Table[K, V]) fetchErrors(fs kgo.Fetches) {
	var last error
	fs.EachError(func(_ string, _ int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			last = err
			t.failures.Add(1)
		}
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case last != nil && t.failing.IsZero():
		t.failing, t.lastErr = time.Now(), last.Error()
		t.log.Warn("side input table cannot read its topic; retrying", "err", last)
	case last != nil:
		t.lastErr = last.Error()
	case !t.failing.IsZero() && !fs.Empty():
		t.log.Info("side input table reads its topic again", "failing_for", time.Since(t.failing).Round(time.Millisecond).String())
		t.failing, t.lastErr = time.Time{}, ""
	}
}

// decode is the update r makes, or ok false for a record the policy
// skips.
func (t *Table[K, V]) decode(ctx context.Context, r *kgo.Record) (ch change[K, V], ok bool, err error) {
	ch.it.n = int64(len(r.Key) + len(r.Value))
	if ch.k, err = decodeRetrying(ctx, t.key, r.Key); err != nil {
		return ch, false, t.bad(r, true, err)
	}
	if r.Value == nil {
		ch.del = true
		return ch, true, nil
	}
	if ch.it.v, err = decodeRetrying(ctx, t.val, r.Value); err != nil {
		return ch, false, t.bad(r, false, err)
	}
	return ch, true, nil
}

// bad is the error a record the decoders rejected makes, nil if the
// policy skips it.
func (t *Table[K, V]) bad(r *kgo.Record, key bool, err error) error {
	de := &runtime.DecodeError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: key, SchemaID: -1, Err: err}
	var we *runtime.WireError
	if errors.As(err, &we) {
		de.SchemaID = we.SchemaID
	}
	if !t.cfg.skipBad || ctx(err) {
		return de
	}
	t.skipped.Add(1)
	t.log.Warn("side input table skipped a record it cannot decode", "err", de)
	return nil
}

func ctx(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// decodeRetrying decodes b, trying again while d fails for a cause that
// may pass (runtime.ErrTransient: the schema registry not answering).
func decodeRetrying[T any](ctx context.Context, d runtime.Decoder[T], b []byte) (T, error) {
	v, err := d(ctx, b)
	if err == nil || !errors.Is(err, runtime.ErrTransient) {
		return v, err // the common case, without the retry's closure
	}
	err = backoff.Retry{First: 100 * time.Millisecond, Max: 5 * time.Second, Failed: func(err error, _ int) error {
		if errors.Is(err, runtime.ErrTransient) {
			return nil
		}
		return err
	}}.Do(ctx, func() (err error) {
		v, err = d(ctx, b)
		return err
	})
	return v, err
}

// account counts what applying c to m changes in entries and bytes.
func (t *Table[K, V]) account(m map[K]item[V], c change[K, V]) {
	old, had := m[c.k]
	switch {
	case c.del && had:
		t.entries.Add(-1)
		t.bytes.Add(-old.n)
	case c.del:
	case had:
		t.bytes.Add(c.it.n - old.n)
	default:
		t.entries.Add(1)
		t.bytes.Add(c.it.n)
	}
}

func apply[K comparable, V any](m map[K]item[V], c change[K, V]) {
	if c.del {
		delete(m, c.k)
	} else {
		m[c.k] = c.it
	}
}

// bound is the error of a table past MaxEntries or MaxBytes.
func (t *Table[K, V]) bound() error {
	if n := t.entries.Load(); t.cfg.maxEntries > 0 && n > t.cfg.maxEntries {
		return fmt.Errorf("table %s (topic %s): %d entries exceed MaxEntries %d", t.name, t.topic, n, t.cfg.maxEntries)
	}
	if n := t.bytes.Load(); t.cfg.maxBytes > 0 && n > t.cfg.maxBytes {
		return fmt.Errorf("table %s (topic %s): %d bytes exceed MaxBytes %d", t.name, t.topic, n, t.cfg.maxBytes)
	}
	return nil
}
