package codec

import (
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestTimestamps(t *testing.T) {
	tests := []struct {
		name    string
		t       time.Time
		millis  int64
		micros  int64
		nanos   int64
		days    int32
		dayTime time.Time
	}{
		{"epoch", time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), 0, 0, 0, 0, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2024", time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.UTC), 1709212455123, 1709212455123456, 1709212455123456789, 19782, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"just before epoch", time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC), -1, -1000, -1_000_000, -1, time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"1900", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), -2208988800000, -2208988800000000, -2208988800000000000, -25567, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MillisOf(tt.t); got != tt.millis {
				t.Errorf("MillisOf = %d, want %d", got, tt.millis)
			}
			if got := MicrosOf(tt.t); got != tt.micros {
				t.Errorf("MicrosOf = %d, want %d", got, tt.micros)
			}
			if got := NanosOf(tt.t); got != tt.nanos {
				t.Errorf("NanosOf = %d, want %d", got, tt.nanos)
			}
			if got := TimestampNanos(tt.nanos); !got.Equal(tt.t) || got.Location() != time.UTC {
				t.Errorf("TimestampNanos = %v", got)
			}
			if got := TimestampMicros(tt.micros); !got.Equal(tt.t.Truncate(time.Microsecond)) || got.Location() != time.UTC {
				t.Errorf("TimestampMicros = %v", got)
			}
			if got := TimestampMillis(tt.millis); !got.Equal(tt.t.Truncate(time.Millisecond)) || got.Location() != time.UTC {
				t.Errorf("TimestampMillis = %v", got)
			}
			if got := DaysOf(tt.t); got != tt.days {
				t.Errorf("DaysOf = %d, want %d", got, tt.days)
			}
			if got := Date(tt.days); !got.Equal(tt.dayTime) || got.Location() != time.UTC {
				t.Errorf("Date = %v, want %v", got, tt.dayTime)
			}
		})
	}
	// Sub-millisecond parts before 1970 round toward the past.
	pre := time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC)
	if got := MillisOf(pre); got != -1 {
		t.Errorf("MillisOf(%v) = %d, want -1", pre, got)
	}
	if got := MicrosOf(pre); got != -1 {
		t.Errorf("MicrosOf(%v) = %d, want -1", pre, got)
	}
	// A date is the calendar day in the time's own location.
	tokyo := time.FixedZone("JST", 9*3600)
	if got := DaysOf(time.Date(2024, 1, 1, 1, 0, 0, 0, tokyo)); got != 19723 {
		t.Errorf("DaysOf(2024-01-01 JST) = %d, want 19723", got)
	}
}

func TestTimeOfDay(t *testing.T) {
	d := 13*time.Hour + 14*time.Minute + 15*time.Second + 123456*time.Microsecond
	if got := MillisOfDuration(d); got != 47655123 {
		t.Errorf("MillisOfDuration = %d", got)
	}
	if got := MicrosOfDuration(d); got != 47655123456 {
		t.Errorf("MicrosOfDuration = %d", got)
	}
	if got := TimeMillis(47655123); got != d.Truncate(time.Millisecond) {
		t.Errorf("TimeMillis = %v", got)
	}
	if got := TimeMicros(47655123456); got != d {
		t.Errorf("TimeMicros = %v", got)
	}
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

func TestDecimalBytes(t *testing.T) {
	tests := []struct {
		v         string
		precision int
		scale     int
		want      []byte // unscaled two's complement
	}{
		{"0", 5, 2, []byte{0}},
		{"1.23", 5, 2, []byte{123}},
		{"-1.23", 5, 2, []byte{0x85}},
		{"1.28", 5, 2, []byte{0, 128}},
		{"-1.28", 5, 2, []byte{0x80}},
		{"-1.29", 5, 2, []byte{0xff, 0x7f}},
		{"-0.01", 5, 2, []byte{0xff}},
		{"12345678901234567890.12", 22, 2, []byte{0x42, 0xed, 0x12, 0x3b, 0x0b, 0xd8, 0x20, 0x3a, 0x14}},
		{"-12345678901234567890.12", 22, 2, []byte{0xbd, 0x12, 0xed, 0xc4, 0xf4, 0x27, 0xdf, 0xc5, 0xec}},
		{"42", 2, 0, []byte{42}},
		{"1.5", 3, 2, []byte{0, 150}},
	}
	for _, tt := range tests {
		got, err := AppendDecimalBytes([]byte{0xee}, rat(tt.v), tt.precision, tt.scale)
		if err != nil {
			t.Errorf("%s: %v", tt.v, err)
			continue
		}
		want := append([]byte{0xee}, AppendBytes(nil, tt.want)...)
		if string(got) != string(want) {
			t.Errorf("AppendDecimalBytes(%s) = %x, want %x", tt.v, got, want)
		}
		d := NewDecoder(got[1:])
		back := DecimalFromBytes(d.Bytes(), tt.scale)
		if back.Cmp(rat(tt.v)) != 0 {
			t.Errorf("DecimalFromBytes = %s, want %s", back.FloatString(tt.scale), tt.v)
		}
	}
	if got := DecimalFromBytes(nil, 3); got.Sign() != 0 {
		t.Errorf("empty bytes = %v", got)
	}
	if got := DecimalFromBytes([]byte{0xff, 0xff, 0xfe}, 1); got.Cmp(rat("-0.2")) != 0 {
		t.Errorf("sign-extended = %v", got)
	}
}

func TestDecimalErrors(t *testing.T) {
	tests := []struct {
		name      string
		v         *big.Rat
		precision int
		scale     int
		msg       string
	}{
		{"nil", nil, 5, 2, "nil decimal"},
		{"too many fraction digits", rat("1.234"), 5, 2, "more than 2 digits after the point"},
		{"precision overflow", rat("1234.5"), 5, 2, "6 digits, more than precision 5"},
		{"negative precision overflow", rat("-1000"), 3, 0, "4 digits, more than precision 3"},
		{"one third", rat("1/3"), 10, 5, "digits after the point"},
		{"bad scale", rat("1"), 2, 3, "invalid decimal precision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte{1}
			got, err := AppendDecimalBytes(dst, tt.v, tt.precision, tt.scale)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("AppendDecimalBytes error %v, want %q", err, tt.msg)
			}
			if len(got) != 1 {
				t.Errorf("dst grew on error: %x", got)
			}
			if _, err := AppendDecimalFixed(dst, tt.v, tt.precision, tt.scale, 8); err == nil {
				t.Error("AppendDecimalFixed accepted it")
			}
		})
	}
}

