package runtime

import (
	"errors"
	"testing"
)

// TestDecoderIntoAdapters: Into and Decoder convert between the two
// decoder shapes without changing what is decoded or failed, and keep nil.
func TestDecoderIntoAdapters(t *testing.T) {
	if Into[string](nil) != nil || DecoderInto[string](nil).Decoder() != nil {
		t.Fatal("nil decoders did not stay nil")
	}
	into := Into(StringDecoder)
	var s string
	if err := into(&s, "t", 1, 2, []byte("abc")); err != nil || s != "abc" {
		t.Fatalf("Into(StringDecoder) = %q, %v", s, err)
	}
	boom := errors.New("boom")
	back := DecoderInto[int32](func(dst *int32, _ string, _ int32, off int64, _ []byte) error {
		*dst = int32(off)
		if off < 0 {
			return boom
		}
		return nil
	}).Decoder()
	if v, err := back("t", 0, 7, nil); v != 7 || err != nil {
		t.Errorf("Decoder() = %d, %v; want 7", v, err)
	}
	if _, err := back("t", 0, -1, nil); !errors.Is(err, boom) {
		t.Errorf("Decoder() lost the error: %v", err)
	}
}
