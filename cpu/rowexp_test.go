package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRowMaxSumExpPaths checks that rowMaxSumExp's two paths, the
// exponentials four at a time kept in a buffer and math.Exp computed where
// needed, give the same maximum, sum and terms bit for bit, on rows with
// infinities, NaN and arguments below exp's normal range.
func TestRowMaxSumExpPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	var buf [rowExpStack]float64
	for _, n := range []int{1, 3, 4, 7, 75, 113, 512} {
		for trial := range 20 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 8)
				switch r.IntN(40) {
				case 0:
					x[i] = float32(math.Inf(-1))
				case 1:
					x[i] = -1000
				case 2:
					if trial%5 == 0 {
						x[i] = float32(math.NaN())
					}
				}
			}
			mx, sum, e := rowMaxSumExp(x, buf[:])
			mx2, sum2, e2 := rowMaxSumExp(x, nil)
			if e == nil || e2 != nil {
				t.Fatalf("n %d: buffered path %v, unbuffered %v", n, e != nil, e2 == nil)
			}
			if !same64(mx, mx2) || !same64(sum, sum2) {
				t.Fatalf("n %d: max %v, sum %v; want %v, %v", n, mx, sum, mx2, sum2)
			}
			for i, v := range x {
				if a, b := rowExp(e, i, v, mx), rowExp(nil, i, v, mx2); !same64(a, b) {
					t.Fatalf("n %d: term %d (x %v) = %v, want %v", n, i, v, a, b)
				}
			}
		}
	}
}

func same64(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (a != a && b != b)
}
