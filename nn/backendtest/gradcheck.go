package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gan/nn"
	"gan/nn/ref"
)

// Finite-difference settings: gradcheck's defaults (docs/tolerances.md).
const (
	fdEps  = 1e-6
	fdAtol = 1e-5
	fdRtol = 1e-3
)

// gradCheck is one backward op checked against central differences of its
// forward op, both on the float64 reference backend.
type gradCheck struct {
	name string
	run  func(g *grad) error
}

// grad is the reference backend of one check and its helpers.
type grad struct {
	b     *ref.Backend
	r     *rand.Rand
	worst float64 // largest |got − fd| / (atol + rtol·|fd|) compared so far
}

// mat uploads vals as a rows×cols matrix.
func (g *grad) mat(rows, cols int, vals []float64) nn.Mat {
	m, err := g.b.Alloc(rows, cols)
	if err != nil {
		panic(err)
	}
	if err := g.b.Upload64(m, vals); err != nil {
		panic(err)
	}
	return m
}

// zeros allocates a zeroed rows×cols matrix.
func (g *grad) zeros(rows, cols int) nn.Mat { return g.mat(rows, cols, make([]float64, rows*cols)) }

// vals returns n values uniform in [lo, hi).
func (g *grad) vals(n int, lo, hi float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*g.r.Float64()
	}
	return v
}

// get downloads m; a recorded error panics (the checks' ops are valid).
func (g *grad) get(m nn.Mat) []float64 {
	if err := g.b.Sync(); err != nil {
		panic(err)
	}
	v := make([]float64, m.Len())
	if err := g.b.Download64(v, m); err != nil {
		panic(err)
	}
	return v
}

// set uploads vals into m.
func (g *grad) set(m nn.Mat, vals []float64) {
	if err := g.b.Upload64(m, vals); err != nil {
		panic(err)
	}
}

// dot is Σ w·y: the loss whose gradient with respect to y is w.
func dot(w, y []float64) float64 {
	var s float64
	for i := range w {
		s += w[i] * y[i]
	}
	return s
}

// fd returns the central-difference gradient of f at x.
func fd(f func(x []float64) float64, x []float64) []float64 {
	d := make([]float64, len(x))
	xs := append([]float64(nil), x...)
	for i, v := range xs {
		xs[i] = v + fdEps
		fp := f(xs)
		xs[i] = v - fdEps
		fm := f(xs)
		xs[i] = v
		d[i] = (fp - fm) / (2 * fdEps)
	}
	return d
}

// compare returns an error unless got is within atol + rtol·|want| of
// the finite differences want, everywhere, and records the largest error
// as a fraction of that tolerance.
func (g *grad) compare(what string, want, got []float64) error {
	if len(want) != len(got) {
		return fmt.Errorf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		lim := fdAtol + fdRtol*math.Abs(w)
		if !(math.Abs(got[i]-w) <= lim) {
			return fmt.Errorf("%s[%d] = %v, finite differences give %v", what, i, got[i], w)
		}
		g.worst = max(g.worst, math.Abs(got[i]-w)/lim)
	}
	return nil
}

// awayFromZero moves values within 1e-3 of 0 to 0.5, off LeakyReLU's kink.
func awayFromZero(v []float64) []float64 {
	for i, x := range v {
		if math.Abs(x) < 1e-3 {
			v[i] = 0.5
		}
	}
	return v
}

