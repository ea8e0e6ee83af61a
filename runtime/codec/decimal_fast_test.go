package codec

import (
	"bytes"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestDecimalFastPathsAgree checks the int64 fast paths of the decimal
// conversions against the general big.Int ones, at the edges of every
// byte length and for random values, at every scale they cover.
func TestDecimalFastPathsAgree(t *testing.T) {
	vals := []int64{0, 1, -1, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768, -32769,
		math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1, 999999999999999999, -999999999999999999}
	for i := range 62 {
		vals = append(vals, 1<<i, -(1 << i), 1<<i-1, -(1<<i)+1)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		vals = append(vals, int64(rng.Uint64())>>rng.IntN(63))
	}
	for _, u := range vals {
		bu := big.NewInt(u)
		enc := twosComplement(bu)
		for scale := 0; scale <= 18; scale++ {
			fast, slow := DecimalFromBytes(enc, scale), decimalFromBytesBig(enc, scale)
			if fast.Cmp(slow) != 0 || fast.RatString() != slow.RatString() { // equal, and normalized alike
				t.Fatalf("DecimalFromBytes(%x, %d) = %s, want %s", enc, scale, fast.RatString(), slow.RatString())
			}
			for _, precision := range []int{scale, 18, 19, 38} {
				if precision == 0 {
					continue
				}
				got, gotErr := AppendDecimalBytes(nil, slow, precision, scale)
				want, wantErr := appendDecimalBytesBig(slow, precision, scale)
				if (gotErr == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
					t.Fatalf("AppendDecimalBytes(%s, %d, %d) = %x, %v; want %x, %v", slow.RatString(), precision, scale, got, gotErr, want, wantErr)
				}
				for _, size := range []int{1, 4, 8, 12} {
					got, gotErr := AppendDecimalFixed(nil, slow, precision, scale, size)
					want, wantErr := appendDecimalFixedBig(slow, precision, scale, size)
					if (gotErr == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
						t.Fatalf("AppendDecimalFixed(%s, %d, %d, %d) = %x, %v; want %x, %v", slow.RatString(), precision, scale, size, got, gotErr, want, wantErr)
					}
				}
			}
		}
	}
	// Values that are not integers at the scale take the general path
	// and its error.
	if _, err := AppendDecimalBytes(nil, big.NewRat(1, 3), 10, 2); err == nil {
		t.Error("1/3 at scale 2 encoded")
	}
}

func appendDecimalBytesBig(v *big.Rat, precision, scale int) ([]byte, error) {
	u, err := unscaled(v, precision, scale)
	if err != nil {
		return nil, err
	}
	return AppendBytes(nil, twosComplement(u)), nil
}

func appendDecimalFixedBig(v *big.Rat, precision, scale, size int) ([]byte, error) {
	u, err := unscaled(v, precision, scale)
	if err != nil {
		return nil, err
	}
	b := twosComplement(u)
	if len(b) > size {
		return nil, errNilDecimal // any error: only its presence is compared
	}
	var out []byte
	ext := byte(0)
	if u.Sign() < 0 {
		ext = 0xff
	}
	for range size - len(b) {
		out = append(out, ext)
	}
	return append(out, b...), nil
}
