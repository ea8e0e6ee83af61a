package side

import (
	"maps"
	"strconv"
	"testing"

	"github.com/streamgen/streamgen/runtime"
)

const benchEntries = 1_000_000

// benchTable is a table of n entries, filled as Load and Swap would
// leave it, without a broker.
func benchTable[K comparable](n int, key func(int) K) (*Table[K, string], []K) {
	tab := NewTable[K, string]("campaigns", "campaigns", nil, runtime.StringDecoder)
	m := make(map[K]item[string], n)
	keys := make([]K, n)
	for i := range n {
		keys[i] = key(i)
		m[keys[i]] = item[string]{v: "campaign " + strconv.Itoa(i), n: 20}
	}
	tab.live.Store(&m)
	return tab, keys
}

// BenchmarkTableGet looks up present keys of a 1M-entry table in an order
// that defeats the CPU cache, as a stream's keys would.
func BenchmarkTableGet(b *testing.B) {
	b.Run("string", func(b *testing.B) {
		tab, keys := benchTable(benchEntries, func(i int) string { return "c" + strconv.Itoa(i) })
		benchGet(b, tab, keys)
	})
	b.Run("int64", func(b *testing.B) {
		tab, keys := benchTable(benchEntries, func(i int) int64 { return int64(i) * 7919 })
		benchGet(b, tab, keys)
	})
	// hot: 1,000 keys of the 1M get every lookup, as a few campaigns get
	// most impressions; the map's memory for them stays in the cache.
	b.Run("string-hot", func(b *testing.B) {
		tab, keys := benchTable(benchEntries, func(i int) string { return "c" + strconv.Itoa(i) })
		benchGet(b, tab, keys[:1000])
	})
	// map: a plain Go map of the same 1M entries, looked up the same way,
	// for what the table adds to a lookup.
	b.Run("string-plain-map", func(b *testing.B) {
		tab, keys := benchTable(benchEntries, func(i int) string { return "c" + strconv.Itoa(i) })
		plain := make(map[string]string, benchEntries)
		for k, it := range *tab.live.Load() {
			plain[k] = it.v
		}
		benchLookup(b, keys, func(k string) bool { _, ok := plain[k]; return ok })
	})
}

func benchGet[K comparable](b *testing.B, tab *Table[K, string], keys []K) {
	benchLookup(b, keys, func(k K) bool { _, ok := tab.Get(k); return ok })
}

func benchLookup[K comparable](b *testing.B, keys []K, get func(K) bool) {
	// A fixed stride through the keys: each lookup lands far from the last.
	const stride = 104729
	b.ReportAllocs()
	b.ResetTimer()
	i, found := 0, 0
	for b.Loop() {
		if get(keys[i]) {
			found++
		}
		i = (i + stride) % len(keys)
	}
	if found == 0 {
		b.Fatal("no key found")
	}
}

// BenchmarkTableSwap applies 1,000 updates to a 1M-entry table between two
// batches: the cost a batch pays for a table that changes.
func BenchmarkTableSwap(b *testing.B) {
	tab, keys := benchTable(benchEntries, func(i int) string { return "c" + strconv.Itoa(i) })
	tab.spare = make(map[string]item[string], benchEntries)
	for k, v := range *tab.live.Load() {
		tab.spare[k] = v
	}
	b.ReportAllocs()
	b.ResetTimer()
	j := 0
	for b.Loop() {
		tab.pending = make(map[string]change[string, string], 1000)
		for range 1000 {
			k := keys[j%len(keys)]
			tab.pending[k] = change[string, string]{k: k, it: item[string]{v: "renamed", n: 15}}
			j += 7
		}
		tab.Swap()
	}
}

// BenchmarkCopyOnWriteSwap is the design Table does not use, for
// comparison with BenchmarkTableSwap: an immutable map copied whole, the
// same 1,000 updates applied to the copy, at every swap.
func BenchmarkCopyOnWriteSwap(b *testing.B) {
	tab, keys := benchTable(benchEntries, func(i int) string { return "c" + strconv.Itoa(i) })
	live := *tab.live.Load()
	b.ReportAllocs()
	b.ResetTimer()
	j := 0
	for b.Loop() {
		next := maps.Clone(live)
		for range 1000 {
			next[keys[j%len(keys)]] = item[string]{v: "renamed", n: 15}
			j += 7
		}
		live = next
	}
}
