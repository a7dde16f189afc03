package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBatchNormKernels checks that the column kernels BatchNorm uses (the
// AVX2 ones where the machine has them) give the results of their Go
// specification bit for bit, on strided matrices whose widths leave tails
// of every size.
func TestBatchNormKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f32 := func(n int, lo, hi float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = lo + (hi-lo)*r.Float32()
			if i%29 == 0 {
				v[i] = negZero
			}
		}
		return v
	}
	f64 := func(n int, lo, hi float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = lo + (hi-lo)*r.Float64()
		}
		return v
	}
	same32 := func(name string, want, got []float32) {
		for i := range want {
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "%s[%d]: %v vs %v", name, i, want[i], got[i])
		}
	}
	same64 := func(name string, want, got []float64) {
		for i := range want {
			require.Equal(t, math.Float64bits(want[i]), math.Float64bits(got[i]), "%s[%d]: %v vs %v", name, i, want[i], got[i])
		}
	}
	const stride, c0 = 77, 3
	for _, rows := range []int{0, 1, 5, 37} {
		for _, w := range []int{1, 7, 8, 9, 15, 16, 17, 33, 64} {
			x, dy := f32(rows*stride+c0+w, -3, 103), f32(rows*stride+c0+w, -1, 1)
			mu := f64(w, 40, 60)
			mf, rf, gf, bf := f32(w, 40, 60), f32(w, 0.01, 2), f32(w, 0.5, 1.5), f32(w, -1, 1)
			a, k, rr := f64(w, -1, 1), f64(w, -1, 1), f64(w, 0.01, 2)

			want, got := make([]float64, w), make([]float64, w)
			colSqDevsGo(want, x, mu, rows, stride, c0)
			colSqDevs(got, x, mu, rows, stride, c0)
			same64("colSqDevs", want, got)

			y1, y2 := make([]float32, len(x)), make([]float32, len(x))
			bnApplyGo(y1, x, mf, rf, gf, bf, rows, stride, c0)
			bnApply(y2, x, mf, rf, gf, bf, rows, stride, c0)
			same32("bnApply", y1, y2)

			var s1, s2 [4][]float64
			for i := range 4 {
				s1[i], s2[i] = make([]float64, w), make([]float64, w)
			}
			bnSumsGo(s1[0], s1[1], s1[2], s1[3], dy, x, mf, rf, gf, rows, stride, c0)
			bnSums(s2[0], s2[1], s2[2], s2[3], dy, x, mf, rf, gf, rows, stride, c0)
			for i := range 4 {
				same64("bnSums", s1[i], s2[i])
			}

			bnDxGo(y1, dy, x, mf, rf, gf, a, k, rr, rows, stride, c0)
			bnDx(y2, dy, x, mf, rf, gf, a, k, rr, rows, stride, c0)
			same32("bnDx", y1, y2)
		}
	}
}
