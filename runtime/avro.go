package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/streamgen/streamgen/runtime/codec"
)

// This file owns the decoders of plain values: raw Avro, the generated
// codec's, and the primitive key and value decoders.

// RawAvro decodes plain Avro binary (spec encoding raw) written with T's
// own schema.
func RawAvro[T any, PT codec.RecordPtr[T]]() Decoder[T] {
	return RawAvroInto[T, PT]().Decoder()
}

// RawAvroInto is RawAvro decoding in place.
func RawAvroInto[T any, PT codec.RecordPtr[T]]() DecoderInto[T] {
	return func(ctx context.Context, dst *T, b []byte) error {
		return unmarshalShared[T, PT](ctx, dst, b)
	}
}

// sharedKey is the context key of the shared memory the engine's
// decoders decode with: one per chunk of a partition's records
// (decodePrefix), so that their strings cost one allocation per block of
// memory, not one per record, and the codec.Decoder is not allocated per
// record either.
type sharedKey struct{}

// shared is a chunk's decoding memory: the codec.Strings its values'
// strings are copied into, and the Decoder each value is read with.
type shared struct {
	strs codec.Strings
	d    codec.Decoder
}

func withShared(ctx context.Context, s *shared) context.Context {
	return context.WithValue(ctx, sharedKey{}, s)
}

// avroDecoder is what generated record types have besides codec.Record:
// decoding from a codec.Decoder, which can share strings.
type avroDecoder interface {
	DecodeAvro(d *codec.Decoder)
}

// unmarshalShared is PT(dst).UnmarshalAvro(b) with the context's shared
// memory, if it has one (decodePrefix's).
func unmarshalShared[T any, PT codec.RecordPtr[T]](ctx context.Context, dst *T, b []byte) error {
	sh, _ := ctx.Value(sharedKey{}).(*shared)
	r, ok := any(PT(dst)).(avroDecoder)
	if sh == nil || !ok {
		return PT(dst).UnmarshalAvro(b)
	}
	sh.d.Reset(b)
	sh.d.ShareStrings(&sh.strs)
	r.DecodeAvro(&sh.d)
	if sh.d.Finish() != nil {
		// Again, for UnmarshalAvro's error, which names the type.
		return PT(dst).UnmarshalAvro(b)
	}
	return nil
}

// RawAvroFromInto decodes plain Avro binary written with writerSchema, in
// place, resolved to T's schema once (spec writerSchema, for raw topics
// whose producers write another version of the schema). A writer equal to
// T's schema takes the specialized fast path. It fails if T cannot read
// writerSchema.
func RawAvroFromInto[T any, PT codec.RecordPtr[T]](writerSchema string) (DecoderInto[T], error) {
	res, err := codec.NewResolver(PT(new(T)).AvroSchema()).ForWriter(writerSchema)
	if err != nil {
		return nil, err
	}
	if res == nil {
		return RawAvroInto[T, PT](), nil
	}
	// UnmarshalAvroFrom uses the decoder generated for a writer known at
	// generation time (the spec's writerSchema is), else the transcoder.
	return func(_ context.Context, dst *T, b []byte) error {
		return PT(dst).UnmarshalAvroFrom(writerSchema, b)
	}, nil
}

// ErrBadMagic is returned for a value that does not start with the
// Confluent wire format's magic byte 0.
var ErrBadMagic = errors.New("not in the Confluent wire format (magic byte is not 0)")

// Int32Decoder decodes a 4-byte big-endian key (Kafka's IntegerSerializer).
func Int32Decoder(_ context.Context, b []byte) (int32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("int32 key has %d bytes, want 4", len(b))
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

// Int64Decoder decodes an 8-byte big-endian key (Kafka's LongSerializer).
func Int64Decoder(_ context.Context, b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("int64 key has %d bytes, want 8", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}
