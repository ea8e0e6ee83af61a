package runtime

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// offsetsSeen is a handler's record of the offsets each stream was given.
type offsetsSeen struct {
	mu   sync.Mutex
	seen map[string]map[TopicPartition][]int64
}

func (o *offsetsSeen) add(stream string, b interface {
	Partitions() []Partition[[]byte, string]
}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen == nil {
		o.seen = make(map[string]map[TopicPartition][]int64)
	}
	if o.seen[stream] == nil {
		o.seen[stream] = make(map[TopicPartition][]int64)
	}
	for _, p := range b.Partitions() {
		for r := range p.Records() {
			o.seen[stream][p.TopicPartition()] = append(o.seen[stream][p.TopicPartition()], r.Offset)
		}
	}
}

func (o *offsetsSeen) count(stream string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, offs := range o.seen[stream] {
		n += len(offs)
	}
	return n
}

// TestAddingAStreamKeepsTheGroupsOffsets: a job is one group whatever its
// streams, so a job that gains a second stream resumes its first stream
// exactly where it stopped: nothing re-read, nothing skipped.
func TestAddingAStreamKeepsTheGroupsOffsets(t *testing.T) {
	addrs := newCluster(t, 4, "clicks", "views")
	produce(t, addrs, "clicks", 4, 20)

	one, err := New(Group("job"), Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	clicks1, err := NewStream(one, "clicks", Subscribe("clicks"), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var before offsetsSeen
	r := start(t, one, func(_ context.Context, bs *JobBatch) error {
		before.add("clicks", clicks1.Batch(bs))
		return nil
	})
	waitFor(t, "the one-stream job to read clicks", 20*time.Second, func() bool { return before.count("clicks") == 80 })
	r.stop(t)

	produce(t, addrs, "clicks", 4, 10)
	produce(t, addrs, "views", 4, 5)
	two, err := New(Group("job"), Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	clicks2, err := NewStream(two, "clicks", Subscribe("clicks"), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	views, err := NewStream(two, "views", Subscribe("views"), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var after offsetsSeen
	r = start(t, two, func(_ context.Context, bs *JobBatch) error {
		after.add("clicks", clicks2.Batch(bs))
		after.add("views", views.Batch(bs))
		return nil
	})
	waitFor(t, "the two-stream job to read both", 20*time.Second, func() bool {
		return after.count("clicks") >= 40 && after.count("views") == 20
	})
	r.stop(t)
	for p := range int32(4) {
		tp := TopicPartition{"clicks", p}
		if got, want := after.seen["clicks"][tp], []int64{20, 21, 22, 23, 24, 25, 26, 27, 28, 29}; !slices.Equal(got, want) {
			t.Errorf("after adding a stream, %s read offsets %v, want %v (resumed where the one-stream job stopped)", tp, got, want)
		}
	}
}

// TestTopicFeedsOneStream: a pattern that matches a topic another stream
// subscribes to is refused when the topic is assigned, naming both.
func TestTopicFeedsOneStream(t *testing.T) {
	addrs := newCluster(t, 1, "clicks.a", "clicks.b")
	e, err := New(Group("job"), Brokers(addrs...), BatchInterval(50*time.Millisecond), MetadataMaxAge(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStream(e, "a", Subscribe("clicks.a"), BytesDecoder, StringDecoder); err != nil {
		t.Fatal(err)
	}
	if _, err := NewStream(e, "all", SubscribePattern(regexp.MustCompile(`^clicks\..*`)), BytesDecoder, StringDecoder); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = e.Run(ctx, func(context.Context, *JobBatch) error { return nil })
	for _, want := range []string{"topic clicks.a is read by streams", "a (Subscribe([clicks.a]))", `all (SubscribePattern(^clicks\..*))`, "a topic may feed only one stream"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run = %v, want an error containing %q", err, want)
		}
	}
}

// TestStoredOffsetOutsideTheLog: an offset the store holds that retention
// has since deleted (or that is past the partition's end) follows ResetTo
// as Kafka's auto.offset.reset does: never silently clamped.
func TestStoredOffsetOutsideTheLog(t *testing.T) {
	addrs := newCluster(t, 2, testTopic)
	produce(t, addrs, testTopic, 2, 50)
	p0, p1 := TopicPartition{testTopic, 0}, TopicPartition{testTopic, 1}
	commitOffsets(t, addrs, "etl", map[TopicPartition]int64{p0: 5, p1: 1000})
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	del := make(kadm.Offsets)
	del.Add(kadm.Offset{Topic: testTopic, Partition: 0, At: 20})
	if resp, err := kadm.NewClient(cl).DeleteRecords(context.Background(), del); err != nil || resp.Error() != nil {
		t.Fatalf("DeleteRecords: %v %v", err, resp.Error())
	}

	t.Run("error", func(t *testing.T) {
		e, err := New(Group("etl"), ResetTo(ResetError), Brokers(addrs...), BatchInterval(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err = e.Run(ctx, func(context.Context, *JobBatch) error { return nil })
		var oor *OffsetOutOfRangeError
		if !errors.As(err, &oor) {
			t.Fatalf("Run = %v, want an *OffsetOutOfRangeError", err)
		}
		want := map[TopicPartition][3]int64{p0: {5, 20, 50}, p1: {1000, 0, 50}}[oor.TopicPartition]
		if got := [3]int64{oor.Offset, oor.Start, oor.End}; got != want {
			t.Errorf("error %v: offset, log start, end = %v, want %v", err, got, want)
		}
		if !strings.Contains(err.Error(), "topic impressions partition") || !strings.Contains(err.Error(), "the offset store") {
			t.Errorf("error %q does not name the partition and where the offset came from", err)
		}
	})
	t.Run("earliest", func(t *testing.T) {
		var logs logBuffer
		e, err := New(Group("etl"), Brokers(addrs...), BatchInterval(50*time.Millisecond), Logger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
		if err != nil {
			t.Fatal(err)
		}
		var seen offsetsSeen
		r := start(t, e, func(_ context.Context, bs *JobBatch) error {
			seen.add("s", s.Batch(bs))
			return nil
		})
		waitFor(t, "both partitions from their log start", 20*time.Second, func() bool { return seen.count("s") >= 80 })
		r.stop(t)
		if got := seen.seen["s"][p0]; len(got) != 30 || got[0] != 20 {
			t.Errorf("partition 0 read %d records from %v, want 30 from the log start 20", len(got), got[:min(len(got), 1)])
		}
		if got := seen.seen["s"][p1]; len(got) != 50 || got[0] != 0 {
			t.Errorf("partition 1 read %d records from %v, want 50 from 0 (its stored 1000 is past the end)", len(got), got[:min(len(got), 1)])
		}
		var warned int
		for _, l := range logs.lines() {
			if strings.Contains(l, "outside the partition's log") && strings.Contains(l, "reset_to=earliest") {
				warned++
			}
		}
		if warned != 2 {
			t.Errorf("%d warnings of an offset outside the log, want 2:\n%s", warned, strings.Join(logs.lines(), "\n"))
		}
	})
	// Exactly-once, an offset past the end is not reset whatever ResetTo
	// says: the output holds records up to it, and records read from
	// anywhere now would reuse offsets it has (a recreated topic). One
	// before the log start still resets: retention deleted records no
	// one read, and the output holds none of the offsets to come.
	t.Run("exactly-once", func(t *testing.T) {
		for _, tc := range []struct {
			stored map[TopicPartition]int64
			fails  bool
		}{{map[TopicPartition]int64{p0: 5, p1: 1000}, true}, {map[TopicPartition]int64{p0: 5, p1: 50}, false}} {
			e, err := New(Group("etl-eo"), WithSemantics(ExactlyOnce), WithOffsetStore(&txnStore{offs: tc.stored}), Brokers(addrs...), BatchInterval(50*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
			if err != nil {
				t.Fatal(err)
			}
			if tc.fails {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err = e.Run(ctx, func(context.Context, *JobBatch) error { return nil })
				cancel()
				var oor *OffsetOutOfRangeError
				if !errors.As(err, &oor) || oor.TopicPartition != p1 || oor.Offset != 1000 || oor.End != 50 ||
					!strings.Contains(err.Error(), "the job is exactly-once: its output holds records up to that offset") {
					t.Fatalf("Run = %v, want partition 1's stored 1000 past its end 50 refused as exactly-once's", err)
				}
				continue
			}
			var seen offsetsSeen
			r := start(t, e, func(_ context.Context, bs *JobBatch) error {
				seen.add("s", s.Batch(bs))
				return nil
			})
			waitFor(t, "partition 0 from its log start", 20*time.Second, func() bool { return seen.count("s") >= 30 })
			r.stop(t)
			if got := seen.seen["s"][p0]; len(got) != 30 || got[0] != 20 {
				t.Errorf("partition 0 read %d records from %v, want 30 from the log start 20", len(got), got[:min(len(got), 1)])
			}
			if got := seen.seen["s"][p1]; len(got) != 0 {
				t.Errorf("partition 1 read %d records, want none: its stored 50 is its end", len(got))
			}
		}
	})
}

// TestStartingOffsetOutsideTheLog: a starting offset from the spec past a
// partition's end, or before its log start, is not clamped silently either.
func TestStartingOffsetOutsideTheLog(t *testing.T) {
	addrs := newCluster(t, 1, testTopic)
	produce(t, addrs, testTopic, 1, 50)
	tp := TopicPartition{testTopic, 0}
	cs := Assign(tp).WithOffsets(map[TopicPartition]int64{tp: 70})

	e, err := New(ResetTo(ResetError), Brokers(addrs...), BatchInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStream(e, "s", cs, BytesDecoder, StringDecoder); err != nil {
		t.Fatal(err)
	}
	err = e.Run(context.Background(), func(context.Context, *JobBatch) error { return nil })
	if want := "topic impressions partition 0: offset 70 from startingOffsets is outside the partition's log [0, 50)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Run = %v, want %q", err, want)
	}

	var logs logBuffer
	e, err = New(ResetTo(ResetLatest), Brokers(addrs...), BatchInterval(50*time.Millisecond), Logger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", cs, BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var ranges sync.Map
	r := start(t, e, func(_ context.Context, bs *JobBatch) error {
		for _, rg := range s.Batch(bs).OffsetRanges() {
			ranges.Store(rg.FromOffset, true)
		}
		return nil
	})
	waitFor(t, "a batch", 10*time.Second, func() bool { _, ok := ranges.Load(int64(50)); return ok })
	r.stop(t)
	if _, early := ranges.Load(int64(0)); early {
		t.Error("with resetTo latest the job started at 0")
	}
	warned := slices.ContainsFunc(logs.lines(), func(l string) bool {
		return strings.Contains(l, "outside the partition's log") && strings.Contains(l, "asked=70") && strings.Contains(l, "from=startingOffsets")
	})
	if !warned {
		t.Errorf("no warning naming the asked offset and where it came from:\n%s", strings.Join(logs.lines(), "\n"))
	}
}

// TestMissingTopicsAndPartitions: a subscribed topic that does not exist
// is warned about (and its appearance logged); an assigned partition
// that does not exist fails the job naming it.
func TestMissingTopicsAndPartitions(t *testing.T) {
	c, addrs := newTestCluster(t, 1, testTopic)
	var logs logBuffer
	e, err := New(Group("job"), Brokers(addrs...), BatchInterval(50*time.Millisecond), MetadataMaxAge(100*time.Millisecond),
		Logger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStream(e, "later", Subscribe("later"), BytesDecoder, StringDecoder); err != nil {
		t.Fatal(err)
	}
	r := start(t, e, func(context.Context, *JobBatch) error { return nil })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the job's log:\n%s", strings.Join(logs.lines(), "\n"))
			select {
			case err := <-r.errc:
				t.Logf("Run returned early: %v", err)
			default:
			}
		}
	})
	logged := func(what string) func() bool {
		return func() bool {
			for _, l := range logs.lines() {
				if strings.Contains(l, what) && strings.Contains(l, "topic=later") {
					return true
				}
			}
			return false
		}
	}
	waitFor(t, "a warning that topic later is missing", 10*time.Second, logged("subscribed topic does not exist"))
	if err := c.CreateTopic("later", 1, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a note that topic later exists", 10*time.Second, logged("subscribed topic exists now"))
	r.stop(t)

	e, err = New(Brokers(addrs...), BatchInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStream(e, "s", Assign(TopicPartition{testTopic, 0}, TopicPartition{testTopic, 7}), BytesDecoder, StringDecoder); err != nil {
		t.Fatal(err)
	}
	err = e.Run(context.Background(), func(context.Context, *JobBatch) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "topic impressions partition 7") {
		t.Errorf("Run = %v, want an error naming topic impressions partition 7", err)
	}
}
