//go:build !purego

package cpu

import (
	"math/bits"
	"math/rand/v2"
	"testing"
)

// The float64 vector kernels themselves decide their common arguments
// (TestExp64Slice and TestLog1pSlice would pass if they left them all to
// math): exp64AVX2 every one of 4096 random arguments in (−700, 700),
// log1pAVX2 all but at most a handful of 4096 in [0, 1).
func TestVec64KernelsDecide(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ok      bool
		arg     func(r *rand.Rand) float64
		kernel  func(n int, y, x *float64, need *uint8)
		maxLeft int
	}{
		{"exp64AVX2", hasExp64AVX2, func(r *rand.Rand) float64 { return r.Float64()*1400 - 700 },
			func(n int, y, x *float64, need *uint8) { exp64AVX2(n, y, x, need, exp64K) }, 0},
		{"log1pAVX2", hasAVX2, func(r *rand.Rand) float64 { return r.Float64() },
			func(n int, y, x *float64, need *uint8) { log1pAVX2(n, y, x, need, log1pK) }, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Skip("this CPU lacks the instructions")
			}
			r := rand.New(rand.NewPCG(9, 10))
			x := make([]float64, 4096)
			for i := range x {
				x[i] = tc.arg(r)
			}
			y, need := make([]float64, len(x)), make([]uint8, len(x)/4)
			tc.kernel(len(x), &y[0], &x[0], &need[0])
			left := 0
			for _, b := range need {
				left += bits.OnesCount8(b)
			}
			if left > tc.maxLeft {
				t.Fatalf("the kernel left %d of %d arguments to math", left, len(x))
			}
		})
	}
}
