package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
)

// recycleValue is the value produced at offset j of partition p: records
// of different shapes (segments, labels, a null or set user agent,
// decimals), so that a record decoded into one that held another shape
// must shed or grow what it held.
func recycleValue(p, j int) alltypes.Impression {
	v := perfImpression(j*2 + p)
	v.Segments = v.Segments[:j%6]
	v.Labels = map[string]string{}
	for k := range j % 4 {
		v.Labels[fmt.Sprint("label", k)] = fmt.Sprint("value", j)
	}
	if j%5 == 0 {
		v.UserAgent, v.FloorPrice = nil, nil
	}
	v.BidPrice = big.NewRat(int64(j)*37-5000, 1000)
	v.PublisherID = fmt.Sprint("pub-", p, "-", j)
	return v
}

// TestRecordsReusedAcrossBatches: with fetching paused by a rate limit,
// chunks are decoded after earlier batches are over, into those batches'
// records; every record a handler sees still holds exactly its own value,
// and a Clone kept from an earlier batch keeps its value while the record
// it came from is decoded into again.
func TestRecordsReusedAcrossBatches(t *testing.T) {
	const parts, perPart = 2, 3000
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "reuse"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	want := make([][][]byte, parts)
	for j := range perPart {
		for p := range parts {
			v := recycleValue(p, j)
			b, err := v.AppendAvro(nil)
			if err != nil {
				t.Fatal(err)
			}
			want[p] = append(want[p], b)
			cl.Produce(context.Background(), &kgo.Record{Topic: "reuse", Partition: int32(p), Value: b}, nil)
		}
	}
	if err := cl.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	e, err := runtime.New(runtime.Brokers(c.ListenAddrs()...), runtime.BatchInterval(20*time.Millisecond),
		runtime.MaxRatePerPartition(5000), runtime.KgoOpts(kgo.FetchMaxPartitionBytes(32<<10)))
	if err != nil {
		t.Fatal(err)
	}
	tps := []runtime.TopicPartition{{Topic: "reuse", Partition: 0}, {Topic: "reuse", Partition: 1}}
	s, err := runtime.NewStreamInto[struct{}](e, "reuse", runtime.Assign(tps...), nil, runtime.RawAvroInto[alltypes.Impression]())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[*runtime.Record[struct{}, alltypes.Impression]]int64{} // record → batch it was first seen in
	reused, got := 0, 0
	kept := map[[2]int64]alltypes.Impression{} // a Clone of every 50th record
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = e.Run(ctx, func(ctx context.Context, bs *runtime.JobBatch) error {
		b := s.Batch(bs)
		for r := range b.Records() {
			enc, err := r.Value.AppendAvro(nil)
			if err != nil {
				return err
			}
			if !bytes.Equal(enc, want[r.Partition][r.Offset]) {
				return fmt.Errorf("partition %d offset %d holds another value than was produced: %+v", r.Partition, r.Offset, r.Value)
			}
			if first, ok := seen[r]; ok && first < b.ID() {
				reused++
			}
			seen[r] = b.ID()
			if r.Offset%50 == 0 {
				kept[[2]int64{int64(r.Partition), r.Offset}] = r.Value.Clone()
			}
			got++
		}
		if got == parts*perPart {
			go e.Stop(context.Background())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != parts*perPart {
		t.Fatalf("handled %d records, want %d", got, parts*perPart)
	}
	if reused == 0 {
		t.Error("no record of a batch was decoded into again in a later one: nothing was recycled")
	}
	for k, v := range kept {
		enc, err := v.AppendAvro(nil)
		if err != nil || !bytes.Equal(enc, want[k[0]][k[1]]) {
			t.Errorf("the Clone of partition %d offset %d changed after its batch: %+v (%v)", k[0], k[1], v, err)
		}
	}
}
