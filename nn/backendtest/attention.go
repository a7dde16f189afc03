package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gan/nn"
	"gan/nn/ref"
)

// The cases of the ops of attention and transformer MLPs: BatchMatMul,
// CausalSoftmax, CausalSoftmaxBackward, GELU, GELUBackward and
// GELUAndGrad.
//
// BatchMatMul is MatMul on every block, so it has MatMul's tolerances:
// against the float64 reference each element of C_i within
// matMulTolerance(k)·2⁻²⁴·(|op(A_i)|·|op(B_i)| + |beta·C_i|) (the K·2⁻²⁴
// worst case below k = 100, 0.1·K above; docs/tolerances.md's matmul row),
// and rtol = atol = 1e-3 between two float32 backends (cpu-gpu).
//
// CausalSoftmax is a float64 formula rounded once to float32
// (tolTranscendental: 1 ulp from the reference, 2 between two math
// libraries); the GELU ops are a float32 algorithm that every backend
// follows to the bit (geluTol, geluGradTol). CausalSoftmaxBackward ends in
// a subtraction that may cancel: it gets a rounding bound instead
// (causalBackwardUnits). The masked entries of the causal ops must be
// exactly 0 on every backend, and the inputs there hold NaN and ±Inf,
// which must not leak.

// batchMatMulUnits returns the kindBound units of the batched product:
// matMulTolerance(k)·(|op(A_i)|·|op(B_i)| + |beta|·|C0_i|), computed by the
// reference backend's BatchMatMul on the absolute values.
func batchMatMulUnits(rc, cc, ra, ca, rb, cb, batch, heads, k int, transA, transB bool, beta float32) func(e *env) []float64 {
	return func(e *env) []float64 {
		rb64 := ref.New()
		abs := func(v []float64, rows, cols int) nn.Mat {
			x, err := rb64.Alloc(rows, cols)
			if err != nil {
				panic(err)
			}
			a := make([]float64, len(v))
			for i, y := range v {
				a[i] = math.Abs(y)
			}
			if err := rb64.Upload64(x, a); err != nil {
				panic(err)
			}
			return x
		}
		c := abs(e.in[0], rc, cc)
		rb64.BatchMatMul(c, abs(e.in[1], ra, ca), abs(e.in[2], rb, cb), batch, heads, transA, transB, float32(math.Abs(float64(beta))))
		u := make([]float64, rc*cc)
		if err := rb64.Download64(u, c); err != nil {
			panic(err)
		}
		for i := range u {
			u[i] *= matMulTolerance(k)
		}
		return u
	}
}

// batchMatMulCase is one batched product of batch×heads blocks C_i (m×n)
// = op(A_i)·op(B_i) + beta·C_i.
func batchMatMulCase(name string, batch, heads, m, n, k int, transA, transB bool, beta float32, lay layout) *testCase {
	ar, ac, br, bc := m, k, k, n
	if transA {
		ar, ac = k, m
	}
	if transB {
		br, bc = n, k
	}
	c0 := uniform(-1, 1)
	if beta == 0 {
		c0 = garbage // ignored: NaNs must not propagate
	}
	rc, cc := batch*m, heads*n
	t := tol{ref: checkBound(batchMatMulUnits(rc, cc, batch*ar, heads*ac, batch*br, heads*bc, batch, heads, k, transA, transB, beta)),
		pair: check{kind: kindClose, rtol: 1e-3, atol: 1e-3}}
	cArg := out("C", rc, cc, c0, t)
	aArg, bArg := in("A", batch*ar, heads*ac, uniform(-1, 1)), in("B", batch*br, heads*bc, uniform(-1, 1))
	cArg.layout, aArg.layout, bArg.layout = lay, lay, lay
	if lay == strided {
		name += "/strided"
	}
	return &testCase{
		op:   "BatchMatMul",
		name: fmt.Sprintf("%s/%d×%d of %dx%dx%d/tA=%v/tB=%v/beta=%v", name, batch, heads, m, n, k, transA, transB, beta),
		args: []arg{cArg, aArg, bArg},
		call: func(b nn.Backend, x []nn.Mat) { b.BatchMatMul(x[0], x[1], x[2], batch, heads, transA, transB, beta) },
	}
}

