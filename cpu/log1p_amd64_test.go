//go:build !purego

package cpu

import (
	"math/rand/v2"
	"testing"
)

// The vector kernel itself decides the arguments of [0, 1) (TestLog1pSlice
// would pass if it left them all to math.Log1p): of 4096 random ones it
// leaves at most a handful.
func TestLog1pAVX2Decides(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2 on this CPU")
	}
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float64, 4096)
	for i := range x {
		x[i] = r.Float64()
	}
	y := make([]float64, len(x))
	need := make([]uint8, len(x)/4)
	log1pAVX2(len(x), &y[0], &x[0], &need[0], log1pK)
	left := 0
	for _, b := range need {
		for ; b != 0; b &= b - 1 {
			left++
		}
	}
	if left > 8 {
		t.Fatalf("the kernel left %d of %d arguments to math.Log1p", left, len(x))
	}
}
