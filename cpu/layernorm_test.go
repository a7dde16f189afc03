package cpu

import (
	"math"
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

// TestLayerNormKernels checks LayerNorm and LayerNormBackward (the vector
// kernels where the machine has them) against the formulas written out in
// plain Go, bit for bit, for widths that leave every remainder of 4, 8 and
// 16 columns, with and without gamma and beta.
func TestLayerNormKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	fill := func(n int, scale float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64()*scale - 0.2)
		}
		return v
	}
	for _, cols := range []int{1, 3, 8, 13, 16, 37, 128} {
		rows := 6
		n := rows * cols
		x, dy := fill(n, 2), fill(n, 1)
		gamma, beta := fill(cols, 1), fill(cols, 1)
		for _, affine := range []bool{false, true} {
			var g, b []float32
			if affine {
				g, b = gamma, beta
			}
			// The forward pass, written out.
			wantY, wantM, wantR := make([]float32, n), make([]float32, rows), make([]float32, rows)
			for i := range rows {
				row := x[i*cols : (i+1)*cols]
				var s float64
				for _, v := range row {
					s += float64(v)
				}
				mu := s / float64(cols)
				var q float64
				for _, v := range row {
					d := float64(v) - mu
					q += float64(d * d)
				}
				mf, rf := float32(mu), float32(1/math.Sqrt(q/float64(cols)+1e-5))
				wantM[i], wantR[i] = mf, rf
				for c, v := range row {
					o := float32(v-mf) * rf
					if g != nil {
						o = float32(o*g[c]) + b[c]
					}
					wantY[i*cols+c] = o
				}
			}
			y, m, rs := make([]float32, n), make([]float32, rows), make([]float32, rows)
			(&layerNormJob{y: y, mean: m, rstd: rs, x: x, gamma: g, beta: b, cols: cols, eps: 1e-5}).run(0, rows)
			sameSlices(t, "y", y, wantY)
			sameSlices(t, "mean", m, wantM)
			sameSlices(t, "rstd", rs, wantR)

			// The backward pass, written out.
			wantDx, wantDg, wantDb := make([]float32, n), make([]float32, cols), make([]float32, cols)
			for c := range cols {
				var sg, sb float64
				for i := range rows {
					xh := float32(x[i*cols+c]-wantM[i]) * wantR[i]
					d := dy[i*cols+c]
					sg += float64(float64(d) * float64(xh))
					sb += float64(d)
				}
				wantDg[c], wantDb[c] = float32(sg), float32(sb)
			}
			for i := range rows {
				mf, rf := wantM[i], wantR[i]
				gv := func(c int) float64 {
					if g != nil {
						return float64(dy[i*cols+c] * g[c])
					}
					return float64(dy[i*cols+c])
				}
				var sg, sgx float64
				for c := range cols {
					xh := float32(x[i*cols+c]-mf) * rf
					sg += gv(c)
					sgx += float64(gv(c) * float64(xh))
				}
				a, cc := sg/float64(cols), sgx/float64(cols)
				for c := range cols {
					xh := float32(x[i*cols+c]-mf) * rf
					wantDx[i*cols+c] = float32(float64(rf) * ((gv(c) - a) - float64(float64(xh)*cc)))
				}
			}
			dx, dg, db := make([]float32, n), make([]float32, cols), make([]float32, cols)
			(&layerNormParamsJob{dgamma: dg, dbeta: db, dy: dy, x: x, mean: wantM, rstd: wantR, rows: rows, cols: cols}).run(0, cols)
			(&layerNormBackwardJob{dx: dx, dy: dy, x: x, mean: wantM, rstd: wantR, gamma: g, cols: cols}).run(0, rows)
			sameSlices(t, "dx", dx, wantDx)
			sameSlices(t, "dgamma", dg, wantDg)
			sameSlices(t, "dbeta", db, wantDb)
		}
	}
}
