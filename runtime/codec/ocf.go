package codec

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// Avro object container files (the specification's "Object Container
// Files"): a header with the writer schema, the codec and a 16-byte sync
// marker, then blocks of records, each followed by the marker. Generated
// records have NewTOCFWriter and NewTOCFReader, which return the typed
// writer and reader below.

// OCFCodec is the compression of an object container file's blocks.
type OCFCodec string

// The codecs OCFWriter and OCFReader implement, by their specification names.
const (
	OCFNull    OCFCodec = "null"
	OCFDeflate OCFCodec = "deflate"   // raw DEFLATE (RFC 1951)
	OCFSnappy  OCFCodec = "snappy"    // Snappy block, then the CRC-32 of the uncompressed block
	OCFZstd    OCFCodec = "zstandard" // Zstandard frame
)

// DefaultOCFBlockSize is the uncompressed size at which OCFWriter ends a
// block unless WithOCFBlockSize says otherwise.
const DefaultOCFBlockSize = 64 << 10

var ocfMagic = [4]byte{'O', 'b', 'j', 1}

// maxOCFBlock bounds a block, compressed or not, and a header value: a
// corrupt or hostile file cannot make the reader allocate more.
const maxOCFBlock = 64 << 20

var errBlockTooLarge = fmt.Errorf("block decompresses to more than %d bytes", maxOCFBlock)

// ErrOCF is wrapped by the errors of a malformed object container file.
var ErrOCF = errors.New("malformed Avro object container file")

type ocfConfig struct {
	codec     OCFCodec
	blockSize int
	sync      *[16]byte
	meta      map[string][]byte
}

// OCFOption configures an OCFWriter.
type OCFOption func(*ocfConfig)

// WithOCFCodec sets the codec of the blocks; the default is OCFNull. An
// unknown codec makes NewOCFWriter fail.
func WithOCFCodec(c OCFCodec) OCFOption { return func(c2 *ocfConfig) { c2.codec = c } }

// WithOCFBlockSize sets the uncompressed size in bytes at which a block is
// ended and written (default DefaultOCFBlockSize). Each block is held in
// memory until then; a record larger than the size makes a block of its own.
func WithOCFBlockSize(n int) OCFOption { return func(c *ocfConfig) { c.blockSize = n } }

// WithOCFSyncMarker sets the sync marker, random by default. Files written
// with the same marker, codec and records are byte for byte equal.
func WithOCFSyncMarker(m [16]byte) OCFOption { return func(c *ocfConfig) { c.sync = &m } }

// WithOCFMetadata adds a key to the header's metadata. Keys starting with
// "avro." are the specification's and are rejected.
func WithOCFMetadata(key string, value []byte) OCFOption {
	return func(c *ocfConfig) {
		if c.meta == nil {
			c.meta = map[string][]byte{}
		}
		c.meta[key] = value
	}
}

// blockCodec compresses and decompresses blocks.
type blockCodec interface {
	compress(dst, src []byte) ([]byte, error)
	decompress(dst, src []byte) ([]byte, error)
}

func newBlockCodec(c OCFCodec) (blockCodec, error) {
	switch c {
	case OCFNull, "":
		return nullCodec{}, nil
	case OCFDeflate:
		return &deflateCodec{}, nil
	case OCFSnappy:
		return snappyCodec{}, nil
	case OCFZstd:
		return &zstdCodec{}, nil
	}
	return nil, fmt.Errorf("unknown object container file codec %q (want null, deflate, snappy or zstandard)", c)
}

type nullCodec struct{}

func (nullCodec) compress(dst, src []byte) ([]byte, error)   { return append(dst, src...), nil }
func (nullCodec) decompress(dst, src []byte) ([]byte, error) { return append(dst, src...), nil }

type deflateCodec struct {
	w *flate.Writer
	r io.ReadCloser
}