func batchMatMulCases() []*testCase {
	var cs []*testCase
	trans := [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}}
	// Every transpose and beta on awkward block shapes (batch, heads, m,
	// n, k): one block, a batch of row blocks, heads of column blocks,
	// both, matrix-vector blocks and an empty inner dimension.
	for _, s := range [][5]int{
		{1, 1, 7, 33, 17}, {3, 1, 7, 5, 9}, {1, 3, 5, 7, 33}, {2, 3, 33, 17, 5}, {2, 2, 1, 7, 5},
		{3, 2, 7, 1, 3}, {2, 2, 3, 2, 0},
	} {
		for _, tr := range trans {
			for _, beta := range []float32{0, 0.5} {
				cs = append(cs, batchMatMulCase("awkward", s[0], s[1], s[2], s[3], s[4], tr[0], tr[1], beta, dense))
			}
		}
	}
	// Strided operands, as attention's queries, keys and values are column
	// blocks of one projection.
	for _, tr := range trans {
		cs = append(cs, batchMatMulCase("awkward", 2, 3, 7, 5, 9, tr[0], tr[1], 1, strided))
	}
	// Attention at T = 64 with two sequences of two heads of size 16: the
	// scores Q·Kᵀ, the output P·V, and the four products of their
	// gradients (dP = dY·Vᵀ, dV = Pᵀ·dY, dQ = dS·K, dK = dSᵀ·Q).
	const T, d = 64, 16
	cs = append(cs,
		batchMatMulCase("attention S=Q·Kᵀ", 2, 2, T, T, d, false, true, 0, strided),
		batchMatMulCase("attention Y=P·V", 2, 2, T, d, T, false, false, 0, dense),
		batchMatMulCase("attention dP=dY·Vᵀ", 2, 2, T, T, d, false, true, 0, dense),
		batchMatMulCase("attention dV=Pᵀ·dY", 2, 2, T, d, T, true, false, 0, dense),
		batchMatMulCase("attention dQ=dS·K", 2, 2, T, d, T, false, false, 1, strided),
		batchMatMulCase("attention dK=dSᵀ·Q", 2, 2, T, d, T, true, false, 0, strided),
		// Blocks large enough to run one after the other on every worker.
		batchMatMulCase("large blocks", 2, 1, 160, 200, 140, false, true, 0, dense),
	)
	return cs
}

// causalLogits returns a generator of CausalSoftmax inputs in t×t blocks:
// kept entries uniform in [−4, 4), a row offset by +1000 in every fifth
// (exp would overflow without the maximum subtracted), ties in every
// third; masked entries NaN, +Inf and −Inf in turn, which the op must not
// read.
func causalLogits(t int) gen {
	return func(r *rand.Rand, rows, cols int) []float32 {
		v := uniform(-4, 4)(r, rows, cols)
		for row := 0; row < rows; row++ {
			i := row % t
			for c := 0; c < cols; c++ {
				j := c % t
				x := &v[row*cols+c]
				switch {
				case j > i:
					*x = []float32{nan, inf, -inf}[(row+c)%3]
				case row%5 == 4:
					*x += 1000
				case row%3 == 2 && j == 0 && i > 0:
					*x = v[row*cols+c+i] // a tie with the last kept column
				}
			}
		}
		return v
	}
}

// causalSoftmax64 is the causal softmax of scale·x in float64 (for
// CausalSoftmaxBackward's inputs).
func causalSoftmax64(x []float32, rows, cols, t int, scale float64) []float64 {
	y := make([]float64, len(x))
	for r := 0; r < rows; r++ {
		i := r % t
		for c0 := 0; c0 < cols; c0 += t {
			row := x[r*cols+c0 : r*cols+c0+i+1]
			m := math.Inf(-1)
			for _, v := range row {
				m = math.Max(m, scale*float64(v))
			}
			var s float64
			for _, v := range row {
				s += math.Exp(scale*float64(v) - m)
			}
			for j, v := range row {
				y[r*cols+c0+j] = math.Exp(scale*float64(v)-m) / s
			}
		}
	}
	return y
}

// causalBackwardUnits bounds dx = float32(scale·y_j·(dy_j − d)) against
// the exact value, in units of 2⁻²⁴: the final rounding is half an ulp,
// at most |want|, doubled for the other backend's rounding in a
// comparison of two; the float64 steps before it (the sum d and the
// subtraction, which may cancel) err by far less than
// 2⁻⁴⁰·scale·|y_j|·(|dy_j| + Σ|y_k·dy_k|), which is added.
func causalBackwardUnits(rows, cols, t int, scale float64) func(e *env) []float64 {
	return func(e *env) []float64 {
		dy, y := e.in[1], e.in[2]
		u := make([]float64, len(e.want))
		for r := 0; r < rows; r++ {
			i := r % t
			for c0 := 0; c0 < cols; c0 += t {
				o := r*cols + c0
				var sum float64
				for k := 0; k <= i; k++ {
					sum += math.Abs(y[o+k] * dy[o+k])
				}
				for j := 0; j <= i; j++ {
					u[o+j] = 2*math.Abs(e.want[o+j]) + 0x1p-16*scale*math.Abs(y[o+j])*(math.Abs(dy[o+j])+sum)
				}
			}
		}
		return u
	}
}

