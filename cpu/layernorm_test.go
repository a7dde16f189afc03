package cpu

import (
	"math/rand/v2"
	"testing"
)

// TestLayerNormRowGroups checks that the four-row paths of LayerNorm and
// LayerNormBackward (rows4) give the one-row paths' results bit for bit,
// for row counts that leave every remainder, with and without gamma and
// beta, in place and not.
func TestLayerNormRowGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	fill := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64()*scale + 0.3)
		}
		return v
	}
	for _, cols := range []int{1, 5, 128} {
		for _, rows := range []int{4, 7, 13} {
			n := rows * cols
			x, dy := fill(n, 2), fill(n, 1)
			gamma, beta := fill(cols, 1), fill(cols, 1)
			for _, affine := range []bool{false, true} {
				f := func(y []float32, rowwise bool) (mean, rstd []float32) {
					mean, rstd = make([]float32, rows), make([]float32, rows)
					j := &layerNormJob{y: y, mean: mean, rstd: rstd, x: x, cols: cols, eps: 1e-5}
					if affine {
						j.gamma, j.beta = gamma, beta
					}
					if rowwise {
						for i := range rows {
							j.row(i)
						}
					} else {
						j.run(0, rows)
					}
					return mean, rstd
				}
				want, got := make([]float32, n), make([]float32, n)
				mw, rw := f(want, true)
				mg, rg := f(got, false)
				sameSlices(t, "LayerNorm y", got, want)
				sameSlices(t, "LayerNorm mean", mg, mw)
				sameSlices(t, "LayerNorm rstd", rg, rw)

				b := func(dx []float32, rowwise bool) {
					j := &layerNormBackwardJob{dx: dx, dy: dy, x: x, mean: mw, rstd: rw, cols: cols}
					if affine {
						j.gamma = gamma
					}
					if rowwise {
						for i := range rows {
							j.row(i)
						}
					} else {
						j.run(0, rows)
					}
				}
				b(want, true)
				b(got, false)
				sameSlices(t, "LayerNormBackward dx", got, want)
				inPlace := append([]float32(nil), dy...)
				j := &layerNormBackwardJob{dx: inPlace, dy: inPlace, x: x, mean: mw, rstd: rw, cols: cols}
				if affine {
					j.gamma = gamma
				}
				j.run(0, rows)
				sameSlices(t, "LayerNormBackward dx in place", inPlace, want)
			}
		}
	}
}

func sameSlices(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if !same32(got[i], want[i]) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}
