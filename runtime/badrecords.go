package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/runtime/codec"
	"github.com/streamgen/streamgen/runtime/config"
)

// This file owns what happens to records a stream cannot decode: the
// DecodePolicy (fail, skip, dead-letter), their counts and logs, and their
// dead letters.

// DecodePolicy is what a stream does with a record its key or value
// decoder rejects (spec key onDecodeError).
type DecodePolicy = config.DecodePolicy

const (
	// FailOnDecodeError fails the batch the record falls in with a
	// *DecodeError naming topic, partition, offset, schema id and cause.
	// Nothing of the batch is committed, so a fixed decoder (or a
	// redeployed job) re-reads the record. The default.
	FailOnDecodeError = config.FailOnDecodeError
	// SkipBadRecords leaves the record out of the batch; its offset is
	// committed with the rest. Skipped records are counted per stream,
	// partition and cause (Engine.BadRecords, BatchInfo.BadRecords) and
	// logged once per partition and cause, then at most once a minute.
	SkipBadRecords = config.SkipBadRecords
	// DeadLetterBadRecords leaves the record out of the batch like
	// SkipBadRecords and writes it, unchanged, to the stream's dead-letter
	// topic with headers naming where it came from and why it was
	// rejected (HeaderSourceTopic and the others). The dead letters are
	// produced, and acknowledged, before anything can store the offsets
	// past them: at-least-once, after the handler succeeds and right
	// before the offsets are stored; otherwise (at-most-once, exactly-once,
	// ManualCommit) before the handler runs. A failure to produce them
	// fails the batch, so no
	// rejected record's offset is stored without its dead letter. A batch
	// that fails after its dead letters were written is re-read and writes
	// them again: dead letters are at-least-once.
	DeadLetterBadRecords = config.DeadLetterBadRecords
)

// OnDecodeError sets the stream's policy for records that cannot be
// decoded. DeadLetterBadRecords needs DeadLetterTopic too.
func OnDecodeError(p DecodePolicy) StreamOpt {
	return streamOptFunc(func(c *streamCfg) { c.onBad = p })
}

// DeadLetterTopic sets the topic DeadLetterBadRecords writes to.
func DeadLetterTopic(topic string) StreamOpt {
	return streamOptFunc(func(c *streamCfg) { c.deadLetterTopic = topic })
}

// The headers a dead letter carries besides the record's own.
const (
	HeaderSourceTopic     = "streamgen.source.topic"
	HeaderSourcePartition = "streamgen.source.partition"
	HeaderSourceOffset    = "streamgen.source.offset"
	// HeaderSchemaID is the Confluent schema id of the rejected key or
	// value, absent when it had no valid header.
	HeaderSchemaID = "streamgen.schema.id"
	// HeaderCause is the short cause (Cause) and HeaderError the full
	// error message.
	HeaderCause = "streamgen.error.cause"
	HeaderError = "streamgen.error"
)

// Cause classifies a decode error for counting and logging: "bad magic
// byte" (Confluent's, or the single-object marker), "unknown schema id",
// "unknown writer fingerprint" (single-object), "unusable writer schema",
// "incompatible writer schema", "corrupt body", or, for an error that
// says nothing about the record (ErrTransient), "transient", each prefixed with "key: " for
// keys.
func (e *DecodeError) Cause() string {
	var c string
	switch {
	case transient(e.Err):
		c = "transient"
	case errors.Is(e.Err, ErrBadMagic), errors.Is(e.Err, ErrNotSingleObject):
		c = "bad magic byte"
	case errors.Is(e.Err, ErrUnknownSchemaID):
		c = "unknown schema id"
	case errors.Is(e.Err, ErrUnknownFingerprint):
		c = "unknown writer fingerprint"
	case errors.Is(e.Err, ErrBadWriterSchema):
		c = "unusable writer schema"
	case incompatible(e.Err):
		c = "incompatible writer schema"
	default:
		c = "corrupt body"
	}
	if e.Key {
		return "key: " + c
	}
	return c
}

// badRecord is a record a stream's policy left out of its batch.
type badRecord struct {
	raw *kgo.Record
	err *DecodeError
}

// BadRecordCount is how many records of one partition a stream left out of
// its batches for one cause.
type BadRecordCount struct {
	Stream string
	TopicPartition
	Cause string
	Count int64
	// First and Last are the offsets of the first and the latest.
	First, Last int64
}

// badLog counts and logs a source's bad records.
type badLog struct {
	mu     sync.Mutex
	counts map[badKey]*badEntry
}

type badKey struct {
	tp    TopicPartition
	cause string
}

type badEntry struct {
	BadRecordCount
	logged     time.Time
	suppressed int64
}

// badLogEvery is how often a (partition, cause) is logged again.
const badLogEvery = time.Minute

