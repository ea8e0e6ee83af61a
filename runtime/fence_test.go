package runtime

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaStoreFencesAZombie: an instance whose group session expired
// while it handled a batch (a long pause: its heartbeats did not reach
// the coordinator) is a zombie: another instance took its partition and
// stored past the same range. The zombie's store of that batch is refused
// by the coordinator (its member id and generation are stale), so the
// batch is not stored twice; the zombie says so and goes on (it rejoins
// the group), since its batch was handled (at-least-once) and the live
// instance's store covers it.
func TestKafkaStoreFencesAZombie(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, testTopic), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	produce(t, addrs, testTopic, 1, 20)
	var swallow atomic.Bool
	c.ControlKey(int16(kmsg.Heartbeat), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if swallow.Load() {
			return nil, errors.New("heartbeat lost"), true // the connection drops: the session is not renewed
		}
		return nil, nil, false
	})
	var zlogs logBuf
	newEngine := func() (*Engine, *Stream[[]byte, string]) {
		e, err := New(Group("fenced"), Brokers(addrs...), BatchInterval(50*time.Millisecond), ShutdownTimeout(5*time.Second), Logger(zlogs.logger()),
			KgoOpts(kgo.SessionTimeout(500*time.Millisecond), kgo.HeartbeatInterval(50*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
		if err != nil {
			t.Fatal(err)
		}
		return e, s
	}

	zombie, zs := newEngine()
	paused, resume := make(chan struct{}), make(chan struct{})
	zerr := make(chan error, 1)
	go func() {
		zerr <- zombie.Run(context.Background(), func(_ context.Context, bs *JobBatch) error {
			if zs.Batch(bs).Len() > 0 {
				close(paused)
				<-resume // a long pause, while the group moves on
			}
			return nil
		})
	}()
	<-paused
	swallow.Store(true)
	// The coordinator expires the zombie once its session times out.
	adm, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	waitFor(t, "the coordinator to expire the zombie's session", 20*time.Second, func() bool {
		gs, err := kadm.NewClient(adm).DescribeGroups(context.Background(), "fenced")
		return err == nil && len(gs["fenced"].Members) == 0
	})
	swallow.Store(false)

	live, ls := newEngine()
	var got atomic.Int64
	r := start(t, live, func(_ context.Context, bs *JobBatch) error {
		got.Add(int64(ls.Batch(bs).Len()))
		return nil
	})
	waitFor(t, "the live instance to read the partition", 20*time.Second, func() bool { return got.Load() == 20 })
	waitFor(t, "the live instance to store its offsets", 10*time.Second, func() bool {
		return committedOffsets(t, addrs, "fenced", testTopic, 1)[TopicPartition{testTopic, 0}] == 20
	})

	close(resume)
	waitFor(t, "the zombie's store refused", 20*time.Second, func() bool {
		return len(zlogs.lines("batch handled but its offsets not stored")) > 0
	})
	t.Logf("the zombie was refused: %s", zlogs.lines("batch handled but its offsets not stored")[0])
	if err := zombie.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-zerr; err != nil {
		t.Errorf("the zombie's Run = %v, want nil: a refused store of a handled batch does not end the job", err)
	}
	r.stop(t)
	if off := committedOffsets(t, addrs, "fenced", testTopic, 1)[TopicPartition{testTopic, 0}]; off != 20 {
		t.Errorf("the group's offset is %d after the zombie's store, want the live instance's 20", off)
	}
}

// TestRetriableCommitErrorsAreRiddenOut: a coordinator that answers a
// batch's commit with REQUEST_TIMED_OUT or NOT_COORDINATOR a few times
// does not fail the batch: the commit is retried, and the job goes on.
func TestRetriableCommitErrorsAreRiddenOut(t *testing.T) {
	c, addrs := newTestCluster(t, 2, testTopic)
	produce(t, addrs, testTopic, 2, 30)
	var failed atomic.Int64
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if failed.Load() >= 4 {
			return nil, nil, false
		}
		c.KeepControl()
		n := failed.Add(1)
		code := kerr.RequestTimedOut.Code
		if n%2 == 0 {
			code = kerr.NotCoordinator.Code
		}
		creq := req.(*kmsg.OffsetCommitRequest)
		resp := creq.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range creq.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	e, err := New(Group("retried"), Brokers(addrs...), BatchInterval(50*time.Millisecond), ShutdownTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	r := start(t, e, func(_ context.Context, bs *JobBatch) error {
		got.Add(int64(s.Batch(bs).Len()))
		return nil
	})
	waitFor(t, "every record and its commit", 20*time.Second, func() bool {
		offs := committedOffsets(t, addrs, "retried", testTopic, 2)
		return got.Load() == 60 && offs[TopicPartition{testTopic, 0}] == 30 && offs[TopicPartition{testTopic, 1}] == 30
	})
	r.stop(t) // Run returned nil: no batch failed
	if failed.Load() < 4 {
		t.Errorf("the broker failed %d commits, want 4", failed.Load())
	}
}
