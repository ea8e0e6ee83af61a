package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
)

const outTopic = "enriched"

// kafkaCluster is a kfake cluster with the impressions topic and the
// output topic, parts partitions each, and a producer.
func kafkaCluster(t *testing.T, parts int32) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, etlTopic, outTopic, "dead-letters"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, cl
}

// kafkaJob is the Kafka-to-Kafka job under test: impressions in, each
// written out (its CampaignID times 10) with its origin in the headers.
type kafkaJob struct {
	e    *runtime.Engine
	sink *Kafka
	errc chan error
}

func startKafkaJob(t *testing.T, addrs []string, s runtime.Semantics, handler func(ctx context.Context, w *KafkaWriter[struct{}, alltypes.Impression, *alltypes.Impression], b *runtime.Batch[struct{}, alltypes.Impression]) error, opts ...KafkaOpt) *kafkaJob {
	t.Helper()
	k, err := NewKafka(outTopic, s, append([]KafkaOpt{TransactionTimeout(5 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	e, err := runtime.New(runtime.Group("k2k"), runtime.WithSemantics(s), runtime.WithOffsetStore(k),
		runtime.Brokers(addrs...), runtime.BatchInterval(50*time.Millisecond), runtime.MaxRatePerPartition(2000),
		runtime.KgoOpts(kgo.RebalanceTimeout(3*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := runtime.NewStreamInto[struct{}](e, "impressions", runtime.Subscribe(etlTopic), nil, runtime.RawAvroInto[alltypes.Impression](),
		runtime.OnDecodeError(runtime.DeadLetterBadRecords), runtime.DeadLetterTopic("dead-letters"))
	if err != nil {
		t.Fatal(err)
	}
	w := RawKafkaWriter[struct{}, alltypes.Impression](k)
	j := &kafkaJob{e: e, sink: k, errc: make(chan error, 1)}
	go func() {
		j.errc <- e.Run(context.Background(), func(ctx context.Context, bs *runtime.JobBatch) error {
			return handler(ctx, w, st.Batch(bs))
		})
	}()
	return j
}

func (j *kafkaJob) stop(t *testing.T) {
	t.Helper()
	if err := j.e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-j.errc; err != nil {
		t.Fatal(err)
	}
}

// enrich is the test job's transform.
func enrich(ctx context.Context, w *KafkaWriter[struct{}, alltypes.Impression, *alltypes.Impression], b *runtime.Batch[struct{}, alltypes.Impression]) error {
	for r := range b.Records() {
		v := r.Value
		v.CampaignID *= 10
		if err := w.Write(ctx, OriginOf(r), struct{}{}, &v); err != nil {
			return err
		}
	}
	return nil
}

// output reads the output topic to its end with the given isolation and
// counts each origin's records; it fails on a record without one, or
// whose value is not its origin's transform.
func output(t *testing.T, addrs []string, committed bool) (map[Origin]int, int) {
	t.Helper()
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(outTopic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := make(map[Origin]int)
	total, idle := 0, 0
	for idle < 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			o := originOf(t, r)
			var v alltypes.Impression
			if err := v.UnmarshalAvro(r.Value); err != nil {
				t.Fatalf("output offset %d: %v", r.Offset, err)
			}
			if v.CampaignID != o.Offset*10 {
				t.Fatalf("output of %+v has CampaignID %d, want %d", o, v.CampaignID, o.Offset*10)
			}
			seen[o]++
		})
		total += n
		if n == 0 {
			idle++
		} else {
			idle = 0
		}
	}
	return seen, total
}

func originOf(t *testing.T, r *kgo.Record) Origin {
	var o Origin
	var got int
	for _, h := range r.Headers {
		switch h.Key {
		case runtime.HeaderSourceTopic:
			o.Topic = string(h.Value)
			got++
		case runtime.HeaderSourcePartition:
			p, _ := strconv.Atoi(string(h.Value))
			o.Partition = int32(p)
			got++
		case runtime.HeaderSourceOffset:
			o.Offset, _ = strconv.ParseInt(string(h.Value), 10, 64)
			got++
		}
	}
	if got != 3 {
		t.Fatalf("output record at partition %d offset %d has no origin headers: %v", r.Partition, r.Offset, r.Headers)
	}
	return o
}

// checkExactlyOnce fails unless every input offset below want has exactly
// one committed output record.
func checkExactlyOnce(t *testing.T, seen map[Origin]int, parts int32, want int64) {
	t.Helper()
	for p := range parts {
		for off := range want {
			if n := seen[Origin{etlTopic, p, off}]; n != 1 {
				t.Errorf("input partition %d offset %d has %d committed outputs, want 1", p, off, n)
			}
		}
	}
	if int64(len(seen)) != int64(parts)*want {
		t.Errorf("%d inputs have output, want %d", len(seen), int64(parts)*want)
	}
}

// waitCommitted waits until the group's committed offsets reach want on
// every partition.
func waitCommitted(t *testing.T, j *kafkaJob, parts int32, want int64) {
	t.Helper()
	ends := make(map[int32]int64)
	for p := range parts {
		ends[p] = want
	}
	waitEnds(t, j, ends)
}

// waitEnds waits until the group's committed offset of each partition p
// reaches ends[p].
func waitEnds(t *testing.T, j *kafkaJob, ends map[int32]int64) {
	t.Helper()
	var tps []runtime.TopicPartition
	for p := range ends {
		tps = append(tps, runtime.TopicPartition{Topic: etlTopic, Partition: p})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		offs, err := j.sink.Load(context.Background(), tps)
		if err == nil {
			done := true
			for _, tp := range tps {
				done = done && offs[tp] >= ends[tp.Partition]
			}
			if done {
				return
			}
		}
		select {
		case err := <-j.errc:
			t.Fatalf("the job stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed offsets %v (%v), want %v", offs, err, ends)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A batch that fails after writing is aborted: read_uncommitted readers
// see what it wrote, read_committed readers do not, and the restarted job
// writes every input's output once more, committed with its offsets.
func TestKafkaSinkAbortedOutputSkippedByReadCommitted(t *testing.T) {
	const parts, n = 3, 200
	c, cl := kafkaCluster(t, parts)
	addrs := c.ListenAddrs()
	next := make(map[int32]int64)
	produceImpressions(t, cl, parts, next, n)

	var failed atomic.Bool
	j := startKafkaJob(t, addrs, runtime.ExactlyOnce, func(ctx context.Context, w *KafkaWriter[struct{}, alltypes.Impression, *alltypes.Impression], b *runtime.Batch[struct{}, alltypes.Impression]) error {
		if err := enrich(ctx, w, b); err != nil {
			return err
		}
		if b.Len() > 0 && failed.CompareAndSwap(false, true) {
			if err := w.Sink().cl.Flush(ctx); err != nil { // the output is in the log, uncommitted
				return err
			}
			return errors.New("the handler failed after writing")
		}
		return nil
	})
	if err := <-j.errc; err == nil || !failed.Load() {
		t.Fatalf("the job ended with %v, want the handler's failure", err)
	}
	if s := j.sink.Stats(); s.Aborted != 1 {
		t.Errorf("stats %+v, want 1 aborted transaction", s)
	}
	_, aborted := output(t, addrs, false)
	if aborted == 0 {
		t.Fatal("read_uncommitted sees no output of the aborted batch")
	}
	if seen, _ := output(t, addrs, true); len(seen) != 0 {
		t.Fatalf("read_committed sees %d outputs of the aborted batch", len(seen))
	}

	j = startKafkaJob(t, addrs, runtime.ExactlyOnce, enrich)
	waitCommitted(t, j, parts, n)
	j.stop(t)
	seen, total := output(t, addrs, true)
	checkExactlyOnce(t, seen, parts, n)
	if total != parts*n {
		t.Errorf("read_committed reads %d records, want %d", total, parts*n)
	}
	if _, all := output(t, addrs, false); all != parts*n+aborted {
		t.Errorf("read_uncommitted reads %d records, want %d committed + %d aborted", all, parts*n, aborted)
	}
	if s := j.sink.Stats(); s.Committed == 0 || s.EndTxn <= 0 {
		t.Errorf("stats %+v, want committed transactions and their EndTxn time", s)
	}
}

// Undecodable records become dead letters in the batch's transaction: an
// aborted batch's dead letters are skipped by read_committed readers with
// its output, and the committed batch's are there once.
func TestKafkaSinkDeadLettersInTransaction(t *testing.T) {
	const parts, n = 2, 50
	c, cl := kafkaCluster(t, parts)
	addrs := c.ListenAddrs()
	next := make(map[int32]int64)
	produceImpressions(t, cl, parts, next, n)
	bad := &kgo.Record{Topic: etlTopic, Partition: 0, Value: []byte{0xff, 0xff}}
	if err := cl.ProduceSync(context.Background(), bad).FirstErr(); err != nil {
		t.Fatal(err)
	}
	produceImpressions(t, cl, parts, next, n)
	var failed atomic.Bool
	j := startKafkaJob(t, addrs, runtime.ExactlyOnce, func(ctx context.Context, w *KafkaWriter[struct{}, alltypes.Impression, *alltypes.Impression], b *runtime.Batch[struct{}, alltypes.Impression]) error {
		if err := enrich(ctx, w, b); err != nil {
			return err
		}
		for _, r := range b.OffsetRanges() {
			if r.Partition == 0 && r.FromOffset <= bad.Offset && bad.Offset < r.UntilOffset && failed.CompareAndSwap(false, true) {
				if err := w.Sink().cl.Flush(ctx); err != nil {
					return err
				}
				return errors.New("the handler failed in the batch of the bad record")
			}
		}
		return nil
	})
	if err := <-j.errc; err == nil {
		t.Fatal("the job did not fail")
	}
	j = startKafkaJob(t, addrs, runtime.ExactlyOnce, enrich)
	waitEnds(t, j, map[int32]int64{0: 2*n + 1, 1: 2 * n})
	j.stop(t)
	count := func(committed bool) int {
		iso := kgo.ReadUncommitted()
		if committed {
			iso = kgo.ReadCommitted()
		}
		rd, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("dead-letters"), kgo.FetchIsolationLevel(iso),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		got := 0
		for ctx.Err() == nil {
			rd.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got++ })
		}
		return got
	}
	if got := count(true); got != 1 {
		t.Errorf("read_committed sees %d dead letters, want 1", got)
	}
	if got := count(false); got != 2 {
		t.Errorf("read_uncommitted sees %d dead letters, want 2 (one aborted)", got)
	}
}

// A zombie, an instance whose partitions moved to another while it was
// in a batch, cannot commit: its offsets carry a stale generation
// (KIP-447) or, when the new instance took its transactional id, its
// producer epoch is fenced. Its transaction is aborted and every input
// has exactly one committed output.
func TestKafkaSinkZombieFenced(t *testing.T) {
	for _, sameID := range []bool{false, true} {
		t.Run(fmt.Sprintf("sameTransactionalID=%v", sameID), func(t *testing.T) {
			const parts, n = 2, 100
			c, cl := kafkaCluster(t, parts)
			addrs := c.ListenAddrs()
			next := make(map[int32]int64)
			produceImpressions(t, cl, parts, next, n)
			var opts []KafkaOpt
			if sameID {
				opts = append(opts, TransactionalID("k2k-replica-0"))
			}
			release := make(chan struct{})
			var stuck sync.Once
			inBatch := make(chan struct{})
			zombie := startKafkaJob(t, addrs, runtime.ExactlyOnce, func(ctx context.Context, w *KafkaWriter[struct{}, alltypes.Impression, *alltypes.Impression], b *runtime.Batch[struct{}, alltypes.Impression]) error {
				if err := enrich(ctx, w, b); err != nil {
					return err
				}
				if b.Len() > 0 {
					stuck.Do(func() {
						close(inBatch)
						<-release // a stalled process: a long GC pause, a frozen VM
					})
				}
				return nil
			}, opts...)
			<-inBatch
			heir := startKafkaJob(t, addrs, runtime.ExactlyOnce, enrich, opts...)
			waitCommitted(t, heir, parts, n)
			close(release)
			err := <-zombie.errc
			var ce *runtime.CommitError
			switch {
			case err == nil:
				t.Fatal("the zombie's batch committed")
			case sameID && (!errors.Is(err, runtime.ErrFenced) || !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch)):
				t.Errorf("the zombie failed with %v, want its producer fenced (runtime.ErrFenced)", err)
			case !sameID && (!errors.As(err, &ce) || !(errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.UnknownMemberID))):
				t.Errorf("the zombie failed with %v, want a CommitError for its stale generation", err)
			}
			t.Logf("the zombie failed: %v", err)
			heir.stop(t)
			seen, _ := output(t, addrs, true)
			checkExactlyOnce(t, seen, parts, n)
		})
	}
}

// Faults on the transaction's requests (AddOffsetsToTxn, TxnOffsetCommit,
// EndTxn answering TRANSACTION_ABORTABLE) fail the batch; it is aborted,
// the job reads it again without exiting, and nothing is lost or
// duplicated.
func TestKafkaSinkTransactionFaults(t *testing.T) {
	for _, key := range []kmsg.Key{kmsg.AddOffsetsToTxn, kmsg.TxnOffsetCommit, kmsg.EndTxn} {
		t.Run(key.Name(), func(t *testing.T) {
			const parts, n = 2, 100
			c, cl := kafkaCluster(t, parts)
			addrs := c.ListenAddrs()
			next := make(map[int32]int64)
			produceImpressions(t, cl, parts, next, n/2)
			var faulted atomic.Int32
			c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if faulted.Load() > 0 {
					return nil, nil, false
				}
				if end, ok := req.(*kmsg.EndTxnRequest); ok && !end.Commit {
					return nil, nil, false // let the abort through
				}
				faulted.Add(1)
				resp := req.ResponseKind()
				switch r := resp.(type) {
				case *kmsg.AddOffsetsToTxnResponse:
					r.ErrorCode = kerr.TransactionAbortable.Code
				case *kmsg.EndTxnResponse:
					r.ErrorCode = kerr.TransactionAbortable.Code
				case *kmsg.TxnOffsetCommitResponse:
					tr := req.(*kmsg.TxnOffsetCommitRequest)
					for _, rt := range tr.Topics {
						st := kmsg.NewTxnOffsetCommitResponseTopic()
						st.Topic, st.TopicID = rt.Topic, rt.TopicID
						for _, rp := range rt.Partitions {
							sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
							sp.Partition, sp.ErrorCode = rp.Partition, kerr.TransactionAbortable.Code
							st.Partitions = append(st.Partitions, sp)
						}
						r.Topics = append(r.Topics, st)
					}
				}
				return resp, nil, true
			})
			j := startKafkaJob(t, addrs, runtime.ExactlyOnce, enrich)
			produceImpressions(t, cl, parts, next, n/2)
			waitCommitted(t, j, parts, n)
			select {
			case err := <-j.errc:
				t.Fatalf("the job ended with %v: an aborted transaction's batch is to be read again in the process", err)
			default:
			}
			if faulted.Load() == 0 {
				t.Fatal("no request was faulted")
			}
			if st := j.sink.Stats(); st.Aborted == 0 {
				t.Errorf("no transaction aborted: %+v", st)
			}
			j.stop(t)
			seen, _ := output(t, addrs, true)
			checkExactlyOnce(t, seen, parts, n)
		})
	}
}

// At-least-once, the sink flushes a batch's output before its offsets
// are committed: after a graceful stop every input has output.
func TestKafkaSinkAtLeastOnce(t *testing.T) {
	const parts, n = 2, 150
	c, cl := kafkaCluster(t, parts)
	addrs := c.ListenAddrs()
	next := make(map[int32]int64)
	produceImpressions(t, cl, parts, next, n)
	j := startKafkaJob(t, addrs, runtime.AtLeastOnce, enrich)
	waitCommitted(t, j, parts, n)
	j.stop(t)
	seen, _ := output(t, addrs, false)
	checkExactlyOnce(t, seen, parts, n) // no failure: exactly once here too
	if j.sink.TransactionalID() != "" {
		t.Errorf("an at-least-once sink has transactional id %q", j.sink.TransactionalID())
	}
}

// The sink loads offsets stably (KIP-447): while another producer's
// transaction holds offsets of the group, Load waits for it to end and
// returns what it committed, rather than the offsets from before it (here
// none: the partition's first offset is the pending one).
func TestKafkaSinkLoadWaitsForOpenTransaction(t *testing.T) {
	c, _ := kafkaCluster(t, 1)
	addrs := c.ListenAddrs()
	j := startKafkaJob(t, addrs, runtime.ExactlyOnce, enrich)
	defer j.stop(t)
	tp := runtime.TopicPartition{Topic: etlTopic, Partition: 0}
	deadline := time.Now().Add(10 * time.Second)
	for j.sink.TransactionalID() == "" && time.Now().Before(deadline) { // bound
		time.Sleep(10 * time.Millisecond)
	}

	ctx := context.Background()
	other, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.TransactionalID("other"), kgo.DefaultProduceTopic(outTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := other.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	id, epoch, err := other.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = "other", id, epoch, "k2k"
	if resp, err := add.RequestWith(ctx, other); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v %v", err, resp)
	}
	td, err := kadm.NewClient(other).ListTopics(ctx, etlTopic)
	if err != nil {
		t.Fatal(err)
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch, commit.Generation = "other", "k2k", id, epoch, -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = etlTopic, td[etlTopic].ID
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = 0, 42, -1
	rt.Partitions = append(rt.Partitions, rp)
	commit.Topics = append(commit.Topics, rt)
	resp, err := commit.RequestWith(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				t.Fatalf("TxnOffsetCommit: %v", err)
			}
		}
	}
	ended := make(chan error, 1)
	time.AfterFunc(time.Second, func() { ended <- other.EndTransaction(ctx, kgo.TryCommit) })
	offs, err := j.sink.Load(ctx, []runtime.TopicPartition{tp})
	if err := <-ended; err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Before the transaction ended the group had no offset for the
	// partition: only a Load that waited for it sees 42.
	if offs[tp] != 42 {
		t.Errorf("Load returned %v, want offset 42, committed by the transaction it waited for", offs)
	}
}