func (l *badLog) note(log *slog.Logger, stream string, policy DecodePolicy, recs []badRecord, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil {
		l.counts = make(map[badKey]*badEntry)
	}
	for _, r := range recs {
		k := badKey{TopicPartition{r.raw.Topic, r.raw.Partition}, r.err.Cause()}
		e := l.counts[k]
		if e == nil {
			e = &badEntry{BadRecordCount: BadRecordCount{Stream: stream, TopicPartition: k.tp, Cause: k.cause, First: r.raw.Offset}}
			l.counts[k] = e
		}
		e.Count++
		e.Last = r.raw.Offset
		if !e.logged.IsZero() && now.Sub(e.logged) < badLogEvery {
			e.suppressed++
			continue
		}
		log.Warn("record left out of its batch",
			"stream", stream, "policy", policy.String(), "topic", k.tp.Topic, "partition", k.tp.Partition,
			"offset", r.raw.Offset, "cause", k.cause, "error", r.err.Err.Error(),
			"similar_since_last_log", e.suppressed, "total", e.Count)
		e.logged, e.suppressed = now, 0
	}
}

func (l *badLog) snapshot() []BadRecordCount {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]BadRecordCount, 0, len(l.counts))
	for _, e := range l.counts {
		out = append(out, e.BadRecordCount)
	}
	return out
}

// BadRecords returns the counts of records left out of batches by
// SkipBadRecords or DeadLetterBadRecords since the engine started, sorted
// by stream, topic, partition and cause.
func (e *Engine) BadRecords() []BadRecordCount {
	var out []BadRecordCount
	for _, s := range e.sources() {
		out = append(out, s.bad.snapshot()...)
	}
	slices.SortFunc(out, func(a, b BadRecordCount) int {
		return cmp.Or(cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Topic, b.Topic),
			cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Cause, b.Cause))
	})
	return out
}

// handleBad disposes of the records the batch left out: counted and
// logged, and with DeadLetterBadRecords written by write (to the
// dead-letter topic, or into the batch's transaction), waiting for the
// acknowledgements. process runs it before anything can store the
// batch's offsets.
func (s *source) handleBad(ctx context.Context, log *slog.Logger, recs []badRecord, write func(context.Context, []*kgo.Record) error) error {
	if len(recs) == 0 {
		return nil
	}
	s.bad.note(log, s.name, s.cfg.onBad, recs, time.Now())
	if s.cfg.onBad != DeadLetterBadRecords {
		return nil
	}
	out := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		out[i] = deadLetter(s.cfg.deadLetterTopic, r)
	}
	if err := write(ctx, out); err != nil {
		first := recs[0].raw
		return fmt.Errorf("stream %s: writing %d dead letters (first from topic %s partition %d offset %d) to topic %s: %w",
			s.name, len(recs), first.Topic, first.Partition, first.Offset, s.cfg.deadLetterTopic, err)
	}
	return nil
}

// deadLetter is the record written for r: its key, value, timestamp and
// headers, plus the DeadLetterHeaders.
func deadLetter(topic string, r badRecord) *kgo.Record {
	h := make([]kgo.RecordHeader, 0, len(r.raw.Headers)+6)
	h = append(h, r.raw.Headers...)
	h = append(h,
		kgo.RecordHeader{Key: HeaderSourceTopic, Value: []byte(r.raw.Topic)},
		kgo.RecordHeader{Key: HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(r.raw.Partition), 10)},
		kgo.RecordHeader{Key: HeaderSourceOffset, Value: strconv.AppendInt(nil, r.raw.Offset, 10)},
	)
	if r.err.SchemaID >= 0 {
		h = append(h, kgo.RecordHeader{Key: HeaderSchemaID, Value: strconv.AppendInt(nil, int64(r.err.SchemaID), 10)})
	}
	h = append(h,
		kgo.RecordHeader{Key: HeaderCause, Value: []byte(r.err.Cause())},
		kgo.RecordHeader{Key: HeaderError, Value: []byte(r.err.Error())},
	)
	return &kgo.Record{Topic: topic, Key: r.raw.Key, Value: r.raw.Value, Timestamp: r.raw.Timestamp, Headers: h}
}

// newDecodeError wraps a decoder's error with the record's position and,
// when the decoder read a Confluent header, its schema id.
func newDecodeError(r *kgo.Record, key bool, err error) *DecodeError {
	de := &DecodeError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: key, SchemaID: -1, Err: err}
	var we *WireError
	if errors.As(err, &we) {
		de.SchemaID = we.SchemaID
	}
	return de
}

// skippable reports whether policy p may leave out a record that failed
// with err: never for a registry that did not answer or a stopping job.
func skippable(p DecodePolicy, err error) bool {
	return p != FailOnDecodeError && !transient(err)
}

// transient reports whether err says nothing about the record itself.
func transient(err error) bool {
	return errors.Is(err, ErrTransient) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// incompatible reports whether err is schema resolution refusing a writer.
func incompatible(err error) bool {
	var ce codec.CompatErrors
	var re *codec.ResolveError
	return errors.As(err, &ce) || errors.As(err, &re)
}

func (c streamCfg) validateBad() error {
	switch {
	case c.onBad < FailOnDecodeError || c.onBad > DeadLetterBadRecords:
		return fmt.Errorf("unknown decode policy %v", c.onBad)
	case c.onBad == DeadLetterBadRecords && c.deadLetterTopic == "":
		return errors.New("OnDecodeError(DeadLetterBadRecords) needs a DeadLetterTopic")
	case c.onBad != DeadLetterBadRecords && c.deadLetterTopic != "":
		return fmt.Errorf("DeadLetterTopic %q is set but the decode policy is %v, so nothing would be written to it", c.deadLetterTopic, c.onBad)
	}
	return nil
}
