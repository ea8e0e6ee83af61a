package generated_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
	"github.com/hamba/avro/v2/soe"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/generated_test/cases/orders/orders"
	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
)

func orderSchema(t *testing.T, v string) string {
	t.Helper()
	b, err := os.ReadFile("../schemas/evolution/order_" + v + ".avsc")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// orderV1 is a version 1 order: source was removed in version 2, whose
// channel (default "web") follows total where source was.
var orderV1 = map[string]any{"id": "o1", "total": big.NewRat(1999, 100), "source": "LEGACY-POS"}

// TestRawMisreadsAnEvolvedRecord is the trap of a raw stream: version 1's
// bytes parse as version 2 (a string where a string was), and source's
// value lands in channel without an error. Raw Avro cannot do better,
// which is why generate now refuses the change (generated_test/testdata/
// errors/raw-schema-changed) unless the writer is declared.
func TestRawMisreadsAnEvolvedRecord(t *testing.T) {
	b, err := avro.Marshal(avro.MustParse(orderSchema(t, "v1")), orderV1)
	if err != nil {
		t.Fatal(err)
	}
	var o orders.Order
	if err := o.UnmarshalAvro(b); err != nil {
		t.Fatal(err)
	}
	if o.Channel != "LEGACY-POS" {
		t.Fatalf("raw decoding read channel %q; the trap this test documents is gone", o.Channel)
	}
}

type orderCollector struct {
	mu       sync.Mutex
	orders   map[string]orders.Order
	payments map[string]orders.Order
	returns  map[string]orders.Order
}

func (c *orderCollector) ProcessBatch(_ context.Context, b *orders.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for r := range b.Orders.Records() {
		c.orders[r.Value.ID] = r.Value
	}
	for r := range b.Payments.Records() {
		c.payments[r.Value.ID] = r.Value
	}
	for r := range b.Returns.Records() {
		c.returns[r.Value.ID] = r.Value
	}
	return nil
}

func (c *orderCollector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.orders) + len(c.payments) + len(c.returns)
}

