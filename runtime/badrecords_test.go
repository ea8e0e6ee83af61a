package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// badValue and rejectKey mark the records the test decoders reject: a value whose
// number is 3 mod 7, a key at an offset that is 5 mod 11 (rejectKey).
func badValue(i int) bool          { return i%7 == 3 }
func rejectKey(off int64) bool     { return off%11 == 5 }
func isBad(i int) bool             { return badValue(i) || rejectKey(int64(i)) }
func errTruncated() error          { return errors.New("unexpected end of input at byte 12") }
func wire(id int, err error) error { return &WireError{SchemaID: id, Err: err} }

// picky decodes values "i", rejecting badValue ones as a truncated body
// written with schema id 42.
func picky(_ context.Context, b []byte) (string, error) {
	i, err := strconv.Atoi(string(b))
	if err != nil {
		return "", err
	}
	if badValue(i) {
		return "", wire(42, errTruncated())
	}
	return string(b), nil
}

// pickyKey rejects keys at badKey offsets (produce writes each record's
// offset in its key) as bad framing.
func pickyKey(_ context.Context, b []byte) ([]byte, error) {
	if off, _ := strconv.ParseInt(string(b), 10, 64); rejectKey(off) {
		return nil, fmt.Errorf("%w: first byte 0x7b", ErrBadMagic)
	}
	return b, nil
}

// logBuffer is a slog handler's output, safe for the engine's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

