package codec

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hamba/avro/v2"
)

// ResolveError is one incompatibility between a writer and a reader schema.
// Path is the dotted reader field path ("geo.lat"; "[]" marks array items and
// "{}" map values), empty for the top-level schema.
type ResolveError struct {
	Path   string
	Reason string
}

func (e *ResolveError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return fmt.Sprintf("field %q: %s", e.Path, e.Reason)
}

// CompatErrors lists every incompatibility found, in schema order.
type CompatErrors []*ResolveError

func (e CompatErrors) Error() string {
	var b strings.Builder
	b.WriteString("avro: writer schema is not readable with the reader schema: ")
	for i, r := range e {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.Error())
	}
	return b.String()
}

// parseSchema parses with a fresh cache: the global cache would let a writer's
// named types collide with the reader's types of the same name.
func parseSchema(s string) (avro.Schema, error) {
	return avro.ParseWithCache(s, "", &avro.SchemaCache{})
}

// Resolver reads data written with other schemas as one reader schema. It is
// built once per generated reader type and is safe for concurrent use.
type Resolver struct {
	reader avro.Schema
	fp     uint64   // Fingerprint of the reader schema
	lfp    uint64   // its LogicalFingerprint: a writer with it is the reader
	byText sync.Map // writer schema text -> *writerEntry
	byFP   sync.Map // writer LogicalFingerprint -> *writerEntry
	// last is the writer ForWriter was last asked for: a caller reading one
	// writer's records passes the same string each time, which compares
	// equal by pointer before any hashing.
	last atomic.Pointer[lastWriter]
	// direct holds the decoders generated for writer schemas known at
	// generation time, by writer fingerprint.
	direct map[uint64]any
}

type lastWriter struct {
	text string
	e    *writerEntry
}

// WriterDecoder is a decoder generated for one writer schema known at
// generation time (a stream's writerSchema): straight-line code that reads
// the writer's encoding into the reader's type, as fast as plain decoding.
// Decode is a func(*T, []byte) error for the generated type T, which
// decodes a whole datum; Resolution.Direct hands it back.
type WriterDecoder struct {
	Fingerprint uint64 // CRC-64-AVRO of the writer schema's canonical form
	Decode      any
}

type writerEntry struct {
	res *Resolution
	err error
}

// NewResolver returns a Resolver for readerSchema. It panics if the schema is
// invalid: generated code always passes the valid schema it was made from.
//
// The writer decoders are used, through Resolution.Direct, for writers of
// their fingerprints; the transcoder serves every other writer.
func NewResolver(readerSchema string, writers ...WriterDecoder) *Resolver {
	rs, err := parseSchema(readerSchema)
	if err != nil {
		panic(fmt.Sprintf("codec.NewResolver: invalid reader schema: %v", err))
	}
	fp, err := Fingerprint(readerSchema)
	if err != nil {
		panic(fmt.Sprintf("codec.NewResolver: invalid reader schema: %v", err))
	}
	lfp, err := LogicalFingerprint(readerSchema)
	if err != nil {
		panic(fmt.Sprintf("codec.NewResolver: invalid reader schema: %v", err))
	}
	r := &Resolver{reader: rs, fp: fp, lfp: lfp}
	for _, w := range writers {
		if r.direct == nil {
			r.direct = map[uint64]any{}
		}
		r.direct[w.Fingerprint] = w.Decode
	}
	return r
}

// Fingerprint returns the CRC-64-AVRO fingerprint of the reader schema.
func (r *Resolver) Fingerprint() uint64 { return r.fp }

// ForWriter returns how to read data written with writerSchema. It returns
// (nil, nil) when the writer schema is the reader's, logical types
// included (the same LogicalFingerprint): the data is then in the reader's
// own encoding and means the same. An incompatible writer schema gives a
// CompatErrors listing every problem (a decimal's scale that differs is
// one: the same bytes would be another number). Results are cached per
// schema text and shared between texts with the same LogicalFingerprint.
func (r *Resolver) ForWriter(writerSchema string) (*Resolution, error) {
	if l := r.last.Load(); l != nil && l.text == writerSchema {
		return l.e.res, l.e.err
	}
	var e *writerEntry
	if v, ok := r.byText.Load(writerSchema); ok {
		e = v.(*writerEntry)
	} else {
		e = r.resolve(writerSchema)
		r.byText.Store(writerSchema, e)
	}
	r.last.Store(&lastWriter{text: writerSchema, e: e})
	return e.res, e.err
}