// runOrders runs the orders job until want records arrived, or it ends.
func runOrders(t *testing.T, cfg orders.Config, want int) (*orderCollector, error) {
	t.Helper()
	h := &orderCollector{orders: map[string]orders.Order{}, payments: map[string]orders.Order{}, returns: map[string]orders.Order{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- orders.Run(ctx, cfg, h) }()
	for h.count() < want {
		select {
		case err := <-done:
			return h, err
		case <-ctx.Done():
			t.Fatalf("timed out with %d of %d orders", h.count(), want)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return h, err
	}
	return h, nil
}

func produce(t *testing.T, cluster *kfake.Cluster, recs ...*kgo.Record) {
	t.Helper()
	prod, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// TestSingleObjectReadsEveryPinnedVersion: the orders topic holds version
// 1 records (encoded by hamba/avro's single-object codec, and with the
// specification's fingerprint) and version 2 records (by the generated
// types and the runtime's header), interleaved.
// The job generated from version 2, with version 1 pinned in
// streamgen.lock, reads each as written: version 1's channel is the
// default, never its source.
func TestSingleObjectReadsEveryPinnedVersion(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders", "payments", "returns"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	v1, err := soe.NewCodec(avro.MustParse(orderSchema(t, "v1")))
	if err != nil {
		t.Fatal(err)
	}
	v1FP, err := codec.Fingerprint(orderSchema(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 42
	var recs []*kgo.Record
	for i := range n {
		id := fmt.Sprintf("o%d", i)
		var val []byte
		old := map[string]any{"id": id, "total": big.NewRat(int64(1999+i), 100), "source": "LEGACY-POS"}
		switch i % 3 {
		case 0:
			// hamba fingerprints the canonical form with the logical
			// types kept; the specification leaves them out. Both work.
			val, err = v1.Encode(old)
		case 1:
			val, err = avro.Marshal(avro.MustParse(orderSchema(t, "v1")), old)
			val = append(runtime.AppendSingleObjectHeader(nil, v1FP), val...)
		default:
			o := orders.Order{ID: id, Total: big.NewRat(int64(1999+i), 100), Channel: "app"}
			val, err = o.AppendAvro(runtime.AppendSingleObjectHeader(nil, orders.OrderFingerprint))
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(id), Value: val})
	}
	// The returns stream knows version 1 from its writerSchema.
	ret, err := v1.Encode(map[string]any{"id": "r1", "total": big.NewRat(-500, 100), "source": "LEGACY-POS"})
	if err != nil {
		t.Fatal(err)
	}
	recs = append(recs, &kgo.Record{Topic: "returns", Value: ret})
	produce(t, cluster, recs...)

	cfg := orders.DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	cfg.RegistryURL = kafkatest.Registry(t, nil) // payments' registry: it gets no records here
	h, err := runOrders(t, cfg, n+1)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for i := range n {
		id := fmt.Sprintf("o%d", i)
		want := orders.Order{ID: id, Total: big.NewRat(int64(1999+i), 100), Channel: "app"}
		if i%3 != 2 {
			want.Channel = "web" // version 1 had no channel: the default
		}
		got := h.orders[id]
		if got.ID != want.ID || got.Channel != want.Channel || got.Total == nil || got.Total.Cmp(want.Total) != 0 {
			t.Errorf("order %s = %+v, want %+v", id, got, want)
		}
	}
	if got := h.returns["r1"]; got.Channel != "web" || got.Total == nil || got.Total.Cmp(big.NewRat(-5, 1)) != 0 {
		t.Errorf("return r1 = %+v, want total -5.00 and channel web", got)
	}
}

// TestSingleObjectUnknownFingerprintIsABadRecord: a record whose writer
// fingerprint the job does not know fails the batch (the default policy)
// naming topic, partition, offset and the fingerprint; skipped, it is
// counted and the others are read.
func TestSingleObjectUnknownFingerprintIsABadRecord(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders", "payments"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	good := orders.Order{ID: "good", Total: big.NewRat(1, 1), Channel: "app"}
	gv, err := good.AppendAvro(runtime.AppendSingleObjectHeader(nil, orders.OrderFingerprint))
	if err != nil {
		t.Fatal(err)
	}
	stranger := `{"type":"record","name":"Order","namespace":"com.example.shop","fields":[{"name":"id","type":"string"},{"name":"note","type":"string"}]}`
	sc, err := soe.NewCodec(avro.MustParse(stranger))
	if err != nil {
		t.Fatal(err)
	}
	bad, err := sc.Encode(map[string]any{"id": "bad", "note": "n"})
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := codec.Fingerprint(stranger)
	produce(t, cluster, &kgo.Record{Topic: "orders", Value: gv}, &kgo.Record{Topic: "orders", Value: bad}, &kgo.Record{Topic: "orders", Value: []byte("not single-object")})

	cfg := orders.DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	cfg.RegistryURL = kafkatest.Registry(t, nil) // payments' registry: it gets no records here
	_, err = runOrders(t, cfg, 3)
	var de *runtime.DecodeError
	if !errors.As(err, &de) || de.Topic != "orders" || de.Partition != 0 || de.Offset != 1 || !errors.Is(err, runtime.ErrUnknownFingerprint) ||
		!strings.Contains(err.Error(), fmt.Sprintf("writer fingerprint %#016x", fp)) || de.Cause() != "unknown writer fingerprint" {
		t.Fatalf("Run: %v; want the decode error of orders/0 offset 1 naming fingerprint %#016x", err, fp)
	}

	cfg.OnDecodeError = runtime.SkipBadRecords
	cfg.Group = "orders-skip"
	h, err := runOrders(t, cfg, 1)
	if err != nil {
		t.Fatalf("Run with skip: %v", err)
	}
	if got := h.orders["good"]; got.Channel != "app" {
		t.Errorf("good order = %+v", got)
	}
}

// TestDecimalOfAnotherScaleIsRefused is the decimal of the first issue,
// through the registry: the producers registered a version whose total
// has scale 3 (19.990 is the unscaled 19990), the job reads scale 2.
// Before, the record arrived as 199.90; now the writer is refused, the
// error naming topic, partition, offset and both scales.
func TestDecimalOfAnotherScaleIsRefused(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders", "payments"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	reg := srfake.New()
	defer reg.Close()
	id, _, err := reg.RegisterSchema("payments-value", sr.Schema{Schema: orderSchema(t, "v3_scale")})
	if err != nil {
		t.Fatal(err)
	}
	body, err := avro.Marshal(avro.MustParse(orderSchema(t, "v3_scale")), map[string]any{"id": "p1", "total": big.NewRat(19990, 1000), "channel": "app"})
	if err != nil {
		t.Fatal(err)
	}
	val := append([]byte{0, 0, 0, 0, byte(id)}, body...)
	produce(t, cluster, &kgo.Record{Topic: "payments", Value: val})

	cfg := orders.DefaultConfig()
	cfg.Brokers = cluster.ListenAddrs()
	cfg.RegistryURL = reg.URL()
	h, err := runOrders(t, cfg, 1)
	var de *runtime.DecodeError
	if !errors.As(err, &de) || de.Topic != "payments" || de.Offset != 0 || de.Cause() != "incompatible writer schema" ||
		!strings.Contains(err.Error(), `field "total": decimal scale changed from 3 to 2`) {
		t.Fatalf("Run: %v (payments read: %v); want the writer refused, naming the scales", err, h.payments)
	}
}

// TestOCFOfAnotherDecimalScaleIsRefused: an object container file whose
// schema differs from the reader's only in a decimal's scale has the
// reader's fingerprint; it was read on the fast path (19.990 as 199.90).
// Now the file's schema is refused, naming both scales.
func TestOCFOfAnotherDecimalScaleIsRefused(t *testing.T) {
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(orderSchema(t, "v3_scale"), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Encode(map[string]any{"id": "o1", "total": big.NewRat(19990, 1000), "channel": "app"}); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = orders.NewOrderOCFReader(&buf, "orders.avro")
	if err == nil || !strings.Contains(err.Error(), `field "total": decimal scale changed from 3 to 2`) {
		t.Fatalf("NewOrderOCFReader: %v; want the file's schema refused, naming both scales", err)
	}
}
