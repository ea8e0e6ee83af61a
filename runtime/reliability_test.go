package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// infos is a BatchListener that keeps every completed batch's info.
type infos struct {
	mu  sync.Mutex
	all []BatchInfo
}

func (*infos) BatchSubmitted(BatchInfo) {}
func (*infos) BatchStarted(BatchInfo)   {}
func (l *infos) BatchCompleted(i BatchInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, i)
}

func (l *infos) with(o OffsetsOutcome) []BatchInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []BatchInfo
	for _, i := range l.all {
		if i.Offsets == o {
			out = append(out, i)
		}
	}
	return out
}

// holdHeartbeats keeps the member's heartbeats (and the requests queued
// behind them on the same connection, its commits) unanswered until the
// group has expired the member: the member really loses its generation,
// as it does when a broker restarts or the network splits while a batch
// runs. It returns once the hold has begun.
func holdHeartbeats(t *testing.T, c *kfake.Cluster, addrs []string, group string) (released <-chan struct{}) {
	adm, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	done := make(chan struct{})
	var once atomic.Bool
	c.ControlKey(int16(kmsg.Heartbeat), func(kmsg.Request) (kmsg.Response, error, bool) {
		if !once.CompareAndSwap(false, true) {
			c.DropControl()
			return nil, nil, false
		}
		c.SleepControl(func() {
			defer close(done)
			for {
				gs, err := kadm.NewClient(adm).DescribeGroups(context.Background(), group)
				if err == nil && gs[group].State == "Empty" {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
		return nil, nil, false // handled by the cluster now: UNKNOWN_MEMBER_ID
	})
	return done
}

// TestLostGenerationKeepsHandledBatch: a member whose session the group
// expires while a batch runs has that batch's commit refused, loses every
// partition, and gets them back when it rejoins. It must resume after the
// batch it handled and store its offsets with the next batch, not hand
// the same records to the handler again; and the batch's BatchInfo says
// its offsets were refused, not stored.
func TestLostGenerationKeepsHandledBatch(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, testTopic), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	produced := produce(t, addrs, testTopic, 2, 30)
	var logs logBuf
	var li infos
	e, err := New(Group("lostgen"), Brokers(addrs...), BatchInterval(50*time.Millisecond), ShutdownTimeout(10*time.Second),
		SessionTimeout(time.Second), Logger(logs.logger()), Listener(&li))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(strings.Join(logs.lines(""), ""))
		}
	})
	var col collector
	collect := col.handle(s)
	var held atomic.Bool
	r := start(t, e, func(ctx context.Context, b *JobBatch) error {
		if err := collect(ctx, b); err != nil {
			return err
		}
		if s.Batch(b).Len() > 0 && held.CompareAndSwap(false, true) {
			<-holdHeartbeats(t, c, addrs, "lostgen")
		}
		return nil
	})
	waitFor(t, "the commit of every record", 30*time.Second, func() bool {
		got := committedOffsets(t, addrs, "lostgen", testTopic, 2)
		return got[TopicPartition{testTopic, 0}] == 30 && got[TopicPartition{testTopic, 1}] == 30
	})
	r.stop(t)
	col.checkExact(t, produced, nil) // every offset handed once, ranges tiling the log
	if refused := li.with(OffsetsRefused); len(refused) != 1 || refused[0].Err != nil || refused[0].Records == 0 {
		t.Errorf("batches with offsets refused: %+v, want the one held", refused)
	}
	if l := logs.lines("partition back after a rebalance"); len(l) == 0 {
		t.Errorf("no log line says the partitions resumed after the handled batch")
	}
	if l := logs.lines("batch handled but its offsets not stored"); len(l) != 1 {
		t.Errorf("refusal log lines: %q, want one", l)
	}
}

