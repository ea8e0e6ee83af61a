package generated_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/streamgen/streamgen/runtime/codec"
)

// corruptValues is how many random values of each type the corruption tests
// cut and damage: every prefix of each is checked, and flipsPerValue
// randomly damaged copies.
const (
	corruptValues = 60
	flipsPerValue = 50
)

// TestTruncatedInput: every strict prefix of a valid encoding is an error
// that matches codec.ErrTruncated, and decoding never panics.
func TestTruncatedInput(t *testing.T) {
	for _, rt := range corruptionTypes() {
		t.Run(rt.name, func(t *testing.T) {
			for i, b := range encodings(t, rt, corruptValues) {
				for n := range len(b) {
					err := unmarshalNoPanic(t, rt, b[:n])
					if err == nil {
						t.Fatalf("value #%d: UnmarshalAvro of the %d-byte prefix of %d bytes succeeded\ninput: %x", i, n, len(b), b[:n])
					}
					if !errors.Is(err, codec.ErrTruncated) {
						t.Fatalf("value #%d: UnmarshalAvro of the %d-byte prefix of %d bytes: %v, which does not match codec.ErrTruncated\ninput: %x", i, n, len(b), err, b[:n])
					}
				}
			}
		})
	}
}

// TestTrailingBytes: input left over after the datum is an error.
func TestTrailingBytes(t *testing.T) {
	for _, rt := range corruptionTypes() {
		t.Run(rt.name, func(t *testing.T) {
			for i, b := range encodings(t, rt, corruptValues) {
				for _, extra := range []byte{0x00, 0x02, 0xff} {
					in := append(b[:len(b):len(b)], extra)
					err := unmarshalNoPanic(t, rt, in)
					if err == nil {
						t.Fatalf("value #%d: UnmarshalAvro with the trailing byte %#x succeeded\ninput: %x", i, extra, in)
					}
					if errors.Is(err, codec.ErrTruncated) {
						t.Fatalf("value #%d: UnmarshalAvro with a trailing byte: %v, which matches codec.ErrTruncated", i, err)
					}
				}
			}
		})
	}
}

// TestCorruptInput flips random bits of valid encodings: decoding must not
// panic, and what does decode must survive a round trip.
func TestCorruptInput(t *testing.T) {
	for _, rt := range corruptionTypes() {
		t.Run(rt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seedFor(t.Name()), 1))
			decoded := 0
			for _, b := range encodings(t, rt, corruptValues) {
				for range flipsPerValue {
					in := append([]byte(nil), b...)
					for range 1 + r.IntN(3) {
						in[r.IntN(len(in))] ^= 1 << r.IntN(8)
					}
					if unmarshalNoPanic(t, rt, in) == nil {
						decoded++
						rt.reencode(t, in)
					}
				}
			}
			t.Logf("%d of %d corrupted inputs decoded", decoded, corruptValues*flipsPerValue)
		})
	}
}

type corruptionType struct {
	recordType
	reencode func(t *testing.T, data []byte) // checkReencode for the type
}

func corruptionTypes() []corruptionType {
	var out []corruptionType
	for _, rt := range recordTypes {
		switch rt.name {
		case "Impression":
			out = append(out, corruptionType{rt, func(t *testing.T, b []byte) { checkReencode(t, b, impressionEncodable) }})
		case "AllTypes":
			out = append(out, corruptionType{rt, func(t *testing.T, b []byte) { checkReencode(t, b, allTypesEncodable) }})
		}
	}
	return out
}

// encodings returns AppendAvro's encodings of n random values of rt.
func encodings(t *testing.T, rt corruptionType, n int) [][]byte {
	t.Helper()
	schema := parseSchema(t, rt.schema)
	g := newValueGen(seedFor(t.Name()), 3)
	out := make([][]byte, n)
	for i := range out {
		b, err := hambaFlat.Marshal(schema, g.value(schema, "", 0))
		if err != nil {
			t.Fatal(err)
		}
		v := rt.new()
		if err := v.UnmarshalAvro(b); err != nil {
			t.Fatalf("UnmarshalAvro of a valid encoding: %v", err)
		}
		if out[i], err = v.AppendAvro(nil); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// unmarshalNoPanic decodes in, turning a panic into a test failure that
// shows the input.
func unmarshalNoPanic(t *testing.T, rt corruptionType, in []byte) error {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("UnmarshalAvro panicked: %v\ninput: %x", p, in)
		}
	}()
	return rt.new().UnmarshalAvro(in)
}
