package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// member is one group member as the leader's balancer sees it.
type member struct {
	id, instance string
	b            *groupBalancer
	topics       []string
	owned        map[string][]int32
	gen          int32
	conflict     []string // what the leader told it, if anything
}

func newMember(id, instance, stream string, fixed map[TopicPartition]string, topics ...string) *member {
	m := &member{id: id, instance: instance, topics: topics, gen: -1}
	m.b = &groupBalancer{self: memberData{Streams: []streamData{{Stream: stream, Topics: topics}}}, fixed: fixed,
		conflict: func(s []string) { m.conflict = s }}
	return m
}

// rebalance runs one JoinGroup/SyncGroup round with ms[0] as the leader
// and gives every member what it was assigned, as its owned partitions for
// the next round.
func rebalance(t *testing.T, topics map[string]int32, ms ...*member) {
	t.Helper()
	var join []kmsg.JoinGroupResponseMember
	for _, m := range ms {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = m.id
		if m.instance != "" {
			jm.InstanceID = kmsg.StringPtr(m.instance)
		}
		jm.ProtocolMetadata = m.b.JoinGroupMetadata(m.topics, m.owned, m.gen)
		join = append(join, jm)
	}
	mb, _, err := ms[0].b.MemberBalancer(join)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics)
	if err != nil {
		t.Fatal(err)
	}
	byID := make(map[string]*member)
	for _, m := range ms {
		byID[m.id] = m
		m.owned = nil
	}
	for _, a := range plan.IntoSyncAssignment() {
		m := byID[a.MemberID]
		if m == nil {
			t.Fatalf("assignment for unknown member %s", a.MemberID)
		}
		if m.owned, err = m.b.ParseSyncAssignment(a.MemberAssignment); err != nil {
			t.Fatal(err)
		}
		for tp, ps := range m.owned {
			if len(ps) == 0 {
				delete(m.owned, tp)
			}
		}
		m.gen++
	}
}

func parts(from, to int32) []int32 {
	var out []int32
	for p := from; p < to; p++ {
		out = append(out, p)
	}
	return out
}

func count(m *member) int {
	n := 0
	for _, ps := range m.owned {
		n += len(ps)
	}
	return n
}

// checkCover fails unless the members own every partition of topics
// exactly once.
func checkCover(t *testing.T, topics map[string]int32, ms ...*member) {
	t.Helper()
	seen := make(map[TopicPartition]string)
	for _, m := range ms {
		for topic, ps := range m.owned {
			for _, p := range ps {
				tp := TopicPartition{topic, p}
				if o, dup := seen[tp]; dup {
					t.Errorf("%s assigned to %s and %s", tp, o, m.id)
				}
				seen[tp] = m.id
			}
		}
	}
	for topic, n := range topics {
		for p := range n {
			if _, ok := seen[TopicPartition{topic, p}]; !ok {
				t.Errorf("%s/%d assigned to nobody", topic, p)
			}
		}
	}
}

func fixedTo(host string, topic string, ps []int32) map[TopicPartition]string {
	m := make(map[TopicPartition]string)
	for _, p := range ps {
		m[TopicPartition{topic, p}] = host
	}
	return m
}

func TestBalancerFixedPlacesOnInstances(t *testing.T) {
	topics := map[string]int32{"t": 18}
	fixed := fixedTo("b", "t", parts(0, 6))
	a := newMember("m-a", "a", "s", fixed, "t")
	b := newMember("m-b", "b", "s", fixed, "t")
	rebalance(t, topics, a, b)
	checkCover(t, topics, a, b)
	if got := b.owned["t"][:6]; !slices.Equal(got, parts(0, 6)) {
		t.Errorf("b owns %v, want partitions 0-5 among them", b.owned["t"])
	}
	// The rest, 12, split evenly, fixed partitions not counted.
	if count(a) != 6 || count(b) != 12 {
		t.Errorf("a owns %v, b %v; want 6 and 6 + the 6 fixed", a.owned, b.owned)
	}
}

func TestBalancerFixedWithoutItsInstanceBalancesEvenly(t *testing.T) {
	topics := map[string]int32{"t": 18}
	fixed := fixedTo("c", "t", parts(0, 6)) // no member has instance c
	a := newMember("m-a", "a", "s", fixed, "t")
	b := newMember("m-b", "", "s", fixed, "t") // a dynamic member
	rebalance(t, topics, a, b)
	checkCover(t, topics, a, b)
	if count(a) != 9 || count(b) != 9 {
		t.Errorf("a owns %v, b %v; want 9 each", a.owned, b.owned)
	}
}