func causalSoftmaxCases() []*testCase {
	var cs []*testCase
	for _, s := range []struct {
		batch, heads, t int
		scale           float32
	}{
		{1, 1, 1, 1}, {1, 1, 7, 0.25}, {3, 2, 5, 1}, {2, 3, 33, 0.125}, {2, 2, 64, 0.25}, {1, 1, 129, 3.5},
	} {
		rows, cols, t, scale := s.batch*s.t, s.heads*s.t, s.t, s.scale
		name := fmt.Sprintf("%d×%d blocks of %dx%d/scale=%v", s.batch, s.heads, t, t, scale)
		// y_j = float32(e_j/s) from float64 values that err by a few
		// float64 ulps: one rounding to float32 off the reference's, two
		// between two backends (their exp and sum order differ).
		cs = append(cs, &testCase{
			op: "CausalSoftmax", name: name,
			args: []arg{out("y", rows, cols, garbage, tolTranscendental), in("x", rows, cols, causalLogits(t))},
			call: func(b nn.Backend, m []nn.Mat) { b.CausalSoftmax(m[0], m[1], t, scale) },
		})
		var x []float32 // the logits of the last y drawn
		yGen := func(r *rand.Rand, rows, cols int) []float32 {
			x = uniform(-3, 3)(r, rows, cols)
			y := narrow(causalSoftmax64(x, rows, cols, t, float64(scale)))
			for row := 0; row < rows; row++ {
				for c := 0; c < cols; c++ {
					if c%t > row%t {
						y[row*cols+c] = nan // masked: not read
					}
				}
			}
			return y
		}
		dyGen := func(r *rand.Rand, rows, cols int) []float32 {
			dy := uniform(-1, 1)(r, rows, cols)
			for row := 0; row < rows; row++ {
				for c := 0; c < cols; c++ {
					if c%t > row%t {
						dy[row*cols+c] = []float32{nan, inf}[(row+c)%2]
					}
				}
			}
			return dy
		}
		t1 := tolBound(causalBackwardUnits(rows, cols, t, float64(scale)))
		cs = append(cs, &testCase{
			op: "CausalSoftmaxBackward", name: name,
			args: []arg{out("dx", rows, cols, garbage, t1), in("dy", rows, cols, dyGen), in("y", rows, cols, yGen)},
			call: func(b nn.Backend, m []nn.Mat) { b.CausalSoftmaxBackward(m[0], m[1], m[2], t, scale) },
		})
	}
	// In place: y = x, and dx = dy (whose units read the operands as
	// uploaded: dy is operand 0 here, so the bound is rebuilt on 0 and 1).
	cs = append(cs, &testCase{
		op: "CausalSoftmax", name: "in place",
		args: []arg{out("x", 3*7, 2*7, causalLogits(7), tolTranscendental)},
		call: func(b nn.Backend, m []nn.Mat) { b.CausalSoftmax(m[0], m[0], 7, 0.5) },
	})
	inPlace := func(e *env) []float64 {
		return causalBackwardUnits(21, 14, 7, 0.5)(&env{in: [][]float64{nil, e.in[0], e.in[1]}, want: e.want})
	}
	cs = append(cs, &testCase{
		op: "CausalSoftmaxBackward", name: "in place",
		args: []arg{out("dy", 21, 14, uniform(-1, 1), tolBound(inPlace)),
			in("y", 21, 14, func(r *rand.Rand, rows, cols int) []float32 {
				return narrow(causalSoftmax64(uniform(-3, 3)(r, rows, cols), rows, cols, 7, 0.5))
			})},
		call: func(b nn.Backend, m []nn.Mat) { b.CausalSoftmaxBackward(m[0], m[0], m[1], 7, 0.5) },
	})
	return cs
}

