package generated_test

import (
	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/internal/avrorand"
)

// valueGen draws random edge values of an Avro schema in hamba/avro's generic
// representation (internal/avrorand, whose plausible values streamgen dev
// produces), under the names these tests use. It records what it drew in
// seen, so a test can check that the random values reached every union
// branch, non-empty collections, negative decimals and pre-1970 times
// (coverageGoals).
type valueGen struct {
	*avrorand.Gen
	seen map[string]bool
}

func newValueGen(seed uint64, maxKeys int) *valueGen {
	g := avrorand.New(seed, maxKeys)
	return &valueGen{Gen: g, seen: g.Seen()}
}

// value draws a value of s; path and depth are the root's ("", 0) in
// every test.
func (g *valueGen) value(s avro.Schema, path string, depth int) any {
	if path != "" || depth != 0 {
		panic("valueGen.value draws whole values only")
	}
	return g.Value(s)
}

// coverageGoals lists the labels of seen that random values of the record s
// should all reach (avrorand.CoverageGoals).
func coverageGoals(s avro.Schema, maxKeys int) []string { return avrorand.CoverageGoals(s, maxKeys) }
