package side

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/streamgen/streamgen/generated_test/cases/evolution_v1/impressionv1"
	"github.com/streamgen/streamgen/generated_test/cases/evolution_v2/impressionv2"
	"github.com/streamgen/streamgen/internal/kafkatest"
	"github.com/streamgen/streamgen/runtime"
)

// framed is v's Confluent wire format under schema id.
func framed(t *testing.T, id int, v interface{ AppendAvro([]byte) ([]byte, error) }) []byte {
	t.Helper()
	b := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(id))
	b, err := v.AppendAvro(b)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTableSchemaEvolution: a table whose topic holds values written with
// an older and the current schema reads each through the registry into
// the current type, and skips a value with no Confluent header under
// SkipBadRecords.
func TestTableSchemaEvolution(t *testing.T) {
	reg := srfake.New()
	t.Cleanup(reg.Close)
	var ids [3]int
	for v := 1; v <= 2; v++ {
		avsc, err := os.ReadFile(filepath.Join("..", "..", "schemas", "evolution", fmt.Sprintf("impression_v%d.avsc", v)))
		if err != nil {
			t.Fatal(err)
		}
		if ids[v], _, err = reg.RegisterSchema(tableTopic+"-value", sr.Schema{Schema: string(avsc)}); err != nil {
			t.Fatal(err)
		}
	}
	registry, err := runtime.NewSchemaRegistry(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	addrs, cl := kafkatest.Cluster(t, 2, tableTopic)
	recs := []*kgo.Record{
		{Topic: tableTopic, Partition: 0, Key: []byte("old"), Value: framed(t, ids[1], &impressionv1.Impression{ID: "old", CampaignID: 7, Device: impressionv1.DeviceTypePhone, Country: "DE"})},
		{Topic: tableTopic, Partition: 1, Key: []byte("new"), Value: framed(t, ids[2], &impressionv2.Impression{ID: "new", CampaignID: 1 << 40, Device: impressionv2.DeviceTypeTablet, Country: "FR", Viewable: true})},
		{Topic: tableTopic, Partition: 1, Key: []byte("raw"), Value: []byte("not avro")},
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tab := NewTable(tableTopic, tableTopic, runtime.StringDecoder, runtime.ConfluentAvro[impressionv2.Impression](registry), SkipBadRecords())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := tab.Load(ctx, env(addrs, nil)); err != nil {
		t.Fatal(err)
	}
	tab.Swap()
	old, _ := tab.Get("old")
	if want := (impressionv2.Impression{ID: "old", CampaignID: 7, Device: impressionv2.DeviceTypePhone, Country: "DE"}); old != want {
		t.Errorf("Get(old) = %+v, want the v1 value read as v2 %+v", old, want)
	}
	if cur, _ := tab.Get("new"); cur.CampaignID != 1<<40 || !cur.Viewable {
		t.Errorf("Get(new) = %+v", cur)
	}
	if _, ok := tab.Get("raw"); ok || tab.SideHealth().Skipped != 1 {
		t.Errorf("the value without a Confluent header was not skipped and counted: %+v", tab.SideHealth())
	}
}