// gradChecks are every backward op with its forward.
func gradChecks() []gradCheck {
	var gc []gradCheck
	for _, a := range []nn.Act{{Kind: nn.ActNone}, {Kind: nn.ActLeakyReLU, Slope: 0.2}, {Kind: nn.ActTanh}, {Kind: nn.ActSigmoid}} {
		gc = append(gc, gradCheck{"ActBackward/" + a.String(), func(g *grad) error {
			// L = Σ w ⊙ act(x); dL/dx = ActBackward(w, act(x)).
			const rows, cols = 4, 5
			xv, wv := awayFromZero(g.vals(rows*cols, -3, 3)), g.vals(rows*cols, -1, 1)
			x, y, w, dx := g.mat(rows, cols, xv), g.zeros(rows, cols), g.mat(rows, cols, wv), g.zeros(rows, cols)
			forward := func(xs []float64) float64 {
				g.set(x, xs)
				g.b.Activate(y, x, a)
				return dot(wv, g.get(y))
			}
			want := fd(forward, xv)
			g.set(x, xv)
			g.b.Activate(y, x, a)
			g.b.ActBackward(dx, w, y, a)
			return g.compare("dx", want, g.get(dx))
		}})
	}
	gc = append(gc,
		gradCheck{"DropoutBackward", func(g *grad) error {
			// L = Σ w ⊙ Dropout(x) with a fixed key: dL/dx = w ⊙ mask.
			const rows, cols = 4, 8
			key := nn.RandKey{Seed: 1, Stream: 2}
			xv, wv := g.vals(rows*cols, -1, 1), g.vals(rows*cols, -1, 1)
			x, y, mask, w, dx := g.mat(rows, cols, xv), g.zeros(rows, cols), g.zeros(rows, cols), g.mat(rows, cols, wv), g.zeros(rows, cols)
			want := fd(func(xs []float64) float64 {
				g.set(x, xs)
				g.b.Dropout(y, mask, x, 0.3, key)
				return dot(wv, g.get(y))
			}, xv)
			g.b.DropoutBackward(dx, w, mask)
			return g.compare("dx", want, g.get(dx))
		}},
		gradCheck{"ColSum as the bias gradient", func(g *grad) error {
			// L = Σ w ⊙ (x + 1·bᵀ): dL/db = ColSum(w).
			const rows, cols = 6, 7
			bv, wv := g.vals(cols, -1, 1), g.vals(rows*cols, -1, 1)
			x0 := g.vals(rows*cols, -1, 1)
			y, bias, w, db := g.zeros(rows, cols), g.mat(1, cols, bv), g.mat(rows, cols, wv), g.zeros(1, cols)
			want := fd(func(bs []float64) float64 {
				g.set(y, x0)
				g.set(bias, bs)
				g.b.AddBias(y, bias)
				return dot(wv, g.get(y))
			}, bv)
			g.b.ColSum(db, w, 0)
			return g.compare("db", want, g.get(db))
		}},
		gradCheck{"ColSum and ActBackward through BiasAct(tanh)", func(g *grad) error {
			// L = Σ w ⊙ tanh(x + 1·bᵀ): dL/db = ColSum(ActBackward(w, y)).
			const rows, cols = 5, 3
			act := nn.Act{Kind: nn.ActTanh}
			bv, wv := g.vals(cols, -1, 1), g.vals(rows*cols, -1, 1)
			x0 := g.vals(rows*cols, -2, 2)
			y, bias, w, dz, db := g.zeros(rows, cols), g.mat(1, cols, bv), g.mat(rows, cols, wv), g.zeros(rows, cols), g.zeros(1, cols)
			forward := func(bs []float64) float64 {
				g.set(y, x0)
				g.set(bias, bs)
				g.b.BiasAct(y, bias, act)
				return dot(wv, g.get(y))
			}
			want := fd(forward, bv)
			forward(bv)
			g.b.ActBackward(dz, w, y, act)
			g.b.ColSum(db, dz, 0)
			return g.compare("db", want, g.get(db))
		}},
		gradCheck{"SigmoidBCE gradient", func(g *grad) error {
			// grad with scale 1/N is the gradient of the mean loss.
			const n = 12
			xv := g.vals(n, -5, 5)
			tv := make([]float64, n)
			for i := range tv {
				tv[i] = []float64{0, 1, 0.3, g.r.Float64()}[i%4]
			}
			x, t, gr, st := g.mat(n, 1, xv), g.mat(n, 1, tv), g.zeros(n, 1), g.zeros(1, 2)
			want := fd(func(xs []float64) float64 {
				g.set(x, xs)
				g.b.SigmoidBCE(gr, st, x, t, 1.0/n)
				return g.get(st)[0]
			}, xv)
			g.set(x, xv)
			g.b.SigmoidBCE(gr, st, x, t, 1.0/n)
			return g.compare("grad", want, g.get(gr))
		}},
		gradCheck{"SoftmaxCE gradient", func(g *grad) error {
			// grad with scale 1/rows is the gradient of the mean loss, for
			// one-hot and soft targets.
			const rows, cols = 4, 5
			xv := g.vals(rows*cols, -3, 3)
			tv := make([]float64, rows*cols)
			for r := 0; r < rows; r++ {
				if r%2 == 0 {
					tv[r*cols+g.r.IntN(cols)] = 1
					continue
				}
				var s float64
				for c := 0; c < cols; c++ {
					tv[r*cols+c] = g.r.Float64()
					s += tv[r*cols+c]
				}
				for c := 0; c < cols; c++ {
					tv[r*cols+c] /= s
				}
			}
			x, t, gr, st := g.mat(rows, cols, xv), g.mat(rows, cols, tv), g.zeros(rows, cols), g.zeros(1, 2)
			want := fd(func(xs []float64) float64 {
				g.set(x, xs)
				g.b.SoftmaxCE(gr, st, x, t, 1.0/rows)
				return g.get(st)[0]
			}, xv)
			g.set(x, xv)
			g.b.SoftmaxCE(gr, st, x, t, 1.0/rows)
			return g.compare("grad", want, g.get(gr))
		}},
		gradCheck{"ScatterAddRows as GatherRows' backward", func(g *grad) error {
			// L = Σ w ⊙ GatherRows(src, idx) (repeated indices): dL/dsrc =
			// ScatterAddRows(w, idx).
			const srcRows, rows, cols = 5, 7, 3
			idx := []int32{4, 0, 4, 2, 4, 0, 1}
			sv, wv := g.vals(srcRows*cols, -1, 1), g.vals(rows*cols, -1, 1)
			src, dst, w, ds := g.mat(srcRows, cols, sv), g.zeros(rows, cols), g.mat(rows, cols, wv), g.mat(srcRows, cols, g.vals(srcRows*cols, -1, 1))
			want := fd(func(ss []float64) float64 {
				g.set(src, ss)
				g.b.GatherRows(dst, src, idx)
				return dot(wv, g.get(dst))
			}, sv)
			g.b.ScatterAddRows(ds, w, idx, 0)
			return g.compare("dsrc", want, g.get(ds))
		}},
		gradCheck{"ScaleRows as RowSumSq's backward", func(g *grad) error {
			// L = Σ_i w_i·Σ_j x_ij²: dL/dx = ScaleRows(x, 2w).
			const rows, cols = 4, 6
			xv, wv := g.vals(rows*cols, -2, 2), g.vals(rows, -1, 1)
			x, ss, w, s, dx := g.mat(rows, cols, xv), g.zeros(rows, 1), g.mat(rows, 1, wv), g.zeros(rows, 1), g.zeros(rows, cols)
			want := fd(func(xs []float64) float64 {
				g.set(x, xs)
				g.b.RowSumSq(ss, x)
				return dot(wv, g.get(ss))
			}, xv)
			g.set(x, xv)
			g.b.Map(s, w, nn.MapScale, 2)
			g.b.ScaleRows(dx, x, s)
			return g.compare("dx", want, g.get(dx))
		}},
		gradCheck{"Mul as its own backward", func(g *grad) error {
			// L = Σ w ⊙ a ⊙ b: dL/da = Mul(w, b).
			const rows, cols = 3, 5
			av, bv, wv := g.vals(rows*cols, -2, 2), g.vals(rows*cols, -2, 2), g.vals(rows*cols, -1, 1)
			a, bm, w, y, da := g.mat(rows, cols, av), g.mat(rows, cols, bv), g.mat(rows, cols, wv), g.zeros(rows, cols), g.zeros(rows, cols)
			want := fd(func(as []float64) float64 {
				g.set(a, as)
				g.b.Mul(y, a, bm)
				return dot(wv, g.get(y))
			}, av)
			g.b.Mul(da, w, bm)
			return g.compare("da", want, g.get(da))
		}},
	)
	gc = append(gc, actDoubleBackwardChecks()...)
	gc = append(gc, mapGradChecks()...)
	gc = append(gc,
		gradCheck{"GatherRows as ScatterAddRows' backward", func(g *grad) error {
			// L = Σ w ⊙ ScatterAddRows(dst, src, idx) (repeated indices,
			// beta 0.5): dL/dsrc = GatherRows(w, idx), and dL/ddst0 =
			// 0.5·w.
			const dstRows, rows, cols = 4, 6, 3
			idx := []int32{3, 0, 3, 3, 1, 0}
			sv, wv, d0 := g.vals(rows*cols, -1, 1), g.vals(dstRows*cols, -1, 1), g.vals(dstRows*cols, -1, 1)
			src, dst, w, ds := g.mat(rows, cols, sv), g.zeros(dstRows, cols), g.mat(dstRows, cols, wv), g.zeros(rows, cols)
			loss := func() float64 {
				g.b.ScatterAddRows(dst, src, idx, 0.5)
				return dot(wv, g.get(dst))
			}
			want := fd(func(ss []float64) float64 { g.set(src, ss); g.set(dst, d0); return loss() }, sv)
			g.set(src, sv)
			wantD := fd(func(ds []float64) float64 { g.set(dst, ds); return loss() }, d0)
			g.b.GatherRows(ds, w, idx)
			if err := g.compare("dsrc", want, g.get(ds)); err != nil {
				return err
			}
			dd := g.zeros(dstRows, cols)
			g.b.Map(dd, w, nn.MapScale, 0.5)
			return g.compare("ddst", wantD, g.get(dd))
		}},
		gradCheck{"Axpby as its own backward", func(g *grad) error {
			// L = Σ w ⊙ (α·a + β·b): dL/da = Axpby(w, ·, α, 0), dL/db
			// likewise with β.
			const rows, cols, alpha, beta = 3, 4, 0.75, -1.5
			av, bv, wv := g.vals(rows*cols, -2, 2), g.vals(rows*cols, -2, 2), g.vals(rows*cols, -1, 1)
			a, bm, w, y := g.mat(rows, cols, av), g.mat(rows, cols, bv), g.mat(rows, cols, wv), g.zeros(rows, cols)
			loss := func() float64 {
				g.b.Axpby(y, a, bm, alpha, beta)
				return dot(wv, g.get(y))
			}
			wantA := fd(func(x []float64) float64 { g.set(a, x); return loss() }, av)
			g.set(a, av)
			wantB := fd(func(x []float64) float64 { g.set(bm, x); return loss() }, bv)
			da, db := g.zeros(rows, cols), g.zeros(rows, cols)
			g.b.Axpby(da, w, nn.Mat{}, alpha, 0)
			g.b.Axpby(db, w, nn.Mat{}, beta, 0)
			if err := g.compare("da", wantA, g.get(da)); err != nil {
				return err
			}
			return g.compare("db", wantB, g.get(db))
		}},
	)
	gc = append(gc, matMulGradChecks()...)
	gc = append(gc, layerNormGradChecks()...)
	gc = append(gc, batchNormGradChecks()...)
	gc = append(gc, convGradChecks()...)
	gc = append(gc, attentionGradChecks()...)
	return gc
}