func (c *deflateCodec) compress(dst, src []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	if c.w == nil {
		w, err := flate.NewWriter(buf, flate.DefaultCompression)
		if err != nil {
			return dst, err
		}
		c.w = w
	} else {
		c.w.Reset(buf)
	}
	if _, err := c.w.Write(src); err != nil {
		return dst, err
	}
	if err := c.w.Close(); err != nil {
		return dst, err
	}
	return buf.Bytes(), nil
}

func (c *deflateCodec) decompress(dst, src []byte) ([]byte, error) {
	if c.r == nil {
		c.r = flate.NewReader(bytes.NewReader(src))
	} else if err := c.r.(flate.Resetter).Reset(bytes.NewReader(src), nil); err != nil {
		return dst, err
	}
	buf := bytes.NewBuffer(dst)
	n, err := io.Copy(buf, io.LimitReader(c.r, maxOCFBlock+1))
	if err != nil {
		return dst, err
	}
	if n > maxOCFBlock {
		return dst, errBlockTooLarge
	}
	return buf.Bytes(), nil
}

type snappyCodec struct{}

func (snappyCodec) compress(dst, src []byte) ([]byte, error) {
	n := len(dst)
	dst = append(dst, make([]byte, snappy.MaxEncodedLen(len(src)))...)
	enc := snappy.Encode(dst[n:], src)
	dst = dst[:n+len(enc)]
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(src)), nil
}

func (snappyCodec) decompress(dst, src []byte) ([]byte, error) {
	if len(src) < 4 {
		return dst, errors.New("snappy block shorter than its checksum")
	}
	body, sum := src[:len(src)-4], binary.BigEndian.Uint32(src[len(src)-4:])
	size, err := snappy.DecodedLen(body)
	if err != nil {
		return dst, err
	}
	// A Snappy copy expands a few bytes to at most 64: a larger claimed
	// size is corrupt, and would be allocated before decoding fails.
	if size > maxOCFBlock || size > 32*len(body)+32 {
		return dst, fmt.Errorf("snappy block claims %d bytes from %d", size, len(body))
	}
	n := len(dst)
	dst = append(dst, make([]byte, size)...)
	out, err := snappy.Decode(dst[n:], body)
	if err != nil {
		return dst[:n], err
	}
	if crc32.ChecksumIEEE(out) != sum {
		return dst[:n], errors.New("snappy block fails its CRC-32")
	}
	return dst[:n+len(out)], nil
}

type zstdCodec struct {
	enc *zstd.Encoder
	dec *zstd.Decoder
}

func (c *zstdCodec) compress(dst, src []byte) ([]byte, error) {
	if c.enc == nil {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return dst, err
		}
		c.enc = enc
	}
	return c.enc.EncodeAll(src, dst), nil
}

func (c *zstdCodec) decompress(dst, src []byte) ([]byte, error) {
	if c.dec == nil {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxOCFBlock))
		if err != nil {
			return dst, err
		}
		c.dec = dec
	}
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return dst, err
	}
	if h.HasFCS && h.FrameContentSize > maxOCFBlock {
		return dst, errBlockTooLarge
	}
	return c.dec.DecodeAll(src, dst)
}

// OCFWriter writes records of type T to an object container file. It is
// not safe for concurrent use.
type OCFWriter[T any, PT RecordPtr[T]] struct {
	w         io.Writer
	codec     blockCodec
	sync      [16]byte
	blockSize int
	block     []byte // the records of the block being built, uncompressed
	count     int
	out       []byte
	err       error
}

