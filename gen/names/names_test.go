package names

import (
	"reflect"
	"testing"
)

func TestCamel(t *testing.T) {
	for in, want := range map[string]string{
		"campaign_id":   "CampaignID",
		"geo_point":     "GeoPoint",
		"Impression":    "Impression",
		"userId":        "UserID",
		"user_ids":      "UserIDs",
		"HTTPServer":    "HTTPServer",
		"IN_PROGRESS":   "InProgress",
		"url":           "URL",
		"type":          "Type",
		"_private":      "Private",
		"3d":            "X3d",
		"lat":           "Lat",
		"ad_unit_uuid":  "AdUnitUUID",
		"bid_price_usd": "BidPriceUsd",
	} {
		if got := Camel(in); got != want {
			t.Errorf("Camel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIdent(t *testing.T) {
	for in, want := range map[string]string{"type": "type_", "a-b": "a_b", "x1": "x1", "1x": "_x"} {
		if got := Ident(in); got != want {
			t.Errorf("Ident(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"subscribe", "pattern", "assign", "startingOffsets", "key", "value"}
	for in, want := range map[string]string{
		"subcribe":        "subscribe",
		"Subscribe":       "subscribe",
		"subscirbe":       "subscribe",
		"patern":          "pattern",
		"startingoffsets": "startingOffsets",
		"startingOffset":  "startingOffsets",
		"vlaue":           "value",
		"topics":          "",
		"x":               "",
		"zzz":             "",
	} {
		if got := Suggest(in, cands); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestImportAliasAndHelper(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/streamgen/streamgen/runtime":       "sgruntime",
		"github.com/streamgen/streamgen/runtime/codec": "sgcodec",
		"math/big": "sgbig",
		"time":     "sgtime",
	} {
		if got := ImportAlias(in); got != want {
			t.Errorf("ImportAlias(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Helper("ImpressionResolver"); got != "sgImpressionResolver" {
		t.Errorf("Helper = %q", got)
	}
	// A record's constants keep its name in front, and its constructor has
	// New before it; the naming stage reserves all of them (a derived name
	// that meets another type's derived name makes one of them numbered).
	if got := RecordNames("Impression"); !reflect.DeepEqual(got, []string{"Impression", "ImpressionSchema", "ImpressionFingerprint", "NewImpression", "NewImpressionOCFWriter", "NewImpressionOCFReader"}) {
		t.Errorf("RecordNames = %q", got)
	}
}
