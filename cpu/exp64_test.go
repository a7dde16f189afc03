package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// exp64Slice is math.Exp bit for bit: at a million random arguments in
// [−750, 750], at random ones in every binade of magnitude 2⁻⁶⁰ … 2¹⁰ of
// both signs, at a thousand consecutive float64 around the ends of the
// vector kernel's range (−708.4, −745.2, 709.78) and 0, and at the special
// values, in every position of a vector.
func TestExp64Slice(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var xs []float64
	for range 1 << 20 {
		xs = append(xs, r.Float64()*1500-750)
	}
	for e := -60; e <= 10; e++ {
		for range 500 {
			v := math.Ldexp(1+r.Float64(), e)
			xs = append(xs, v, -v)
		}
	}
	for _, p := range []float64{-708.3964185322641, -708.39641853226408, -745.1332191019411, 7.09782712893384e+02, 0} {
		lo, hi := p, p
		for range 1000 {
			lo, hi = math.Nextafter(lo, -1000), math.Nextafter(hi, 1000)
			xs = append(xs, lo, hi)
		}
	}
	xs = append(xs, 0, math.Copysign(0, -1), 1e300, -1e300, math.Inf(1), math.Inf(-1), math.NaN(), 5e-324, -5e-324)
	got := make([]float64, len(xs))
	exp64Slice(got, xs)
	for i, x := range xs {
		want := math.Exp(x)
		if math.Float64bits(got[i]) != math.Float64bits(want) && !(math.IsNaN(want) && math.IsNaN(got[i])) {
			t.Fatalf("exp(%v) (%#x) = %v, want %v", x, math.Float64bits(x), got[i], want)
		}
	}
	for off := range 5 {
		y := append([]float64(nil), xs[off:off+37]...)
		exp64Slice(y, y)
		for i, x := range xs[off : off+37] {
			if math.Float64bits(y[i]) != math.Float64bits(math.Exp(x)) {
				t.Fatalf("in place, offset %d: exp(%v) = %v", off, x, y[i])
			}
		}
	}
}
