package cpu

import (
	"math"
	"testing"
)

// TestTanh32Exhaustive checks tanh32 against float32(math.Tanh) for every
// float32 whose magnitude lies in [0.5, 32] (the fast branches and both of
// their edges, about 100 million values with both signs), and for the
// special values.
func TestTanh32Exhaustive(t *testing.T) {
	lo, hi := math.Float32bits(0.5), math.Float32bits(32)
	bad := 0
	for b := lo; b <= hi; b++ {
		for _, x := range [2]float32{math.Float32frombits(b), -math.Float32frombits(b)} {
			want := float32(math.Tanh(float64(x)))
			if got := tanh32(x); math.Float32bits(got) != math.Float32bits(want) {
				if bad++; bad <= 5 {
					t.Errorf("tanh32(%v) = %v (%#08x), float32(math.Tanh) = %v (%#08x)",
						x, got, math.Float32bits(got), want, math.Float32bits(want))
				}
			}
		}
	}
	for _, x := range []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 0.1, 1e30, -1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32, -math.MaxFloat32} {
		want := float32(math.Tanh(float64(x)))
		if got := tanh32(x); math.Float32bits(got) != math.Float32bits(want) {
			t.Errorf("tanh32(%v) = %v, want %v", x, got, want)
		}
	}
	if got := tanh32(float32(math.NaN())); !math.IsNaN(float64(got)) {
		t.Errorf("tanh32(NaN) = %v, want NaN", got)
	}
	if bad > 0 {
		t.Fatalf("%d arguments differ", bad)
	}
}

// TestTanhSliceExhaustive checks tanhSlice (the vector kernel where the
// machine has one) against float32(math.Tanh) on the same arguments as
// TestTanh32Exhaustive, in place and not, at every alignment of the tail.
func TestTanhSliceExhaustive(t *testing.T) {
	const chunk = 1 << 20
	x := make([]float32, 0, chunk+3)
	y := make([]float32, chunk+3)
	bad := 0
	check := func(xs []float32) {
		for _, inPlace := range []bool{false, true} {
			ys := y[:len(xs)]
			if inPlace {
				ys = append([]float32(nil), xs...)
				tanhSlice(ys, ys)
			} else {
				tanhSlice(ys, xs)
			}
			for i, v := range xs {
				want := float32(math.Tanh(float64(v)))
				if math.Float32bits(ys[i]) != math.Float32bits(want) && !(v != v && ys[i] != ys[i]) {
					if bad++; bad <= 5 {
						t.Errorf("tanhSlice (in place %v): tanh(%v) = %v, want %v", inPlace, v, ys[i], want)
					}
				}
			}
		}
	}
	lo, hi := math.Float32bits(0.5), math.Float32bits(32)
	for b := lo; b <= hi; b++ {
		x = append(x, math.Float32frombits(b), -math.Float32frombits(b))
		if len(x) >= chunk || b == hi {
			check(x)
			x = x[:0]
		}
	}
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-30, 0.1, -0.3, 0.625, -0.625, 9.1, -9.1,
		1e30, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.MaxFloat32, 3}
	for n := 0; n <= len(special); n++ {
		check(special[:n])
	}
	if bad > 0 {
		t.Fatalf("%d arguments differ", bad)
	}
}

// TestExpPolyAccuracy checks expPoly's relative error bound (1e-14, which
// tanhErrBound and sigmoidErrBound rely on) against math.Exp on a dense
// grid of the range tanh32 and sigmoid32 use, [−80, 18.2].
func TestExpPolyAccuracy(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 2_000_000; i++ {
		y := -80 + (18.2+80)*float64(i)/2e6
		want := math.Exp(y)
		if e := math.Abs(expPoly(y)-want) / want; e > worst {
			worst = e
		}
	}
	if worst > 2e-15 { // measured 4.7e-16; tanhErrBound assumes 1e-14
		t.Fatalf("expPoly's relative error reaches %.3g, above the 1e-14 tanh32 relies on", worst)
	}
	t.Logf("expPoly: worst relative error %.3g", worst)
}

func BenchmarkTanh32(b *testing.B) {
	xs := make([]float32, 4096)
	for i := range xs {
		xs[i] = float32(i-2048) / 200
	}
	b.ResetTimer()
	var s float32
	for i := 0; i < b.N; i++ {
		for _, x := range xs {
			s += tanh32(x)
		}
	}
	_ = s
	b.SetBytes(int64(len(xs)))
}

func BenchmarkTanhSlice(b *testing.B) {
	xs := make([]float32, 4096)
	for i := range xs {
		xs[i] = float32(i-2048) / 200
	}
	ys := make([]float32, len(xs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tanhSlice(ys, xs)
	}
	b.SetBytes(int64(len(xs)))
}

func BenchmarkTanhMath(b *testing.B) {
	xs := make([]float32, 4096)
	for i := range xs {
		xs[i] = float32(i-2048) / 200
	}
	b.ResetTimer()
	var s float32
	for i := 0; i < b.N; i++ {
		for _, x := range xs {
			s += float32(math.Tanh(float64(x)))
		}
	}
	_ = s
	b.SetBytes(int64(len(xs)))
}
