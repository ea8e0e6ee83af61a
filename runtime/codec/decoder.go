// Package codec is the Avro runtime that generated code links against: the
// binary primitives (Decoder and the Append functions), logical-type
// conversions, the Parsing Canonical Form with its CRC-64-AVRO fingerprint,
// and schema resolution (Resolver), which reads data written with another,
// compatible writer schema.
//
// The Decoder is written for straight-line generated decoders: its hot
// methods inline a one-byte fast path, it never uses interfaces and it
// allocates only for the strings and byte slices it returns.
package codec

import (
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"strconv"
	"unsafe"
)

// MaxZeroSizeItems bounds the number of array or map items whose encoding
// may be zero bytes long (for example an array of null). Without it a few
// bytes of input could announce billions of items.
const MaxZeroSizeItems = 1 << 20

// ErrTruncated is matched (errors.Is) by the DecodeError returned when the
// input ends in the middle of a datum.
var ErrTruncated = errors.New("avro: unexpected end of input")

// DecodeError reports malformed or truncated input and where it was found.
type DecodeError struct {
	Offset int    // byte offset into the input where the problem was detected
	Msg    string // what was wrong

	cause error // sentinel such as ErrTruncated, for errors.Is
}

func (e *DecodeError) Error() string {
	return "avro: " + e.Msg + " at byte " + strconv.Itoa(e.Offset)
}

// Unwrap returns the sentinel the error corresponds to, if any.
func (e *DecodeError) Unwrap() error { return e.cause }

// Decoder reads Avro binary from a byte slice. Its error is sticky: after the
// first error every method returns zero values (UnionIndex returns -1) and
// Err keeps the first error. It never panics on corrupt or truncated input,
// and a length prefix larger than the remaining input is rejected before
// anything is allocated.
//
// The zero Decoder is an empty input.
type Decoder struct {
	buf       []byte
	off       int
	err       error
	zeroItems int // zero-size items announced so far, see MaxZeroSizeItems

	// strs is a string copy of buf[strsAt:], made at the first String of
	// a small input, that the strings read afterwards are substrings of.
	strs   string
	strsAt int
	// shared, when set (ShareStrings), is where that copy is made.
	shared *Strings
}

// sharedStrings is the largest rest of the input that String copies once
// and shares among the strings it returns: a datum's strings then cost one
// allocation, not one each, and the rest of the datum from its first
// string on (at most 2 KiB) stays reachable as long as any of them does. Larger inputs copy each string
// alone, so a short string never pins a large datum.
const sharedStrings = 2 << 10

// NewDecoder returns a Decoder reading src. The Decoder does not modify src
// and the values it returns never alias it.
func NewDecoder(src []byte) Decoder {
	return Decoder{buf: src}
}

// Reset makes d read src from its start, as NewDecoder(src) does, keeping
// its Strings (ShareStrings): a Decoder reused for datum after datum,
// without copying a whole Decoder into memory the garbage collector
// watches.
func (d *Decoder) Reset(src []byte) {
	d.buf, d.off, d.err, d.zeroItems = src, 0, nil, 0
	d.strs, d.strsAt = "", 0
}

// Err returns the first error encountered, or nil.
func (d *Decoder) Err() error { return d.err }

// Finish returns Err, or an error if input remains after the datum.
func (d *Decoder) Finish() error {
	if d.err != nil {
		return d.err
	}
	if n := len(d.buf) - d.off; n > 0 {
		return &DecodeError{Offset: d.off, Msg: strconv.Itoa(n) + " trailing bytes after datum"}
	}
	return nil
}

// Offset returns the number of bytes consumed (on error: where it occurred).
func (d *Decoder) Offset() int { return d.off }

// fail records the first error. Truncating buf to zero length makes every
// fast path fall through to its slow path, which checks err, so the fast
// paths need no error check of their own.
func (d *Decoder) fail(msg string, cause error) {
	if d.err != nil {
		return
	}
	d.err = &DecodeError{Offset: d.off, Msg: msg, cause: cause}
	d.buf = d.buf[:0]
}

func (d *Decoder) truncated() { d.fail("unexpected end of input", ErrTruncated) }

// remaining returns the number of unread bytes (0 after an error).
func (d *Decoder) remaining() int {
	if d.err != nil {
		return 0
	}
	return len(d.buf) - d.off
}