// NewOCFWriter writes the header of an object container file for T's
// schema to w and returns the writer of its records. Close (or Flush)
// writes the last block; neither closes w.
func NewOCFWriter[T any, PT RecordPtr[T]](w io.Writer, opts ...OCFOption) (*OCFWriter[T, PT], error) {
	cfg := ocfConfig{codec: OCFNull, blockSize: DefaultOCFBlockSize}
	for _, o := range opts {
		o(&cfg)
	}
	bc, err := newBlockCodec(cfg.codec)
	if err != nil {
		return nil, err
	}
	if cfg.blockSize <= 0 {
		return nil, fmt.Errorf("object container file block size %d, want > 0", cfg.blockSize)
	}
	ow := &OCFWriter[T, PT]{w: w, codec: bc, blockSize: cfg.blockSize}
	if cfg.sync != nil {
		ow.sync = *cfg.sync
	} else if _, err := rand.Read(ow.sync[:]); err != nil {
		return nil, err
	}
	meta := map[string][]byte{}
	for k, v := range cfg.meta {
		if len(k) >= 5 && k[:5] == "avro." {
			return nil, fmt.Errorf("object container file metadata key %q: the avro. keys are the specification's", k)
		}
		meta[k] = v
	}
	meta["avro.schema"] = []byte(PT(new(T)).AvroSchema())
	meta["avro.codec"] = []byte(cfg.codec)
	if cfg.codec == "" {
		meta["avro.codec"] = []byte(OCFNull)
	}
	h := append([]byte(nil), ocfMagic[:]...)
	h = AppendLong(h, int64(len(meta)))
	for _, k := range SortedKeys(nil, meta) {
		h = AppendString(h, k)
		h = AppendBytes(h, meta[k])
	}
	h = AppendLong(h, 0)
	h = append(h, ow.sync[:]...)
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("writing the object container file header: %w", err)
	}
	return ow, nil
}

// Write appends v to the current block, and writes the block when it has
// reached the block size. An error is sticky: the file is then incomplete.
func (w *OCFWriter[T, PT]) Write(v *T) error {
	if w.err != nil {
		return w.err
	}
	b, err := PT(v).AppendAvro(w.block)
	if err != nil {
		return err // the record is not written; the file is still sound
	}
	w.block = b
	w.count++
	if len(w.block) >= w.blockSize {
		return w.Flush()
	}
	return nil
}

// WriteAvro is Write for a value given as its Avro binary, written with
// exactly T's schema (what AppendAvro gives): a writer that held values
// encoded (the rolling blob sink) appends them without decoding. The
// bytes are not checked.
func (w *OCFWriter[T, PT]) WriteAvro(b []byte) error {
	if w.err != nil {
		return w.err
	}
	w.block = append(w.block, b...)
	w.count++
	if len(w.block) >= w.blockSize {
		return w.Flush()
	}
	return nil
}

// Flush writes the current block, if it has records.
func (w *OCFWriter[T, PT]) Flush() error {
	if w.err != nil || w.count == 0 {
		return w.err
	}
	data, err := w.codec.compress(w.out[:0], w.block)
	if err != nil {
		w.err = fmt.Errorf("compressing an object container file block: %w", err)
		return w.err
	}
	// The block header goes in front of the compressed data: count, size.
	var head [2 * 10]byte
	hb := AppendLong(head[:0], int64(w.count))
	hb = AppendLong(hb, int64(len(data)))
	w.out = data
	for _, p := range [][]byte{hb, data, w.sync[:]} {
		if _, err := w.w.Write(p); err != nil {
			w.err = fmt.Errorf("writing an object container file block: %w", err)
			return w.err
		}
	}
	w.block, w.count = w.block[:0], 0
	return nil
}

// Close writes the last block. It does not close the underlying writer.
func (w *OCFWriter[T, PT]) Close() error { return w.Flush() }

// OCFRecordPtr is what OCFReader needs of *T: a generated record, which
// also decodes one datum from a stream of them (DecodeAvro).
type OCFRecordPtr[T any] interface {
	RecordPtr[T]
	DecodeAvro(d *Decoder)
}

// OCFReader reads records of type T from an object container file written
// with T's schema or one that resolves to it. It is not safe for concurrent
// use.
type OCFReader[T any, PT OCFRecordPtr[T]] struct {
	r            *bufio.Reader
	name         string
	writerSchema string
	codec        OCFCodec
	bc           blockCodec
	sync         [16]byte
	meta         map[string][]byte
	res          *Resolution // nil when the writer is T's schema

	block      []byte // decompressed
	raw        []byte // compressed
	d          Decoder
	left       int   // records left in the block
	blockN     int   // blocks read
	blockStart int64 // file offset of the current block
	off        int64 // file offset read so far
	one        []byte
	err        error
}