func TestBalancerFixedIsCooperativeAndSticky(t *testing.T) {
	topics := map[string]int32{"t": 18}
	fixed := fixedTo("b", "t", parts(0, 6))
	a := newMember("m-a", "a", "s", fixed, "t")
	rebalance(t, topics, a)
	if count(a) != 18 {
		t.Fatalf("alone, a owns %v; want all 18 (fixed partitions fall back)", a.owned)
	}
	b := newMember("m-b", "b", "s", fixed, "t")
	// First round: a gives up the fixed partitions and half the rest, and
	// nobody gets them until a has revoked them.
	rebalance(t, topics, a, b)
	if count(b) != 0 || count(a) != 6 {
		t.Fatalf("first cooperative round: a owns %v, b %v; want a 6 and b nothing yet", a.owned, b.owned)
	}
	kept := slices.Clone(a.owned["t"])
	if slices.ContainsFunc(kept, func(p int32) bool { return p < 6 }) {
		t.Errorf("a kept fixed partitions: %v", kept)
	}
	rebalance(t, topics, a, b)
	checkCover(t, topics, a, b)
	if !slices.Equal(a.owned["t"], kept) {
		t.Errorf("second round moved a's partitions: %v, had %v", a.owned["t"], kept)
	}
	if count(b) != 12 || !slices.Equal(b.owned["t"][:6], parts(0, 6)) {
		t.Errorf("second round: b owns %v, want 0-5 and 6 more", b.owned["t"])
	}
	// A third member takes only from the rest, and only what evens it out.
	c := newMember("m-c", "c", "s", fixed, "t")
	rebalance(t, topics, a, b, c)
	rebalance(t, topics, a, b, c)
	checkCover(t, topics, a, b, c)
	if count(a) != 4 || count(b) != 10 || count(c) != 4 {
		t.Errorf("three members: a %v, b %v, c %v; want 4, 6+4, 4", a.owned, b.owned, c.owned)
	}
}

func TestBalancerWithoutFixedIsCooperativeSticky(t *testing.T) {
	topics := map[string]int32{"t": 18, "u": 3}
	a := newMember("m-a", "", "s", nil, "t", "u")
	b := newMember("m-b", "", "s", nil, "t", "u")
	rebalance(t, topics, a, b)
	rebalance(t, topics, a, b)
	checkCover(t, topics, a, b)
	if d := count(a) - count(b); d < -1 || d > 1 {
		t.Errorf("a owns %v, b %v: not even", a.owned, b.owned)
	}
}

func TestBalancerRefusesSecondStream(t *testing.T) {
	topics := map[string]int32{"clicks": 4, "views": 2}
	x := newMember("m-x", "", "clicks", nil, "clicks")
	rebalance(t, topics, x)
	y := newMember("m-y", "", "views", nil, "views")
	rebalance(t, topics, x, y)
	if count(x) != 4 || x.conflict != nil {
		t.Errorf("the stream that owned the group: %v, conflict %v; want all of clicks and no conflict", x.owned, x.conflict)
	}
	want := []string{"clicks (topics [clicks])", "views (topics [views])"}
	if count(y) != 0 || !slices.Equal(y.conflict, want) {
		t.Errorf("the newcomer: %v, conflict %v; want nothing and conflict %v", y.owned, y.conflict, want)
	}
	// The newcomer is refused even when it is the leader.
	y.conflict = nil
	rebalance(t, topics, y, x)
	if count(x) != 4 || !slices.Equal(y.conflict, want) {
		t.Errorf("with the newcomer leading: x %v, y conflict %v", x.owned, y.conflict)
	}
}

func TestBalancerRefusesEveryStreamWithoutAnOwner(t *testing.T) {
	topics := map[string]int32{"t": 4}
	x := newMember("m-x", "", "one", nil, "t")
	y := newMember("m-y", "", "two", nil, "t")
	rebalance(t, topics, x, y)
	if count(x)+count(y) != 0 || x.conflict == nil || y.conflict == nil {
		t.Errorf("x %v conflict %v, y %v conflict %v; want both refused", x.owned, x.conflict, y.owned, y.conflict)
	}
}

func TestGroupConflictErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		streams []string
		want    string
	}{
		{[]string{"a", "b"}, `group "g" is used by jobs with streams a and b; give each job its own group`},
		{[]string{"a", "b", "c"}, `group "g" is used by jobs with streams a, b and c; give each job its own group`},
	} {
		if got := (&GroupConflictError{Group: "g", Jobs: tc.streams}).Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// newGroupCluster is a cluster whose groups accept short session timeouts,
// so a static member that stops (and, being static, does not leave) is
// expired quickly.
func newGroupCluster(t *testing.T, partitions int32, topics ...string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func lastOwned(e *Engine, stream string) map[TopicPartition]bool {
	h := e.History()
	out := make(map[TopicPartition]bool)
	if len(h) > 0 {
		for _, r := range h[len(h)-1].Ranges[stream] {
			out[r.TopicPartition()] = true
		}
	}
	return out
}

func TestPreferFixedAcrossInstances(t *testing.T) {
	addrs := newGroupCluster(t, 18, testTopic)
	first := produce(t, addrs, testTopic, 18, 50)
	fixed := fixedTo("b", testTopic, parts(0, 6))
	var c collector
	mk := func(instance string) (*Engine, *runner) {
		e, err := New(Group("fixed"), Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond), MaxRatePerPartition(200),
			InstanceID(instance), KgoOpts(kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(100*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder, Location(PreferFixed(fixed)))
		if err != nil {
			t.Fatal(err)
		}
		return e, start(t, e, c.handle(s))
	}
	ea, ra := mk("a")
	eb, rb := mk("b")
	var a, b map[TopicPartition]bool
	waitFor(t, "b to own partitions 0-5 and half the rest", 20*time.Second, func() bool {
		a, b = lastOwned(ea, "s"), lastOwned(eb, "s")
		if len(a) != 6 || len(b) != 12 {
			return false
		}
		for p := range int32(6) {
			if !b[TopicPartition{testTopic, p}] {
				return false
			}
		}
		for tp := range a {
			if b[tp] {
				return false
			}
		}
		return true
	})
	// b, which holds the fixed partitions, goes away: they fall back to a.
	rb.stop(t)
	second := produce(t, addrs, testTopic, 18, 50)
	waitFor(t, "a to take over all 18 partitions and every record", 20*time.Second, func() bool {
		return len(lastOwned(ea, "s")) == 18 && c.count() >= 18*100
	})
	ra.stop(t)
	for tp, offs := range second {
		first[tp] = append(first[tp], offs...)
	}
	c.checkExact(t, first, nil)
}

func TestStreamsSharingAGroupAcrossEnginesFailFast(t *testing.T) {
	addrs := newCluster(t, 4, "clicks", "views")
	produce(t, addrs, "clicks", 4, 10)
	mk := func(name string, cs ConsumerStrategy) (*Engine, *Stream[[]byte, []byte]) {
		e, err := New(Group("shared"), Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond),
			KgoOpts(kgo.HeartbeatInterval(100*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewStream[[]byte, []byte](e, name, cs, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return e, s
	}
	ea, sa := mk("clicks", Subscribe("clicks"))
	var seen atomic.Int64
	ra := start(t, ea, func(_ context.Context, bs *JobBatch) error {
		seen.Add(int64(sa.Batch(bs).Len()))
		return nil
	})
	waitFor(t, "the first stream to own the group", 20*time.Second, func() bool { return len(lastOwned(ea, "clicks")) == 4 })

	eb, _ := mk("views", SubscribePattern(regexp.MustCompile("^views$")))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	began := time.Now()
	err := eb.Run(ctx, func(context.Context, *JobBatch) error { return nil })
	var ce *GroupConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("second stream's Run = %v, want a *GroupConflictError", err)
	}
	t.Logf("refused after %s: %v", time.Since(began).Round(time.Millisecond), err)
	for _, want := range []string{`group "shared"`, "clicks (topics [clicks])", "views (pattern ^views$)", "give each job its own group"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	// The stream that owned the group was not disturbed.
	produce(t, addrs, "clicks", 4, 10)
	waitFor(t, "the first stream to read on", 20*time.Second, func() bool { return seen.Load() >= 80 })
	if got := lastOwned(ea, "clicks"); len(got) != 4 {
		t.Errorf("first stream owns %v after the conflict, want all 4 partitions", slices.Collect(maps.Keys(got)))
	}
	ra.stop(t)
	if err := ea.Stop(context.Background()); err != nil {
		t.Fatal(fmt.Errorf("stop: %w", err))
	}
}