// geluInputs are GELU's inputs: uniform in [−6, 6) (the tails, where
// erfc is small, and the derivative's zero near −0.75), every special
// value in front, and large negative values whose result is tiny or
// underflows, and both sides of the cut-off at ±14.5.
var geluInputs = withSpecials(uniform(-6, 6), append(append([]float32(nil), specials...),
	-12, -13.5, -30, -0.7518, 8, 40, 14.499999, -14.499999, 14.5, -14.5, -14.4))

// geluTol and geluGradTol are the GELU ops' tolerances. Both backends do
// the CPU backend's documented float32 operations (cpu/gelu.go) in the same
// order: bit-exact between them. Against the float64 formulas: GELU within
// 8 float32 ulps, GELU′ within 8 ulps plus 2⁻²³ absolute (its values lie
// in [−0.17, 1.13] and cancel to 0 near −0.75); the largest errors
// measured over every float32 of magnitude 2⁻⁸ to 14.5 are 7.2 ulps and
// 2⁻²³ + 2.5 ulps
// (cpu.TestGELUAccuracy keeps them). An ulp is at most 2⁻²³·|y|, so 8 are
// 16 units of 2⁻²⁴·|y|; dx = dy·GELU′ adds its own rounding (half an ulp,
// within the 8) and |dy|·2⁻²³ = 2·|dy| units.
var (
	geluTol     = tolRounded(rel(16))
	geluGradTol = tolRounded(func(e *env) []float64 {
		u := make([]float64, len(e.want))
		for i, w := range e.want {
			u[i] = 16*math.Abs(w) + 2*math.Abs(e.in[1][i])
		}
		return u
	})
	// geluDerivTol is GELUAndGrad's d: the derivative alone (dy = 1).
	geluDerivTol = tolRounded(func(e *env) []float64 {
		u := make([]float64, len(e.want))
		for i, w := range e.want {
			u[i] = 16*math.Abs(w) + 2
		}
		return u
	})
)

func geluCases() []*testCase {
	var cs []*testCase
	for _, sh := range shapes {
		rows, cols := sh[0], sh[1]
		cs = append(cs, &testCase{
			op: "GELU", name: shapeName(rows, cols),
			args: []arg{out("y", rows, cols, garbage, geluTol), in("x", rows, cols, geluInputs)},
			call: func(b nn.Backend, m []nn.Mat) { b.GELU(m[0], m[1]) },
		}, &testCase{
			op: "GELUBackward", name: shapeName(rows, cols),
			args: []arg{out("dx", rows, cols, garbage, geluGradTol),
				in("dy", rows, cols, withSpecials(uniform(-2, 2), specials)), in("x", rows, cols, geluInputs)},
			call: func(b nn.Backend, m []nn.Mat) { b.GELUBackward(m[0], m[1], m[2]) },
		}, &testCase{
			op: "GELUAndGrad", name: shapeName(rows, cols),
			args: []arg{out("y", rows, cols, garbage, geluTol), out("d", rows, cols, garbage, geluDerivTol),
				in("x", rows, cols, geluInputs)},
			call: func(b nn.Backend, m []nn.Mat) { b.GELUAndGrad(m[0], m[1], m[2]) },
		})
	}
	cs = append(cs, &testCase{
		op: "GELU", name: "in place",
		args: []arg{out("x", 33, 7, geluInputs, geluTol)},
		call: func(b nn.Backend, m []nn.Mat) { b.GELU(m[0], m[0]) },
	}, &testCase{
		op: "GELUBackward", name: "in place",
		args: []arg{out("dy", 33, 7, withSpecials(uniform(-2, 2), specials), geluGradTol), in("x", 33, 7, geluInputs)},
		call: func(b nn.Backend, m []nn.Mat) { b.GELUBackward(m[0], m[0], m[1]) },
	}, &testCase{
		op: "GELUAndGrad", name: "y in place",
		args: []arg{out("x", 33, 7, geluInputs, geluTol), out("d", 33, 7, garbage, geluDerivTol)},
		call: func(b nn.Backend, m []nn.Mat) { b.GELUAndGrad(m[0], m[1], m[0]) },
	}, &testCase{
		op: "GELUAndGrad", name: "d in place",
		args: []arg{out("y", 33, 7, garbage, geluTol), out("x", 33, 7, geluInputs, geluDerivTol)},
		call: func(b nn.Backend, m []nn.Mat) { b.GELUAndGrad(m[0], m[1], m[1]) },
	})
	return cs
}

// attentionCases are the cases of every op of this file.
func attentionCases() []*testCase {
	var cs []*testCase
	cs = append(cs, batchMatMulCases()...)
	cs = append(cs, causalSoftmaxCases()...)
	return append(cs, geluCases()...)
}

