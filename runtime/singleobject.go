package runtime

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/streamgen/streamgen/runtime/codec"
)

// The Avro specification's single-object encoding: the two-byte marker
// C3 01, the writer schema's CRC-64-AVRO fingerprint (of its Parsing
// Canonical Form) in 8 bytes little-endian, then the Avro body. Unlike raw
// Avro, each record names its writer, so a stream whose value type
// evolves reads records of every version it knows.

// SingleObjectMarker is the two bytes a single-object encoded datum starts with.
var SingleObjectMarker = [2]byte{0xC3, 0x01}

// singleObjectHeader is the marker and the fingerprint.
const singleObjectHeader = 10

// ErrNotSingleObject is returned for a value that does not start with the
// single-object marker.
var ErrNotSingleObject = errors.New("not in the single-object encoding (marker is not C3 01)")

// ErrUnknownFingerprint is wrapped by decode errors for a single-object
// record whose writer fingerprint is none of the writer schemas the job
// knows.
var ErrUnknownFingerprint = errors.New("writer schema fingerprint unknown to the job")

// FingerprintError is a decode error of a single-object record whose
// header named the writer schema fingerprint Fingerprint.
type FingerprintError struct {
	Fingerprint uint64
	Err         error
}

func (e *FingerprintError) Error() string {
	return fmt.Sprintf("writer fingerprint %#016x: %v", e.Fingerprint, e.Err)
}

func (e *FingerprintError) Unwrap() error { return e.Err }

// AppendSingleObjectHeader appends the single-object header of a datum
// written with the schema of fingerprint fp (codec.Fingerprint).
func AppendSingleObjectHeader(dst []byte, fp uint64) []byte {
	dst = append(dst, SingleObjectMarker[:]...)
	return binary.LittleEndian.AppendUint64(dst, fp)
}

// soWriter is how a SingleObject decoder reads one writer fingerprint.
type soWriter struct {
	schema string
	res    *codec.Resolution // nil: the reader's own schema
	err    error
}

// SingleObject decodes the single-object encoding (spec encoding
// single-object) into T. A record whose fingerprint is T's schema's takes
// the specialized fast path; one of the writers (the other versions of
// T's schema that streamgen.lock pins, for generated jobs) is resolved to
// T's schema, through the decoders generated for them. Any other
// fingerprint, or a writer T cannot read, fails the record (with its
// fingerprint) through the stream's DecodePolicy.
func SingleObject[T any, PT codec.RecordPtr[T]](writers ...string) Decoder[T] {
	return SingleObjectInto[T, PT](writers...).Decoder()
}

// SingleObjectInto is SingleObject decoding in place.
func SingleObjectInto[T any, PT codec.RecordPtr[T]](writers ...string) DecoderInto[T] {
	reader := PT(new(T)).AvroSchema()
	resolver := codec.NewResolver(reader)
	// Each schema is found by its fingerprint and by its
	// codec.LogicalFingerprint: the specification's fingerprint leaves
	// logical types out, but some writers (hamba/avro's soe package) keep
	// them in the canonical form they fingerprint. meaning is the
	// LogicalFingerprint of what each key finds: two known schemas that
	// share a fingerprint but not a meaning (a decimal of another scale)
	// cannot be told apart by that fingerprint.
	known := map[uint64]*soWriter{}
	meaning := map[uint64]uint64{}
	add := func(key, lfp uint64, d *soWriter) {
		if m, ok := meaning[key]; ok {
			if m != lfp {
				known[key] = &soWriter{err: fmt.Errorf("%w: the job knows writer schemas of this fingerprint that differ in logical types (the specification's fingerprint leaves them out), so it cannot tell which wrote the record", ErrBadWriterSchema)}
			}
			return
		}
		meaning[key], known[key] = lfp, d
	}
	rlfp, _ := codec.LogicalFingerprint(reader)
	self := &soWriter{schema: reader}
	add(resolver.Fingerprint(), rlfp, self)
	add(rlfp, rlfp, self)
	schemas := 1
	for _, w := range writers {
		fp, err := codec.Fingerprint(w)
		if err != nil {
			continue // no fingerprint, so no record can name it
		}
		lfp, _ := codec.LogicalFingerprint(w)
		if lfp == rlfp {
			continue
		}
		d := &soWriter{schema: w}
		if d.res, d.err = resolver.ForWriter(w); d.err != nil && !incompatible(d.err) {
			d.err = fmt.Errorf("%w: %w", ErrBadWriterSchema, d.err)
		}
		add(fp, lfp, d)
		add(lfp, lfp, d)
		schemas++
	}
	full := recordName(reader)
	return func(_ context.Context, dst *T, b []byte) error {
		if len(b) < singleObjectHeader {
			return fmt.Errorf("%w: %d bytes, shorter than the 10-byte header", ErrNotSingleObject, len(b))
		}
		if b[0] != SingleObjectMarker[0] || b[1] != SingleObjectMarker[1] {
			return fmt.Errorf("%w: first bytes %#x %#x", ErrNotSingleObject, b[0], b[1])
		}
		fp := binary.LittleEndian.Uint64(b[2:singleObjectHeader])
		d, ok := known[fp]
		var err error
		switch {
		case !ok:
			err = fmt.Errorf("%w: it is not the fingerprint of %s's schema nor of the %d other writer schemas the job knows (the versions streamgen.lock pins); regenerate the job with the producers' schema pinned", ErrUnknownFingerprint, full, schemas-1)
		case d.err != nil:
			err = d.err
		case d.res == nil:
			err = PT(dst).UnmarshalAvro(b[singleObjectHeader:])
		default:
			// The generated type's resolver: the decoders generated for the
			// pinned versions, else the transcoder (resolved above).
			err = PT(dst).UnmarshalAvroFrom(d.schema, b[singleObjectHeader:])
		}
		if err != nil {
			return &FingerprintError{Fingerprint: fp, Err: err}
		}
		return nil
	}
}

// recordName is the full name of a record schema, for messages.
func recordName(schema string) string {
	var s struct{ Name, Namespace string }
	if json.Unmarshal([]byte(schema), &s) != nil || s.Name == "" {
		return "the value type"
	}
	if s.Namespace == "" || strings.Contains(s.Name, ".") {
		return s.Name
	}
	return s.Namespace + "." + s.Name
}
