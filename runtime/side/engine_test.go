package side

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/runtime"
)

const impressions = "impressions"

func newEngine(t *testing.T, addrs []string, group string, sides ...runtime.SideInput) *runtime.Engine {
	t.Helper()
	e, err := runtime.New(runtime.Group(group), runtime.Brokers(addrs...), runtime.BatchInterval(20*time.Millisecond),
		runtime.StartFrom(runtime.StartEarliest()), runtime.WithSideInputs(sides...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runtime.NewStream(e, "impressions", runtime.Subscribe(impressions), runtime.BytesDecoder, runtime.StringDecoder); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEngineBatchSeesOneTableState: an update to the table produced while
// a handler runs, and read by the table before the handler returns, is
// not visible to that handler, and is to a later batch.
func TestEngineBatchSeesOneTableState(t *testing.T) {
	addrs, cl := kafkatest.Cluster(t, 2, tableTopic, impressions)
	put(t, cl, 0, "c1", "spring sale")
	kafkatest.Produce(t, cl, impressions, 2, 5)
	tab := newStringTable()
	e := newEngine(t, addrs, "etl", tab)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	batches, sawUpdate := 0, 0
	err := e.Run(runCtx, func(context.Context, *runtime.JobBatch) error {
		batches++
		name, _ := tab.Get("c1")
		switch {
		case batches == 1:
			if name != "spring sale" {
				t.Errorf("first batch: Get(c1) = %q, want the loaded value", name)
			}
			put(t, cl, 0, "c1", "summer sale")
			waitPending(t, tab, 1)
			if again, _ := tab.Get("c1"); again != name {
				t.Errorf("Get(c1) changed from %q to %q within a batch", name, again)
			}
		case name == "summer sale":
			sawUpdate = batches
			stop()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sawUpdate != 2 {
		t.Errorf("the update showed in batch %d, want the next one, 2", sawUpdate)
	}
	if got := e.Snapshot().SideInputs; len(got) != 1 || got[0].Entries != 1 || got[0].Version != 1 {
		t.Errorf("Snapshot.SideInputs = %+v, want the table with one entry, swapped once since loading", got)
	}
}

// TestEngineStaleValueEndsRun: a value past its MaxAge under StaleFail
// ends Run, between batches, with an error naming it.
func TestEngineStaleValueEndsRun(t *testing.T) {
	addrs, cl := kafkatest.Cluster(t, 1, impressions)
	kafkatest.Produce(t, cl, impressions, 1, 5)
	m := &model{}
	v := NewValue("model", m.load, Interval(5*time.Millisecond), RetryWait(time.Millisecond), MaxAge(100*time.Millisecond))
	e := newEngine(t, addrs, "detector", v)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last int64
	err := e.Run(ctx, func(context.Context, *runtime.JobBatch) error {
		m.fail.Store(true)
		last = v.Get()
		return nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "runtime: side input model: value model is stale: last loaded ") {
		t.Errorf("Run = %v, want the stale value named", err)
	}
	if last == 0 {
		t.Error("no batch ran with the value")
	}
}

// TestEngineTableLoadFails: a table whose topic is missing fails the
// engine's start, naming side input, table and topic.
func TestEngineTableLoadFails(t *testing.T) {
	addrs, cl := kafkatest.Cluster(t, 1, impressions)
	kafkatest.Produce(t, cl, impressions, 1, 1)
	e := newEngine(t, addrs, "etl", NewTable("campaigns", "campaign-names", runtime.StringDecoder, runtime.StringDecoder))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := e.Run(ctx, func(context.Context, *runtime.JobBatch) error { return errors.New("a batch ran") })
	if err == nil || err.Error() != "runtime: side input campaigns: table campaigns: topic campaign-names does not exist" {
		t.Errorf("Run = %v", err)
	}
}
