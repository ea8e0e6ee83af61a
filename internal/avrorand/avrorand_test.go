package avrorand_test

import (
	"math"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/internal/avrorand"
)

// TestPlausibleValues: plausible values of every type of the sample
// schemas (alltypes.avsc has each primitive, logical type, union shape and
// collection; recursive.avsc a self-referencing record) encode with their
// schema, read back equal, and look like what a producer writes: no NUL or
// NaN, no negative numbers, times within the last minute.
func TestPlausibleValues(t *testing.T) {
	now := time.Now()
	for _, file := range []string{"alltypes.avsc", "recursive.avsc", "impression.avsc"} {
		data, err := os.ReadFile("../../schemas/" + file)
		if err != nil {
			t.Fatal(err)
		}
		s, err := avro.ParseBytes(data)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		g := avrorand.NewPlausible(1, now)
		for range 200 {
			v := g.Value(s)
			b, err := avro.Marshal(s, v)
			if err != nil {
				t.Fatalf("%s: %v does not encode: %v", file, v, err)
			}
			var back any
			if err := avro.Unmarshal(s, b, &back); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			walk(t, file, v, now)
		}
	}
}

func walk(t *testing.T, path string, v any, now time.Time) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			walk(t, path+"."+k, e, now)
		}
	case []any:
		for _, e := range v {
			walk(t, path+"[]", e, now)
		}
	case string:
		if strings.ContainsRune(v, 0) || v == "" {
			t.Errorf("%s = %q", path, v)
		}
	case int:
		if v < 0 {
			t.Errorf("%s = %d", path, v)
		}
	case int64:
		if v < 0 {
			t.Errorf("%s = %d", path, v)
		}
	case float64:
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("%s = %v", path, v)
		}
	case float32:
		if v < 0 || math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Errorf("%s = %v", path, v)
		}
	case *big.Rat:
		if v.Sign() < 0 {
			t.Errorf("%s = %v", path, v)
		}
	case time.Time:
		if v.After(now) || v.Before(now.Add(-24*time.Hour)) {
			t.Errorf("%s = %v, not within the last day", path, v)
		}
	}
}

// TestEdgeValuesReachTheirGoals: edge values of alltypes.avsc reach every
// coverage goal within a few hundred draws.
func TestEdgeValuesReachTheirGoals(t *testing.T) {
	data, err := os.ReadFile("../../schemas/alltypes.avsc")
	if err != nil {
		t.Fatal(err)
	}
	s := avro.MustParse(string(data))
	g := avrorand.New(7, 3)
	for range 500 {
		if _, err := avro.Marshal(s, g.Value(s)); err != nil {
			t.Fatal(err)
		}
	}
	for _, goal := range avrorand.CoverageGoals(s, 3) {
		if !g.Seen()[goal] {
			t.Errorf("edge values never reached %q", goal)
		}
	}
}
