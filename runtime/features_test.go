package runtime

import (
	"context"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTestCluster(t *testing.T, partitions int32, topics ...string) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

func TestLocationStrategiesPlaceTasks(t *testing.T) {
	addrs := newCluster(t, 6, testTopic)
	var tps []TopicPartition
	for p := range int32(6) {
		tps = append(tps, TopicPartition{testTopic, p})
	}
	fixed := map[TopicPartition]string{tps[0]: "h1", tps[3]: "h1", tps[4]: "h2"}
	for _, tc := range []struct {
		name string
		loc  LocationStrategy
	}{
		{"consistent", PreferConsistent()},
		{"fixed", PreferFixed(fixed)},
		{"brokers", PreferBrokers()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(20*time.Millisecond), Workers(3))
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewStream[[]byte, []byte](e, "s", Assign(tps...), nil, nil, Location(tc.loc))
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			seen := make(map[TopicPartition]map[int]bool)
			var batches atomic.Int64
			r := start(t, e, func(ctx context.Context, bs *JobBatch) error {
				batches.Add(1)
				return s.Batch(bs).ForeachPartition(ctx, func(ctx context.Context, p Partition[[]byte, []byte]) error {
					w, ok := WorkerFromContext(ctx)
					if !ok {
						t.Error("task context has no worker")
					}
					mu.Lock()
					defer mu.Unlock()
					if seen[p.TopicPartition()] == nil {
						seen[p.TopicPartition()] = make(map[int]bool)
					}
					seen[p.TopicPartition()][w] = true
					return nil
				})
			})
			waitFor(t, "batches", 10*time.Second, func() bool { return batches.Load() >= 5 })
			r.stop(t)
			mu.Lock()
			defer mu.Unlock()
			worker := make(map[TopicPartition]int)
			used := make(map[int]bool)
			for _, tp := range tps {
				if len(seen[tp]) != 1 {
					t.Fatalf("%s ran on workers %v across batches, want one", tp, seen[tp])
				}
				for w := range seen[tp] {
					worker[tp] = w
					used[w] = true
				}
			}
			switch tc.name {
			case "consistent":
				if len(used) != 3 {
					t.Errorf("6 partitions used workers %v, want all 3", used)
				}
			case "fixed":
				if worker[tps[0]] != worker[tps[3]] {
					t.Errorf("PreferFixed placement %v: h1 partitions must share a worker", worker)
				}
			case "brokers":
				if len(used) != 1 {
					t.Errorf("one broker's partitions ran on workers %v, want one", used)
				}
			}
		})
	}
}

type recordingListener struct {
	mu     sync.Mutex
	events []string
	infos  []BatchInfo
}

func (l *recordingListener) add(ev string, i BatchInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
	if ev == "completed" {
		l.infos = append(l.infos, i)
	}
}
func (l *recordingListener) BatchSubmitted(i BatchInfo) { l.add("submitted", i) }
func (l *recordingListener) BatchStarted(i BatchInfo)   { l.add("started", i) }
func (l *recordingListener) BatchCompleted(i BatchInfo) { l.add("completed", i) }

func TestListenersAndHistory(t *testing.T) {
	addrs := newCluster(t, 2, testTopic)
	produce(t, addrs, testTopic, 2, 10)
	var l recordingListener
	e, err := New(Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(20*time.Millisecond), Listener(&l), RetainedBatches(3))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream[[]byte, []byte](e, "s", Assign(TopicPartition{testTopic, 0}, TopicPartition{testTopic, 1}), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var total atomic.Int64
	r := start(t, e, func(_ context.Context, bs *JobBatch) error {
		total.Add(int64(s.Batch(bs).Len()))
		return nil
	})
	waitFor(t, "5 batches and all records", 10*time.Second, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.infos) >= 5 && total.Load() == 20
	})
	r.stop(t)
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 0; i+2 < len(l.events); i += 3 {
		if l.events[i] != "submitted" || l.events[i+1] != "started" || l.events[i+2] != "completed" {
			t.Fatalf("events %v not in submitted, started, completed order", l.events[i:i+3])
		}
	}
	var records int
	for i, info := range l.infos {
		if info.ID != int64(i+1) || info.TotalDelay != info.SchedulingDelay+info.ProcessingTime || len(info.Ranges["s"]) != 2 {
			t.Errorf("batch info %d: %+v", i, info)
		}
		records += info.Records
	}
	if records != 20 {
		t.Errorf("BatchInfo.Records sum to %d, want 20", records)
	}
	h := e.History()
	if len(h) != 3 || h[2].ID != l.infos[len(l.infos)-1].ID || h[0].ID != h[2].ID-2 {
		t.Errorf("history keeps %d batches ending at %d, want the last 3", len(h), h[len(h)-1].ID)
	}
}