func TestDecimalFixed(t *testing.T) {
	tests := []struct {
		v    string
		size int
		want []byte
	}{
		{"1.23", 4, []byte{0, 0, 0, 123}},
		{"-1.23", 4, []byte{0xff, 0xff, 0xff, 0x85}},
		{"-0.01", 2, []byte{0xff, 0xff}},
		{"0", 3, []byte{0, 0, 0}},
		{"327.67", 2, []byte{0x7f, 0xff}},
		{"-327.68", 2, []byte{0x80, 0x00}},
	}
	for _, tt := range tests {
		got, err := AppendDecimalFixed(nil, rat(tt.v), 9, 2, tt.size)
		if err != nil {
			t.Errorf("%s: %v", tt.v, err)
			continue
		}
		if string(got) != string(tt.want) {
			t.Errorf("AppendDecimalFixed(%s, %d) = %x, want %x", tt.v, tt.size, got, tt.want)
		}
		if back := DecimalFromBytes(got, 2); back.Cmp(rat(tt.v)) != 0 {
			t.Errorf("round trip %s = %s", tt.v, back.FloatString(2))
		}
	}
	for _, v := range []string{"327.68", "-327.69"} {
		if _, err := AppendDecimalFixed(nil, rat(v), 9, 2, 2); err == nil || !strings.Contains(err.Error(), "more than the fixed size 2") {
			t.Errorf("%s in 2 bytes: err %v", v, err)
		}
	}
}

func TestDurationLittleEndian(t *testing.T) {
	got := AppendDuration(nil, Duration{Months: 1, Days: 0x0102, Milliseconds: 0x01020304})
	want := []byte{1, 0, 0, 0, 2, 1, 0, 0, 4, 3, 2, 1}
	if string(got) != string(want) {
		t.Errorf("AppendDuration = %x, want %x", got, want)
	}
	d := NewDecoder(want[:11])
	if got := d.Duration(); got != (Duration{}) || d.Err() == nil {
		t.Errorf("truncated Duration = %+v, %v", got, d.Err())
	}
}

func TestDecoderTimeMicrosRejectsValuesBeyondDuration(t *testing.T) {
	ok := AppendLong(nil, 86_399_999_999) // 23:59:59.999999
	d := NewDecoder(ok)
	if got := d.TimeMicros(); got != 24*time.Hour-time.Microsecond || d.Finish() != nil {
		t.Errorf("TimeMicros = %v, %v", got, d.Finish())
	}
	for _, v := range []int64{math.MaxInt64, math.MinInt64, math.MaxInt64/1000 + 1} {
		d := NewDecoder(AppendLong(nil, v))
		if got := d.TimeMicros(); got != 0 || d.Err() == nil {
			t.Errorf("TimeMicros(%d) = %v, err %v; want an error", v, got, d.Err())
		}
	}
}