// actDoubleBackwardChecks check the derivatives of ActBackward itself, the
// double backward of the critic's activations that a gradient penalty
// differentiates: dx = dy ⊙ f′(y) is linear in dy, so dL/ddy =
// ActBackward(w, y) under L = Σ w ⊙ dx; in y, f′ is constant for LeakyReLU
// (dL/dy = 0 away from the kink), −2y for tanh (dL/dy = −2·w·dy·y) and
// 1 − 2y for sigmoid (dL/dy = w·dy·(1 − 2y)). The gradients in y are
// built from Mul, Map and Axpby as the graph engine (nn/graph) builds
// them.
func actDoubleBackwardChecks() []gradCheck {
	var gc []gradCheck
	for _, a := range []nn.Act{{Kind: nn.ActLeakyReLU, Slope: 0.2}, {Kind: nn.ActTanh}, {Kind: nn.ActSigmoid}} {
		gc = append(gc, gradCheck{"ActBackward double backward/" + a.String(), func(g *grad) error {
			const rows, cols = 3, 7
			// y is an activation output: tanh's in (−1, 1), sigmoid's in
			// (0, 1), LeakyReLU's away from its kink at 0.
			lo, hi := -2.0, 2.0
			switch a.Kind {
			case nn.ActTanh:
				lo, hi = -0.95, 0.95
			case nn.ActSigmoid:
				lo, hi = 0.05, 0.95
			}
			yv := awayFromZero(g.vals(rows*cols, lo, hi))
			dyv, wv := g.vals(rows*cols, -1, 1), g.vals(rows*cols, -1, 1)
			y, dy, w, dx := g.mat(rows, cols, yv), g.mat(rows, cols, dyv), g.mat(rows, cols, wv), g.zeros(rows, cols)
			loss := func() float64 {
				g.b.ActBackward(dx, dy, y, a)
				return dot(wv, g.get(dx))
			}
			wantDy := fd(func(v []float64) float64 { g.set(dy, v); return loss() }, dyv)
			g.set(dy, dyv)
			wantY := fd(func(v []float64) float64 { g.set(y, v); return loss() }, yv)
			g.set(y, yv)

			ddy := g.zeros(rows, cols)
			g.b.ActBackward(ddy, w, y, a)
			if err := g.compare("d/ddy", wantDy, g.get(ddy)); err != nil {
				return err
			}
			dyy, t := g.zeros(rows, cols), g.zeros(rows, cols)
			g.b.Mul(dyy, w, dy) // w ⊙ dy
			switch a.Kind {
			case nn.ActTanh:
				g.b.Mul(dyy, dyy, y)
				g.b.Map(dyy, dyy, nn.MapScale, -2)
			case nn.ActSigmoid:
				g.b.Map(t, y, nn.MapScale, -2)
				g.b.Map(t, t, nn.MapAddConst, 1)
				g.b.Mul(dyy, dyy, t)
			default:
				g.b.Fill(dyy, 0)
			}
			return g.compare("d/dy", wantY, g.get(dyy))
		}})
	}
	return gc
}

