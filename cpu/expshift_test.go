package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestExpShift: expShift's values stay within 1e-15 (relative) of
// math.Exp's for rows of every length up to 70 with arguments down to
// −700, and it declines rows with an argument below −708, NaN or −Inf.
func TestExpShift(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	worst := 0.0
	for n := 1; n <= 70; n++ {
		for range 50 {
			x := make([]float32, n)
			sc := float64(float32(0.1 + r.Float64()))
			span := []float64{1, 30, 700}[r.IntN(3)]
			for i := range x {
				x[i] = float32(-span * r.Float64() / sc)
			}
			m := 0.0
			e := make([]float64, n)
			if !expShift(e, x, sc, m) {
				t.Fatalf("n %d: declined arguments ≥ %g", n, -span)
			}
			for i, v := range x {
				want := math.Exp(sc*float64(v) - m)
				worst = max(worst, math.Abs(e[i]-want)/want)
			}
		}
	}
	t.Logf("largest relative difference from math.Exp: %.2g", worst)
	if worst > 1e-15 {
		t.Errorf("largest relative difference from math.Exp %.3g: over 1e-15", worst)
	}
	for _, bad := range []float32{-709, float32(math.NaN()), float32(math.Inf(-1))} {
		for _, n := range []int{3, 4, 9} {
			x := make([]float32, n)
			x[n-1] = bad
			if expShift(make([]float64, n), x, 1, 0) {
				t.Errorf("n %d: accepted an argument %v", n, bad)
			}
		}
	}
}
