package avrotest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/streamgen/streamgen/generated_test/cases/evolution_v1/impressionv1"
	"github.com/streamgen/streamgen/generated_test/cases/evolution_v2/impressionv2"
	"github.com/streamgen/streamgen/generated_test/cases/evolution_v3/impressionv3"
	"github.com/streamgen/streamgen/runtime/avrotest"
)

const (
	v1File = "../../schemas/evolution/impression_v1.avsc"
	v3File = "../../schemas/evolution/impression_v3.avsc"
)

// recorder is a testing.TB that keeps what the helpers report, so that
// their failures can be tested.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// report runs fn with a recorder and returns everything it reported.
func report(t *testing.T, fn func(tb testing.TB)) string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return strings.Join(r.msgs, "\n")
}

func TestReadableAsOlderWriter(t *testing.T) {
	avrotest.ReadableAs[impressionv2.Impression](t, v1File,
		avrotest.Case[impressionv2.Impression]{
			Written: map[string]any{"id": "a", "campaign_id": 7, "device": "PHONE", "country": "FR", "payload": "p"},
			Want:    impressionv2.Impression{ID: "a", CampaignID: 7, Device: impressionv2.DeviceTypePhone, Country: "FR", Payload: new("p"), Viewable: false},
		},
		avrotest.Case[impressionv2.Impression]{ // a union as {"branch": value}; binary from the v1 type
			Written: map[string]any{"id": "b", "campaign_id": -1, "device": "TABLET", "country": "ZZ", "payload": map[string]any{"string": "q"}},
			Want:    impressionv2.Impression{ID: "b", CampaignID: -1, Device: impressionv2.DeviceTypeTablet, Country: "ZZ", Payload: new("q")},
		},
		avrotest.Case[impressionv2.Impression]{
			Written: must((&impressionv1.Impression{ID: "c", Device: impressionv1.DeviceTypeDesktop, Country: "NL"}).AppendAvro(nil)),
			Want:    impressionv2.Impression{ID: "c", Device: impressionv2.DeviceTypeDesktop, Country: "NL"},
		})
}

func TestReadableAsNamesWhatANewerWriterBreaks(t *testing.T) {
	// The v2 type reads the v3 records it can represent, with country
	// "ZZ", but not every v3 record: ReadableAs fails and names why.
	got := report(t, func(tb testing.TB) {
		avrotest.ReadableAs[impressionv2.Impression](tb, v3File, avrotest.Case[impressionv2.Impression]{
			Written: map[string]any{"id": "x", "campaign_id": int64(3), "device": "PHONE", "payload": nil, "viewable": true},
			Want:    impressionv2.Impression{ID: "x", CampaignID: 3, Device: impressionv2.DeviceTypePhone, Country: "ZZ", Viewable: true},
		})
	})
	for _, want := range []string{"impressionv2.Impression cannot read every record", `symbol "TV"`, "writer union branch long"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "case 0") {
		t.Errorf("the readable case failed:\n%s", got)
	}
}

func TestReadableAsReportsDifferingFields(t *testing.T) {
	got := report(t, func(tb testing.TB) {
		avrotest.ReadableAs[impressionv3.Impression](tb, v1File, avrotest.Case[impressionv3.Impression]{
			Written: map[string]any{"id": "a", "campaign_id": 7, "device": "PHONE", "country": "FR", "payload": nil},
			Want:    impressionv3.Impression{ID: "a", CampaignID: 8, Device: impressionv3.DeviceTypePhone, Viewable: true},
		})
	})
	for _, want := range []string{"case 0", "CampaignID: got 7, want 8", "Viewable: got false, want true"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "\tID: got") || strings.Contains(got, "Device:") {
		t.Errorf("report names equal fields:\n%s", got)
	}
}

