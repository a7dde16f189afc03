package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gan/nn"
)

// BatchNorm's cases mirror LayerNorm's with rows and columns exchanged: the
// statistics are per column (channel) over the rows (the batch and the
// pixels of channels-last images).

// batchNormCols draws BatchNorm inputs: uniform columns, a column offset far
// from zero (the variance must not cancel), a constant column (variance 0)
// and one of tiny values.
func batchNormCols(r *rand.Rand, rows, cols int) []float32 {
	v := uniform(-3, 3)(r, rows, cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			switch j % 5 {
			case 1:
				v[i*cols+j] += 100
			case 2:
				v[i*cols+j] = 0.75
			case 3:
				v[i*cols+j] *= 1e-3
			}
		}
	}
	return v
}

// colStats returns the mean and biased variance of each column of the m×n
// x, in float64, two passes, as BatchNorm documents them.
func colStats(x []float64, rows, cols int) (mu, v []float64) {
	mu, v = make([]float64, cols), make([]float64, cols)
	for j := 0; j < cols; j++ {
		var s, q float64
		for i := 0; i < rows; i++ {
			s += x[i*cols+j]
		}
		mu[j] = s / float64(rows)
		for i := 0; i < rows; i++ {
			d := x[i*cols+j] - mu[j]
			q += d * d
		}
		v[j] = q / float64(rows)
	}
	return mu, v
}

// batchNormUnits bounds BatchNorm's y = fl(fl(fl(fl(x − μ)·r)·γ) + β),
// with μ and σ² rounded to float32 and r computed from the rounded σ²,
// against (x − μ)·r·γ + β: as layerNormUnits, the rounding of μ carried
// through (|μ|·r·|γ|), the roundings of x − μ, of σ² and r and of the two
// products (|x − μ|·r·|γ| each), and of the sum (|β|), doubled for the
// other backend's statistics in a comparison of two.
func batchNormUnits(rows, cols, xArg, gArg, bArg int, eps float64) func(e *env) []float64 {
	return func(e *env) []float64 {
		mu, v := colStats(e.in[xArg], rows, cols)
		u := make([]float64, rows*cols)
		for i := range u {
			j := i % cols
			r := 1 / math.Sqrt(v[j]+eps)
			g, bt := 1.0, 0.0
			if gArg >= 0 {
				g = math.Abs(e.in[gArg][j])
			}
			if bArg >= 0 {
				bt = math.Abs(e.in[bArg][j])
			}
			u[i] = 2 * (r*g*(math.Abs(mu[j])+6*math.Abs(e.in[xArg][i]-mu[j])) + bt)
		}
		return u
	}
}

func batchNormCases() []*testCase {
	var cs []*testCase
	const eps = 1e-5
	// Shapes: degenerate ones, odd sizes, and the DCGAN's batch-norm inputs
	// (64 images of 7×7×128 and of 14×14×64 pixels, channels-last).
	shapes := [][2]int{{1, 1}, {7, 1}, {1, 7}, {33, 7}, {129, 127}, {1000, 4}, {3136, 128}, {12544, 64}}
	for _, sh := range shapes {
		rows, cols := sh[0], sh[1]
		for _, aff := range []struct {
			name        string
			gamma, beta bool
		}{{"affine", true, true}, {"no affine", false, false}, {"gamma only", true, false}} {
			gArg, bArg := -1, -1
			gamma, beta := absent("gamma"), absent("beta")
			if aff.gamma {
				gamma, gArg = in("gamma", 1, cols, uniform(0.5, 1.5)), 4
			}
			if aff.beta {
				beta, bArg = in("beta", 1, cols, uniform(-1, 1)), 5
			}
			cs = append(cs, &testCase{
				op: "BatchNorm", name: fmt.Sprintf("%s/%s", shapeName(rows, cols), aff.name),
				args: []arg{out("y", rows, cols, garbage, tolBound(batchNormUnits(rows, cols, 3, gArg, bArg, eps))),
					out("mean", 1, cols, garbage, tolReduction), out("variance", 1, cols, garbage, tolReduction),
					in("x", rows, cols, batchNormCols), gamma, beta},
				call: func(b nn.Backend, m []nn.Mat) { b.BatchNorm(m[0], m[1], m[2], m[3], m[4], m[5], eps) },
			})
		}
		cs = append(cs, batchNormBackwardCases(rows, cols)...)
	}
	cs = append(cs, &testCase{
		op: "BatchNorm", name: "in place",
		args: []arg{out("x", 40, 33, batchNormCols, tolBound(batchNormUnits(40, 33, 0, 3, 4, eps))),
			out("mean", 1, 33, garbage, tolReduction), out("variance", 1, 33, garbage, tolReduction),
			in("gamma", 1, 33, uniform(0.5, 1.5)), in("beta", 1, 33, uniform(-1, 1))},
		call: func(b nn.Backend, m []nn.Mat) { b.BatchNorm(m[0], m[1], m[2], m[0], m[3], m[4], eps) },
	})
	return cs
}