// mapGradChecks check each Map function's derivative, built from Map and
// Mul as the graph engine builds it, against finite differences of Map
// under L = Σ w ⊙ f(x): scale c·w, add_const w, square 2·w·x, sqrt
// 0.5·w/y, recip −w·y², exp w·y and log w/x (y = f(x)).
func mapGradChecks() []gradCheck {
	var gc []gradCheck
	for f := nn.MapFn(0); f < nn.NumMapFns; f++ {
		gc = append(gc, gradCheck{"Map backward/" + f.String(), func(g *grad) error {
			const rows, cols, c = 2, 5, -1.75
			lo, hi := -2.0, 2.0
			if f == nn.MapSqrt || f == nn.MapLog || f == nn.MapRecip {
				lo, hi = 0.5, 3 // away from the pole and the branch point
			}
			xv, wv := g.vals(rows*cols, lo, hi), g.vals(rows*cols, -1, 1)
			x, y, w, dx, t := g.mat(rows, cols, xv), g.zeros(rows, cols), g.mat(rows, cols, wv), g.zeros(rows, cols), g.zeros(rows, cols)
			want := fd(func(v []float64) float64 {
				g.set(x, v)
				g.b.Map(y, x, f, c)
				return dot(wv, g.get(y))
			}, xv)
			g.set(x, xv)
			g.b.Map(y, x, f, c)
			switch f {
			case nn.MapScale:
				g.b.Map(dx, w, nn.MapScale, c)
			case nn.MapAddConst:
				g.b.Copy(dx, w)
			case nn.MapSquare:
				g.b.Mul(dx, w, x)
				g.b.Map(dx, dx, nn.MapScale, 2)
			case nn.MapSqrt:
				g.b.Map(t, y, nn.MapRecip, 0)
				g.b.Mul(dx, w, t)
				g.b.Map(dx, dx, nn.MapScale, 0.5)
			case nn.MapRecip:
				g.b.Map(t, y, nn.MapSquare, 0)
				g.b.Mul(dx, w, t)
				g.b.Map(dx, dx, nn.MapScale, -1)
			case nn.MapExp:
				g.b.Mul(dx, w, y)
			case nn.MapLog:
				g.b.Map(t, x, nn.MapRecip, 0)
				g.b.Mul(dx, w, t)
			}
			return g.compare("dx", want, g.get(dx))
		}})
	}
	return gc
}