// Bool reads a boolean, which must be encoded as the byte 0 or 1.
func (d *Decoder) Bool() bool {
	if uint(d.off) < uint(len(d.buf)) {
		if b := d.buf[d.off]; b <= 1 {
			d.off++
			return b == 1
		}
	}
	return d.boolSlow()
}

func (d *Decoder) boolSlow() bool {
	if d.err != nil {
		return false
	}
	if d.off >= len(d.buf) {
		d.truncated()
		return false
	}
	d.fail("invalid boolean byte 0x"+strconv.FormatUint(uint64(d.buf[d.off]), 16), nil)
	return false
}

// Int reads a zigzag varint that must fit in 32 bits (at most 5 bytes).
func (d *Decoder) Int() int32 {
	if uint(d.off) < uint(len(d.buf)) {
		if b := d.buf[d.off]; b < 0x80 {
			d.off++
			return int32(b>>1) ^ -int32(b&1)
		}
	}
	return d.intSlow()
}

func (d *Decoder) intSlow() int32 {
	if d.err != nil {
		return 0
	}
	var u uint32
	for i, b := range d.buf[d.off:] {
		if i == 4 && b > 0x0f {
			d.fail("int varint overflows 32 bits", nil)
			return 0
		}
		u |= uint32(b&0x7f) << (7 * uint(i))
		if b < 0x80 {
			d.off += i + 1
			return int32(u>>1) ^ -int32(u&1)
		}
	}
	d.truncated()
	return 0
}

// Long reads a zigzag varint of at most 10 bytes.
func (d *Decoder) Long() int64 {
	if uint(d.off) < uint(len(d.buf)) {
		if b := d.buf[d.off]; b < 0x80 {
			d.off++
			return int64(b>>1) ^ -int64(b&1)
		}
	}
	return d.longSlow()
}

func (d *Decoder) longSlow() int64 {
	if d.err != nil {
		return 0
	}
	var u uint64
	for i, b := range d.buf[d.off:] {
		if i == 9 && b > 0x01 {
			d.fail("long varint overflows 64 bits", nil)
			return 0
		}
		u |= uint64(b&0x7f) << (7 * uint(i))
		if b < 0x80 {
			d.off += i + 1
			return int64(u>>1) ^ -int64(u&1)
		}
	}
	d.truncated()
	return 0
}

// Float reads a little-endian IEEE 754 single.
func (d *Decoder) Float() float32 {
	if d.off >= 0 && d.off+4 <= len(d.buf) {
		v := binary.LittleEndian.Uint32(d.buf[d.off:])
		d.off += 4
		return math.Float32frombits(v)
	}
	d.need()
	return 0
}

// Double reads a little-endian IEEE 754 double.
func (d *Decoder) Double() float64 {
	if d.off >= 0 && d.off+8 <= len(d.buf) {
		v := binary.LittleEndian.Uint64(d.buf[d.off:])
		d.off += 8
		return math.Float64frombits(v)
	}
	d.need()
	return 0
}

// need reports truncation unless an error is already recorded.
func (d *Decoder) need() {
	if d.err == nil {
		d.truncated()
	}
}

// length reads a bytes/string length prefix and checks it against the
// remaining input, so a corrupt prefix never causes a large allocation.
func (d *Decoder) length() int {
	n := d.Long()
	if n < 0 || n > int64(len(d.buf)-d.off) {
		d.badLength(n)
		return 0
	}
	return int(n)
}

func (d *Decoder) badLength(n int64) {
	if d.err != nil {
		return
	}
	if n < 0 {
		d.fail("negative length "+strconv.FormatInt(n, 10), nil)
		return
	}
	d.fail("length "+strconv.FormatInt(n, 10)+" exceeds the "+strconv.Itoa(len(d.buf)-d.off)+" remaining bytes", ErrTruncated)
}

// Bytes reads a length-prefixed byte sequence into a new slice; length 0
// gives a non-nil empty slice. It returns nil after an error.
func (d *Decoder) Bytes() []byte {
	n := d.length()
	if d.err != nil {
		return nil
	}
	b := make([]byte, n)
	copy(b, d.buf[d.off:])
	d.off += n
	return b
}

