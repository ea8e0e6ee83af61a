package evolutiontest_test

import (
	"testing"

	"github.com/streamgen/streamgen/examples/evolution-test/impressions"
	"github.com/streamgen/streamgen/runtime/avrotest"
)

// The schema files of the versions producers may still write. A project
// keeps its own, for example under testdata/, next to the current one its
// streamgen.yaml generates from.
const (
	v1 = "../../schemas/evolution/impression_v1.avsc"
	v2 = "../../schemas/evolution/impression_v2.avsc"
)

// TestReadsEveryEarlierVersion: the job reads what v1 and v2 producers
// write. v1's int campaign id is widened, the country v3 removed is
// skipped, and viewable, which v1 lacks, takes its default, false.
func TestReadsEveryEarlierVersion(t *testing.T) {
	avrotest.ReadableAs[impressions.Impression](t, v1,
		avrotest.Case[impressions.Impression]{
			Written: map[string]any{"id": "a", "campaign_id": 7, "device": "PHONE", "country": "FR", "payload": "p"},
			Want: impressions.Impression{ID: "a", CampaignID: 7, Device: impressions.DeviceTypePhone,
				Payload: impressions.ImpressionPayloadString{Value: "p"}, Viewable: false},
		})
	avrotest.ReadableAs[impressions.Impression](t, v2,
		avrotest.Case[impressions.Impression]{
			Written: map[string]any{"id": "b", "campaign_id": int64(1) << 40, "device": "TABLET", "country": "US", "payload": nil, "viewable": true},
			Want:    impressions.Impression{ID: "b", CampaignID: 1 << 40, Device: impressions.DeviceTypeTablet, Viewable: true},
		})
}

// TestUnknownDeviceReadsAsTheDefault: a later producer may add a device
// type; the enum's default, DESKTOP, is what this job then reads.
func TestUnknownDeviceReadsAsTheDefault(t *testing.T) {
	const v4 = `{"type": "record", "name": "Impression", "namespace": "com.example.ads", "fields": [
		{"name": "id", "type": "string"},
		{"name": "campaign_id", "type": "long"},
		{"name": "device", "type": {"type": "enum", "name": "DeviceType", "symbols": ["DESKTOP", "PHONE", "TABLET", "TV", "WATCH"]}}
	]}`
	avrotest.ReadableAs[impressions.Impression](t, v4,
		avrotest.Case[impressions.Impression]{
			Written: map[string]any{"id": "w", "campaign_id": int64(1), "device": "WATCH"},
			Want:    impressions.Impression{ID: "w", CampaignID: 1, Device: impressions.DeviceTypeDesktop},
		})
}

// TestWhatEarlierConsumersCannotRead documents the change as forward
// incompatible: consumers still reading with v2 fail on this job's TV
// impressions and long payloads (streamgen check reports the same under
// FORWARD), so they are upgraded before producers write v3. Everything
// else v3 writes, v2 reads.
func TestWhatEarlierConsumersCannotRead(t *testing.T) {
	got := avrotest.Problems(t, v2, impressions.ImpressionSchema)
	want := []string{
		`field "device": writer enum symbol "TV" is not in reader enum com.example.ads.DeviceType, which has no default (reading it fails)`,
		`field "payload": writer union branch long matches no branch of reader union [null, string] (reading such a value fails)`,
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("v2 reading v3:\n got %q\nwant %q", got, want)
	}
	// v3 reads every version before it.
	for _, v := range []string{v1, v2} {
		if p := avrotest.Problems(t, impressions.ImpressionSchema, v); len(p) > 0 {
			t.Errorf("v3 reading %s: %q", v, p)
		}
	}
}