// runBad runs a stream with policy over parts partitions of n records each
// until every good record arrived, and returns what the handler saw and
// the engine.
func runBad(t *testing.T, addrs []string, policy DecodePolicy, logs *logBuffer, opts ...StreamOpt) (*collector, *Engine) {
	t.Helper()
	e, err := New(Group("etl"), Brokers(addrs...), BatchInterval(50*time.Millisecond), MaxRatePerPartition(400),
		Logger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "impressions", Subscribe(testTopic), pickyKey, picky, append([]StreamOpt{OnDecodeError(policy)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	r := start(t, e, c.handle(s))
	good := 0
	for i := range 50 {
		if !isBad(i) {
			good++
		}
	}
	waitFor(t, "every good record", 20*time.Second, func() bool { return c.count() >= 4*good })
	r.stop(t)
	return c, e
}

// checkLeftOut asserts the handler got exactly the good records and the
// offsets were committed past the bad ones.
func checkLeftOut(t *testing.T, addrs []string, c *collector, e *Engine) {
	t.Helper()
	for p := range int32(4) {
		tp := TopicPartition{testTopic, p}
		var want []int64
		for i := range 50 {
			if !isBad(i) {
				want = append(want, int64(i))
			}
		}
		if got := c.offsets[tp]; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: delivered %v, want %v", tp, got, want)
		}
	}
	for tp, off := range committedOffsets(t, addrs, "etl", testTopic, 4) {
		if off != 50 {
			t.Errorf("%s: committed %d, want 50: bad records must not hold the offset back", tp, off)
		}
	}
	counts := map[string]int64{}
	for _, bc := range e.BadRecords() {
		counts[fmt.Sprintf("%d %s", bc.Partition, bc.Cause)] = bc.Count
	}
	for p := range 4 {
		// 7 values are bad, but the one at 38 has a bad key too, which
		// is decoded first.
		if got := counts[fmt.Sprintf("%d corrupt body", p)]; got != 6 {
			t.Errorf("partition %d: %d values counted as corrupt body, want 6", p, got)
		}
		if got := counts[fmt.Sprintf("%d key: bad magic byte", p)]; got != 5 {
			t.Errorf("partition %d: %d keys counted as bad magic byte, want 5", p, got)
		}
	}
	total := 0
	for _, bi := range e.History() {
		total += bi.BadRecords
	}
	if total != 4*11 {
		t.Errorf("BatchInfo.BadRecords add up to %d, want %d", total, 4*11)
	}
}

func TestSkipBadRecords(t *testing.T) {
	addrs := newCluster(t, 4, testTopic)
	produce(t, addrs, testTopic, 4, 50)
	var logs logBuffer
	c, e := runBad(t, addrs, SkipBadRecords, &logs)
	checkLeftOut(t, addrs, c, e)
	// Logged once per partition and cause, not per record.
	lines := slices.DeleteFunc(logs.lines(), func(l string) bool { return !strings.Contains(l, "left out of its batch") })
	if len(lines) != 8 {
		t.Errorf("%d log lines, want 8 (4 partitions × 2 causes):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, want := range []string{"partition=2", "offset=3", "cause=\"corrupt body\"", "schema id 42", "policy=skip"} {
		if !strings.Contains(strings.Join(lines, "\n"), want) {
			t.Errorf("logs lack %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

func TestDeadLetterBadRecords(t *testing.T) {
	addrs := newCluster(t, 4, testTopic, "impressions-dlq")
	produce(t, addrs, testTopic, 4, 50)
	var logs logBuffer
	c, e := runBad(t, addrs, DeadLetterBadRecords, &logs, DeadLetterTopic("impressions-dlq"))
	checkLeftOut(t, addrs, c, e)

	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("impressions-dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string]map[string]string{} // "p/offset" → headers
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(got) < 4*11 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			h := map[string]string{"value": string(r.Value)}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			got[h[HeaderSourcePartition]+"/"+h[HeaderSourceOffset]] = h
		})
	}
	if len(got) != 4*11 {
		t.Fatalf("%d dead letters, want %d", len(got), 4*11)
	}
	v := got["1/3"] // a bad value: schema id known
	for k, want := range map[string]string{
		"value": "3", HeaderSourceTopic: testTopic, HeaderSchemaID: "42", HeaderCause: "corrupt body",
		HeaderError: "decoding value of topic impressions partition 1 offset 3 (schema id 42, corrupt body): schema id 42: unexpected end of input at byte 12",
	} {
		if v[k] != want {
			t.Errorf("dead letter of 1/3: %s = %q, want %q", k, v[k], want)
		}
	}
	k := got["2/5"] // a bad key: no schema id
	if _, ok := k[HeaderSchemaID]; ok || k[HeaderCause] != "key: bad magic byte" {
		t.Errorf("dead letter of 2/5: headers %v, want cause key: bad magic byte and no schema id", k)
	}
}

func TestFailOnDecodeErrorNamesTheRecord(t *testing.T) {
	addrs := newCluster(t, 1, testTopic)
	produce(t, addrs, testTopic, 1, 10)
	e, err := New(Group("etl"), Brokers(addrs...), BatchInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "impressions", Subscribe(testTopic), BytesDecoder, picky)
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	err = e.Run(context.Background(), c.handle(s))
	var de *DecodeError
	if !errors.As(err, &de) || de.Partition != 0 || de.Offset != 3 || de.SchemaID != 42 || de.Cause() != "corrupt body" {
		t.Fatalf("Run = %v, want the DecodeError of offset 3 with schema id 42", err)
	}
	if off, ok := committedOffsets(t, addrs, "etl", testTopic, 1)[TopicPartition{testTopic, 0}]; ok && off > 3 {
		t.Errorf("committed %d: the bad record at 3 was committed", off)
	}
}

// TestRegistryDownIsNeverSkipped: a record whose writer schema could not
// be fetched is not bad; even with SkipBadRecords its batch fails and
// nothing past it is committed.
func TestRegistryDownIsNeverSkipped(t *testing.T) {
	addrs := newCluster(t, 1, testTopic)
	produce(t, addrs, testTopic, 1, 10)
	e, err := New(Group("etl"), Brokers(addrs...), BatchInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	down := func(_ context.Context, b []byte) (string, error) {
		if string(b) == "6" {
			return "", wire(7, fmt.Errorf("%w: http://registry:8081: schema id 7: giving up as the job stops: connection refused", ErrRegistryUnavailable))
		}
		return string(b), nil
	}
	s, err := NewStream(e, "impressions", Subscribe(testTopic), BytesDecoder, down, OnDecodeError(SkipBadRecords))
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	err = e.Run(context.Background(), c.handle(s))
	if !errors.Is(err, ErrRegistryUnavailable) {
		t.Fatalf("Run = %v, want the registry failure", err)
	}
	if len(e.BadRecords()) != 0 {
		t.Errorf("BadRecords = %v: a registry outage was counted as bad records", e.BadRecords())
	}
	if off, ok := committedOffsets(t, addrs, "etl", testTopic, 1)[TopicPartition{testTopic, 0}]; ok && off > 6 {
		t.Errorf("committed %d: the record at 6 was skipped", off)
	}
}

func TestDecodePolicyOptionsValidated(t *testing.T) {
	e, err := New(Group("g"), Brokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts []StreamOpt
		want string
	}{
		{[]StreamOpt{OnDecodeError(DeadLetterBadRecords)}, "needs a DeadLetterTopic"},
		{[]StreamOpt{OnDecodeError(SkipBadRecords), DeadLetterTopic("dlq")}, `DeadLetterTopic "dlq" is set but the decode policy is skip`},
	} {
		_, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder, tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewStream = %v, want an error containing %q", err, tc.want)
		}
	}
}

// txnStore is a TransactionalStore in memory: a transactional sink's
// offsets, for tests of the order of a batch's steps.
type txnStore struct {
	mu   sync.Mutex
	offs map[TopicPartition]int64
}

func (s *txnStore) Begin(context.Context, StoredBatch) error { return nil }
func (s *txnStore) Abort(context.Context, StoredBatch) error { return nil }

var _ TransactionalStore = (*txnStore)(nil)

func (s *txnStore) Load(_ context.Context, tps []TopicPartition) (map[TopicPartition]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[TopicPartition]int64)
	for _, tp := range tps {
		if o, ok := s.offs[tp]; ok {
			out[tp] = o
		}
	}
	return out, nil
}

func (s *txnStore) Store(_ context.Context, b StoredBatch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.offs == nil {
		s.offs = make(map[TopicPartition]int64)
	}
	maps.Copy(s.offs, untilOffsets(b.Ranges))
	return nil
}

// TestDeadLettersBeforeTheHandlerStoresOffsets: where the handler stores
// the batch's offsets itself (exactly-once, or ManualCommit), the dead
// letters are written before it runs: when they cannot be written the
// batch fails before the handler stores offsets past the rejected record.
func TestDeadLettersBeforeTheHandlerStoresOffsets(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Opt
	}{{"exactly-once", []Opt{WithSemantics(ExactlyOnce), WithOffsetStore(&txnStore{})}}, {"manual-commit", []Opt{ManualCommit()}}} {
		t.Run(tc.name, func(t *testing.T) {
			addrs := newCluster(t, 1, testTopic) // no dead-letter topic: producing to it fails
			produce(t, addrs, testTopic, 1, 10)
			var logs logBuffer
			e, err := New(append(tc.opts, Group("etl"), Brokers(addrs...), BatchInterval(50*time.Millisecond), Logger(slog.New(slog.NewTextHandler(&logs, nil))))...)
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewStream(e, "impressions", Subscribe(testTopic), BytesDecoder, picky,
				OnDecodeError(DeadLetterBadRecords), DeadLetterTopic("missing-dlq"))
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			stored := int64(0) // the handler's own offset store
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = e.Run(ctx, func(ctx context.Context, bs *JobBatch) error {
				mu.Lock()
				defer mu.Unlock()
				for _, r := range s.Batch(bs).OffsetRanges() {
					stored = max(stored, r.UntilOffset)
				}
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), "dead letters") {
				t.Fatalf("Run = %v, want the failure to write the dead letter", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if stored > 3 {
				t.Errorf("the handler stored offset %d, past the bad record at 3 whose dead letter failed", stored)
			}
		})
	}
}