// String reads a length-prefixed string. It does not validate UTF-8.
func (d *Decoder) String() string {
	n := d.length()
	if n == 0 {
		return ""
	}
	var s string
	switch {
	case d.strs != "":
		s = d.strs[d.off-d.strsAt : d.off-d.strsAt+n]
	case len(d.buf)-d.off <= sharedStrings:
		if d.shared != nil {
			d.strs = d.shared.copy(d.buf[d.off:])
		} else {
			d.strs = string(d.buf[d.off:])
		}
		d.strsAt = d.off
		s = d.strs[:n]
	default:
		s = string(d.buf[d.off : d.off+n])
	}
	d.off += n
	return s
}

// Strings is memory that Decoders share the strings they read from: each
// Decoder given it (ShareStrings) copies the rest of its datum, at its
// first string, into the current block of a Strings rather than into an
// allocation of its own, and a new block is allocated when one is full.
// A block is written once and never reused, so the strings are immutable
// like any Go string; a string kept after its datum pins the block it is
// in (StringsBlock bytes) until it is dropped, which a record's Clone
// avoids. Decoding a run of records (a Kafka fetch's) with one Strings
// costs one allocation per block instead of one per record.
//
// A Strings is not safe for concurrent use: one per decoding goroutine.
// The zero value is ready to use.
type Strings struct {
	block []byte // the unused rest of the current block
}

// StringsBlock is the size of a Strings block.
const StringsBlock = 8 << 10

// copy returns a string copy of b in s's memory.
func (s *Strings) copy(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > len(s.block) {
		if len(b) > StringsBlock/4 {
			return string(b) // a large datum does not waste a block's rest
		}
		s.block = make([]byte, StringsBlock)
	}
	c := s.block[:len(b):len(b)]
	copy(c, b)
	s.block = s.block[len(b):]
	// c is never written again (the block only moves past it), so the
	// string is immutable, as Go requires.
	return unsafe.String(&c[0], len(c))
}

// String returns a copy of b as a string in s's memory: what a Decoder
// sharing s does for each datum, for bytes that are no Avro datum (a
// Kafka record's key).
func (s *Strings) String(b []byte) string { return s.copy(b) }

// ShareStrings makes d copy the strings it reads into s (see Strings)
// instead of into memory of their own. A nil s restores the default.
func (d *Decoder) ShareStrings(s *Strings) { d.shared = s }

// StringAlone reads a length-prefixed string into memory of its own, as
// String does for a large input: a projected decoder, which keeps a few
// strings of a datum and skips the others, calls it, so that it copies
// only what it keeps and a kept string pins nothing else of the datum.
// With ShareStrings it copies the string alone into the Strings.
func (d *Decoder) StringAlone() string {
	b := d.raw()
	if d.shared != nil {
		return d.shared.copy(b)
	}
	return string(b)
}

// BytesView reads a length-prefixed byte sequence without copying: the
// result aliases the input, so it is only valid while the input is and
// must not be changed. For a reader that copies what it keeps (a Parquet
// column buffer); nil after an error.
func (d *Decoder) BytesView() []byte {
	b := d.raw()
	if d.err != nil {
		return nil
	}
	return b
}