// attentionErrorCases are the argument errors of the ops of this file
// (foreign and strided operands come from derivedErrorCases).
func attentionErrorCases() []errCase {
	call := func(f func(b nn.Backend, x []nn.Mat)) func(b nn.Backend, x []nn.Mat) { return f }
	bmm := func(batch, heads int, ta, tb bool) func(b nn.Backend, x []nn.Mat) {
		return func(b nn.Backend, x []nn.Mat) { b.BatchMatMul(x[0], x[1], x[2], batch, heads, ta, tb, 0) }
	}
	return []errCase{
		{"BatchMatMul", "batch 0", ms(small(4, 6), small(4, 4), small(4, 6)), bmm(0, 1, false, false)},
		{"BatchMatMul", "heads -1", ms(small(4, 6), small(4, 4), small(4, 6)), bmm(1, -1, false, false)},
		{"BatchMatMul", "rows not a multiple of batch", ms(small(3, 2), small(3, 3), small(3, 2)), bmm(2, 1, false, false)},
		{"BatchMatMul", "columns not a multiple of heads", ms(small(2, 6), small(2, 3), small(3, 6)), bmm(1, 2, false, false)},
		{"BatchMatMul", "inner sizes differ", ms(small(4, 4), small(4, 6), small(4, 4)), bmm(2, 2, false, false)},
		{"BatchMatMul", "C blocks the wrong shape", ms(small(4, 2), small(4, 4), small(4, 4)), bmm(2, 2, false, true)},
		{"CausalSoftmax", "rows not a multiple of t", ms(small(5, 4), small(5, 4)), call(func(b nn.Backend, x []nn.Mat) { b.CausalSoftmax(x[0], x[1], 2, 1) })},
		{"CausalSoftmax", "t 0", ms(small(4, 4), small(4, 4)), call(func(b nn.Backend, x []nn.Mat) { b.CausalSoftmax(x[0], x[1], 0, 1) })},
		{"CausalSoftmax", "scale 0", ms(small(4, 4), small(4, 4)), call(func(b nn.Backend, x []nn.Mat) { b.CausalSoftmax(x[0], x[1], 2, 0) })},
		{"CausalSoftmax", "scale NaN", ms(small(4, 4), small(4, 4)), call(func(b nn.Backend, x []nn.Mat) { b.CausalSoftmax(x[0], x[1], 2, nan) })},
		{"CausalSoftmax", "shapes differ", ms(small(4, 2), small(4, 4)), call(func(b nn.Backend, x []nn.Mat) { b.CausalSoftmax(x[0], x[1], 2, 1) })},
		{"CausalSoftmaxBackward", "y shape", ms(small(4, 4), small(4, 4), small(4, 2)), call(func(b nn.Backend, x []nn.Mat) {
			b.CausalSoftmaxBackward(x[0], x[1], x[2], 2, 1)
		})},
		{"CausalSoftmaxBackward", "scale +Inf", ms(small(4, 4), small(4, 4), small(4, 4)), call(func(b nn.Backend, x []nn.Mat) {
			b.CausalSoftmaxBackward(x[0], x[1], x[2], 2, inf)
		})},
		{"CausalSoftmaxBackward", "columns not a multiple of t", ms(small(4, 3), small(4, 3), small(4, 3)), call(func(b nn.Backend, x []nn.Mat) {
			b.CausalSoftmaxBackward(x[0], x[1], x[2], 2, 1)
		})},
		{"GELU", "shapes differ", ms(small(2, 3), small(3, 2)), call(func(b nn.Backend, x []nn.Mat) { b.GELU(x[0], x[1]) })},
		{"GELUBackward", "x shape", ms(small(2, 3), small(2, 3), small(2, 4)), call(func(b nn.Backend, x []nn.Mat) { b.GELUBackward(x[0], x[1], x[2]) })},
	}
}

