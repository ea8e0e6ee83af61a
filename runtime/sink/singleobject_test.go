package sink

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
	"github.com/streamgen/streamgen/runtime"
)

// TestSingleObjectKafkaWriterEncoding: the sink's single-object values are
// the marker, the specification's fingerprint of the value type's schema
// and its binary, which the runtime's single-object decoder reads back;
// concurrent writes do not share the header's memory.
func TestSingleObjectKafkaWriterEncoding(t *testing.T) {
	w := SingleObjectKafkaWriter[struct{}, alltypes.Impression](nil)
	dec := runtime.SingleObject[alltypes.Impression]()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := alltypes.NewImpression()
			in.CampaignID = int64(i)
			val, err := w.encode(&in)
			if err != nil {
				t.Error(err)
				return
			}
			if val[0] != 0xC3 || val[1] != 0x01 || binary.LittleEndian.Uint64(val[2:10]) != alltypes.ImpressionFingerprint {
				t.Errorf("header % x, want C3 01 and fingerprint %#016x", val[:10], alltypes.ImpressionFingerprint)
			}
			out, err := dec(context.Background(), val)
			if err != nil || out.CampaignID != int64(i) {
				t.Errorf("read back %d, %v; want campaign %d", out.CampaignID, err, i)
			}
		}()
	}
	wg.Wait()
}
