package cpu

import (
	"math"
	"testing"

	"gan/nn"
)

// TestBCETermsMatchTheScalarLoop checks bceTerms (AVX where the CPU has it)
// against bceTermsGo bit for bit, NaN payloads aside, on special logits (±0,
// ±Inf, NaN, the extremes of float32, both signs of tiny and huge values)
// and random ones, every length from 0 to 37 so that each tail length is
// covered, with grad separate from x and in place.
func TestBCETermsMatchTheScalarLoop(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 1e-30, -1e-30, 40, -40, 90, -90, 800, -800,
		math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32}
	key := nn.RandKey{Seed: 7}
	for n := 0; n <= 37; n++ {
		for _, inPlace := range []bool{false, true} {
			x := make([]float32, n)
			tg := make([]float32, n)
			for i := range x {
				if i < len(special) && n%2 == 1 {
					x[i] = special[(i+n)%len(special)]
				} else {
					x[i] = (key.Uniform(uint64(2*i+n*100)) - 0.5) * 30
				}
				tg[i] = key.Uniform(uint64(2*i + 1 + n*100))
				if i%3 == 0 {
					tg[i] = float32(i % 2)
				}
			}
			e := make([]float64, n)
			for i, v := range x {
				e[i] = math.Exp(-math.Abs(float64(v)))
			}
			wantS, wantR, wantG := make([]float64, n), make([]float64, n), make([]float32, n)
			bceTermsGo(x, tg, e, wantS, wantR, wantG, 0.25)
			gotS, gotR := make([]float64, n), make([]float64, n)
			gotG := make([]float32, n)
			xin := append([]float32(nil), x...)
			if inPlace {
				gotG = xin
			}
			bceTerms(xin, tg, e, gotS, gotR, gotG, 0.25)
			for i := range n {
				if !same64(gotS[i], wantS[i]) || !same64(gotR[i], wantR[i]) || !same32(gotG[i], wantG[i]) {
					t.Fatalf("n %d in place %v, element %d (x %g, t %g): s %v r %v grad %v, want %v %v %v",
						n, inPlace, i, x[i], tg[i], gotS[i], gotR[i], gotG[i], wantS[i], wantR[i], wantG[i])
				}
			}
		}
	}
}
