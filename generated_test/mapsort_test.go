package generated_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime/codec"
)

// TestMapEncodingSortedBeyondStackBuffer: maps encode in key order whether
// their keys fit the encoder's stack array (16) or not, so that equal maps
// give equal bytes; Go's random map iteration would break a missed sort.
func TestMapEncodingSortedBeyondStackBuffer(t *testing.T) {
	for _, n := range []int{1, 2, 15, 16, 17, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			v := alltypes.Impression{Device: alltypes.DeviceTypeTv, BidPrice: alltypes.NewImpression().BidPrice, Labels: map[string]string{}}
			var want []string
			for i := range n {
				k := fmt.Sprintf("key-%03d", (i*37)%n)
				v.Labels[k] = fmt.Sprint(i)
				want = append(want, k)
			}
			slices.Sort(want)
			first, err := v.AppendAvro(nil)
			if err != nil {
				t.Fatal(err)
			}
			for range 20 {
				again, err := v.AppendAvro(nil)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, first) {
					t.Fatal("the same map encodes to different bytes")
				}
			}
			if got := codec.SortedKeys(nil, v.Labels); !slices.Equal(got, want) {
				t.Errorf("SortedKeys = %q, want %q", got, want)
			}
			var back alltypes.Impression
			if err := back.UnmarshalAvro(first); err != nil || len(back.Labels) != n {
				t.Fatalf("decoded %d labels, %v", len(back.Labels), err)
			}
		})
	}
}

// TestEncodeAllocations holds the generated encoder of the benchmark
// Impression (3 labels, 5 segments, a decimal) to at most 2 allocations,
// into a buffer that has room; it makes none today.
func TestEncodeAllocations(t *testing.T) {
	v := benchImpression()
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = v.AppendAvro(buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("AppendAvro of an Impression allocates %v times, want at most 2", allocs)
	}
}