func TestCommitAsync(t *testing.T) {
	addrs := newCluster(t, 2, testTopic)
	produce(t, addrs, testTopic, 2, 10)
	tps := []TopicPartition{{testTopic, 0}, {testTopic, 1}}
	e, err := New(Group("manual"), ManualCommit(), Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	// ManualCommit: the engine itself commits nothing, so what lands in
	// the group is what CommitAsync sent.
	s, err := NewStream[[]byte, []byte](e, "s", Assign(tps...), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu        sync.Mutex
		committed []OffsetRange
		cbErr     error
		calls     atomic.Int64
	)
	r := start(t, e, func(_ context.Context, bs *JobBatch) error {
		if calls.Load() == 0 {
			s.CommitAsync([]OffsetRange{{Topic: testTopic, Partition: 0, FromOffset: 0, UntilOffset: 7}, {Topic: testTopic, Partition: 0, FromOffset: 0, UntilOffset: 4}}, nil)
			s.CommitAsync([]OffsetRange{{Topic: testTopic, Partition: 1, FromOffset: 0, UntilOffset: 3}}, func(c []OffsetRange, err error) {
				mu.Lock()
				committed, cbErr = c, err
				mu.Unlock()
			})
		}
		calls.Add(1)
		return nil
	})
	waitFor(t, "callback", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return committed != nil })
	r.stop(t)
	if cbErr != nil {
		t.Fatal(cbErr)
	}
	got := committedOffsets(t, addrs, "manual", testTopic, 2)
	if got[tps[0]] != 7 || got[tps[1]] != 3 {
		t.Errorf("committed %v, want p0=7 (highest until wins) p1=3", got)
	}
}

func TestPatternPicksUpNewTopic(t *testing.T) {
	c, addrs := newTestCluster(t, 2, "clicks.a")
	produce(t, addrs, "clicks.a", 2, 5)
	e, err := New(Group("pattern"), Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(50*time.Millisecond), MetadataMaxAge(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", SubscribePattern(regexp.MustCompile(`^clicks\..*`)), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var col collector
	r := start(t, e, col.handle(s))
	waitFor(t, "first topic", 10*time.Second, func() bool { return col.count() >= 10 })
	if err := c.CreateTopic("clicks.b", 3, nil); err != nil {
		t.Fatal(err)
	}
	prodB := produce(t, addrs, "clicks.b", 3, 4)
	waitFor(t, "new topic's records", 15*time.Second, func() bool { return col.count() >= 10+12 })
	r.stop(t)
	col.checkExact(t, prodB, nil)
}

func TestSurvivesInjectedFetchError(t *testing.T) {
	c, addrs := newTestCluster(t, 3, testTopic)
	e, err := New(Group("faulty"), Brokers(addrs...), ShutdownTimeout(10*time.Second), BatchInterval(30*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var col collector
	r := start(t, e, col.handle(s))
	waitFor(t, "assignment", 10*time.Second, func() bool {
		h := e.History()
		return len(h) > 0 && len(h[len(h)-1].Ranges["s"]) == 3
	})
	var injected atomic.Int64
	c.ControlKey(kmsg.Fetch.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fr := req.(*kmsg.FetchRequest)
		resp := fr.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range fr.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		injected.Add(1)
		return resp, nil, true
	})
	produced := produce(t, addrs, testTopic, 3, 20)
	waitFor(t, "records after the fault", 15*time.Second, func() bool { return col.count() >= 60 })
	r.stop(t)
	if injected.Load() == 0 {
		t.Fatal("fault was never injected")
	}
	col.checkExact(t, produced, nil)
}