// attentionGradChecks check the backward ops of this file against finite
// differences of their forward ops on the reference backend: the batched
// products of each transpose pair as each other's gradients (as MatMul's),
// CausalSoftmaxBackward and GELUBackward.
func attentionGradChecks() []gradCheck {
	var gc []gradCheck
	const batch, heads, m, n, k = 2, 2, 3, 4, 5
	for _, tr := range [][2]bool{{false, true}, {false, false}, {true, false}, {true, true}} {
		tA, tB := tr[0], tr[1]
		gc = append(gc, gradCheck{fmt.Sprintf("BatchMatMul gradients, tA=%v tB=%v", tA, tB), func(g *grad) error {
			ar, ac, br, bc := m, k, k, n
			if tA {
				ar, ac = k, m
			}
			if tB {
				br, bc = n, k
			}
			ar, br, ac, bc = batch*ar, batch*br, heads*ac, heads*bc
			av, bv, wv := g.vals(ar*ac, -1, 1), g.vals(br*bc, -1, 1), g.vals(batch*m*heads*n, -1, 1)
			a, bm, w, c := g.mat(ar, ac, av), g.mat(br, bc, bv), g.mat(batch*m, heads*n, wv), g.zeros(batch*m, heads*n)
			da, db := g.zeros(ar, ac), g.zeros(br, bc)
			loss := func() float64 {
				g.b.BatchMatMul(c, a, bm, batch, heads, tA, tB, 0)
				return dot(wv, g.get(c))
			}
			wantA := fd(func(x []float64) float64 { g.set(a, x); return loss() }, av)
			g.set(a, av)
			wantB := fd(func(x []float64) float64 { g.set(bm, x); return loss() }, bv)
			g.set(bm, bv)
			bmm := func(c, a, b nn.Mat, ta, tb bool) { g.b.BatchMatMul(c, a, b, batch, heads, ta, tb, 0) }
			switch {
			case !tA && !tB:
				bmm(da, w, bm, false, true)
				bmm(db, a, w, true, false)
			case !tA && tB:
				bmm(da, w, bm, false, false)
				bmm(db, w, a, true, false)
			case tA && !tB:
				bmm(da, bm, w, false, true)
				bmm(db, a, w, false, false)
			default:
				bmm(da, bm, w, true, true)
				bmm(db, w, a, true, true)
			}
			if err := g.compare("dA", wantA, g.get(da)); err != nil {
				return err
			}
			return g.compare("dB", wantB, g.get(db))
		}})
	}
	gc = append(gc,
		gradCheck{"CausalSoftmaxBackward", func(g *grad) error {
			// L = Σ w ⊙ CausalSoftmax(x): dL/dx = CausalSoftmaxBackward(w, y),
			// in two sequences of two heads of 4×4 blocks.
			const t, rows, cols, scale = 4, 8, 8, 0.7
			xv, wv := g.vals(rows*cols, -2, 2), g.vals(rows*cols, -1, 1)
			x, y, w, dx := g.mat(rows, cols, xv), g.zeros(rows, cols), g.mat(rows, cols, wv), g.zeros(rows, cols)
			forward := func(xs []float64) float64 {
				g.set(x, xs)
				g.b.CausalSoftmax(y, x, t, scale)
				return dot(wv, g.get(y))
			}
			want := fd(forward, xv)
			forward(xv)
			g.b.CausalSoftmaxBackward(dx, w, y, t, scale)
			return g.compare("dx", want, g.get(dx))
		}},
		gradCheck{"GELUBackward", func(g *grad) error {
			// L = Σ w ⊙ GELU(x): dL/dx = GELUBackward(w, x).
			const rows, cols = 4, 6
			xv, wv := g.vals(rows*cols, -4, 4), g.vals(rows*cols, -1, 1)
			x, y, w, dx := g.mat(rows, cols, xv), g.zeros(rows, cols), g.mat(rows, cols, wv), g.zeros(rows, cols)
			want := fd(func(xs []float64) float64 {
				g.set(x, xs)
				g.b.GELU(y, x)
				return dot(wv, g.get(y))
			}, xv)
			g.set(x, xv)
			g.b.GELUBackward(dx, w, x)
			return g.compare("dx", want, g.get(dx))
		}},
		gradCheck{"GELUAndGrad", func(g *grad) error {
			// L = Σ w ⊙ GELU(x): dL/dx = w ⊙ d, d = GELUAndGrad's derivative.
			const rows, cols = 4, 6
			xv, wv := g.vals(rows*cols, -4, 4), g.vals(rows*cols, -1, 1)
			x, y, d := g.mat(rows, cols, xv), g.zeros(rows, cols), g.zeros(rows, cols)
			want := fd(func(xs []float64) float64 {
				g.set(x, xs)
				g.b.GELUAndGrad(y, d, x)
				return dot(wv, g.get(y))
			}, xv)
			g.set(x, xv)
			g.b.GELUAndGrad(y, d, x)
			got := g.get(d)
			for i := range got {
				got[i] *= wv[i]
			}
			return g.compare("w ⊙ d", want, got)
		}},
	)
	return gc
}
