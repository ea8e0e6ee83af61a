package codec

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"
)

// Timestamps are instants since the Unix epoch; the returned times are UTC.

// TimestampMillis converts a timestamp-millis (or local-timestamp-millis) value.
func TimestampMillis(v int64) time.Time { return time.UnixMilli(v).UTC() }

// TimestampMicros converts a timestamp-micros (or local-timestamp-micros) value.
func TimestampMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// TimestampNanos converts a timestamp-nanos (or local-timestamp-nanos) value.
func TimestampNanos(v int64) time.Time { return time.Unix(0, v).UTC() }

// MillisOf returns t as milliseconds since the epoch, rounding toward the
// past (so a pre-1970 time with a sub-millisecond part is not moved later).
func MillisOf(t time.Time) int64 { return t.UnixMilli() }

// MicrosOf returns t as microseconds since the epoch, rounding toward the past.
func MicrosOf(t time.Time) int64 { return t.UnixMicro() }

// NanosOf returns t as nanoseconds since the epoch. Like time.Time.UnixNano
// it is undefined outside the years 1678 to 2262.
func NanosOf(t time.Time) int64 { return t.UnixNano() }

const secondsPerDay = 24 * 60 * 60

// Date converts a date value (days since 1970-01-01) to midnight UTC of that day.
func Date(days int32) time.Time { return time.Unix(int64(days)*secondsPerDay, 0).UTC() }

// DaysOf returns the number of days from 1970-01-01 to the calendar date of
// t in t's own location (for a UTC time: floor(seconds/86400), so any time on
// 1969-12-31 gives -1).
func DaysOf(t time.Time) int32 {
	y, m, d := t.Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay)
}

// TimeMillis converts a time-millis value (milliseconds after midnight).
func TimeMillis(v int32) time.Duration { return time.Duration(v) * time.Millisecond }

