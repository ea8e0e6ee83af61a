package side

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/internal/logbuf"
	"github.com/streamgen/streamgen/runtime"
)

const tableTopic = "campaigns"

func env(addrs []string, log *logbuf.Buffer) runtime.SideEnv {
	e := runtime.SideEnv{ClientOpts: []kgo.Opt{kgo.SeedBrokers(addrs...)}, Group: "job"}
	if log != nil {
		e.Logger = log.Logger()
	}
	return e
}

// put writes key=value records (value "" is a tombstone) to partition p.
func put(t testing.TB, cl *kgo.Client, p int32, kv ...string) {
	t.Helper()
	var rs []*kgo.Record
	for i := 0; i < len(kv); i += 2 {
		r := &kgo.Record{Topic: tableTopic, Partition: p, Key: []byte(kv[i])}
		if kv[i+1] != "" {
			r.Value = []byte(kv[i+1])
		}
		rs = append(rs, r)
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func newStringTable(opts ...TableOpt) *Table[string, string] {
	return NewTable(tableTopic, tableTopic, runtime.StringDecoder, runtime.StringDecoder, opts...)
}

// waitPending waits until the table has read n updates not yet swapped in.
func waitPending[K comparable, V any](t *testing.T, tab *Table[K, V], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tab.mu.Lock()
		got := len(tab.pending)
		tab.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the table read %d updates after its catch-up, want %d", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTableLoadsEveryPartition: the table holds the latest value of every
// key of every partition once Load returns, tombstones deleting, and its
// health counts its entries and bytes.
func TestTableLoadsEveryPartition(t *testing.T) {
	const parts = 8
	addrs, cl := kafkatest.Cluster(t, parts, tableTopic)
	for p := range int32(parts) {
		var kv []string
		for i := range 100 {
			kv = append(kv, fmt.Sprintf("%d-%d", p, i), "old")
		}
		for i := range 100 {
			kv = append(kv, fmt.Sprintf("%d-%d", p, i), fmt.Sprintf("v%d-%d", p, i))
		}
		kv = append(kv, fmt.Sprintf("%d-0", p), "") // deleted
		put(t, cl, p, kv...)
	}
	tab := newStringTable()
	if h := tab.SideHealth(); h.Unready == "" {
		t.Error("a table not loaded yet is ready")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := tab.Load(ctx, env(addrs, nil)); err != nil {
		t.Fatal(err)
	}
	tab.Swap()
	if tab.Len() != parts*99 {
		t.Errorf("Len = %d, want %d", tab.Len(), parts*99)
	}
	for p := range parts {
		if v, ok := tab.Get(fmt.Sprintf("%d-7", p)); v != fmt.Sprintf("v%d-7", p) || !ok {
			t.Errorf("Get(%d-7) = %q, %v; want the latest value", p, v, ok)
		}
		if _, ok := tab.Get(fmt.Sprintf("%d-0", p)); ok {
			t.Errorf("Get(%d-0) found a key its tombstone deleted", p)
		}
	}
	n := 0
	for k, v := range tab.All() {
		if !strings.HasPrefix(v, "v"+strings.Split(k, "-")[0]) {
			t.Errorf("All: %s=%s", k, v)
		}
		n++
	}
	var bytes int64
	for k, v := range tab.All() {
		bytes += int64(len(k) + len(v))
	}
	h := tab.SideHealth()
	if n != parts*99 || h.Entries != parts*99 || h.Bytes != bytes || h.Unready != "" || h.Kind != "table" || h.LoadedAt.IsZero() {
		t.Errorf("All gave %d entries; health %+v, want %d entries of %d bytes, ready", n, h, parts*99, bytes)
	}
}

// TestTableUpdatesWaitForSwap: updates read after the catch-up, tombstones
// among them, change nothing a reader sees until Swap, and the table is
// right across several swaps (its two maps kept in step).
func TestTableUpdatesWaitForSwap(t *testing.T) {
	addrs, cl := kafkatest.Cluster(t, 2, tableTopic)
	put(t, cl, 0, "a", "1", "b", "1")
	put(t, cl, 1, "c", "1")
	tab := newStringTable()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := tab.Load(ctx, env(addrs, nil)); err != nil {
		t.Fatal(err)
	}
	tab.Swap()
	want := map[string]string{"a": "1", "b": "1", "c": "1"}
	check := func(step string) {
		t.Helper()
		if tab.Len() != len(want) || tab.SideHealth().Entries != int64(len(want)) {
			t.Errorf("%s: Len %d, entries %d; want %d", step, tab.Len(), tab.SideHealth().Entries, len(want))
		}
		for k, w := range want {
			if v, ok := tab.Get(k); v != w || !ok {
				t.Errorf("%s: Get(%s) = %q, %v; want %q", step, k, v, ok, w)
			}
		}
	}
	check("loaded")
	for round := range 4 {
		put(t, cl, 0, "a", "", "d", fmt.Sprint(round))
		put(t, cl, 1, "c", fmt.Sprint(round))
		waitPending(t, tab, 3)
		check(fmt.Sprintf("round %d before Swap", round))
		tab.Swap()
		delete(want, "a")
		want["c"], want["d"] = fmt.Sprint(round), fmt.Sprint(round)
		check(fmt.Sprintf("round %d after Swap", round))
		put(t, cl, 0, "a", "back")
		waitPending(t, tab, 1)
		tab.Swap()
		want["a"] = "back"
		check(fmt.Sprintf("round %d after the second Swap", round))
	}
	if v := tab.SideHealth().Version; v != 8 {
		t.Errorf("Version = %d after 8 swaps that changed the table", v)
	}
}

// slowDecoder decodes strings, taking d per record, and ignores its
// context the way a decoder doing CPU work would.
func slowDecoder(d time.Duration) runtime.Decoder[string] {
	return func(_ context.Context, b []byte) (string, error) {
		time.Sleep(d)
		return string(b), nil
	}
}

// TestTableCatchUpTimeout: a table that cannot read its topic within
// CatchUpTimeout fails the start, naming the table, the topic and how far
// it got, and is unready meanwhile.
func TestTableCatchUpTimeout(t *testing.T) {
	addrs, cl := kafkatest.Cluster(t, 2, tableTopic)
	for p := range int32(2) {
		var kv []string
		for i := range 100 {
			kv = append(kv, fmt.Sprint(i), "x")
		}
		put(t, cl, p, kv...)
	}
	tab := NewTable("campaigns-table", tableTopic, runtime.StringDecoder, slowDecoder(5*time.Millisecond), CatchUpTimeout(300*time.Millisecond))
	var sawLoading atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-done:
				return
			default:
			}
			if strings.Contains(tab.SideHealth().Unready, "loading topic campaigns: read") {
				sawLoading.Store(true)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	err := tab.Load(context.Background(), env(addrs, nil))
	<-done
	if err == nil || !strings.Contains(err.Error(), "table campaigns-table: topic campaigns not caught up after 300ms: read ") || !strings.Contains(err.Error(), " of 200 records") {
		t.Errorf("Load = %v, want the catch-up bound's error naming table, topic and progress", err)
	}
	if !sawLoading.Load() {
		t.Error("the table did not say it was loading while it caught up")
	}
}

// TestTableMissingTopic: a table whose topic does not exist fails the
// start, naming both.
func TestTableMissingTopic(t *testing.T) {
	addrs, _ := kafkatest.Cluster(t, 1, "other")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := NewTable("campaigns", "no-such-topic", runtime.StringDecoder, runtime.StringDecoder).Load(ctx, env(addrs, nil))
	if err == nil || err.Error() != "table campaigns: topic no-such-topic does not exist" {
		t.Errorf("Load = %v, want the missing topic named", err)
	}
}

// TestTableEndsAtTheWatermarksSeenAtStart: a topic written to without
// pause while the table loads does not keep Load from returning.
func TestTableEndsAtTheWatermarksSeenAtStart(t *testing.T) {
	addrs, cl := kafkatest.Cluster(t, 4, tableTopic)
	for p := range int32(4) {
		put(t, cl, p, "first", "1")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var written atomic.Int64
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		for i := 0; ctx.Err() == nil; i++ {
			r := &kgo.Record{Topic: tableTopic, Partition: int32(i % 4), Key: []byte(fmt.Sprint(i)), Value: []byte("x")}
			if cl.ProduceSync(ctx, r).FirstErr() == nil {
				written.Add(1)
			}
		}
	}()
	for written.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	// Slow enough that the writer outpaces the table.
	tab := NewTable(tableTopic, tableTopic, runtime.StringDecoder, slowDecoder(50*time.Microsecond), CatchUpTimeout(20*time.Second))
	began := time.Now()
	if err := tab.Load(ctx, env(addrs, nil)); err != nil {
		t.Fatal(err)
	}
	tab.Swap()
	if _, ok := tab.Get("first"); !ok || tab.Len() < 200 {
		t.Errorf("after %v the table holds %d entries, want what was written before it started", time.Since(began), tab.Len())
	}
	cancel()
	<-writing
}

// TestTableStopWhileLoading: cancelling Load's context ends it promptly.
func TestTableStopWhileLoading(t *testing.T) {
	addrs, cl := kafkatest.Cluster(t, 1, tableTopic)
	var kv []string
	for i := range 1000 {
		kv = append(kv, fmt.Sprint(i), "x")
	}
	put(t, cl, 0, kv...)
	tab := NewTable(tableTopic, tableTopic, runtime.StringDecoder, slowDecoder(10*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	began := time.Now()
	err := tab.Load(ctx, env(addrs, nil))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Load = %v, want context.Canceled", err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Load took %v to see its context end", took)
	}
}

// upperDecoder rejects values "bad".
func upperDecoder(_ context.Context, b []byte) (string, error) {
	if string(b) == "bad" {
		return "", errors.New("not a campaign")
	}
	return strings.ToUpper(string(b)), nil
}

// TestTableBadRecords: by default a record the decoders reject fails the
// start, naming topic, partition and offset; SkipBadRecords leaves it out,
// counting and logging it; after the catch-up, a rejected update fails
// the job through Err.
func TestTableBadRecords(t *testing.T) {
	addrs, cl := kafkatest.Cluster(t, 1, tableTopic)
	put(t, cl, 0, "a", "x", "b", "bad", "c", "y")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	err := NewTable(tableTopic, tableTopic, runtime.StringDecoder, upperDecoder).Load(ctx, env(addrs, nil))
	var de *runtime.DecodeError
	if !errors.As(err, &de) || de.Partition != 0 || de.Offset != 1 || !strings.Contains(err.Error(), "table campaigns: decoding value of topic campaigns partition 0 offset 1") {
		t.Errorf("Load = %v, want a DecodeError at partition 0 offset 1", err)
	}

	var log logbuf.Buffer
	tab := NewTable(tableTopic, tableTopic, runtime.StringDecoder, upperDecoder, SkipBadRecords())
	if err := tab.Load(ctx, env(addrs, &log)); err != nil {
		t.Fatal(err)
	}
	tab.Swap()
	if _, ok := tab.Get("b"); ok || tab.Len() != 2 || tab.SideHealth().Skipped != 1 {
		t.Errorf("Len %d, Skipped %d; want the bad record left out and counted", tab.Len(), tab.SideHealth().Skipped)
	}
	if !strings.Contains(log.String(), "skipped a record") || !strings.Contains(log.String(), "offset 1") {
		t.Errorf("log %q, want the skipped record", log.String())
	}

	addrs, cl = kafkatest.Cluster(t, 1, tableTopic)
	put(t, cl, 0, "a", "x")
	failing := NewTable(tableTopic, tableTopic, runtime.StringDecoder, upperDecoder)
	if err := failing.Load(ctx, env(addrs, nil)); err != nil {
		t.Fatal(err)
	}
	put(t, cl, 0, "b", "bad")
	deadline := time.Now().Add(10 * time.Second)
	for failing.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := failing.Err(); !errors.As(err, &de) || de.Offset != 1 {
		t.Errorf("Err = %v, want the update's DecodeError", err)
	}
	if h := failing.SideHealth(); !strings.Contains(h.Unready, "offset 1") {
		t.Errorf("Unready = %q, want the failure", h.Unready)
	}
}

// TestTableBounds: a table past MaxEntries or MaxBytes fails the start
// while catching up, and the job (Err) after.
func TestTableBounds(t *testing.T) {
	addrs, cl := kafkatest.Cluster(t, 1, tableTopic)
	put(t, cl, 0, "a", "1", "b", "2", "c", "3")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := newStringTable(MaxEntries(2)).Load(ctx, env(addrs, nil))
	if err == nil || err.Error() != "table campaigns (topic campaigns): 3 entries exceed MaxEntries 2" {
		t.Errorf("Load = %v, want the entries bound", err)
	}
	err = newStringTable(MaxBytes(5)).Load(ctx, env(addrs, nil))
	if err == nil || err.Error() != "table campaigns (topic campaigns): 6 bytes exceed MaxBytes 5" {
		t.Errorf("Load = %v, want the bytes bound", err)
	}
	tab := newStringTable(MaxEntries(3))
	if err := tab.Load(ctx, env(addrs, nil)); err != nil {
		t.Fatal(err)
	}
	tab.Swap()
	put(t, cl, 0, "d", "4")
	waitPending(t, tab, 1)
	tab.Swap()
	if err := tab.Err(); err == nil || !strings.Contains(err.Error(), "4 entries exceed MaxEntries 3") {
		t.Errorf("Err = %v, want the entries bound", err)
	}
}

// TestTableReadsPartitionsAddedLater: a partition added to the topic after
// the table loaded is read from its start too.
func TestTableReadsPartitionsAddedLater(t *testing.T) {
	addrs, cl := kafkatest.Cluster(t, 1, tableTopic)
	put(t, cl, 0, "a", "1")
	tab := newStringTable()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := env(addrs, nil)
	// Short metadata refreshes and fetch waits: the new partition joins
	// the table's fetches within milliseconds, not the defaults' seconds.
	e.ClientOpts = append(e.ClientOpts, kgo.MetadataMaxAge(50*time.Millisecond), kgo.MetadataMinAge(10*time.Millisecond), kgo.FetchMaxWait(100*time.Millisecond))
	if err := tab.Load(ctx, e); err != nil {
		t.Fatal(err)
	}
	tab.Swap()
	if _, err := kadm.NewClient(cl).CreatePartitions(ctx, 1, tableTopic); err != nil {
		t.Fatal(err)
	}
	fresh, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	put(t, fresh, 1, "b", "2")
	waitPending(t, tab, 1)
	tab.Swap()
	if v, ok := tab.Get("b"); v != "2" || !ok || tab.Len() != 2 {
		t.Errorf("Get(b) = %q, %v, Len %d; want the new partition's entry", v, ok, tab.Len())
	}
}

// TestTableReadsCommittedTransactionsOnly: a table topic written in
// transactions (by a job's exactly-once Kafka sink) holds aborted records
// too. The table applies committed ones only, when it catches up and
// while it follows the topic; and it catches up although the topic's last
// record is an abort marker.
func TestTableReadsCommittedTransactionsOnly(t *testing.T) {
	addrs, _ := kafkatest.Cluster(t, 1, tableTopic)
	txn, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.TransactionalID("table-writer"), kgo.DefaultProduceTopic(tableTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	write := func(commit bool, kv ...string) {
		t.Helper()
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(kv); i += 2 {
			if err := txn.ProduceSync(ctx, &kgo.Record{Key: []byte(kv[i]), Value: []byte(kv[i+1])}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := txn.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	write(true, "a", "1", "b", "1")
	write(false, "a", "aborted", "c", "aborted")

	tab := newStringTable()
	if err := tab.Load(ctx, env(addrs, nil)); err != nil {
		t.Fatal(err)
	}
	tab.Swap()
	if v, _ := tab.Get("a"); v != "1" || tab.Len() != 2 {
		t.Errorf("after catching up: a=%q, %d entries; want a=1 of the committed transaction, 2 entries", v, tab.Len())
	}
	if _, ok := tab.Get("c"); ok {
		t.Error("c, written only in an aborted transaction, is in the table")
	}

	write(false, "d", "aborted")
	write(true, "b", "2")
	waitPending(t, tab, 1)
	tab.Swap()
	if v, _ := tab.Get("b"); v != "2" {
		t.Errorf("following: b=%q, want 2 of the committed transaction", v)
	}
	if _, ok := tab.Get("d"); ok {
		t.Error("following: d, written only in an aborted transaction, is in the table")
	}
	tab.mu.Lock()
	defer tab.mu.Unlock()
	if len(tab.pending) != 0 {
		t.Errorf("pending after the swap: %v", tab.pending)
	}
}
