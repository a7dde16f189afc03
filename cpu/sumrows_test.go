package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSumRows: sumRows is the Go loop's sum (from +0, rows in order, each
// addition rounded) for tap counts 0 to 9 and widths 8 to 72, with signed
// zeros and specials among the rows; it declines widths not a multiple of 8
// (and everything without AVX or with -tags purego).
func TestSumRows(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	special := []float32{float32(math.Copysign(0, -1)), 0, float32(math.Inf(1)), float32(math.NaN()), 1e-45, 3e38}
	src := make([]float32, 4096)
	for i := range src {
		src[i] = float32(r.NormFloat64())
		if r.IntN(16) == 0 {
			src[i] = special[r.IntN(len(special))]
		}
	}
	clear(src[:128])
	for i := range 128 {
		src[i] = float32(math.Copysign(0, -1)) // rows of −0: their sum is +0
	}
	for n := 0; n <= 9; n++ {
		for c := 8; c <= 72; c += 8 {
			offs := make([]int, n)
			for i := range offs {
				offs[i] = r.IntN(len(src) - c)
				if i == 0 && c <= 64 {
					offs[i] = 0
				}
			}
			want := make([]float32, c)
			for _, o := range offs {
				for j := range want {
					want[j] += src[o+j]
				}
			}
			got := make([]float32, c)
			for j := range got {
				got[j] = 7
			}
			if !sumRows(got, src, offs) {
				if sumRowsAvailable() {
					t.Fatalf("n %d c %d: declined", n, c)
				}
				continue
			}
			for j := range want {
				if !same32(got[j], want[j]) {
					t.Fatalf("n %d c %d: column %d = %v (%#x), want %v (%#x)", n, c, j, got[j], math.Float32bits(got[j]), want[j], math.Float32bits(want[j]))
				}
			}
		}
	}
	if sumRows(make([]float32, 12), src, []int{0}) {
		t.Error("width 12 taken")
	}
}
