package codec

import (
	"strings"
	"testing"
	"unsafe"
)

// TestStringsShareOneCopy: a small datum's strings are substrings of one
// copy of the input (one allocation), never alias the input, and a large
// datum's strings are copied one by one, so a short one cannot pin it.
func TestStringsShareOneCopy(t *testing.T) {
	var src []byte
	for _, s := range []string{"alpha", "", "beta", "gamma"} {
		src = AppendString(src, s)
	}
	d := NewDecoder(src)
	a, e, b, g := d.String(), d.String(), d.String(), d.String()
	if err := d.Finish(); err != nil || a != "alpha" || e != "" || b != "beta" || g != "gamma" {
		t.Fatalf("got %q %q %q %q, %v", a, e, b, g, err)
	}
	if !follows(b, a, 2) { // after a: e's and b's length bytes
		t.Error("the strings of a small datum do not share one copy")
	}
	src[1] = 'X'
	if a != "alpha" {
		t.Error("a string aliases the input")
	}
	if n := testing.AllocsPerRun(100, func() {
		d := NewDecoder(src)
		_, _, _, _ = d.String(), d.String(), d.String(), d.String()
	}); n != 1 {
		t.Errorf("%v allocations for four strings, want 1", n)
	}

	big := AppendString(AppendString(nil, "id"), strings.Repeat("x", sharedStrings))
	d = NewDecoder(big)
	id, x := d.String(), d.String()
	if d.Err() != nil || id != "id" || len(x) != sharedStrings {
		t.Fatalf("large datum: %q, %d bytes, %v", id, len(x), d.Err())
	}
	if follows(x, id, 2) {
		t.Error("a large datum's strings share one copy")
	}
}

// follows reports whether b starts gap bytes after the end of a in memory.
func follows(b, a string, gap int) bool {
	return uintptr(unsafe.Pointer(unsafe.StringData(b)))-uintptr(unsafe.Pointer(unsafe.StringData(a))) == uintptr(len(a)+gap)
}

// TestStringsShared: Decoders given one Strings copy their datums'
// strings into its blocks, one allocation per block, never aliasing the
// input; a block is never written again, so the strings of earlier datums
// keep their values; a datum too large for a block is copied alone.
func TestStringsShared(t *testing.T) {
	src := AppendString(AppendString(nil, "campaign"), "publisher")
	var s Strings
	var kept []string
	for i := range 3 * StringsBlock / len(src) {
		src[1] = 'a' + byte(i%26)
		d := NewDecoder(src)
		d.ShareStrings(&s)
		a, b := d.String(), d.String()
		if err := d.Finish(); err != nil || a[1:] != "ampaign" || b != "publisher" || a[0] != 'a'+byte(i%26) {
			t.Fatalf("#%d: got %q %q, %v", i, a, b, err)
		}
		kept = append(kept, a)
	}
	for i, a := range kept {
		if a[0] != 'a'+byte(i%26) {
			t.Fatalf("string #%d changed to %q after later datums were decoded", i, a)
		}
	}
	if n := testing.AllocsPerRun(1000, func() {
		d := NewDecoder(src)
		d.ShareStrings(&s)
		_, _ = d.String(), d.String()
	}); n > 0.05 {
		t.Errorf("%v allocations per datum sharing a Strings, want one per block (%v)", n, float64(len(src))/StringsBlock)
	}

	big := AppendString(nil, strings.Repeat("x", StringsBlock/2))
	rest := len(s.block)
	d := NewDecoder(big)
	d.ShareStrings(&s)
	x := d.String()
	if len(x) != StringsBlock/2 || d.Finish() != nil {
		t.Fatalf("large datum: %d bytes, %v", len(x), d.Err())
	}
	if len(s.block) != rest {
		t.Error("a datum larger than a quarter block was copied into a block")
	}
}

// TestDecoderReset: a reset Decoder reads its new input from the start,
// with no error or shared copy of the old one left, and keeps its Strings.
func TestDecoderReset(t *testing.T) {
	var s Strings
	d := NewDecoder(AppendString(nil, "old"))
	d.ShareStrings(&s)
	if d.String() != "old" || d.String() != "" || d.Err() == nil {
		t.Fatal("the first input did not read as expected")
	}
	d.Reset(AppendString(AppendString(nil, "new"), "too"))
	if a, b := d.String(), d.String(); a != "new" || b != "too" || d.Finish() != nil {
		t.Fatalf("after Reset: %q %q, %v", a, b, d.Finish())
	}
	if d.shared != &s {
		t.Error("Reset dropped the Decoder's Strings")
	}
}