// NewOCFReader reads the header of the object container file in r. name
// (the file's path, or "" ) goes into errors. The file's writer schema
// must resolve to T's; records are then read by Read.
func NewOCFReader[T any, PT OCFRecordPtr[T]](r io.Reader, name string) (*OCFReader[T, PT], error) {
	or := &OCFReader[T, PT]{r: bufio.NewReader(r), name: name}
	if err := or.header(); err != nil {
		return nil, or.wrap(err)
	}
	return or, nil
}

func (r *OCFReader[T, PT]) wrap(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrTruncated) || errors.Is(err, ErrOCF) {
		if !errors.Is(err, ErrOCF) {
			err = fmt.Errorf("%w: %w", ErrOCF, err)
		}
	}
	name := r.name
	if name == "" {
		name = "object container file"
	}
	return fmt.Errorf("%s: offset %d: %w", name, r.off, err)
}

// readFull reads n bytes. A length read from a corrupt file can be huge:
// beyond what the buffer holds, it grows as data arrives, so that reading
// costs no more memory than the file has bytes.
func (r *OCFReader[T, PT]) readFull(n int) ([]byte, error) {
	if n <= cap(r.raw) {
		b := r.raw[:n]
		k, err := io.ReadFull(r.r, b)
		r.off += int64(k)
		if err == io.EOF && n > 0 {
			err = io.ErrUnexpectedEOF
		}
		return b, err
	}
	buf := bytes.NewBuffer(r.raw[:0])
	k, err := io.CopyN(buf, r.r, int64(n))
	r.off += k
	r.raw = buf.Bytes()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return r.raw, err
}