// matMulGradChecks check that the transposed products are the gradients of
// each of the four forward products C = op(A)·op(B) under L = Σ W ⊙ C:
// the products a Linear layer (y = x·Wᵀ: dx = dy·W, dW = dyᵀ·x) and the
// graph engine use for backward passes.
func matMulGradChecks() []gradCheck {
	var gc []gradCheck
	const m, n, k = 4, 3, 5
	for _, tr := range [][2]bool{{false, true}, {false, false}, {true, false}, {true, true}} {
		tA, tB := tr[0], tr[1]
		gc = append(gc, gradCheck{fmt.Sprintf("MatMul gradients of C = op(A)·op(B), tA=%v tB=%v", tA, tB), func(g *grad) error {
			ar, ac, br, bc := m, k, k, n
			if tA {
				ar, ac = k, m
			}
			if tB {
				br, bc = n, k
			}
			av, bv, wv := g.vals(ar*ac, -1, 1), g.vals(br*bc, -1, 1), g.vals(m*n, -1, 1)
			a, bm, w, c := g.mat(ar, ac, av), g.mat(br, bc, bv), g.mat(m, n, wv), g.zeros(m, n)
			da, db := g.zeros(ar, ac), g.zeros(br, bc)
			loss := func() float64 {
				g.b.MatMul(c, a, bm, tA, tB, 0)
				return dot(wv, g.get(c))
			}
			wantA := fd(func(x []float64) float64 { g.set(a, x); return loss() }, av)
			g.set(a, av)
			wantB := fd(func(x []float64) float64 { g.set(bm, x); return loss() }, bv)
			g.set(bm, bv)
			// dop(A) = W·op(B)ᵀ and dop(B) = op(A)ᵀ·W, transposed back
			// where A or B is stored transposed.
			switch {
			case !tA && !tB: // C = A·B
				g.b.MatMul(da, w, bm, false, true, 0) // W·Bᵀ
				g.b.MatMul(db, a, w, true, false, 0)  // Aᵀ·W
			case !tA && tB: // C = A·Bᵀ
				g.b.MatMul(da, w, bm, false, false, 0) // W·B
				g.b.MatMul(db, w, a, true, false, 0)   // Wᵀ·A
			case tA && !tB: // C = Aᵀ·B
				g.b.MatMul(da, bm, w, false, true, 0) // B·Wᵀ
				g.b.MatMul(db, a, w, false, false, 0) // A·W
			default: // C = Aᵀ·Bᵀ
				g.b.MatMul(da, bm, w, true, true, 0) // Bᵀ·Wᵀ
				g.b.MatMul(db, w, a, true, true, 0)  // Wᵀ·Aᵀ
			}
			if err := g.compare("dA", wantA, g.get(da)); err != nil {
				return err
			}
			return g.compare("dB", wantB, g.get(db))
		}})
	}
	return gc
}

