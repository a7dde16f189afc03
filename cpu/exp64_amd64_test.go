//go:build !purego

package cpu

import (
	"math/rand/v2"
	"testing"
)

// The vector kernel itself decides the arguments of (−700, 700)
// (TestExp64Slice would pass if it left them all to math.Exp).
func TestExp64AVX2Decides(t *testing.T) {
	if !hasExp64AVX2 {
		t.Skip("no AVX2 and FMA on this CPU")
	}
	r := rand.New(rand.NewPCG(9, 10))
	x := make([]float64, 4096)
	for i := range x {
		x[i] = r.Float64()*1400 - 700
	}
	y := make([]float64, len(x))
	need := make([]uint8, len(x)/4)
	exp64AVX2(len(x), &y[0], &x[0], &need[0], exp64K)
	for g, b := range need {
		if b != 0 {
			t.Fatalf("the kernel left lanes %04b of group %d (x = %v) to math.Exp", b, g, x[4*g:4*g+4])
		}
	}
}
