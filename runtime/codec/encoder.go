package codec

import (
	"encoding/binary"
	"math"
	"slices"
)

// Arrays and maps are encoded by generated code as AppendLong(len), the
// items, then AppendLong(0); an empty one is just AppendLong(0).

// AppendBool appends a boolean as one byte, 0 or 1.
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendInt appends v as a zigzag varint.
func AppendInt(dst []byte, v int32) []byte {
	return AppendLong(dst, int64(v))
}

// AppendLong appends v as a zigzag varint.
func AppendLong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	if u < 0x80 {
		return append(dst, byte(u))
	}
	return appendUvarint(dst, u)
}

func appendUvarint(dst []byte, u uint64) []byte {
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// AppendFloat appends v as a little-endian IEEE 754 single.
func AppendFloat(dst []byte, v float32) []byte {
	return binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
}

// AppendDouble appends v as a little-endian IEEE 754 double.
func AppendDouble(dst []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
}

// AppendBytes appends the length of v and then v.
func AppendBytes(dst []byte, v []byte) []byte {
	return append(AppendLong(dst, int64(len(v))), v...)
}

// AppendString appends the length of v and then v.
func AppendString(dst []byte, v string) []byte {
	return append(AppendLong(dst, int64(len(v))), v...)
}

// AppendDuration appends the Avro duration logical type: three
// little-endian uint32s (fixed(12)).
func AppendDuration(dst []byte, v Duration) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, v.Months)
	dst = binary.LittleEndian.AppendUint32(dst, v.Days)
	return binary.LittleEndian.AppendUint32(dst, v.Milliseconds)
}

// SortedKeys appends the keys of m to dst in ascending order and returns the
// extended slice. Generated encoders write map entries in key order, so that
// equal maps encode to equal bytes; they pass a slice of a local array as
// dst, which keeps a map of up to that many keys free of allocations.
func SortedKeys[V any](dst []string, m map[string]V) []string {
	for k := range m {
		dst = append(dst, k)
	}
	slices.Sort(dst)
	return dst
}