// layerNormGradChecks check LayerNormBackward's dx, dgamma and dbeta
// against finite differences of LayerNorm, with and without gamma.
func layerNormGradChecks() []gradCheck {
	var gc []gradCheck
	for _, affine := range []bool{true, false} {
		gc = append(gc, gradCheck{fmt.Sprintf("LayerNormBackward/affine=%v", affine), func(g *grad) error {
			const rows, cols, eps = 3, 6, 1e-5
			xv, wv := g.vals(rows*cols, -2, 2), g.vals(rows*cols, -1, 1)
			for j := range xv[cols : 2*cols] { // a row far from zero
				xv[cols+j] += 10
			}
			gv, bv := g.vals(cols, 0.5, 1.5), g.vals(cols, -1, 1)
			x, y, mean, rstd, w := g.mat(rows, cols, xv), g.zeros(rows, cols), g.zeros(rows, 1), g.zeros(rows, 1), g.mat(rows, cols, wv)
			var gamma, beta nn.Mat
			if affine {
				gamma, beta = g.mat(1, cols, gv), g.mat(1, cols, bv)
			}
			loss := func() float64 {
				g.b.LayerNorm(y, mean, rstd, x, gamma, beta, eps)
				return dot(wv, g.get(y))
			}
			wantX := fd(func(v []float64) float64 { g.set(x, v); return loss() }, xv)
			g.set(x, xv)
			loss() // mean and rstd of x
			dx, dg, db := g.zeros(rows, cols), g.zeros(1, cols), g.zeros(1, cols)
			g.b.LayerNormBackward(dx, dg, db, w, x, mean, rstd, gamma)
			if err := g.compare("dx", wantX, g.get(dx)); err != nil {
				return err
			}
			if !affine {
				// The parameter gradients are those of γ = 1 and β = 0.
				gamma, beta = g.mat(1, cols, make([]float64, cols)), g.mat(1, cols, make([]float64, cols))
				gv, bv = make([]float64, cols), make([]float64, cols)
				for j := range gv {
					gv[j] = 1
				}
				g.set(gamma, gv)
			}
			wantG := fd(func(v []float64) float64 { g.set(gamma, v); return loss() }, gv)
			g.set(gamma, gv)
			wantB := fd(func(v []float64) float64 { g.set(beta, v); return loss() }, bv)
			if err := g.compare("dgamma", wantG, g.get(dg)); err != nil {
				return err
			}
			return g.compare("dbeta", wantB, g.get(db))
		}})
	}
	return gc
}

