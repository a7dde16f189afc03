package cpu

import (
	"math"
	"testing"
)

// sigmoidArgs calls f with every float32 of magnitude in [8, 128] (both
// edges of sigmoid32's fast range, −80 and 17.5, and the saturation above
// it), every 7th of magnitude in [2⁻³⁰, 8], both signs, and special values.
func sigmoidArgs(f func(x float32)) {
	for b := math.Float32bits(8); b <= math.Float32bits(128); b++ {
		f(math.Float32frombits(b))
		f(-math.Float32frombits(b))
	}
	for b := math.Float32bits(0x1p-30); b < math.Float32bits(8); b += 7 {
		f(math.Float32frombits(b))
		f(-math.Float32frombits(b))
	}
	for _, x := range []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, 17.5, -80, 1e30, -1e30,
		math.MaxFloat32, -math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
		f(x)
	}
}

// same says whether got is want's float32 bits (any NaN matching a NaN).
func same(got, want float32) bool {
	return math.Float32bits(got) == math.Float32bits(want) || (got != got && want != want)
}

// TestSigmoid32 compares sigmoid32, and sigmoidSlice (the vector kernel
// where the machine has one, in place and not), with float32(sigmoid64)
// on sigmoidArgs (about 110 million arguments).
func TestSigmoid32(t *testing.T) {
	const chunk = 1 << 20
	var xs []float32
	bad := 0
	report := func(what string, x, got, want float32) {
		if bad++; bad <= 5 {
			t.Errorf("%s(%v) = %v (%#08x), float32(sigmoid64) = %v (%#08x)", what, x, got, math.Float32bits(got), want, math.Float32bits(want))
		}
	}
	ys := make([]float32, chunk+3)
	flush := func() {
		out := ys[:len(xs)]
		sigmoidSlice(out, xs)
		for i, x := range xs {
			want := float32(sigmoid64(float64(x)))
			if !same(out[i], want) {
				report("sigmoidSlice", x, out[i], want)
			}
		}
		in := append([]float32(nil), xs...)
		sigmoidSlice(in, in)
		for i, x := range xs {
			if want := float32(sigmoid64(float64(x))); !same(in[i], want) {
				report("sigmoidSlice in place", x, in[i], want)
			}
		}
		xs = xs[:0]
	}
	sigmoidArgs(func(x float32) {
		if want := float32(sigmoid64(float64(x))); !same(sigmoid32(x), want) {
			report("sigmoid32", x, sigmoid32(x), want)
		}
		if xs = append(xs, x); len(xs) == chunk+3 {
			flush()
		}
	})
	flush()
	if bad > 0 {
		t.Fatalf("%d results differ", bad)
	}
}

func BenchmarkSigmoidSlice(b *testing.B) {
	xs := make([]float32, 4096)
	for i := range xs {
		xs[i] = float32(i-2048) / 200
	}
	ys := make([]float32, len(xs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sigmoidSlice(ys, xs)
	}
	b.SetBytes(int64(len(xs)))
}

func BenchmarkSigmoid64(b *testing.B) {
	xs := make([]float32, 4096)
	for i := range xs {
		xs[i] = float32(i-2048) / 200
	}
	ys := make([]float32, len(xs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, x := range xs {
			ys[j] = float32(sigmoid64(float64(x)))
		}
	}
	b.SetBytes(int64(len(xs)))
}

// SigmoidBCE computes one exponential, e = e^−|x|, for both σ(x) and the
// loss's log1p term: sigmoidOfExp(x, e) is sigmoid64(x) bit for bit, in
// float64, at every 61st float32 of magnitude 2⁻³⁰ … 2⁸, both signs, and the
// special values (a NaN gives NaN).
func TestSigmoidOfExp(t *testing.T) {
	xs := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.MaxFloat32, -math.MaxFloat32, math.NaN()}
	for b := math.Float32bits(0x1p-30); b <= math.Float32bits(0x1p8); b += 61 {
		v := float64(math.Float32frombits(b))
		xs = append(xs, v, -v)
	}
	for _, v := range xs {
		s, want := sigmoidOfExp(v, math.Exp(-math.Abs(v))), sigmoid64(v)
		if math.Float64bits(s) != math.Float64bits(want) && !(math.IsNaN(s) && math.IsNaN(want)) {
			t.Fatalf("x = %g: σ %g, want %g", v, s, want)
		}
	}
}
