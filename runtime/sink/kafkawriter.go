package sink

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/runtime"
	"github.com/streamgen/streamgen/runtime/codec"
)

// Origin is the input record an output record was made from: its
// position goes into the output's headers (runtime.HeaderSourceTopic,
// HeaderSourcePartition, HeaderSourceOffset), so that a reader can tell
// which input each output record is for, and with PartitionByInput its
// partition is the output's.
type Origin struct {
	Topic     string
	Partition int32
	Offset    int64
}

// OriginOf is r's position.
func OriginOf[K, V any](r *runtime.Record[K, V]) Origin {
	return Origin{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
}

// KafkaWriter writes values of the output record type T, keyed by K
// (string, []byte, int32, int64, or struct{} for no key), to the Kafka
// sink's topic in the batch in flight. Values are encoded in Confluent's
// wire format under the schema id the registry gave T's schema
// (ConfluentKafkaWriter), or as T's own Avro binary (RawKafkaWriter). Use it from the handler, per batch or from each
// ForeachPartition task at once: writes are safe concurrently.
//
// A write that fails in Kafka fails the batch's Store, even when the
// handler ignored it: nothing is dropped silently. Within an
// exactly-once batch a failed ForeachPartition task is not retried (what
// it wrote is in the transaction for good): the batch is aborted and read
// again.
type KafkaWriter[K, T any, PT codec.RecordPtr[T]] struct {
	k   *Kafka
	ser *runtime.Serializer // nil for raw and single-object
	// header is the single-object header, its capacity its length, so
	// that each Write's append copies it (Writes run concurrently).
	header []byte
}

// ConfluentKafkaWriter returns the typed writer of k whose values are
// Confluent-framed under the id of T's schema in subject TOPIC-value,
// where it is looked up, or registered when register is true.
func ConfluentKafkaWriter[K, T any, PT codec.RecordPtr[T]](ctx context.Context, k *Kafka, reg *runtime.SchemaRegistry, register bool) (*KafkaWriter[K, T, PT], error) {
	if reg == nil {
		return nil, fmt.Errorf("kafka sink: topic %s: encoding confluent needs a schema registry (RegistryURL, --registry)", k.topic)
	}
	ser, err := reg.Serializer(ctx, k.topic+"-value", PT(new(T)).AvroSchema(), register)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: topic %s: %w", k.topic, err)
	}
	return &KafkaWriter[K, T, PT]{k: k, ser: ser}, nil
}

// RawKafkaWriter returns the typed writer of k whose values are T's own
// Avro binary, without a header.
func RawKafkaWriter[K, T any, PT codec.RecordPtr[T]](k *Kafka) *KafkaWriter[K, T, PT] {
	return &KafkaWriter[K, T, PT]{k: k}
}

// SingleObjectKafkaWriter returns the typed writer of k whose values are in
// the Avro specification's single-object encoding: the marker C3 01, the
// fingerprint of T's schema, T's Avro binary.
func SingleObjectKafkaWriter[K, T any, PT codec.RecordPtr[T]](k *Kafka) *KafkaWriter[K, T, PT] {
	fp, err := codec.Fingerprint(PT(new(T)).AvroSchema())
	if err != nil {
		panic(fmt.Sprintf("sink.SingleObjectKafkaWriter: the generated type's schema: %v", err))
	}
	h := runtime.AppendSingleObjectHeader(nil, fp)
	return &KafkaWriter[K, T, PT]{k: k, header: h[:len(h):len(h)]}
}

// encode is the output value of v in the writer's encoding.
func (w *KafkaWriter[K, T, PT]) encode(v *T) ([]byte, error) {
	if w.ser != nil {
		return w.ser.Append(nil, PT(v))
	}
	return PT(v).AppendAvro(w.header)
}

// Sink is the sink the writer writes to.
func (w *KafkaWriter[K, T, PT]) Sink() *Kafka { return w.k }

// Write produces v, keyed by key, as the output of the input record at
// from. It returns once the record is handed to the producer; Store
// waits for Kafka's acknowledgement.
func (w *KafkaWriter[K, T, PT]) Write(ctx context.Context, from Origin, key K, v *T) error {
	val, err := w.encode(v)
	if err != nil {
		return fmt.Errorf("kafka sink: encoding the output of topic %s partition %d offset %d: %w", from.Topic, from.Partition, from.Offset, err)
	}
	kb, err := keyBytes(key)
	if err != nil {
		return err
	}
	return w.k.produce(ctx, w.k.record(from, kb, val))
}

// record is an output record with its origin in the headers.
func (k *Kafka) record(from Origin, key, value []byte) *kgo.Record {
	r := &kgo.Record{Topic: k.topic, Key: key, Value: value}
	if from.Topic != "" {
		r.Headers = []kgo.RecordHeader{
			{Key: runtime.HeaderSourceTopic, Value: []byte(from.Topic)},
			{Key: runtime.HeaderSourcePartition, Value: strconv.AppendInt(nil, int64(from.Partition), 10)},
			{Key: runtime.HeaderSourceOffset, Value: strconv.AppendInt(nil, from.Offset, 10)},
		}
	}
	if k.cfg.byInput {
		r.Partition = from.Partition
	}
	return r
}

// keyBytes encodes a key as Kafka's serializers do: strings and bytes
// as they are, int32 and int64 big-endian, struct{} as no key.
func keyBytes(k any) ([]byte, error) {
	switch k := k.(type) {
	case struct{}:
		return nil, nil
	case string:
		return []byte(k), nil
	case []byte:
		return k, nil
	case int32:
		return binary.BigEndian.AppendUint32(nil, uint32(k)), nil
	case int64:
		return binary.BigEndian.AppendUint64(nil, uint64(k)), nil
	}
	return nil, fmt.Errorf("kafka sink: keys of type %T are not supported (string, []byte, int32, int64 or struct{})", k)
}

// WriteKafkaBatch writes every value of b to w's topic, keyed as it was
// read, each with headers naming its source topic, partition and offset:
// the whole handler of a job that copies a stream to another topic
// (Passthrough). The value is re-encoded from its decoded form: with
// another writer schema upstream, the output carries T's.
func WriteKafkaBatch[K, T any, PT codec.RecordPtr[T]](ctx context.Context, w *KafkaWriter[K, T, PT], b *runtime.Batch[K, T]) error {
	for r := range b.Records() {
		if err := w.Write(ctx, OriginOf(r), r.Key, &r.Value); err != nil {
			return err
		}
	}
	return nil
}
