package crashtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/internal/crashtest/job/seqjob"
)

// producer writes the known stream: records with sequence numbers 0..n-1,
// record i on partition i mod partitions, keyed by its sequence number,
// and remembers where each landed.
type producer struct {
	topic string
	mu    sync.Mutex
	seqs  [][]int64 // by partition, offset: the sequence number written there
	at    []seqAt   // by sequence number: where its acknowledged write landed
}

// seqAt is where a record landed: partition and offset, offset -1 while
// its write is not acknowledged.
type seqAt struct {
	part int32
	off  int64
}

// recordTime is record seq's event time (its ts): four hours around a
// midnight, changing hour every few records, so that each partition's
// batches split over several of the blob sink's Hive partitions
// (ts:hour), on two dates.
func recordTime(seq int64) time.Time {
	return time.Date(2026, 12, 5, 22, 0, 0, 0, time.UTC).
		Add(time.Duration((seq/5)%4)*time.Hour + time.Duration(seq%3600)*time.Second)
}

// run writes n records evenly over about d, in small synchronous
// chunks, so that the job's kills fall while records still arrive.
func (p *producer) run(ctx context.Context, brokers string, n, partitions int, d time.Duration) error {
	// Not idempotent: a broker killed by the harness may come back
	// without the producer's sequence state, and an idempotent producer
	// would then fail; a record written twice is told apart by its
	// offset (produced keeps only acknowledged ones).
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableIdempotentWrite(),
		kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	p.mu.Lock()
	p.seqs = make([][]int64, partitions)
	p.at = make([]seqAt, n)
	for i := range p.at {
		p.at[i].off = -1
	}
	p.mu.Unlock()
	const tick = 50 * time.Millisecond
	chunk := max(n/max(int(d/tick), 1), 1)
	payload := strings.Repeat("x", 64)
	t := time.NewTicker(tick)
	defer t.Stop()
	for seq := 0; seq < n; {
		recs := make([]*kgo.Record, 0, chunk)
		for ; seq < n && len(recs) < chunk; seq++ {
			v := seqjob.Sequenced{Seq: int64(seq), Payload: payload, Ts: recordTime(int64(seq))}
			val, err := v.AppendAvro(nil)
			if err != nil {
				return err
			}
			key := binary.BigEndian.AppendUint64(nil, uint64(seq))
			recs = append(recs, &kgo.Record{Topic: p.topic, Partition: int32(seq % partitions), Key: key, Value: val})
		}
		res := cl.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			return fmt.Errorf("producing sequence numbers %d-%d: %w", seq-len(recs), seq-1, err)
		}
		p.mu.Lock()
		for _, r := range res {
			rec := r.Record
			s := p.seqs[rec.Partition]
			for int64(len(s)) <= rec.Offset {
				s = append(s, -1)
			}
			seq := int64(binary.BigEndian.Uint64(rec.Key))
			s[rec.Offset] = seq
			p.seqs[rec.Partition] = s
			p.at[seq] = seqAt{rec.Partition, rec.Offset}
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// ends is each partition's end offset so far.
func (p *producer) ends() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int64, len(p.seqs))
	for i, s := range p.seqs {
		out[i] = int64(len(s))
	}
	return out
}

// where is the partition and offset of record seq's acknowledged write;
// ok is false for a sequence number not (yet) acknowledged.
func (p *producer) where(seq int64) (at seqAt, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq < 0 || seq >= int64(len(p.at)) || p.at[seq].off < 0 {
		return seqAt{}, false
	}
	return p.at[seq], true
}

// produced is, by partition and offset, the sequence number written
// there; an offset no acknowledged write landed on (a write repeated after
// the broker was killed) holds -1.
func (p *producer) produced() [][]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seqs
}