// TimeMicros converts a time-micros value (microseconds after midnight).
func TimeMicros(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

// MillisOfDuration returns d in whole milliseconds (truncated), for time-millis.
func MillisOfDuration(d time.Duration) int32 { return int32(d / time.Millisecond) }

// MicrosOfDuration returns d in whole microseconds (truncated), for time-micros.
func MicrosOfDuration(d time.Duration) int64 { return int64(d / time.Microsecond) }

// Duration is the Avro duration logical type. Its three parts are
// independent: a month is not a fixed number of days, nor a day of
// milliseconds.
type Duration struct {
	Months, Days, Milliseconds uint32
}

// DecimalFromBytes converts the bytes of a decimal logical value: the
// unscaled value as a big-endian two's-complement integer (empty = 0),
// divided by 10^scale.
func DecimalFromBytes(b []byte, scale int) *big.Rat { return DecimalInto(nil, b, scale) }

// DecimalInto is DecimalFromBytes into dst, whose memory it reuses, so
// that a decimal decoded into a reused record allocates nothing in the
// common case; a nil dst gets a new big.Rat. It returns dst.
func DecimalInto(dst *big.Rat, b []byte, scale int) *big.Rat {
	if len(b) <= 8 && scale >= 0 && scale < len(pow10s) {
		// The common case: an unscaled value of at most 8 bytes, read
		// as a sign-extended int64, over a power of ten that fits in
		// one. The fraction is reduced here, in integers, and set
		// through Denom (documented to be a reference to the
		// denominator once the Rat is set), so big.Rat's own
		// normalization, a big-number GCD, is not needed. SetInt64 and
		// Denom().SetInt64 reuse the numerator's and denominator's
		// words: no allocation when dst held a decimal before.
		var u int64
		if len(b) > 0 && b[0]&0x80 != 0 {
			u = -1
		}
		for _, c := range b {
			u = u<<8 | int64(c)
		}
		p := pow10s[scale]
		g := int64(gcd(absUint64(u), uint64(p)))
		if dst == nil {
			dst = new(big.Rat)
		}
		dst.SetInt64(u / g)
		if q := p / g; q != 1 {
			dst.Denom().SetInt64(q)
		}
		return dst
	}
	if dst == nil {
		return decimalFromBytesBig(b, scale)
	}
	return dst.Set(decimalFromBytesBig(b, scale))
}

// decimalFromBytesBig is DecimalFromBytes for any length and scale.
func decimalFromBytesBig(b []byte, scale int) *big.Rat {
	unscaled := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		unscaled.Sub(unscaled, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	r := new(big.Rat).SetInt(unscaled)
	if scale == 0 {
		return r
	}
	p := pow10(scale)
	if scale > 0 {
		return r.Quo(r, new(big.Rat).SetInt(p))
	}
	return r.Mul(r, new(big.Rat).SetInt(p))
}

func absUint64(v int64) uint64 {
	if v < 0 {
		return uint64(-v) // also right for math.MinInt64
	}
	return uint64(v)
}

// gcd is the greatest common divisor of a and b, b > 0.
func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// pow10s are the powers of ten that fit in an int64: 10^0 to 10^18.
var pow10s = func() []int64 {
	p := make([]int64, 19)
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

func pow10(n int) *big.Int {
	if n < 0 {
		n = -n
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// AppendDecimalBytes appends v as a bytes-backed decimal: the length and the
// minimal two's-complement big-endian encoding of v*10^scale. It fails if v
// is nil, if v*10^scale is not an integer or if it has more than precision
// digits.
func AppendDecimalBytes(dst []byte, v *big.Rat, precision, scale int) ([]byte, error) {
	if u, ok := unscaled64(v, precision, scale); ok {
		n := minimalBytes(u)
		dst = AppendLong(dst, int64(n))
		for i := n - 1; i >= 0; i-- {
			dst = append(dst, byte(u>>(8*i)))
		}
		return dst, nil
	}
	u, err := unscaled(v, precision, scale)
	if err != nil {
		return dst, err
	}
	b := twosComplement(u)
	return AppendBytes(dst, b), nil
}

// AppendDecimalFixed appends v as a fixed-backed decimal of size bytes,
// sign-extended. Beyond the AppendDecimalBytes errors, it fails if the value
// does not fit in size bytes.
func AppendDecimalFixed(dst []byte, v *big.Rat, precision, scale, size int) ([]byte, error) {
	if u, ok := unscaled64(v, precision, scale); ok && minimalBytes(u) <= size {
		for i := size - 1; i >= 0; i-- {
			if i >= 8 {
				dst = append(dst, byte(u>>63)) // sign extension
				continue
			}
			dst = append(dst, byte(u>>(8*i)))
		}
		return dst, nil
	}
	u, err := unscaled(v, precision, scale)
	if err != nil {
		return dst, err
	}
	b := twosComplement(u)
	if len(b) > size {
		return dst, fmt.Errorf("avro: decimal %s needs %d bytes, more than the fixed size %d", v.RatString(), len(b), size)
	}
	var ext byte
	if u.Sign() < 0 {
		ext = 0xff
	}
	for range size - len(b) {
		dst = append(dst, ext)
	}
	return append(dst, b...), nil
}

var errNilDecimal = errors.New("avro: nil decimal value")

// unscaled64 is unscaled for the common case that needs no big
// arithmetic: numerator, v*10^scale and 10^precision all fit in an
// int64. It reports false when it cannot tell, and then unscaled decides
// (and names any error).
func unscaled64(v *big.Rat, precision, scale int) (int64, bool) {
	if v == nil || scale < 0 || scale >= len(pow10s) || precision <= 0 || scale > precision || precision >= len(pow10s) {
		return 0, false
	}
	num, den := v.Num(), v.Denom()
	if !num.IsInt64() || !den.IsInt64() {
		return 0, false
	}
	n, d := num.Int64(), den.Int64()
	p := pow10s[scale]
	if p%d != 0 || n == math.MinInt64 {
		return 0, false
	}
	m := p / d
	abs := n
	if abs < 0 {
		abs = -abs
	}
	if m != 0 && abs > math.MaxInt64/m {
		return 0, false
	}
	u := n * m
	if abs*m >= pow10s[precision] {
		return 0, false
	}
	return u, true
}

// minimalBytes is the length of u's shortest two's-complement encoding.
func minimalBytes(u int64) int {
	n := 8
	for n > 1 {
		// The top byte is redundant when it is all sign bits and the
		// next byte's top bit agrees with it.
		top := byte(u >> (8 * (n - 1)))
		next := byte(u >> (8 * (n - 2)))
		if (top == 0 && next&0x80 == 0) || (top == 0xff && next&0x80 != 0) {
			n--
			continue
		}
		break
	}
	return n
}

func unscaled(v *big.Rat, precision, scale int) (*big.Int, error) {
	if v == nil {
		return nil, errNilDecimal
	}
	if precision <= 0 || scale < 0 || scale > precision {
		return nil, fmt.Errorf("avro: invalid decimal precision %d and scale %d", precision, scale)
	}
	r := new(big.Rat).Mul(v, new(big.Rat).SetInt(pow10(scale)))
	if !r.IsInt() {
		return nil, fmt.Errorf("avro: decimal %s has more than %d digits after the point", v.RatString(), scale)
	}
	u := new(big.Int).Set(r.Num())
	if digits := len(new(big.Int).Abs(u).String()); digits > precision {
		return nil, fmt.Errorf("avro: decimal %s has %d digits, more than precision %d", v.RatString(), digits, precision)
	}
	return u, nil
}

// twosComplement returns the shortest big-endian two's-complement encoding
// of u (at least one byte).
func twosComplement(u *big.Int) []byte {
	if u.Sign() >= 0 {
		b := u.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -u-1 has the complement bit pattern of u.
	m := new(big.Int).Neg(u)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// TimeMicros reads a time-micros value. A value whose microseconds do not
// fit in a time.Duration (beyond about ±292 years) is an error rather than
// a silently wrapped duration; a time of day is never that large.
func (d *Decoder) TimeMicros() time.Duration {
	start := d.off
	v := d.Long()
	if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
		d.off = start // the error names where the value starts
		d.fail(fmt.Sprintf("time-micros value %d does not fit in a time.Duration", v), nil)
		return 0
	}
	return time.Duration(v) * time.Microsecond
}
