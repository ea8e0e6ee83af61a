package generated_test

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"

	"github.com/streamgen/streamgen/generated_test/cases/alltypes/alltypes"
)

// The fuzz targets feed arbitrary bytes to UnmarshalAvro. Their seeds, which
// run as tests in every `go test`, are encodings of random values (addSeeds)
// and, in testdata/fuzz/<FuzzName>/, hamba's encodings with block sizes and
// with blocks of two items, a decimal in a non-minimal form, and a
// time-micros value beyond the range of time.Duration (which once decoded
// to a wrong value). Fuzz with, for example:
//
//	go test -run '^$' -fuzz FuzzAllTypesUnmarshal -fuzztime 60s ./generated_test/

func FuzzImpressionUnmarshal(f *testing.F) {
	schema := parseSchema(f, alltypes.ImpressionSchema)
	addSeeds(f, schema, 8)
	f.Fuzz(func(t *testing.T, data []byte) {
		v := checkReencode[alltypes.Impression](t, data, impressionEncodable)
		if v == nil {
			return
		}
		var hs alltypes.Impression
		if err := hambaFlat.Unmarshal(schema, data, &hs); err != nil {
			t.Fatalf("UnmarshalAvro accepted %x, which hamba rejects: %v", data, err)
		}
		if diff := cmp.Diff(&hs, v, cmpOpts); diff != "" {
			t.Fatalf("UnmarshalAvro and hamba decode %x differently (-hamba +generated):\n%s", data, diff)
		}
	})
}

func FuzzAllTypesUnmarshal(f *testing.F) {
	schema := parseSchema(f, alltypes.AllTypesSchema)
	addSeeds(f, schema, 8)
	// reused is decoded into by every input, as the engine decodes into
	// the records of earlier batches: it must come out as a new one does.
	var reused alltypes.AllTypes
	f.Fuzz(func(t *testing.T, data []byte) {
		v := checkReencode[alltypes.AllTypes](t, data, allTypesEncodable)
		if v == nil {
			_ = reused.UnmarshalAvro(data) // a failed decode leaves it half written
			return
		}
		if err := reused.UnmarshalAvro(data); err != nil {
			t.Fatalf("UnmarshalAvro into a reused record fails on %x, into a new one not: %v", data, err)
		}
		if diff := cmp.Diff(v, &reused, cmpOpts); diff != "" {
			t.Fatalf("UnmarshalAvro of %x into a reused record and into a new one differ (-new +reused):\n%s", data, diff)
		}
		var back map[string]any
		if err := hambaFlat.Unmarshal(schema, data, &back); err != nil {
			t.Fatalf("UnmarshalAvro accepted %x, which hamba rejects: %v", data, err)
		}
		if diff := cmp.Diff(back, allTypesGeneric(v), cmpOpts); diff != "" {
			t.Fatalf("UnmarshalAvro and hamba decode %x differently (-hamba +generated):\n%s", data, diff)
		}
	})
}

// addSeeds adds n valid encodings of random values of schema.
func addSeeds(f *testing.F, schema avro.Schema, n int) {
	g := newValueGen(seedFor(f.Name()), 2)
	for range n {
		b, err := hambaFlat.Marshal(schema, g.value(schema, "", 0))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkReencode decodes data and, if that succeeds, checks the round trip
// AppendAvro, UnmarshalAvro, AppendAvro: the value must survive it and the
// two encodings must be identical. (The first encoding may differ from data,
// which need not be in the shortest or sorted form AppendAvro writes.) It
// returns the decoded value, or nil if data does not decode or the value
// cannot be encoded, which only a decimal beyond its precision excuses: such
// a decimal is decoded, as Java's and hamba's decoders do, but not written.
func checkReencode[T any, P interface {
	*T
	record
}](t *testing.T, data []byte, encodable func(*T) bool) *T {
	t.Helper()
	v := P(new(T))
	if err := v.UnmarshalAvro(data); err != nil {
		return nil
	}
	b1, err := v.AppendAvro(nil)
	if err != nil {
		if !encodable((*T)(v)) {
			return nil
		}
		t.Fatalf("AppendAvro of the value UnmarshalAvro decoded from %x: %v\nvalue: %+v", data, err, v)
	}
	v2 := P(new(T))
	if err := v2.UnmarshalAvro(b1); err != nil {
		t.Fatalf("UnmarshalAvro of AppendAvro's output %x (from input %x): %v", b1, data, err)
	}
	if diff := cmp.Diff(v, v2, cmpOpts); diff != "" {
		t.Fatalf("value changed by AppendAvro and UnmarshalAvro (input %x) (-first +second):\n%s", data, diff)
	}
	b2, err := v2.AppendAvro(nil)
	if err != nil {
		t.Fatalf("second AppendAvro: %v", err)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatalf("AppendAvro is not stable (input %x):\nfirst:  %x\nsecond: %x", data, b1, b2)
	}
	return (*T)(v)
}

func impressionEncodable(v *alltypes.Impression) bool {
	return decimalFits(v.BidPrice, 12, 6)
}

func allTypesEncodable(v *alltypes.AllTypes) bool {
	return decimalFits(v.DecBytes, 10, 3) && decimalFits(v.DecFixed, 18, 2) &&
		(v.OptDec == nil || decimalFits(v.OptDec, 5, 2))
}

// decimalFits reports whether the decoded decimal r has at most precision digits.
func decimalFits(r *big.Rat, precision, scale int) bool {
	u := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	return len(new(big.Int).Abs(u.Num()).String()) <= precision
}
