package generated_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/generated_test/cases/evolution_v2/impressionv2"
	"github.com/streamgen/streamgen/runtime"
)

// badTopic is a topic of v2 Impressions with bad records among them: an
// incompatible v4 producer, a record without the Confluent header, a
// schema id the registry does not know and a truncated v2 body. Records
// go to the two partitions in blocks of ten, so each partition has three
// bad records of each cause (and logs each cause once).
type badTopic struct {
	addrs    []string
	registry string
	good     map[string]bool   // ids of the good v2 records
	bad      map[string]string // "partition/offset" → expected cause
	ends     map[int32]int64   // partition → end offset
	v4ID     int
	produced map[string]*kgo.Record // "partition/offset" → the record as produced
}

func newBadTopic(t *testing.T) *badTopic {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "impressions", "impressions-dlq"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	reg := srfake.New()
	t.Cleanup(reg.Close)
	ctx := context.Background()
	r, err := runtime.NewSchemaRegistry(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	v2, err := r.Serializer(ctx, "impressions-value", evolutionSchema(t, 2), true)
	if err != nil {
		t.Fatal(err)
	}
	v4schema := evolutionFile(t, "impression_v4_incompatible.avsc")
	v4, err := r.Serializer(ctx, "impressions-value", v4schema, true) // srfake accepts anything
	if err != nil {
		t.Fatal(err)
	}
	v4avro := avro.MustParse(v4schema)
	bt := &badTopic{addrs: cluster.ListenAddrs(), registry: reg.URL(), good: map[string]bool{}, bad: map[string]string{},
		ends: map[int32]int64{}, v4ID: v4.ID(), produced: map[string]*kgo.Record{}}
	var recs []*kgo.Record
	for i := range 60 {
		id := fmt.Sprintf("imp-%02d", i)
		var val []byte
		cause := ""
		switch i % 10 {
		case 3: // an incompatible producer
			body, err := avro.Marshal(v4avro, map[string]any{"id": id, "campaign_id": "c-7", "device": "TV", "payload": nil, "viewable": true})
			if err != nil {
				t.Fatal(err)
			}
			val, cause = append(v4.AppendHeader(nil), body...), "incompatible writer schema"
		case 5: // JSON where Avro was expected
			val, cause = []byte(`{"id":"`+id+`"}`), "bad magic byte"
		case 7: // an id the registry never issued
			val, cause = []byte{0, 0, 0, 0x7f, 0x01, 2, 'x'}, "unknown schema id"
		case 8: // a v2 body cut short
			full, err := v2.Append(nil, &impressionv2.Impression{ID: id, CampaignID: 1, Device: impressionv2.DeviceTypePhone, Country: "US"})
			if err != nil {
				t.Fatal(err)
			}
			val, cause = full[:len(full)-3], "corrupt body"
		default:
			if val, err = v2.Append(nil, &impressionv2.Impression{ID: id, CampaignID: int64(i), Device: impressionv2.DeviceTypeTablet, Country: "FR"}); err != nil {
				t.Fatal(err)
			}
			bt.good[id] = true
		}
		recs = append(recs, &kgo.Record{Topic: "impressions", Partition: int32(i / 10 % 2), Key: []byte(id), Value: val,
			Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte(id)}}, Context: context.WithValue(ctx, causeKey{}, cause)})
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(bt.addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for _, res := range prod.ProduceSync(ctx, recs...) {
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		at := fmt.Sprintf("%d/%d", res.Record.Partition, res.Record.Offset)
		if cause := res.Record.Context.Value(causeKey{}).(string); cause != "" {
			bt.bad[at] = cause
		}
		bt.produced[at] = res.Record
		bt.ends[res.Record.Partition] = max(bt.ends[res.Record.Partition], res.Record.Offset+1)
	}
	return bt
}

type causeKey struct{}

// run runs the v2 job with policy until it has every good record (or,
// with fail, until Run returns), returning what it received, Run's error
// and its log.
func (bt *badTopic) run(t *testing.T, policy string) (*v2Collector, error, string) {
	t.Helper()
	var logs syncBuffer
	cfg := impressionv2.DefaultConfig()
	cfg.Brokers = bt.addrs
	cfg.RegistryURL = bt.registry
	cfg.BatchInterval = 50 * time.Millisecond
	cfg.MaxRatePerPartition = 200 // 10 records per partition per batch
	cfg.StatusAddr = ""
	if err := cfg.OnDecodeError.UnmarshalText([]byte(policy)); err != nil {
		t.Fatal(err)
	}
	if policy == "dead-letter" {
		cfg.DeadLetterTopic = "impressions-dlq"
	}
	cfg.EngineOptions = append(cfg.EngineOptions, runtime.Logger(slog.New(slog.NewTextHandler(&logs, nil))))
	c := &v2Collector{got: map[string]impressionv2.Impression{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- impressionv2.Run(ctx, cfg, c) }()
	for c.len() < len(bt.good) {
		select {
		case err := <-done:
			return c, err, logs.String()
		case <-ctx.Done():
			t.Fatalf("%s: timed out with %d of %d good records", policy, c.len(), len(bt.good))
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	err := <-done
	if errors.Is(err, context.Canceled) || errors.Is(err, runtime.ErrStopped) {
		err = nil
	}
	return c, err, logs.String()
}

func (bt *badTopic) committed(t *testing.T) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bt.addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), impressionv2.DefaultConfig().Group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) { out[o.Partition] = o.At })
	return out
}

