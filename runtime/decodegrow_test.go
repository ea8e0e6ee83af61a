package runtime

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRecycledRecordsKeptWhenGrown: a recycled container too small for
// the next chunk grows with the records it held, which keep their
// memory (here a map) for the values decoded into them; only the new
// records start empty. Chunks come in sizes, and every fetch's last
// chunk is short, so a container a record short must not cost every
// record's maps again.
func TestRecycledRecordsKeptWhenGrown(t *testing.T) {
	type labelled struct{ m map[string]int }
	made := 0
	s := &Stream[struct{}, labelled]{src: &source{}, value: func(_ context.Context, dst *labelled, b []byte) error {
		if dst.m == nil {
			dst.m = map[string]int{}
			made++
		}
		clear(dst.m)
		dst.m[string(b)] = len(b)
		return nil
	}}
	raw := func(n int) []*kgo.Record {
		rs := make([]*kgo.Record, n)
		for i := range rs {
			rs[i] = &kgo.Record{Offset: int64(i), Value: []byte{byte('a' + i)}}
		}
		return rs
	}
	into := new(decoded[struct{}, labelled])
	if _, _, _, err := s.decodePrefix(context.Background(), raw(3), into); err != nil {
		t.Fatal(err)
	}
	out, _, _, err := s.decodePrefix(context.Background(), raw(5), into)
	if err != nil {
		t.Fatal(err)
	}
	if made != 5 {
		t.Fatalf("made %d maps for 3 records then 5, want 5 (the first 3 records' reused)", made)
	}
	for i, r := range out {
		if want := string(rune('a' + i)); len(r.Value.m) != 1 || r.Value.m[want] != 1 {
			t.Fatalf("record %d holds %v, want only %s", i, r.Value.m, want)
		}
	}
}