// TestAliveOnlyForWhatEndsTheJob: /healthz fails for a batch that ended
// Run, never for one read again in the process or lost at most once;
// /status.json says what became of each batch's offsets.
func TestAliveOnlyForWhatEndsTheJob(t *testing.T) {
	failed := errors.New("boom")
	for _, c := range []struct {
		b     BatchInfo
		alive bool
	}{
		{BatchInfo{ID: 1, Offsets: OffsetsStored}, true},
		{BatchInfo{ID: 2, Offsets: OffsetsRefused}, true},
		{BatchInfo{ID: 3, Err: failed, Offsets: OffsetsReread}, true},
		{BatchInfo{ID: 4, Err: failed, Offsets: OffsetsLost}, true},
		{BatchInfo{ID: 5, Err: failed, Offsets: OffsetsNotStored}, false},
		{BatchInfo{ID: 6, Err: failed, Offsets: OffsetsByHandler}, false},
	} {
		err := NewStatus("j").alive(Snapshot{Batches: []BatchInfo{c.b}})
		if (err == nil) != c.alive {
			t.Errorf("batch with offsets %s, err %v: alive = %v, want alive %v", c.b.Offsets, c.b.Err, err, c.alive)
		}
		if got := batchToJSON(c.b).Offsets; got != c.b.Offsets.Label() || got == "unknown" {
			t.Errorf("status.json offsets %q for %s", got, c.b.Offsets)
		}
	}
}

// stuckListener says it was called on entered, then blocks in every
// call until release is closed.
type stuckListener struct{ entered, release chan struct{} }

func (l stuckListener) BatchSubmitted(BatchInfo) {}
func (l stuckListener) BatchStarted(BatchInfo)   {}
func (l stuckListener) BatchCompleted(BatchInfo) {
	select {
	case l.entered <- struct{}{}:
	default:
	}
	<-l.release
}

