package codec

import (
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrimitivesRoundTrip(t *testing.T) {
	ints := []int32{0, 1, -1, 63, -64, 64, -65, 8191, -8192, 1 << 20, math.MaxInt32, math.MinInt32}
	longs := []int64{0, 1, -1, 63, -64, 64, math.MaxInt32 + 1, math.MinInt32 - 1, 1 << 56, math.MaxInt64, math.MinInt64}
	floats := []float32{0, float32(math.Copysign(0, -1)), 1.5, -3.25, math.MaxFloat32, math.SmallestNonzeroFloat32, float32(math.Inf(1)), float32(math.Inf(-1))}
	doubles := []float64{0, math.Copysign(0, -1), 1.5, -3.25, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1)}
	strs := []string{"", "a", "héllo, wörld", strings.Repeat("x", 300)}
	byts := [][]byte{{}, {0}, {0xff, 0, 1}, make([]byte, 200)}

	var buf []byte
	buf = AppendBool(buf, true)
	buf = AppendBool(buf, false)
	for _, v := range ints {
		buf = AppendInt(buf, v)
	}
	for _, v := range longs {
		buf = AppendLong(buf, v)
	}
	for _, v := range floats {
		buf = AppendFloat(buf, v)
	}
	for _, v := range doubles {
		buf = AppendDouble(buf, v)
	}
	buf = AppendFloat(buf, float32(math.NaN()))
	buf = AppendDouble(buf, math.NaN())
	for _, v := range strs {
		buf = AppendString(buf, v)
	}
	for _, v := range byts {
		buf = AppendBytes(buf, v)
	}
	buf = append(buf, 1, 2, 3) // fixed(3)
	buf = AppendInt(buf, 2)    // enum index
	buf = AppendInt(buf, 1)    // union index
	buf = AppendDuration(buf, Duration{Months: 1, Days: math.MaxUint32, Milliseconds: 3})

	d := NewDecoder(buf)
	if !d.Bool() || d.Bool() {
		t.Error("bools")
	}
	for _, v := range ints {
		if got := d.Int(); got != v {
			t.Errorf("Int = %d, want %d", got, v)
		}
	}
	for _, v := range longs {
		if got := d.Long(); got != v {
			t.Errorf("Long = %d, want %d", got, v)
		}
	}
	for _, v := range floats {
		if got := d.Float(); math.Float32bits(got) != math.Float32bits(v) {
			t.Errorf("Float = %v, want %v", got, v)
		}
	}
	for _, v := range doubles {
		if got := d.Double(); math.Float64bits(got) != math.Float64bits(v) {
			t.Errorf("Double = %v, want %v", got, v)
		}
	}
	if v := d.Float(); !math.IsNaN(float64(v)) {
		t.Errorf("Float = %v, want NaN", v)
	}
	if v := d.Double(); !math.IsNaN(v) {
		t.Errorf("Double = %v, want NaN", v)
	}
	for _, v := range strs {
		if got := d.String(); got != v {
			t.Errorf("String = %q, want %q", got, v)
		}
	}
	for _, v := range byts {
		got := d.Bytes()
		if got == nil || string(got) != string(v) {
			t.Errorf("Bytes = %v, want %v (non-nil)", got, v)
		}
	}
	var fixed [3]byte
	d.Fixed(fixed[:])
	if fixed != [3]byte{1, 2, 3} {
		t.Errorf("Fixed = %v", fixed)
	}
	if got := d.Enum(3); got != 2 {
		t.Errorf("Enum = %d", got)
	}
	if got := d.UnionIndex(2); got != 1 {
		t.Errorf("UnionIndex = %d", got)
	}
	if got := d.Duration(); got != (Duration{1, math.MaxUint32, 3}) {
		t.Errorf("Duration = %+v", got)
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	if d.Offset() != len(buf) {
		t.Errorf("Offset = %d, want %d", d.Offset(), len(buf))
	}
}

// The zigzag varint encodings from the Avro specification.
func TestLongEncodingSpec(t *testing.T) {
	for v, want := range map[int64][]byte{
		0: {0x00}, -1: {0x01}, 1: {0x02}, -2: {0x03}, 2: {0x04}, -64: {0x7f}, 64: {0x80, 0x01},
		math.MaxInt64: {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		math.MinInt64: {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		if got := AppendLong(nil, v); string(got) != string(want) {
			t.Errorf("AppendLong(%d) = %x, want %x", v, got, want)
		}
	}
	if got := AppendInt(nil, math.MinInt32); string(got) != "\xff\xff\xff\xff\x0f" {
		t.Errorf("AppendInt(MinInt32) = %x", got)
	}
}

func TestBytesDoNotAliasInput(t *testing.T) {
	src := AppendBytes(nil, []byte("abc"))
	d := NewDecoder(src)
	b := d.Bytes()
	src[1] = 'X'
	if string(b) != "abc" {
		t.Errorf("Bytes aliases its input: %q", b)
	}
}

// datum is a multi-field record: every cut of it must fail as truncated.
func sampleDatum() []byte {
	var b []byte
	b = AppendBool(b, true)
	b = AppendInt(b, -300)
	b = AppendLong(b, 1<<40)
	b = AppendFloat(b, 1.5)
	b = AppendDouble(b, 2.5)
	b = AppendString(b, "hello")
	b = AppendBytes(b, []byte{1, 2, 3})
	b = append(b, 9, 9) // fixed(2)
	b = AppendInt(b, 1) // enum
	b = AppendInt(b, 1) // union: branch 1, a long
	b = AppendLong(b, -5)
	b = AppendLong(b, 2) // array of 2 ints
	b = AppendInt(b, 7)
	b = AppendInt(b, 8)
	b = AppendLong(b, 0)
	b = AppendDuration(b, Duration{1, 2, 3})
	return b
}

func readSample(d *Decoder) {
	d.Bool()
	d.Int()
	d.Long()
	d.Float()
	d.Double()
	_ = d.String()
	d.Bytes()
	var f [2]byte
	d.Fixed(f[:])
	d.Enum(2)
	if d.UnionIndex(2) == 1 {
		d.Long()
	}
	for n := d.BlockCount(1); n > 0; n = d.BlockCount(1) {
		for range n {
			d.Int()
		}
	}
	d.Duration()
}

func TestTruncatedAtEveryCut(t *testing.T) {
	full := sampleDatum()
	d := NewDecoder(full)
	readSample(&d)
	if err := d.Finish(); err != nil {
		t.Fatalf("full datum: %v", err)
	}
	for cut := 0; cut < len(full); cut++ {
		// A fresh copy with no spare capacity, so reading past the cut cannot
		// see the rest of the datum.
		src := append([]byte(nil), full[:cut]...)
		d := NewDecoder(src)
		readSample(&d)
		err := d.Finish()
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("cut %d: err = %v, want ErrTruncated", cut, err)
		}
		var de *DecodeError
		if !errors.As(err, &de) || de.Offset > cut {
			t.Errorf("cut %d: error %v has a bad offset", cut, err)
		}
	}
}

func TestStickyError(t *testing.T) {
	d := NewDecoder([]byte{0x02, 0x04, 0x06})
	d.Bool() // 0x02 is not a boolean
	first := d.Err()
	if first == nil {
		t.Fatal("no error for boolean byte 0x02")
	}
	if d.Int() != 0 || d.Long() != 0 || d.String() != "" || d.Bytes() != nil || d.Bool() ||
		d.UnionIndex(5) != -1 || d.Enum(5) != 0 || d.BlockCount(1) != 0 || d.Float() != 0 || d.Double() != 0 {
		t.Error("methods return non-zero values after an error")
	}
	var f [2]byte
	f[0] = 7
	d.Fixed(f[:])
	if f != [2]byte{} {
		t.Errorf("Fixed after error = %v", f)
	}
	if d.Err() != first || d.Finish() != first {
		t.Errorf("error changed: %v", d.Err())
	}
	if got := first.Error(); got != "avro: invalid boolean byte 0x2 at byte 0" {
		t.Errorf("error text %q", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name      string
		in        []byte
		read      func(d *Decoder)
		msg       string
		truncated bool
	}{
		{"bool 2", []byte{2}, func(d *Decoder) { d.Bool() }, "invalid boolean byte 0x2 at byte 0", false},
		{"bool empty", nil, func(d *Decoder) { d.Bool() }, "unexpected end of input at byte 0", true},
		{"int overflow", []byte{0xff, 0xff, 0xff, 0xff, 0x1f}, func(d *Decoder) { d.Int() }, "int varint overflows 32 bits", false},
		{"int max ok then trailing", []byte{0xfe, 0xff, 0xff, 0xff, 0x0f, 0}, func(d *Decoder) { d.Int() }, "1 trailing bytes after datum at byte 5", false},
		{"int 6 bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, func(d *Decoder) { d.Int() }, "int varint overflows", false},
		{"long overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, func(d *Decoder) { d.Long() }, "long varint overflows 64 bits", false},
		{"long 11 bytes", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, func(d *Decoder) { d.Long() }, "long varint overflows", false},
		{"long truncated", []byte{0x80, 0x80}, func(d *Decoder) { d.Long() }, "unexpected end of input at byte 0", true},
		{"negative length", []byte{0x01}, func(d *Decoder) { _ = d.String() }, "negative length -1", false},
		{"length too long", []byte{0x0a, 'a'}, func(d *Decoder) { d.Bytes() }, "length 5 exceeds the 1 remaining bytes at byte 1", true},
		{"enum negative", []byte{0x01}, func(d *Decoder) { d.Enum(3) }, "enum index -1 out of range [0,3) at byte 0", false},
		{"enum too big", []byte{0x06}, func(d *Decoder) { d.Enum(3) }, "enum index 3 out of range [0,3)", false},
		{"union too big", []byte{0x00, 0x04}, func(d *Decoder) { d.Bool(); d.UnionIndex(2) }, "union index 2 out of range [0,2) at byte 1", false},
		{"union negative", []byte{0x03}, func(d *Decoder) { d.UnionIndex(2) }, "union index -2 out of range", false},
		{"trailing", []byte{0x02, 0x00, 0x00}, func(d *Decoder) { d.Long() }, "2 trailing bytes after datum at byte 1", false},
		{"float short", []byte{1, 2, 3}, func(d *Decoder) { d.Float() }, "unexpected end of input", true},
		{"fixed short", []byte{1, 2, 3}, func(d *Decoder) { var f [4]byte; d.Fixed(f[:]) }, "unexpected end of input", true},
		{"block count too big", []byte{0x0a, 0x02}, func(d *Decoder) { d.BlockCount(1) }, "block count 5 exceeds what the 1 remaining bytes can hold at byte 0", true},
		{"block min size", []byte{0x04, 1, 2, 3, 4, 5, 6, 7}, func(d *Decoder) { d.BlockCount(4) }, "block count 2 exceeds what the 7 remaining bytes can hold", true},
		{"block byte size too big", []byte{0x01, 0x20, 0x02}, func(d *Decoder) { d.BlockCount(1) }, "length 16 exceeds", true},
		{"block negative byte size", []byte{0x01, 0x01, 0x02}, func(d *Decoder) { d.BlockCount(1) }, "negative length -1", false},
		{"block min int64", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, func(d *Decoder) { d.BlockCount(0) }, "invalid block count", false},
		{"zero-size items", AppendLong(nil, MaxZeroSizeItems+1), func(d *Decoder) { d.BlockCount(0) }, "exceeds the limit of zero-size items", false},
		{"zero-size items across blocks", append(AppendLong(nil, MaxZeroSizeItems), AppendLong(nil, 1)...), func(d *Decoder) { d.BlockCount(0); d.BlockCount(0) }, "exceeds the limit of zero-size items", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.in)
			tt.read(&d)
			err := d.Finish()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if errors.Is(err, ErrTruncated) != tt.truncated {
				t.Errorf("errors.Is(%v, ErrTruncated) = %v", err, !tt.truncated)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Errorf("%T is not a *DecodeError", err)
			}
		})
	}
}

func TestBlockCount(t *testing.T) {
	// A negative count carries the block's byte size, which is consumed.
	src := AppendLong(nil, -2)
	src = AppendLong(src, 2)
	src = append(src, 0x02, 0x04, 0x00)
	d := NewDecoder(src)
	if n := d.BlockCount(1); n != 2 {
		t.Fatalf("BlockCount = %d", n)
	}
	if a, b := d.Int(), d.Int(); a != 1 || b != 2 {
		t.Errorf("items %d %d", a, b)
	}
	if n := d.BlockCount(1); n != 0 {
		t.Errorf("end marker gave %d", n)
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	// Exactly MaxZeroSizeItems zero-size items are fine.
	d = NewDecoder(AppendLong(nil, MaxZeroSizeItems))
	if n := d.BlockCount(0); n != MaxZeroSizeItems || d.Err() != nil {
		t.Errorf("BlockCount(0) = %d, %v", n, d.Err())
	}
}

// SkipBlock passes over a block whose byte size the writer recorded in
// one step, and hands out the count of one that has none.
func TestSkipBlock(t *testing.T) {
	src := AppendLong(nil, -2) // sized: two ints in 2 bytes
	src = AppendLong(src, 2)
	src = append(src, 0x02, 0x04)
	src = AppendLong(src, 3) // unsized: three ints
	src = append(src, 0x06, 0x08, 0x0a, 0x00)
	src = append(src, 0x2a) // what follows the array
	d := NewDecoder(src)
	var got []int
	for n := d.SkipBlock(1); n != 0; n = d.SkipBlock(1) {
		got = append(got, n)
		for range n {
			d.Long()
		}
	}
	if want := []int{-1, 3}; !slices.Equal(got, want) {
		t.Errorf("SkipBlock gave %v, want %v", got, want)
	}
	if x := d.Int(); x != 21 {
		t.Errorf("after the array: %d, want 21", x)
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	// A recorded size past the input is an error, and ends the loop.
	d = NewDecoder(append(AppendLong(AppendLong(nil, -1), 9), 0x02))
	if n := d.SkipBlock(1); n != 0 || d.Err() == nil {
		t.Errorf("SkipBlock of a truncated block = %d, %v", n, d.Err())
	}
}

// StringAlone copies the one string it reads, not the rest of the input.
func TestStringAlone(t *testing.T) {
	src := AppendString(AppendString(nil, "FR"), strings.Repeat("x", 300))
	d := NewDecoder(src)
	allocs := testing.AllocsPerRun(10, func() {
		d = NewDecoder(src)
		if s := d.StringAlone(); s != "FR" {
			t.Fatalf("StringAlone = %q", s)
		}
	})
	if allocs > 1 {
		t.Errorf("StringAlone allocates %.0f times", allocs)
	}
	if s := d.StringAlone(); s != strings.Repeat("x", 300) {
		t.Errorf("second string %q", s)
	}
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	d = NewDecoder(AppendString(nil, "FR")[:2])
	if s := d.StringAlone(); s != "" || d.Err() == nil {
		t.Errorf("truncated: %q, %v", s, d.Err())
	}
}

// A corrupt length prefix must be rejected before anything is allocated.
func TestOversizedLengthDoesNotAllocate(t *testing.T) {
	src := AppendLong(nil, 1<<30) // 1 GiB announced, 3 bytes present
	src = append(src, 1, 2, 3)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		d := NewDecoder(src)
		if b := d.Bytes(); b != nil || !errors.Is(d.Err(), ErrTruncated) {
			t.Fatalf("Bytes = %d bytes, err %v", len(b), d.Err())
		}
		d = NewDecoder(src)
		if s := d.String(); s != "" || d.Err() == nil {
			t.Fatal("String accepted an oversized length")
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("allocated %d bytes for an oversized length prefix", grew)
	}
	huge := AppendLong(nil, math.MaxInt64)
	d := NewDecoder(huge)
	d.Bytes()
	if d.Err() == nil {
		t.Error("MaxInt64 length accepted")
	}
}

func TestDecoderDoesNotAllocate(t *testing.T) {
	src := sampleDatum()
	allocs := testing.AllocsPerRun(100, func() {
		d := NewDecoder(src)
		d.Bool()
		d.Int()
		d.Long()
		d.Float()
		d.Double()
		d.Fixed(make([]byte, 0))
	})
	if allocs != 0 {
		t.Errorf("%v allocations for numeric reads", allocs)
	}
}

func TestZeroDecoder(t *testing.T) {
	var d Decoder
	if err := d.Finish(); err != nil {
		t.Errorf("empty datum: %v", err)
	}
	d.Long()
	if !errors.Is(d.Err(), ErrTruncated) {
		t.Errorf("err = %v", d.Err())
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	got := AppendString([]byte("pre"), "ab")
	if diff := cmp.Diff([]byte("pre\x04ab"), got); diff != "" {
		t.Error(diff)
	}
}