func TestNotReadableAsAndUnreadable(t *testing.T) {
	// v1 cannot read any v3 record: campaign_id is a long.
	errs := avrotest.NotReadableAs[impressionv1.Impression](t, v3File, `"campaign_id"`, "not promotable")
	if len(errs) != 3 {
		t.Errorf("problems: %v", errs)
	}
	// v2 reads v3 records without TV and long payloads only.
	avrotest.NotReadableAs[impressionv2.Impression](t, v3File, `symbol "TV"`)
	avrotest.Unreadable[impressionv2.Impression](t, v3File,
		map[string]any{"id": "tv", "campaign_id": int64(1), "device": "TV", "payload": nil, "viewable": false}, `"TV" is not in reader enum`)
	avrotest.Unreadable[impressionv2.Impression](t, v3File,
		map[string]any{"id": "l", "campaign_id": int64(1), "device": "PHONE", "payload": int64(5), "viewable": false}, "writer union branch long")
	v := avrotest.Read[impressionv2.Impression](t, v3File,
		map[string]any{"id": "ok", "campaign_id": int64(1), "device": "PHONE", "payload": "s", "viewable": false})
	if v.Country != "ZZ" || *v.Payload != "s" {
		t.Errorf("read %+v", v)
	}

	// And the assertions fail when they should.
	got := report(t, func(tb testing.TB) { avrotest.NotReadableAs[impressionv3.Impression](tb, v1File) })
	if !strings.Contains(got, "reads every record") {
		t.Errorf("NotReadableAs of a compatible pair reported %q", got)
	}
	got = report(t, func(tb testing.TB) { avrotest.NotReadableAs[impressionv1.Impression](tb, v3File, "no such reason") })
	if !strings.Contains(got, `no problem mentions "no such reason"`) {
		t.Errorf("NotReadableAs with a wrong reason reported %q", got)
	}
	got = report(t, func(tb testing.TB) {
		avrotest.Unreadable[impressionv2.Impression](tb, v3File,
			map[string]any{"id": "ok", "campaign_id": int64(1), "device": "PHONE", "payload": nil, "viewable": false}, "x")
	})
	if !strings.Contains(got, "read the record") {
		t.Errorf("Unreadable of a readable record reported %q", got)
	}
}

func TestProblems(t *testing.T) {
	if p := avrotest.Problems(t, impressionv3.ImpressionSchema, v1File); p != nil {
		t.Errorf("v3 reading v1: %q", p)
	}
	p := avrotest.Problems(t, v1File, impressionv2.ImpressionSchema)
	if len(p) != 1 || !strings.Contains(p[0], `field "campaign_id": type changed from long to int`) {
		t.Errorf("v1 reading v2: %q", p)
	}
}

func TestSchemaTakesJSONOrAFile(t *testing.T) {
	const inline = `{"type":"record","name":"Impression","namespace":"com.example.ads","fields":[
		{"name":"id","type":"string"},
		{"name":"device","type":{"type":"enum","name":"DeviceType","symbols":["PHONE","TV"]}}]}`
	if avrotest.Schema(t, inline) != inline {
		t.Error("JSON not returned as it is")
	}
	// A minimal writer: every other v3 field takes v3's default, and v3
	// has none for campaign_id, so it cannot read it.
	avrotest.NotReadableAs[impressionv3.Impression](t, inline, `"campaign_id"`)
	got := report(t, func(tb testing.TB) { avrotest.Schema(tb, "no/such/file.avsc") })
	if !strings.Contains(got, "no/such/file.avsc") {
		t.Errorf("a missing file reported %q", got)
	}
	got = report(t, func(tb testing.TB) { avrotest.Write(tb, v1File, map[string]any{"id": "a"}) })
	if !strings.Contains(got, "writing") {
		t.Errorf("an incomplete record reported %q", got)
	}
}

func TestRoundTrip(t *testing.T) {
	avrotest.RoundTrip(t, impressionv3.Impression{ID: "r", CampaignID: 1 << 40, Device: impressionv3.DeviceTypeTv,
		Payload: impressionv3.ImpressionPayloadLong{Value: -3}, Viewable: true})
	got := report(t, func(tb testing.TB) { avrotest.RoundTrip(tb, impressionv3.Impression{Device: "RADIO"}) })
	if !strings.Contains(got, `"RADIO" is not a symbol`) {
		t.Errorf("an invalid value reported %q", got)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