func (r *Resolver) resolve(writerSchema string) *writerEntry {
	fp, err := Fingerprint(writerSchema)
	if err != nil {
		return &writerEntry{err: fmt.Errorf("avro: invalid writer schema: %w", err)}
	}
	lfp, err := LogicalFingerprint(writerSchema)
	if err != nil {
		return &writerEntry{err: fmt.Errorf("avro: invalid writer schema: %w", err)}
	}
	if lfp == r.lfp {
		return &writerEntry{}
	}
	if e, ok := r.byFP.Load(lfp); ok {
		return e.(*writerEntry)
	}
	var e writerEntry
	ws, err := parseSchema(writerSchema)
	if err != nil {
		e.err = fmt.Errorf("avro: invalid writer schema: %w", err)
	} else {
		b := newBuilder()
		root := b.build("", ws, r.reader)
		if len(b.fatal) > 0 {
			e.err = b.fatal
		} else {
			e.res = &Resolution{root: root, direct: r.direct[fp]}
		}
	}
	got, _ := r.byFP.LoadOrStore(lfp, &e)
	return got.(*writerEntry)
}

var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuf keeps one huge datum from pinning its buffer in the pool.
const maxPooledBuf = 1 << 20

// Decode reads src, written with writerSchema. If the writer schema is the
// reader's, it calls fast(src); otherwise it transcodes src into the
// reader's encoding in a pooled buffer and calls fast with that buffer,
// which fast must not retain.
func (r *Resolver) Decode(writerSchema string, src []byte, fast func([]byte) error) error {
	res, err := r.ForWriter(writerSchema)
	if err != nil {
		return err
	}
	if res == nil {
		return fast(src)
	}
	return res.Decode(src, fast)
}

// Decode transcodes src into the reader's encoding in a pooled buffer and
// calls fast with that buffer, which fast must not retain.
func (r *Resolution) Decode(src []byte, fast func([]byte) error) error {
	bp := bufPool.Get().(*[]byte)
	out, err := r.Transcode((*bp)[:0], src)
	if err == nil {
		err = fast(out)
	}
	if cap(out) <= maxPooledBuf {
		*bp = out[:0]
		bufPool.Put(bp)
	}
	return err
}

// CheckCompatible reports every reason why data written with writerSchema
// cannot, or in some cases (an enum symbol or union branch the reader lacks)
// might not, be read with readerSchema. It returns nil if there is none.
func CheckCompatible(readerSchema, writerSchema string) CompatErrors {
	rs, err := parseSchema(readerSchema)
	if err != nil {
		return CompatErrors{{Reason: "invalid reader schema: " + err.Error()}}
	}
	ws, err := parseSchema(writerSchema)
	if err != nil {
		return CompatErrors{{Reason: "invalid writer schema: " + err.Error()}}
	}
	b := newBuilder()
	b.build("", ws, rs)
	if len(b.all) == 0 {
		return nil
	}
	return b.all
}

// Resolution transcodes data written with one writer schema into the binary
// encoding of the reader schema. It is immutable and safe for concurrent use.
type Resolution struct {
	root   op
	direct any
}

// Direct returns the decoder generated for this writer schema (a
// WriterDecoder's Decode), or nil when the writer was not known at
// generation time and data is read by transcoding (Decode).
func (r *Resolution) Direct() any { return r.direct }

// op is one compiled step of a resolution program.
type op func(s *xstate)

// xstate is the state of one Transcode call.
type xstate struct {
	d     Decoder
	out   []byte
	spans []int // field spans of records being reordered, used as a stack
	depth int
}

// maxDepth bounds the nesting of records, so that corrupt input for a
// recursive schema cannot exhaust the stack.
const maxDepth = 1 << 14

var statePool = sync.Pool{New: func() any { return new(xstate) }}

// Transcode appends to dst the reader encoding of the datum in src, which was
// written with the writer schema. It fails on corrupt or truncated input, on
// trailing bytes, and on values the reader cannot represent (an enum symbol
// it lacks without a default, a union branch it cannot read). On error it
// returns dst unchanged in length.
func (r *Resolution) Transcode(dst, src []byte) ([]byte, error) {
	s := statePool.Get().(*xstate)
	s.d = NewDecoder(src)
	s.out = dst
	s.depth = 0
	r.root(s)
	err := s.d.Finish()
	out := s.out
	s.d = Decoder{}
	s.out = nil
	s.spans = s.spans[:0]
	statePool.Put(s)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// TranscodeNext appends to dst the reader encoding of the next datum in d,
// written with the writer schema, and leaves d after it: for streams of
// data, such as an object container file's blocks. Errors are d's (d.Err).
func (r *Resolution) TranscodeNext(dst []byte, d *Decoder) []byte {
	s := statePool.Get().(*xstate)
	s.d = *d
	s.out = dst
	s.depth = 0
	r.root(s)
	*d = s.d
	out := s.out
	s.d = Decoder{}
	s.out = nil
	s.spans = s.spans[:0]
	statePool.Put(s)
	return out
}

func (s *xstate) failf(format string, args ...any) {
	s.d.fail(fmt.Sprintf(format, args...), nil)
}