// batchNormBackwardCases are BatchNormBackward's cases for one shape. The
// mean and variance operands are those of a forward pass over x (drawn by
// x's generator, so they belong to the x of the same case), rounded to
// float32 as BatchNorm stores them.
func batchNormBackwardCases(rows, cols int) []*testCase {
	var cs []*testCase
	const eps = 1e-5
	for _, v := range []struct {
		name                  string
		gamma, params, dxIsDy bool
	}{
		{"gamma, param grads", true, true, false},
		{"no gamma, param grads", false, true, false},
		{"gamma, no param grads", true, false, false},
		{"gamma, param grads, dx is dy", true, true, true},
	} {
		var x []float32 // the last x drawn, for the statistics
		xGen := func(r *rand.Rand, rows, cols int) []float32 {
			x = batchNormCols(r, rows, cols)
			return x
		}
		stat := func(which int) gen {
			return func(*rand.Rand, int, int) []float32 {
				mu, vr := colStats(widen(x), rows, cols)
				return narrow([][]float64{mu, vr}[which])
			}
		}
		dyArg, xArg, meanArg, varArg, gArg := 3, 4, 5, 6, 7
		if v.dxIsDy {
			// dx is dy, the first operand; the rest shift by one.
			dyArg, xArg, meanArg, varArg, gArg = 0, 3, 4, 5, 6
		}
		// dx = float32(r·((g − a) − x̂·c)) against the exact value, as
		// LayerNormBackward's bound with the sums over a column: g and x̂
		// are one and two float32 roundings (r from the stored variance
		// one more), a = mean(g) and c = mean(g·x̂) inherit them, and the
		// result is rounded once.
		dxUnits := func(e *env) []float64 {
			dy := e.in[dyArg]
			u := make([]float64, rows*cols)
			for j := 0; j < cols; j++ {
				mu, r := e.in[meanArg][j], 1/math.Sqrt(e.in[varArg][j]+eps)
				g := make([]float64, rows)
				xh := make([]float64, rows)
				var mg, mgx, c float64
				for i := range g {
					g[i] = dy[i*cols+j]
					if v.gamma {
						g[i] *= e.in[gArg][j]
					}
					xh[i] = (e.in[xArg][i*cols+j] - mu) * r
					mg += math.Abs(g[i]) / float64(rows)
					mgx += math.Abs(g[i]*xh[i]) / float64(rows)
					c += g[i] * xh[i] / float64(rows)
				}
				for i := range g {
					u[i*cols+j] = 2 * (r*(math.Abs(g[i])+mg+math.Abs(xh[i])*(4*mgx+2*math.Abs(c))) + math.Abs(e.want[i*cols+j]))
				}
			}
			return u
		}
		// dgamma = Σ dy·x̂: x̂'s three roundings and the final one,
		// relative to Σ|dy·x̂|.
		dgUnits := func(e *env) []float64 {
			dy := e.in[dyArg]
			u := make([]float64, cols)
			for j := range u {
				mu, r := e.in[meanArg][j], 1/math.Sqrt(e.in[varArg][j]+eps)
				for i := 0; i < rows; i++ {
					u[j] += 4 * math.Abs(dy[i*cols+j]*(e.in[xArg][i*cols+j]-mu)*r)
				}
			}
			return u
		}
		dg, db := absent("dgamma"), absent("dbeta")
		if v.params {
			dg, db = out("dgamma", 1, cols, garbage, tolBound(dgUnits)), out("dbeta", 1, cols, garbage, tolReduction)
		}
		gamma := absent("gamma")
		if v.gamma {
			gamma = in("gamma", 1, cols, uniform(0.5, 1.5))
		}
		name := fmt.Sprintf("%s/%s", shapeName(rows, cols), v.name)
		if v.dxIsDy {
			cs = append(cs, &testCase{
				op: "BatchNormBackward", name: name,
				args: []arg{out("dy", rows, cols, uniform(-1, 1), tolBound(dxUnits)), dg, db,
					in("x", rows, cols, xGen), in("mean", 1, cols, stat(0)), in("variance", 1, cols, stat(1)), gamma},
				call: func(b nn.Backend, m []nn.Mat) {
					b.BatchNormBackward(m[0], m[1], m[2], m[0], m[3], m[4], m[5], m[6], eps)
				},
			})
			continue
		}
		cs = append(cs, &testCase{
			op: "BatchNormBackward", name: name,
			args: []arg{out("dx", rows, cols, garbage, tolBound(dxUnits)), dg, db,
				in("dy", rows, cols, uniform(-1, 1)), in("x", rows, cols, xGen),
				in("mean", 1, cols, stat(0)), in("variance", 1, cols, stat(1)), gamma},
			call: func(b nn.Backend, m []nn.Mat) {
				b.BatchNormBackward(m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], eps)
			},
		})
	}
	return cs
}

// batchNormGradChecks check BatchNormBackward's dx, dgamma and dbeta
// against finite differences of BatchNorm (through the batch statistics),
// with and without gamma and beta.
func batchNormGradChecks() []gradCheck {
	var gc []gradCheck
	for _, affine := range []bool{true, false} {
		gc = append(gc, gradCheck{fmt.Sprintf("BatchNormBackward/affine=%v", affine), func(g *grad) error {
			const rows, cols, eps = 6, 3, 1e-5
			xv, wv := g.vals(rows*cols, -2, 2), g.vals(rows*cols, -1, 1)
			for i := 0; i < rows; i++ { // a column far from zero
				xv[i*cols+1] += 10
			}
			gv, bv := g.vals(cols, 0.5, 1.5), g.vals(cols, -1, 1)
			x, y, w := g.mat(rows, cols, xv), g.zeros(rows, cols), g.mat(rows, cols, wv)
			mean, variance := g.zeros(1, cols), g.zeros(1, cols)
			var gamma, beta nn.Mat
			if affine {
				gamma, beta = g.mat(1, cols, gv), g.mat(1, cols, bv)
			}
			loss := func() float64 {
				g.b.BatchNorm(y, mean, variance, x, gamma, beta, eps)
				return dot(wv, g.get(y))
			}
			wantX := fd(func(v []float64) float64 { g.set(x, v); return loss() }, xv)
			g.set(x, xv)
			loss() // mean and variance of x
			dx, dg, db := g.zeros(rows, cols), g.zeros(1, cols), g.zeros(1, cols)
			g.b.BatchNormBackward(dx, dg, db, w, x, mean, variance, gamma, eps)
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
