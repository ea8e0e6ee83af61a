package runtime

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamgen/streamgen/runtime/config"
)

// logBuf is a slog destination tests read back.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) lines(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.Lines(l.b.String()) {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

func (l *logBuf) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// failAll makes the cluster fail every request (kfake closes the
// connection it came on) until the returned function is called, or
// until d has passed when d > 0: the broker as good as gone.
func failAll(c *kfake.Cluster, d time.Duration) (restore func()) {
	var over atomic.Bool
	until := time.Now().Add(d)
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		if over.Load() || (d > 0 && time.Now().After(until)) {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		return nil, errors.New("injected: broker unavailable"), true
	})
	return func() { over.Store(true) }
}

func newFaultCluster(t *testing.T, partitions int32) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, testTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// TestBrokerOutageRiddenOut: every request failing for a few seconds does
// not end the job. KafkaHealth says since when requests fail, and is
// cleared afterwards; the outage is logged once as it begins and once as
// it ends; nothing produced is lost.
func TestBrokerOutageRiddenOut(t *testing.T) {
	c, addrs := newFaultCluster(t, 4)
	produced := produce(t, addrs, testTopic, 4, 50)
	var logs logBuf
	e, err := New(Group("outage"), Brokers(addrs...), BatchInterval(50*time.Millisecond), ShutdownTimeout(10*time.Second),
		OutageLimit(time.Minute), Logger(logs.logger()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var col collector
	r := start(t, e, col.handle(s))
	waitFor(t, "the first records", 20*time.Second, func() bool { return col.count() >= 4*50 })

	restore := failAll(c, 0)
	waitFor(t, "KafkaHealth.FailingSince", 20*time.Second, func() bool { return !e.Snapshot().Kafka.FailingSince.IsZero() })
	time.Sleep(3 * time.Second) // the outage: heartbeats, fetches and commits fail
	h := e.Snapshot().Kafka
	if h.FailingSince.IsZero() || h.LastError == "" {
		t.Errorf("during the outage KafkaHealth = %+v", h)
	}
	restore()
	more := produce(t, addrs, testTopic, 4, 50)
	for tp, offs := range more {
		produced[tp] = append(produced[tp], offs...)
	}
	waitFor(t, "the records produced after the outage", 60*time.Second, func() bool { return col.count() >= 4*100 })
	waitFor(t, "KafkaHealth cleared", 30*time.Second, func() bool { return e.Snapshot().Kafka.FailingSince.IsZero() })
	r.stop(t)

	if h := e.Snapshot().Kafka; h.LastError != "" {
		t.Errorf("after the outage KafkaHealth = %+v", h)
	}
	col.mu.Lock()
	for tp, offs := range produced {
		seen := map[int64]bool{}
		for _, o := range col.offsets[tp] {
			seen[o] = true
		}
		for _, o := range offs {
			if !seen[o] {
				t.Errorf("%s offset %d never handled", tp, o)
				break
			}
		}
	}
	col.mu.Unlock()
	t.Logf("the outage's log:\n%s", strings.Join(logs.lines("Kafka requests"), ""))
	if w := logs.lines("Kafka requests are failing"); len(w) != 1 || !strings.Contains(w[0], "level=WARN") || !strings.Contains(w[0], `group=outage`) {
		t.Errorf("warnings of the outage: %q, want one", w)
	}
	if i := logs.lines("Kafka requests succeed again"); len(i) != 1 || !strings.Contains(i[0], "level=INFO") || !strings.Contains(i[0], "lasted=") {
		t.Errorf("recoveries logged: %q, want one", i)
	}
}

// TestBrokerRestartRiddenOut: the broker process going away (its
// listener closed, connections refused) and coming back on the same port
// with its data does not end the job.
func TestBrokerRestartRiddenOut(t *testing.T) {
	dir := t.TempDir()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, testTopic), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	addrs := c.ListenAddrs()
	_, port, _ := strings.Cut(addrs[0], ":")
	produce(t, addrs, testTopic, 2, 20)
	var logs logBuf
	e, err := New(Group("restart"), Brokers(addrs...), BatchInterval(50*time.Millisecond), ShutdownTimeout(10*time.Second),
		OutageLimit(time.Minute), Logger(logs.logger()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var col collector
	r := start(t, e, col.handle(s))
	waitFor(t, "the first records", 20*time.Second, func() bool { return col.count() >= 2*20 })
	c.Close()
	waitFor(t, "KafkaHealth.FailingSince", 20*time.Second, func() bool { return !e.Snapshot().Kafka.FailingSince.IsZero() })
	time.Sleep(2 * time.Second)
	var pn int
	for _, ch := range port {
		pn = pn*10 + int(ch-'0')
	}
	c2, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(pn), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c2.Close)
	produce(t, addrs, testTopic, 2, 20)
	waitFor(t, "the records produced after the restart", 60*time.Second, func() bool { return col.count() >= 2*40 })
	waitFor(t, "KafkaHealth cleared", 30*time.Second, func() bool { return e.Snapshot().Kafka.FailingSince.IsZero() })
	r.stop(t)
	if w := logs.lines("Kafka requests are failing"); len(w) != 1 {
		t.Errorf("warnings of the outage: %q, want one", w)
	}
	if w := logs.lines("Kafka requests succeed again"); len(w) != 1 {
		t.Errorf("recoveries logged: %q, want one", w)
	}
}

// TestOutageLimitEndsRun: an outage longer than OutageLimit ends Run
// with an *OutageError naming the group and the partitions the job owned.
func TestOutageLimitEndsRun(t *testing.T) {
	c, addrs := newFaultCluster(t, 2)
	produce(t, addrs, testTopic, 2, 10)
	e, err := New(Group("limited"), Brokers(addrs...), BatchInterval(50*time.Millisecond), ShutdownTimeout(10*time.Second),
		OutageLimit(time.Second), Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var col collector
	r := start(t, e, col.handle(s))
	waitFor(t, "the first records", 20*time.Second, func() bool { return col.count() >= 2*10 })
	defer failAll(c, 0)()
	var runErr error
	select {
	case runErr = <-r.errc:
	case <-time.After(60 * time.Second):
		t.Fatal("Run still running a minute into an outage limited to 1s")
	}
	var oe *OutageError
	if !errors.As(runErr, &oe) {
		t.Fatalf("Run = %v, want an *OutageError", runErr)
	}
	msg := runErr.Error()
	for _, want := range []string{`group "limited"`, "topic " + testTopic + " partitions 0, 1", "kafka.outageLimit", "first failure: "} {
		if !strings.Contains(msg, want) {
			t.Errorf("Run's error %q does not say %q", msg, want)
		}
	}
	if oe.For <= oe.Limit || oe.Since.IsZero() {
		t.Errorf("OutageError %+v", oe)
	}
}

// TestWaitingForPartitions: a second replica of a one-partition job is in
// the group but owns nothing; it says so once, in the log and in
// KafkaHealth, and stops cleanly when asked.
func TestWaitingForPartitions(t *testing.T) {
	_, addrs := newFaultCluster(t, 1)
	produce(t, addrs, testTopic, 1, 10)
	newEngine := func(instance string, logs *logBuf) (*Engine, Handler) {
		e, err := New(Group("waiting"), Brokers(addrs...), BatchInterval(50*time.Millisecond), ShutdownTimeout(10*time.Second),
			InstanceID(instance), SessionTimeout(6*time.Second), Logger(logs.logger()))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
		if err != nil {
			t.Fatal(err)
		}
		var col collector
		return e, col.handle(s)
	}
	var logs1, logs2 logBuf
	e1, h1 := newEngine("replica-1", &logs1)
	r1 := start(t, e1, h1)
	waitFor(t, "replica-1 owning the partition", 20*time.Second, func() bool { return len(e1.Snapshot().Partitions) == 1 })
	e2, h2 := newEngine("replica-2", &logs2)
	r2 := start(t, e2, h2)
	waitFor(t, "replica-2 waiting for partitions", 30*time.Second, func() bool { return e2.Snapshot().Kafka.WaitingForPartitions })
	time.Sleep(500 * time.Millisecond)
	if len(e1.Snapshot().Partitions)+len(e2.Snapshot().Partitions) != 1 {
		t.Errorf("partitions owned: %v and %v", e1.Snapshot().Partitions, e2.Snapshot().Partitions)
	}
	if w := logs2.lines("waiting for partitions"); len(w) != 1 || !strings.Contains(w[0], "group=waiting") || !strings.Contains(w[0], "instance_id=replica-2") ||
		!strings.Contains(w[0], "session_timeout=6s") || !strings.Contains(w[0], "until its session times out (kafka.sessionTimeout)") {
		t.Errorf("replica-2 logged %q, want one line naming group, instance, and the session timeout a dead member's partitions wait for", w)
	}
	r2.stop(t) // Run returned nil: within ShutdownTimeout, cleanly
	r1.stop(t)
}

// TestBatchErrorIsNotRetried: a whole-batch handler error (ProcessBatch's)
// is not retried in the process, unlike a partition task's: at-least-once
// it fails the batch, which stores nothing, and Run returns the error
// naming the batch, so a restart reads the batch again.
func TestBatchErrorIsNotRetried(t *testing.T) {
	_, addrs := newFaultCluster(t, 1)
	produce(t, addrs, testTopic, 1, 10)
	e, err := New(Group("batcherr"), Brokers(addrs...), BatchInterval(50*time.Millisecond), ShutdownTimeout(10*time.Second),
		MaxTaskFailures(4), TaskRetryBackoff(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream[[]byte](e, "s", Subscribe(testTopic), nil, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	err = e.Run(context.Background(), func(ctx context.Context, bs *JobBatch) error {
		if s.Batch(bs).Len() == 0 {
			return nil
		}
		calls.Add(1)
		return errors.New("warehouse down")
	})
	if err == nil || !strings.Contains(err.Error(), "warehouse down") || !strings.Contains(err.Error(), "batch ") {
		t.Fatalf("Run = %v, want the handler's error naming the batch", err)
	}
	if calls.Load() != 1 {
		t.Errorf("the failing handler ran %d times, want once (no in-process retry)", calls.Load())
	}
	if got := committedOffsets(t, addrs, "batcherr", testTopic, 1); len(got) != 0 {
		t.Errorf("the failed batch committed %v", got)
	}
}

// TestFaultSettingsReachTheEngine: kafka.outageLimit, kafka.sessionTimeout
// and kafka.instanceId (a runtime value) become engine options.
func TestFaultSettingsReachTheEngine(t *testing.T) {
	d := config.Default()
	if d.OutageLimit != 5*time.Minute || d.SessionTimeout != 45*time.Second || d.InstanceID != "" {
		t.Errorf("defaults: outage limit %v, session timeout %v, instance %q", d.OutageLimit, d.SessionTimeout, d.InstanceID)
	}
	e, err := New(Brokers("k:9092"))
	if err != nil {
		t.Fatal(err)
	}
	if e.cfg.outageLimit != d.OutageLimit || e.cfg.sessionTimeout != d.SessionTimeout {
		t.Errorf("engine defaults: outage limit %v, session timeout %v", e.cfg.outageLimit, e.cfg.sessionTimeout)
	}
	jc := DefaultJobConfig()
	jc.Group, jc.InstanceID, jc.OutageLimit, jc.SessionTimeout = "g", "${POD_NAME}", 0, 10*time.Second
	jc.ExpandEnv(func(k string) (string, bool) {
		if k == "POD_NAME" {
			return "etl-2", true
		}
		return "", false
	})
	opts, err := jc.EngineOpts()
	if err != nil {
		t.Fatal(err)
	}
	e, err = New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if e.cfg.instanceID != "etl-2" || e.cfg.outageLimit != 0 || e.cfg.sessionTimeout != 10*time.Second {
		t.Errorf("from JobConfig: instance %q, outage limit %v, session timeout %v", e.cfg.instanceID, e.cfg.outageLimit, e.cfg.sessionTimeout)
	}
	jc.OutageLimit = -time.Second
	if _, err := jc.EngineOpts(); err == nil || !strings.Contains(err.Error(), "kafka.outageLimit (--outage-limit)") {
		t.Errorf("negative OutageLimit: %v", err)
	}
}

// refuseCommits answers the next n OffsetCommits of the cluster with
// ILLEGAL_GENERATION on every partition: what a member that lost its
// generation in an outage hears when it commits.
func refuseCommits(c *kfake.Cluster, n int) *atomic.Int64 {
	var refused atomic.Int64
	c.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if refused.Load() >= int64(n) {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		refused.Add(1)
		r := req.(*kmsg.OffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.Version = r.Version
		for _, t := range r.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.IllegalGeneration.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	return &refused
}

// TestRefusedCommitDoesNotEndTheJob: the group refusing a batch's commit
// because the member's generation is over (after an outage) does not end
// the job. At-most-once the batch is not handled then, and its records
// are read again from its start and handled once; at-least-once the
// handled batch's offsets are stored by the next commit.
func TestRefusedCommitDoesNotEndTheJob(t *testing.T) {
	for _, sem := range []Semantics{AtMostOnce, AtLeastOnce} {
		t.Run(sem.String(), func(t *testing.T) {
			c, addrs := newFaultCluster(t, 2)
			var logs logBuf
			e, err := New(Group("refused"), Brokers(addrs...), BatchInterval(50*time.Millisecond), ShutdownTimeout(10*time.Second),
				WithSemantics(sem), Logger(logs.logger()))
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
			if err != nil {
				t.Fatal(err)
			}
			var col collector
			r := start(t, e, col.handle(s))
			waitFor(t, "the group joined", 20*time.Second, func() bool { return len(e.Snapshot().Partitions) == 2 })
			refused := refuseCommits(c, 1)
			produced := produce(t, addrs, testTopic, 2, 30)
			waitFor(t, "every record", 30*time.Second, func() bool { return col.count() >= 2*30 })
			waitFor(t, "the commit of every record", 30*time.Second, func() bool {
				got := committedOffsets(t, addrs, "refused", testTopic, 2)
				return got[TopicPartition{testTopic, 0}] == 30 && got[TopicPartition{testTopic, 1}] == 30
			})
			r.stop(t)
			if refused.Load() != 1 {
				t.Fatalf("%d commits refused, want 1", refused.Load())
			}
			col.checkExact(t, produced, nil) // every offset once, ranges tiling the log
			want := "batch handled but its offsets not stored"
			if sem == AtMostOnce {
				want = "batch not handled: the group refused its offsets"
			}
			if l := logs.lines(want); len(l) != 1 {
				t.Errorf("log lines %q: %q, want one", want, l)
			}
		})
	}
}

// TestStopWhileWaitingForBrokers: a job started while its brokers refuse
// connections waits for them (an outage, in KafkaHealth) rather than
// failing at once, and a stop in that state ends Run cleanly.
func TestStopWhileWaitingForBrokers(t *testing.T) {
	c, addrs := newFaultCluster(t, 1)
	c.Close() // nothing listens on the port now
	var logs logBuf
	e, err := New(Group("early"), Brokers(addrs...), BatchInterval(50*time.Millisecond), ShutdownTimeout(30*time.Second),
		Logger(logs.logger()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder)
	if err != nil {
		t.Fatal(err)
	}
	var col collector
	r := start(t, e, col.handle(s))
	waitFor(t, "KafkaHealth.FailingSince", 20*time.Second, func() bool { return !e.Snapshot().Kafka.FailingSince.IsZero() })
	if w := logs.lines("cannot reach the brokers"); len(w) != 1 || !strings.Contains(w[0], "connection refused") {
		t.Errorf("warnings: %q, want one saying the connection was refused", w)
	}
	r.stop(t) // Run returned nil, within ShutdownTimeout
}

// TestOutageLimitAtStart: brokers that refuse connections for longer than
// OutageLimit from the start end Run with a *ConnectError that wraps the
// *OutageError.
func TestOutageLimitAtStart(t *testing.T) {
	c, addrs := newFaultCluster(t, 1)
	c.Close()
	e, err := New(Group("early"), Brokers(addrs...), OutageLimit(300*time.Millisecond), Logger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder); err != nil {
		t.Fatal(err)
	}
	err = e.Run(context.Background(), func(context.Context, *JobBatch) error { return nil })
	var ce *ConnectError
	var oe *OutageError
	if !errors.As(err, &ce) || !errors.As(err, &oe) || !strings.Contains(err.Error(), addrs[0]) {
		t.Fatalf("Run = %v, want a *ConnectError naming %s wrapping an *OutageError", err, addrs[0])
	}
}

// TestUnresolvableBrokerFailsWithOneLine: a broker host name that does not
// resolve (a typo) fails the start at once, and nothing logged before
// says the job will retry it.
func TestUnresolvableBrokerFailsWithOneLine(t *testing.T) {
	var logs logBuf
	e, err := New(Group("typo"), Brokers("kafka.invalid:9092"), OutageLimit(2*time.Second), Logger(logs.logger()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewStream(e, "s", Subscribe(testTopic), BytesDecoder, StringDecoder); err != nil {
		t.Fatal(err)
	}
	err = e.Run(context.Background(), func(context.Context, *JobBatch) error { return nil })
	var ce *ConnectError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "kafka.invalid:9092") {
		t.Fatalf("Run = %v, want a *ConnectError naming kafka.invalid:9092", err)
	}
	if !strings.Contains(err.Error(), "no such host") {
		t.Skipf("this machine's resolver did not answer that kafka.invalid does not exist: %v", err)
	}
	if w := logs.lines("retrying"); len(w) > 0 {
		t.Errorf("logged %q before failing: a retry that never comes", w)
	}
}