// varint reads a zigzag long from the stream; io.EOF only when nothing was read.
func (r *OCFReader[T, PT]) varint() (int64, error) {
	var u uint64
	for shift := uint(0); ; shift += 7 {
		c, err := r.r.ReadByte()
		if err != nil {
			if err == io.EOF && shift > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		r.off++
		if shift >= 64 {
			return 0, fmt.Errorf("%w: varint longer than 10 bytes", ErrOCF)
		}
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	return int64(u>>1) ^ -int64(u&1), nil
}

func (r *OCFReader[T, PT]) header() error {
	magic, err := r.readFull(4)
	if err != nil {
		return err
	}
	if !bytes.Equal(magic, ocfMagic[:]) {
		return fmt.Errorf("%w: magic %q, want \"Obj\\x01\"", ErrOCF, magic)
	}
	r.meta = map[string][]byte{}
	for {
		n, err := r.varint()
		if err != nil {
			return unexpected(err)
		}
		if n == 0 {
			break
		}
		if n < 0 {
			n = -n
			if _, err := r.varint(); err != nil { // the block's size in bytes
				return unexpected(err)
			}
		}
		for range n {
			k, err := r.lengthPrefixed()
			if err != nil {
				return err
			}
			v, err := r.lengthPrefixed()
			if err != nil {
				return err
			}
			r.meta[string(k)] = v
		}
	}
	sync, err := r.readFull(16)
	if err != nil {
		return err
	}
	copy(r.sync[:], sync)
	schema, ok := r.meta["avro.schema"]
	if !ok {
		return fmt.Errorf("%w: no avro.schema in the header", ErrOCF)
	}
	r.writerSchema = string(schema)
	r.codec = OCFNull
	if c, ok := r.meta["avro.codec"]; ok && len(c) > 0 {
		r.codec = OCFCodec(c)
	}
	if r.bc, err = newBlockCodec(r.codec); err != nil {
		return err
	}
	// The logical types count: a file of decimal(12,2) values is not read
	// as decimal(12,3) on the fast path.
	fp, err := LogicalFingerprint(r.writerSchema)
	if err != nil {
		return fmt.Errorf("the file's schema: %w", err)
	}
	reader := PT(new(T)).AvroSchema()
	rfp, err := LogicalFingerprint(reader)
	if err != nil {
		return err
	}
	if fp != rfp {
		if r.res, err = NewResolver(reader).ForWriter(r.writerSchema); err != nil {
			return fmt.Errorf("the file's schema: %w", err)
		}
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (r *OCFReader[T, PT]) lengthPrefixed() ([]byte, error) {
	n, err := r.varint()
	if err != nil {
		return nil, unexpected(err)
	}
	if n < 0 || n > maxOCFBlock {
		return nil, fmt.Errorf("%w: header value of length %d", ErrOCF, n)
	}
	var buf bytes.Buffer
	k, err := io.CopyN(&buf, r.r, n)
	r.off += k
	return buf.Bytes(), unexpected(err)
}

// WriterSchema is the schema the file's records were written with.
func (r *OCFReader[T, PT]) WriterSchema() string { return r.writerSchema }

// Codec is the codec of the file's blocks.
func (r *OCFReader[T, PT]) Codec() OCFCodec { return r.codec }

// Metadata returns the header's metadata value of key, and whether it has one.
func (r *OCFReader[T, PT]) Metadata(key string) ([]byte, bool) {
	v, ok := r.meta[key]
	return v, ok
}

// Read decodes the next record into dst. It returns io.EOF after the last
// record; any other error names the file, the block and its offset, and
// ends the reading. Like the generated UnmarshalAvro it reuses the memory
// dst holds (slices, maps, pointed-to values): read into a new value, or
// keep a Clone, to keep the records read before.
func (r *OCFReader[T, PT]) Read(dst *T) error {
	if r.err != nil {
		return r.err
	}
	for r.left == 0 {
		if err := r.nextBlock(); err != nil {
			if err != io.EOF {
				err = r.wrap(err)
			}
			r.err = err
			return err
		}
	}
	if r.res == nil {
		PT(dst).DecodeAvro(&r.d)
	} else {
		r.one = r.res.TranscodeNext(r.one[:0], &r.d)
		if r.d.Err() == nil {
			if err := PT(dst).UnmarshalAvro(r.one); err != nil {
				r.err = r.blockErr(err)
				return r.err
			}
		}
	}
	if err := r.d.Err(); err != nil {
		r.err = r.blockErr(err)
		return r.err
	}
	r.left--
	if r.left == 0 && r.d.Offset() != len(r.block) {
		r.err = r.blockErr(fmt.Errorf("%w: %d bytes after the block's last record", ErrOCF, len(r.block)-r.d.Offset()))
		return r.err
	}
	return nil
}

func (r *OCFReader[T, PT]) blockErr(err error) error {
	name := r.name
	if name == "" {
		name = "object container file"
	}
	return fmt.Errorf("%s: block %d at offset %d: %w", name, r.blockN, r.blockStart, err)
}

func (r *OCFReader[T, PT]) nextBlock() error {
	r.blockStart = r.off
	count, err := r.varint()
	if err != nil {
		return err // io.EOF: the end of the file, between blocks
	}
	size, err := r.varint()
	if err != nil {
		return unexpected(err)
	}
	if count < 0 || size < 0 || size > maxOCFBlock {
		return fmt.Errorf("%w: block of %d records in %d bytes", ErrOCF, count, size)
	}
	data, err := r.readFull(int(size))
	if err != nil {
		return err
	}
	r.block, err = r.bc.decompress(r.block[:0], data)
	if err != nil {
		return fmt.Errorf("%w: block %d (%s): %w", ErrOCF, r.blockN+1, r.codec, err)
	}
	sync, err := r.readFull(16)
	if err != nil {
		return err
	}
	if !bytes.Equal(sync, r.sync[:]) {
		return fmt.Errorf("%w: block %d is not followed by the file's sync marker", ErrOCF, r.blockN+1)
	}
	r.blockN++
	if count > int64(len(r.block)) && len(r.block) > 0 {
		// Every record takes a byte at least, unless the schema's are empty.
		return fmt.Errorf("%w: block %d claims %d records in %d bytes", ErrOCF, r.blockN, count, len(r.block))
	}
	r.d = NewDecoder(r.block)
	r.left = int(count)
	return nil
}