// raw reads a length-prefixed byte sequence without copying; the result
// aliases the input.
func (d *Decoder) raw() []byte {
	n := d.length()
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

// BytesInto reads a length-prefixed byte sequence into dst's memory when
// its capacity suffices, else into a new slice; length 0 gives a non-nil
// empty slice. Generated decoders pass the field's previous value, so
// that decoding into a reused record allocates nothing. It returns nil
// after an error.
func (d *Decoder) BytesInto(dst []byte) []byte {
	n := d.length()
	if d.err != nil {
		return nil
	}
	if cap(dst) < n || dst == nil {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	copy(dst, d.buf[d.off:])
	d.off += n
	return dst
}

// Decimal reads a decimal logical value of type bytes with the given scale
// into dst, reusing its memory, and returns it; a nil dst gets a new
// big.Rat. It does not copy the bytes it reads. It returns nil after an
// error.
func (d *Decoder) Decimal(dst *big.Rat, scale int) *big.Rat {
	b := d.raw()
	if d.err != nil {
		return nil
	}
	return DecimalInto(dst, b, scale)
}

// Fixed reads len(dst) bytes into dst (for a fixed of size N, pass arr[:]).
// On error dst is zeroed.
func (d *Decoder) Fixed(dst []byte) {
	if d.off >= 0 && len(dst) <= len(d.buf)-d.off {
		d.off += copy(dst, d.buf[d.off:])
		return
	}
	d.need()
	clear(dst)
}

// skip advances over n bytes.
func (d *Decoder) skip(n int) {
	if n < 0 || n > d.remaining() {
		d.badLength(int64(n))
		return
	}
	d.off += n
}

// Enum reads an enum index, which must be in [0,n).
func (d *Decoder) Enum(n int) int {
	start := d.off
	i := d.Int()
	if i < 0 || int(i) >= n {
		d.badIndex("enum", i, n, start)
		return 0
	}
	return int(i)
}

// UnionIndex reads a union branch index, which must be in [0,n). It returns
// -1 on error, so that a switch over the branches falls to its default.
func (d *Decoder) UnionIndex(n int) int {
	start := d.off
	i := d.Int()
	if d.err != nil || i < 0 || int(i) >= n {
		d.badIndex("union", i, n, start)
		return -1
	}
	return int(i)
}

func (d *Decoder) badIndex(kind string, i int32, n, start int) {
	if d.err != nil {
		return
	}
	d.off = start
	d.fail(kind+" index "+strconv.Itoa(int(i))+" out of range [0,"+strconv.Itoa(n)+")", nil)
}

// BlockCount reads an array or map block header and returns the block's item
// count, or 0 at the end marker or on error. A negative count is followed by
// the block's size in bytes, which is consumed and checked. minItemSize is
// the smallest possible encoded size of one item (for a map item, of key and
// value): counts that cannot fit in the remaining input are rejected, as are
// more than MaxZeroSizeItems zero-size items in total.
func (d *Decoder) BlockCount(minItemSize int) int {
	n, _ := d.blockHeader(minItemSize)
	return n
}

// blockHeader is BlockCount that also returns the block's byte size, or -1
// when the writer did not record it.
func (d *Decoder) blockHeader(minItemSize int) (int, int) {
	start := d.off
	c := d.Long()
	if c == 0 {
		return 0, -1
	}
	size := -1
	if c < 0 {
		if c == math.MinInt64 {
			d.fail("invalid block count", nil)
			return 0, -1
		}
		c = -c
		s := d.Long()
		if s < 0 || s > int64(d.remaining()) {
			d.badLength(s)
			return 0, -1
		}
		size = int(s)
	}
	rem := int64(d.remaining())
	if minItemSize > 0 {
		if c > rem/int64(minItemSize) {
			d.off = start
			d.fail("block count "+strconv.FormatInt(c, 10)+" exceeds what the "+strconv.FormatInt(rem, 10)+" remaining bytes can hold", ErrTruncated)
			return 0, -1
		}
	} else {
		if c > int64(MaxZeroSizeItems-d.zeroItems) {
			d.off = start
			d.fail("block count "+strconv.FormatInt(c, 10)+" exceeds the limit of zero-size items", nil)
			return 0, -1
		}
		d.zeroItems += int(c)
	}
	return int(c), size
}

// Duration reads the Avro duration logical type: fixed(12) holding three
// little-endian uint32s.
func (d *Decoder) Duration() Duration {
	if d.off >= 0 && d.off+12 <= len(d.buf) {
		b := d.buf[d.off : d.off+12]
		d.off += 12
		return Duration{
			Months:       binary.LittleEndian.Uint32(b),
			Days:         binary.LittleEndian.Uint32(b[4:]),
			Milliseconds: binary.LittleEndian.Uint32(b[8:]),
		}
	}
	d.need()
	return Duration{}
}

// SkipBytes skips a length-prefixed bytes or string value: generated
// resolving decoders call it for a writer's field the reader does not have.
func (d *Decoder) SkipBytes() { d.raw() }

// SkipFixed skips a fixed value of n bytes.
func (d *Decoder) SkipFixed(n int) { d.skip(n) }

// SkipBlock reads an array or map block header for a reader that skips
// the items, not decodes them: a block whose writer recorded its size in
// bytes is passed over whole and SkipBlock returns -1; otherwise it
// returns the block's item count, for the caller to skip one by one. It
// returns 0 at the end marker or on error, so that
//
//	for n := d.SkipBlock(min); n != 0; n = d.SkipBlock(min) {
//		for range n { /* skip one item */ }
//	}
//
// skips an array or map (a range over -1 runs no iteration). minItemSize
// is BlockCount's.
func (d *Decoder) SkipBlock(minItemSize int) int {
	n, size := d.blockHeader(minItemSize)
	if n == 0 || d.err != nil {
		return 0
	}
	if size >= 0 {
		d.off += size // blockHeader checked it against the input
		return -1
	}
	return n
}