// checkSkipped asserts the job got exactly the good records and committed
// every partition to its end, past the bad ones.
func (bt *badTopic) checkSkipped(t *testing.T, c *v2Collector, err error, logs string) {
	t.Helper()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, err := range c.errs {
		t.Error(err)
	}
	for id := range c.got {
		if !bt.good[id] {
			t.Errorf("bad record %s was delivered", id)
		}
	}
	if len(c.got) != len(bt.good) {
		t.Errorf("%d records delivered, want the %d good ones", len(c.got), len(bt.good))
	}
	if got := bt.committed(t); fmt.Sprint(got) != fmt.Sprint(bt.ends) {
		t.Errorf("committed %v, want every partition at its end %v", got, bt.ends)
	}
	// One log line per partition and cause, naming both.
	for _, cause := range []string{"incompatible writer schema", "bad magic byte", "unknown schema id", "corrupt body"} {
		for p := range 2 {
			needle := fmt.Sprintf("partition=%d", p)
			n := 0
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, `cause="`+cause+`"`) && strings.Contains(line, needle) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d log lines for %s on partition %d, want 1:\n%s", n, cause, p, logs)
			}
		}
	}
}

// TestDecodePoliciesFailOnIncompatibleWriter: by default the first bad
// record fails the job, named by partition, offset, schema id and cause,
// and nothing from its batch on is committed.
func TestDecodePoliciesFailOnIncompatibleWriter(t *testing.T) {
	bt := newBadTopic(t)
	_, err, _ := bt.run(t, "fail")
	var de *runtime.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("Run = %v, want a DecodeError", err)
	}
	at := fmt.Sprintf("%d/%d", de.Partition, de.Offset)
	if bt.bad[at] == "" || de.Cause() != bt.bad[at] {
		t.Fatalf("failed at %s with cause %q, want a bad record (those are %v)", at, de.Cause(), bt.bad)
	}
	if de.Cause() == "incompatible writer schema" && (de.SchemaID != bt.v4ID || !strings.Contains(err.Error(), "campaign_id")) {
		t.Errorf("error %q lacks schema id %d or the field at fault", err, bt.v4ID)
	}
	if off, ok := bt.committed(t)[de.Partition]; ok && off > de.Offset {
		t.Errorf("partition %d committed to %d, past the bad record at %d", de.Partition, off, de.Offset)
	}
}

func TestDecodePoliciesSkip(t *testing.T) {
	bt := newBadTopic(t)
	c, err, logs := bt.run(t, "skip")
	bt.checkSkipped(t, c, err, logs)
}

// TestDecodePoliciesDeadLetter: skipped records arrive on the dead-letter
// topic unchanged, with headers saying where from and why.
func TestDecodePoliciesDeadLetter(t *testing.T) {
	bt := newBadTopic(t)
	c, err, logs := bt.run(t, "dead-letter")
	bt.checkSkipped(t, c, err, logs)

	cl, err := kgo.NewClient(kgo.SeedBrokers(bt.addrs...), kgo.ConsumeTopics("impressions-dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := map[string]*kgo.Record{}
	for len(got) < len(bt.bad) && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			h := headers(r)
			got[h[runtime.HeaderSourcePartition]+"/"+h[runtime.HeaderSourceOffset]] = r
		})
	}
	if len(got) != len(bt.bad) {
		t.Fatalf("%d dead letters, want %d", len(got), len(bt.bad))
	}
	for at, cause := range bt.bad {
		dl, src := got[at], bt.produced[at]
		if dl == nil {
			t.Errorf("no dead letter for %s", at)
			continue
		}
		h := headers(dl)
		if !bytes.Equal(dl.Value, src.Value) || !bytes.Equal(dl.Key, src.Key) || h["trace"] != string(src.Key) {
			t.Errorf("dead letter of %s: key, value or original headers changed", at)
		}
		if h[runtime.HeaderSourceTopic] != "impressions" || h[runtime.HeaderCause] != cause || !strings.Contains(h[runtime.HeaderError], "offset") {
			t.Errorf("dead letter of %s: headers %v, want topic impressions and cause %q", at, h, cause)
		}
		wantID := map[string]string{"incompatible writer schema": fmt.Sprint(bt.v4ID), "unknown schema id": fmt.Sprint(0x7f01), "bad magic byte": ""}
		if id, ok := wantID[cause]; ok && h[runtime.HeaderSchemaID] != id {
			t.Errorf("dead letter of %s (%s): schema id header %q, want %q", at, cause, h[runtime.HeaderSchemaID], id)
		}
	}
}

func headers(r *kgo.Record) map[string]string {
	h := map[string]string{}
	for _, x := range r.Headers {
		h[x.Key] = string(x.Value)
	}
	return h
}

// syncBuffer is a bytes.Buffer the engine's goroutines may log to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
