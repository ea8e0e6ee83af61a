package crashtest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCheckTable shows that checkTable finds each kind of violation in
// made-up output, and none in consistent output.
func TestCheckTable(t *testing.T) {
	t0 := time.Now()
	sent := make([]time.Time, 100) // version n began at t0 + n ms
	for n := range sent {
		sent[n] = t0.Add(time.Duration(n) * time.Millisecond)
	}
	late := t0.Add(time.Second)
	// p2 started after p1 ended, p3 ran beside p1.
	lives := map[string]life{
		"p0": {t0, t0.Add(time.Second)},
		"p1": {t0, t0.Add(time.Second)},
		"p2": {t0.Add(2 * time.Second), t0.Add(3 * time.Second)},
		"p3": {t0.Add(time.Second / 2), t0.Add(4 * time.Second)},
	}
	// rec is the output of partition part offset off, sequence number seq,
	// which saw version v of its key in batch b.
	rec := func(part int32, off, seq, v int64, b string) handledAt {
		return handledAt{part: part, off: off, seq: seq, payload: fmt.Sprintf("t %d %d %s", seq%tableKeys, v, b), ts: late}
	}
	cases := []struct {
		name string
		read []handledAt
		want string // in the error; "" for none
	}{
		{"consistent", []handledAt{
			// Batch 1-1 saw state 20 (writes 0..19): key 1 has 17, key 2 has 18, key 5 has 13.
			rec(0, 0, 1, 17, "p1-1"), rec(0, 1, 2, 18, "p1-1"), rec(1, 0, 5, 13, "p1-1"),
			// Batch 1-2 saw state 30: key 1 has 25; a restart's batch 2-1 state 40: key 1 has 33.
			rec(0, 2, 9, 25, "p1-2"), rec(0, 3, 17, 33, "p2-1"),
			// Before any write to key 7: state 5.
			rec(2, 0, 7, -1, "p0-1"),
		}, ""},
		{"two states in a batch", []handledAt{rec(0, 0, 1, 9, "p1-1"), rec(1, 0, 2, 26, "p1-1")}, "saw no single state"},
		{"older state after a newer", []handledAt{rec(0, 0, 1, 33, "p1-1"), rec(0, 1, 9, 25, "p1-2")}, "earlier batches of the partition in p1 at least 34"},
		{"older state after a restart", []handledAt{rec(0, 0, 1, 33, "p1-1"), rec(0, 1, 9, 25, "p2-1")}, "earlier batches of the partition in p1 at least 34"},
		{"older state in a replica behind", []handledAt{rec(0, 0, 1, 33, "p1-1"), rec(0, 1, 9, 25, "p3-1")}, ""},
		{"an unknown process", []handledAt{rec(0, 0, 1, 33, "p9-1")}, "of no process"},
		{"not yet written", []handledAt{{part: 0, off: 0, seq: 1, payload: "t 1 17 p1-1", ts: t0.Add(5 * time.Millisecond)}}, "after the record was produced"},
		{"never written", []handledAt{rec(0, 0, 1, 201, "p1-1")}, "never wrote"},
		{"another key's version", []handledAt{rec(0, 0, 1, 18, "p1-1")}, "which the writer wrote to key 2"},
		{"another key", []handledAt{{part: 0, off: 0, seq: 1, payload: "t 2 18 p1-1", ts: late}}, "looked up table key 2"},
	}
	for _, c := range cases {
		got, err := checkTable(c.read, sent, len(sent), lives)
		switch {
		case c.want == "" && (err != nil || got.Violations != 0):
			t.Errorf("%s: %d violations: %v", c.name, got.Violations, err)
		case c.name == "older state in a replica behind" && got.Behind != 1:
			t.Errorf("%s: %d batches behind, want 1", c.name, got.Behind)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || got.Violations == 0):
			t.Errorf("%s: %d violations, error %v; want one saying %q", c.name, got.Violations, err, c.want)
		}
	}
}