// RunFiniteDifferences checks every backward-type op of the reference
// backend against central differences (eps 1e-6, atol 1e-5, rtol 1e-3:
// gradcheck's defaults) of the forward op it differentiates, all in
// float64: ActBackward for each activation, DropoutBackward, ColSum as the
// bias gradient, the transposed MatMul products, the gradients SigmoidBCE
// and SoftmaxCE write, ScatterAddRows and GatherRows as each other's
// backward, LayerNormBackward, ScaleRows as RowSumSq's backward, Mul,
// Axpby, each Map function's derivative, and the double backward of the
// critic's activations (ActBackward's own derivatives in dy and in y, for
// LeakyReLU, tanh and sigmoid), Col2Im and Im2Col as each other's
// gradients (Conv2d's and ConvTranspose2d's backward) with their adjoint
// identity on every conformance geometry, BatchMatMul's transposed products
// as its gradients, CausalSoftmaxBackward and GELUBackward. With [RunAgainstReference] it ties every
// backend's backward ops to the derivatives of its forward ops.
//
// Each check logs its largest error as a fraction of the tolerance (-v).
// Measured: at most 3.0e-5 of it (ScaleRows as RowSumSq's backward), that
// is about 3e-10 absolute; the double backward checks at most 5.4e-6 (tanh),
// LayerNormBackward 1.1e-5. The float64 differences err by O(eps²·f‴)
// truncation and O(1e-16/eps) cancellation, both near 1e-10 here, so a
// wrong formula (an error of order 1) cannot pass.
func RunFiniteDifferences(t *testing.T) {
	worst, worstName := 0.0, ""
	for k, c := range gradChecks() {
		t.Run(c.name, func(t *testing.T) {
			g := &grad{b: ref.New(), r: rand.New(rand.NewPCG(uint64(k), 0xfd))}
			if err := c.run(g); err != nil {
				t.Error(err)
			}
			t.Logf("largest error %.3g of the tolerance", g.worst)
			if g.worst > worst {
				worst, worstName = g.worst, c.name
			}
		})
	}
	t.Logf("largest error of all checks: %.3g of the tolerance, in %s", worst, worstName)
}
