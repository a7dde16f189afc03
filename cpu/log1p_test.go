package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// log1pSlice is math.Log1p bit for bit: at a million random float64 of
// [0, 1), at every binade from 2⁻⁶⁰ to 1 (random mantissas), at a thousand
// consecutive float64 on each side of the branch points (2⁻⁵⁴, 2⁻²⁹, √2−1,
// 1), and at values the vector kernel leaves to math.Log1p (negative, ≥ 1,
// NaN, ±Inf), in every position of a vector.
func TestLog1pSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var xs []float64
	for range 1 << 20 {
		xs = append(xs, r.Float64())
	}
	for e := -60; e < 0; e++ {
		for range 1000 {
			xs = append(xs, math.Ldexp(1+r.Float64(), e))
		}
	}
	for _, p := range []float64{0x1p-54, 0x1p-29, 4.142135623730950488017e-01, math.Sqrt2 - 1, 1} {
		v := p
		for range 1000 {
			v = math.Nextafter(v, 0)
			xs = append(xs, v)
		}
		v = p
		for range 1000 {
			xs = append(xs, v)
			v = math.Nextafter(v, 2)
		}
	}
	xs = append(xs, 0, math.Copysign(0, -1), -0.5, -1, -2, 1.5, 1e300, math.Inf(1), math.Inf(-1), math.NaN(), 5e-324)
	got := make([]float64, len(xs))
	log1pSlice(got, xs)
	for i, x := range xs {
		want := math.Log1p(x)
		if math.Float64bits(got[i]) != math.Float64bits(want) && !(math.IsNaN(want) && math.IsNaN(got[i])) {
			t.Fatalf("log1p(%v) (%#x) = %v, want %v", x, math.Float64bits(x), got[i], want)
		}
	}
	// In place, and at every offset (the tail in Go).
	for off := range 5 {
		y := append([]float64(nil), xs[off:off+37]...)
		log1pSlice(y, y)
		for i, x := range xs[off : off+37] {
			if math.Float64bits(y[i]) != math.Float64bits(math.Log1p(x)) {
				t.Fatalf("in place, offset %d: log1p(%v) = %v", off, x, y[i])
			}
		}
	}
}

// SigmoidBCE is its documented formula bit for bit (σ = sigmoid64, the loss
// term log1p(exp(−|x|)) with math.Log1p and math.Exp, float64 sums over
// chunks of reduceChunk added in order): gradient and both statistics, with
// grad a separate matrix and grad = x, on two workers, for logits from
// −60 to 60 (saturated, moderate and tiny) and targets in [0, 1].
func TestSigmoidBCEIsItsFormula(t *testing.T) {
	b := newTestBackend(t, 2)
	rng := rand.New(rand.NewPCG(11, 12))
	const n = 3*reduceChunk + 77
	xs := randVals(rng, n, -60, 60)
	for i := 0; i < n; i += 5 {
		xs[i] *= 1e-3 // near 0 too
	}
	ts := randVals(rng, n, 0, 1)
	const scale = 0.01
	// The reference.
	wantGrad := make([]float32, n)
	var loss, sig float64
	for c := 0; c*reduceChunk < n; c++ {
		var l, s float64
		for i := c * reduceChunk; i < min(n, (c+1)*reduceChunk); i++ {
			x := float64(xs[i])
			sv := sigmoid64(x)
			l += math.Max(x, 0) - float64(x*float64(ts[i])) + math.Log1p(math.Exp(-math.Abs(x)))
			s += sv
			wantGrad[i] = scale * (float32(sv) - ts[i])
		}
		loss += l
		sig += s
	}
	wantStats := []float32{float32(loss / n), float32(sig / n)}
	for _, alias := range []bool{false, true} {
		x, tg := matOf(t, b, 1, n, xs), matOf(t, b, 1, n, ts)
		grad := x
		if !alias {
			var err error
			grad, err = b.Alloc(1, n)
			require.NoError(t, err)
		}
		stats, err := b.Alloc(1, 2)
		require.NoError(t, err)
		b.SigmoidBCE(grad, stats, x, tg, scale)
		require.NoError(t, b.err)
		gotGrad, gotStats := download(t, b, grad), download(t, b, stats)
		for i := range wantGrad {
			if math.Float32bits(gotGrad[i]) != math.Float32bits(wantGrad[i]) {
				t.Fatalf("alias %v: grad[%d] = %g, want %g", alias, i, gotGrad[i], wantGrad[i])
			}
		}
		require.Equal(t, wantStats, gotStats, "alias %v", alias)
	}
}