// TestListenerQueueBounded: a listener that never returns neither blocks
// the batch loop nor grows the queue without end, and the stop waits for
// it only as long as its bound.
func TestListenerQueueBounded(t *testing.T) {
	var logs logBuf
	l := stuckListener{entered: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(l.release)
	n := newNotifier([]BatchListener{l}, logs.logger())
	n.completed(BatchInfo{ID: 0})
	<-l.entered // the loop holds that one event, and is stuck in it
	for i := range maxQueuedEvents + 10 {
		n.completed(BatchInfo{ID: int64(i + 1)}) // never blocks
	}
	if d := n.dropped.Load(); d != 10 {
		t.Errorf("%d events dropped, want 10", d)
	}
	if w := logs.lines("a batch listener is too slow"); len(w) != 1 {
		t.Errorf("warnings %q, want one for the streak", w)
	}
	closed := make(chan struct{})
	go func() { n.close(10 * time.Millisecond); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("close waited on a stuck listener past its bound")
	}
}

// TestStopSaysWhatItWaitsFor: a stop that arrives during a batch says at
// once that it finishes that batch, rather than leaving seconds of
// silence before "stopped".
func TestStopSaysWhatItWaitsFor(t *testing.T) {
	_, addrs := newFaultCluster(t, 1)
	produce(t, addrs, testTopic, 1, 5)
	var logs logBuf
	e, err := New(Group("stopping"), Brokers(addrs...), BatchInterval(50*time.Millisecond), Logger(logs.logger()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	inBatch, release := make(chan int64, 1), make(chan struct{})
	r := start(t, e, func(_ context.Context, b *JobBatch) error {
		if s.Batch(b).Len() > 0 {
			select {
			case inBatch <- b.ID():
				<-release
			default:
			}
		}
		return nil
	})
	id := <-inBatch
	stopped := make(chan error, 1)
	go func() {
		e.Stop(context.Background())
		stopped <- <-r.errc
	}()
	waitFor(t, "the stopping line", 10*time.Second, func() bool { return len(logs.lines("stopping: finishing batch")) > 0 })
	if l := logs.lines("stopping: finishing batch"); !strings.Contains(l[0], fmt.Sprintf("batch=%d", id)) {
		t.Errorf("stopping line %q does not name batch %d", l[0], id)
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestUnreachableBrokersSaidOnce: a job whose brokers cannot be reached
// (a mistyped address) says so once, at once, and retries quietly: no
// warning of the Kafka client's per attempt, until the outage limit ends
// it with the address named.
func TestUnreachableBrokersSaidOnce(t *testing.T) {
	c, addrs := newFaultCluster(t, 1)
	c.Close() // nothing listens there now
	cfg := DefaultJobConfig()
	cfg.Brokers = addrs
	cfg.Group = "typo"
	cfg.StatusAddr = ""
	var out syncBuffer
	code := runMain(context.Background(), "anomaly-detector", &cfg, []string{"--outage-limit", "1500ms"}, envOf(nil), &out, false, func(ctx context.Context) error {
		opts, err := cfg.EngineOpts()
		if err != nil {
			return err
		}
		e, err := New(opts...)
		if err != nil {
			return err
		}
		if _, err := NewStream(e, "events", Subscribe(testTopic), BytesDecoder, StringDecoder); err != nil {
			return err
		}
		return e.Run(ctx, func(context.Context, *JobBatch) error { return nil })
	})
	log := out.String()
	if code != 1 || strings.Count(log, "cannot reach the brokers") != 1 || !strings.Contains(log, addrs[0]) {
		t.Errorf("exit %d, want 1 after one line saying the brokers %s cannot be reached:\n%s", code, addrs[0], log)
	}
	if n := strings.Count(log, "unable to open connection"); n > 0 {
		t.Errorf("%d client warnings for connection attempts, want none at the default Kafka log level:\n%s", n, log)
	}
}

// TestStatusNamesStreamsWhileBrokersDown: the status page names the
// job's streams while the brokers cannot be reached, rather than "none
// yet".
func TestStatusNamesStreamsWhileBrokersDown(t *testing.T) {
	c, addrs := newFaultCluster(t, 1)
	c.Close()
	st := NewStatus("down")
	e, err := New(Group("down"), Brokers(addrs...), BatchInterval(50*time.Millisecond), Logger(slog.New(slog.DiscardHandler)), st.Attach())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStream(e, "impressions", Subscribe(testTopic), BytesDecoder, StringDecoder); err != nil {
		t.Fatal(err)
	}
	r := start(t, e, func(context.Context, *JobBatch) error { return nil })
	waitFor(t, "the outage", 10*time.Second, func() bool { return !e.Snapshot().Kafka.FailingSince.IsZero() })
	if got := streamNames(e.Snapshot()); !slices.Equal(got, []string{"impressions"}) {
		t.Errorf("status streams %v while the brokers are down, want [impressions]", got)
	}
	r.stop(t)
}

// TestOverrunStopStillLeavesTheGroup: a stop that overruns its shutdown
// timeout (a handler that does not return) still leaves the group, so
// the next start does not wait on a ghost member until its session
// expires.
func TestOverrunStopStillLeavesTheGroup(t *testing.T) {
	_, addrs := newFaultCluster(t, 1)
	produce(t, addrs, testTopic, 1, 5)
	e, err := New(Group("ghost"), Brokers(addrs...), BatchInterval(50*time.Millisecond), ShutdownTimeout(200*time.Millisecond),
		Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	stuck, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	r := start(t, e, func(_ context.Context, b *JobBatch) error {
		if s.Batch(b).Len() > 0 {
			select {
			case stuck <- struct{}{}:
			default:
			}
			<-release // past the shutdown timeout
		}
		return nil
	})
	<-stuck
	e.Stop(context.Background())
	if err := <-r.errc; err == nil || !strings.Contains(err.Error(), "shutdown exceeded") {
		t.Fatalf("Run = %v, want the stop to overrun", err)
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	// Well within the default session timeout (45 s) a ghost would hold.
	waitFor(t, "the group to be empty", 10*time.Second, func() bool {
		gs, err := kadm.NewClient(adm).DescribeGroups(context.Background(), "ghost")
		return err == nil && gs["ghost"].State == "Empty"
	})
}
