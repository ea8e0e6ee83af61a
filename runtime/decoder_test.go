package runtime

import (
	"context"
	"errors"
	"strconv"
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
	if err := into(context.Background(), &s, []byte("abc")); err != nil || s != "abc" {
		t.Fatalf("Into(StringDecoder) = %q, %v", s, err)
	}
	boom := errors.New("boom")
	back := DecoderInto[int32](func(_ context.Context, dst *int32, b []byte) error {
		n, _ := strconv.Atoi(string(b))
		*dst = int32(n)
		if n < 0 {
			return boom
		}
		return nil
	}).Decoder()
	if v, err := back(context.Background(), []byte("7")); v != 7 || err != nil {
		t.Errorf("Decoder() = %d, %v; want 7", v, err)
	}
	if _, err := back(context.Background(), []byte("-1")); !errors.Is(err, boom) {
		t.Errorf("Decoder() lost the error: %v", err)
	}
}
