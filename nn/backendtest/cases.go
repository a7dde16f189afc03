package backendtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gan/nn"
	"gan/nn/ref"
)

// Operand constructors for the table below.

// in is an input operand.
func in(name string, rows, cols int, g gen) arg {
	return arg{name: name, rows: rows, cols: cols, gen: g}
}

// out is an operand the op writes, starting from g's values.
func out(name string, rows, cols int, g gen, t tol) arg {
	return arg{name: name, rows: rows, cols: cols, gen: g, out: &t}
}

// absent is a zero Mat operand.
func absent(name string) arg { return arg{name: name, layout: zeroMat} }

// strided returns a as a strided column block.
func (a arg) strided() arg { a.layout = strided; return a }

// shapeName names a rows×cols shape.
func shapeName(rows, cols int) string { return fmt.Sprintf("%dx%d", rows, cols) }

// shapes are the element-wise ops' shapes: the awkward sizes 1, 7, 33, 127,
// 129, 1000 (vector widths, block sizes and pool splits fall unevenly) and
// the seed model's layer activations (64×784 images, 128×1024: D's widest
// layer on a real-and-fake batch).
var shapes = [][2]int{{1, 1}, {1, 7}, {7, 33}, {33, 1}, {127, 129}, {1000, 1}, {1, 1000}, {64, 784}, {128, 1024}}

// stridedShapes are the shapes of strided variants: column blocks whose rows
// do not follow each other.
var stridedShapes = [][2]int{{7, 33}, {129, 127}, {64, 784}}

// activations are every activation, LeakyReLU with three slopes.
var activations = []nn.Act{
	{Kind: nn.ActNone}, {Kind: nn.ActLeakyReLU, Slope: 0.2}, {Kind: nn.ActLeakyReLU, Slope: 0},
	{Kind: nn.ActLeakyReLU, Slope: 0.01}, {Kind: nn.ActTanh}, {Kind: nn.ActSigmoid},
}

// actTol is the tolerance of act applied once to float32 inputs.
func actTol(a nn.Act) tol {
	if a.Kind == nn.ActTanh || a.Kind == nn.ActSigmoid {
		return tolTranscendental
	}
	return tolExact
}

// cases returns the whole table, every op with every variant.
func cases() []*testCase {
	var cs []*testCase
	for _, f := range []func() []*testCase{
		matMulCases, biasCases, colSumCases, rowSumSqCases, activateCases, actBackwardCases,
		dropoutCases, lossCases, adamCases, copyFillCases, randCases, gatherScatterCases,
		axpbyMulCases, scaleRowsCases, mapCases, layerNormCases, batchNormCases, convCases, attentionCases,
	} {
		cs = append(cs, f()...)
	}
	return cs
}

// matMulTolerance is the allowed error of a float32 product with inner
// dimension k against the float64 reference, in units of
// 2⁻²⁴·(|op(A)|·|op(B)| + |beta|·|C|)ij:
//
//   - k ≥ 100: 0.1·k, docs/tolerances.md's statistical bound (llm.c, ggml and
//     PyTorch practice): rounding errors of a long sum grow like √k on
//     average, far below the worst case k, and 0.1·k holds with a wide
//     margin. Measured on the CPU backend (cpu.TestConformance, two
//     workers, run with -v to see the largest error of each op): at most
//     0.032·k for k ≥ 100 (127×127×127 with beta = 1), a third of the
//     bound.
//   - k < 100: k + 2, the worst case of recursive summation (k roundings
//     of products and partial sums, the beta product and the final add),
//     which short sums do reach: one correctly rounded product already errs
//     by up to 1 unit, and 1.0·k is measured at k = 1 (33×129×1 with
//     beta = 0.5), 0.13·k for 7 < k < 100.
//
// An indexing error is of order 2²⁴ units, far above either.
func matMulTolerance(k int) float64 {
	if k >= 100 {
		return 0.1 * float64(k)
	}
	return float64(k + 2)
}

// matMulUnits returns the kindBound units of C = op(A)·op(B) + beta·C:
// matMulTolerance(k)·(|op(A)|·|op(B)| + |beta|·|C0|), computed by the
// reference backend on the absolute values.
func matMulUnits(m, n, k int, transA, transB bool, beta float32) func(e *env) []float64 {
	return func(e *env) []float64 {
		rb := ref.New()
		abs := func(v []float64, rows, cols int) nn.Mat {
			x, err := rb.Alloc(rows, cols)
			if err != nil {
				panic(err)
			}
			a := make([]float64, len(v))
			for i, y := range v {
				a[i] = math.Abs(y)
			}
			if err := rb.Upload64(x, a); err != nil {
				panic(err)
			}
			return x
		}
		ar, ac, br, bc := m, k, k, n
		if transA {
			ar, ac = k, m
		}
		if transB {
			br, bc = n, k
		}
		c := abs(e.in[0], m, n)
		rb.MatMul(c, abs(e.in[1], ar, ac), abs(e.in[2], br, bc), transA, transB, float32(math.Abs(float64(beta))))
		u := make([]float64, m*n)
		if err := rb.Download64(u, c); err != nil {
			panic(err)
		}
		for i := range u {
			u[i] *= matMulTolerance(k)
		}
		return u
	}
}

// matMulCase is one product C (m×n) = op(A)·op(B) + beta·C.
func matMulCase(name string, m, n, k int, transA, transB bool, beta float32, lay layout) *testCase {
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
	t := tol{ref: checkBound(matMulUnits(m, n, k, transA, transB, beta)),
		// PyTorch's own CPU/GPU comparison (docs/tolerances.md): two correct
		// summation orders differ by up to ~8e-5 at k = 1024.
		pair: check{kind: kindClose, rtol: 1e-3, atol: 1e-3}}
	cArg, aArg, bArg := out("C", m, n, c0, t), in("A", ar, ac, uniform(-1, 1)), in("B", br, bc, uniform(-1, 1))
	cArg.layout, aArg.layout, bArg.layout = lay, lay, lay
	return &testCase{
		op:   "MatMul",
		name: fmt.Sprintf("%s/%dx%dx%d/tA=%v/tB=%v/beta=%v", name, m, n, k, transA, transB, beta),
		args: []arg{cArg, aArg, bArg},
		call: func(b nn.Backend, x []nn.Mat) { b.MatMul(x[0], x[1], x[2], transA, transB, beta) },
	}
}

func matMulCases() []*testCase {
	var cs []*testCase
	trans := [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}}
	// Every transpose combination and beta on awkward sizes (m, n, k),
	// including the matrix-vector shapes and an empty inner dimension
	// (C = beta·C).
	for _, s := range [][3]int{
		{1, 1, 1}, {7, 7, 7}, {33, 33, 33}, {127, 127, 127}, {129, 129, 129},
		{1, 129, 33}, {129, 1, 127}, {7, 33, 129}, {33, 129, 1}, {127, 7, 33},
		{129, 127, 7}, {1, 7, 129}, {129, 33, 1}, {7, 1, 1}, {1, 1, 129}, {200, 300, 5},
		{1000, 7, 33}, {3, 2, 0},
	} {
		for _, tr := range trans {
			for _, beta := range []float32{0, 1, 0.5} {
				cs = append(cs, matMulCase("awkward", s[0], s[1], s[2], tr[0], tr[1], beta, dense))
			}
		}
	}
	// Strided operands: column blocks of wider matrices as A, B and C.
	for _, s := range [][3]int{{7, 33, 129}, {129, 127, 7}, {1, 129, 33}, {129, 1, 127}, {64, 20, 400}} {
		for _, tr := range trans {
			cs = append(cs, matMulCase("strided", s[0], s[1], s[2], tr[0], tr[1], 0.5, strided))
		}
	}
	// The seed GAN's layers at batch 64, as a Linear layer multiplies:
	// y = x·Wᵀ, dx = dy·W, dW = dyᵀ·x. D's 784→1024 layer is G's last
	// one transposed and left out to keep the suite short.
	for _, l := range [][2]int{{100, 256}, {256, 512}, {512, 1024}, {1024, 784}, {1024, 512}, {512, 256}, {256, 1}} {
		const batch = 64
		in, o := l[0], l[1]
		name := fmt.Sprintf("seed %d→%d", in, o)
		cs = append(cs,
			matMulCase(name+" y", batch, o, in, false, true, 0, dense),
			matMulCase(name+" dx", batch, in, o, false, false, 0, dense),
			matMulCase(name+" dW", o, in, batch, true, false, 1, dense))
	}
	return cs
}

// biasActUnits bounds act(fl(y + b)) against act(y + b): the rounding of
// the sum, carried through the activation (whose slope is at most 1), and
// the rounding of the result, in units of 2⁻²⁴: 2·(|y + b| + |want|).
func biasActUnits(cols int) func(e *env) []float64 {
	return func(e *env) []float64 {
		u := make([]float64, len(e.want))
		for i, y := range e.in[0] {
			u[i] = 2 * (math.Abs(y+e.in[1][i%cols]) + math.Abs(e.want[i]))
		}
		return u
	}
}

func biasCases() []*testCase {
	var cs []*testCase
	for _, s := range shapes {
		rows, cols := s[0], s[1]
		sh := shapeName(rows, cols)
		// AddBias: one float32 addition.
		cs = append(cs, &testCase{
			op: "AddBias", name: sh,
			args: []arg{out("y", rows, cols, withSpecials(uniform(-3, 3), specials), tolExact),
				in("b", 1, cols, withSpecials(uniform(-1, 1), specials))},
			call: func(b nn.Backend, m []nn.Mat) { b.AddBias(m[0], m[1]) },
		})
		for _, a := range activations {
			// Without a bias: the activation alone, on every special.
			cs = append(cs, &testCase{
				op: "BiasAct", name: fmt.Sprintf("%s/%v/no bias", sh, a),
				args: []arg{out("y", rows, cols, withSpecials(uniform(-5, 5), specials), actTol(a)), absent("b")},
				call: func(b nn.Backend, m []nn.Mat) { b.BiasAct(m[0], m[1], a) },
			})
			// With a bias: fl(y + b), then the activation. The identity
			// and LeakyReLU on a positive sum are one rounding; a
			// negative sum times the slope is two roundings of the
			// result; tanh and sigmoid of a rounded sum carry that
			// rounding through (biasActUnits).
			t := tolExact
			switch a.Kind {
			case nn.ActLeakyReLU:
				t = tolRounded(rel(2))
			case nn.ActTanh, nn.ActSigmoid:
				t = tol{ref: checkBound(biasActUnits(cols)), pair: checkULP(2)}
			}
			cs = append(cs, &testCase{
				op: "BiasAct", name: fmt.Sprintf("%s/%v/bias", sh, a),
				args: []arg{out("y", rows, cols, withSpecials(uniform(-5, 5), boundedSpecials), t),
					in("b", 1, cols, withSpecials(uniform(-1, 1), boundedSpecials))},
				call: func(b nn.Backend, m []nn.Mat) { b.BiasAct(m[0], m[1], a) },
			})
		}
	}
	return cs
}

func colSumCases() []*testCase {
	var cs []*testCase
	for _, s := range append(shapes, [2]int{1000, 7}) {
		rows, cols := s[0], s[1]
		for _, beta := range []float32{0, 1, 0.5} {
			t, db0, dy := tolReduction, garbage, withSpecials(uniform(-1, 1), specials)
			if beta != 0 {
				// fl(beta·db) + float32(Σ dy): three roundings of
				// |beta·db| + |Σ dy| (the float64 sum's own error is far
				// smaller); two backends' sums may round a tie apart.
				units := func(e *env) []float64 {
					u := make([]float64, cols)
					for j := range u {
						var s float64
						for i := 0; i < rows; i++ {
							s += e.in[1][i*cols+j]
						}
						u[j] = 3 * (math.Abs(float64(beta)*e.in[0][j]) + math.Abs(s))
					}
					return u
				}
				t, db0, dy = tolBound(units), uniform(-1, 1), uniform(-1, 1)
			}
			cs = append(cs, &testCase{
				op: "ColSum", name: fmt.Sprintf("%s/beta=%v", shapeName(rows, cols), beta),
				args: []arg{out("db", 1, cols, db0, t), in("dy", rows, cols, dy)},
				call: func(b nn.Backend, m []nn.Mat) { b.ColSum(m[0], m[1], beta) },
			})
		}
	}
	return cs
}

func rowSumSqCases() []*testCase {
	var cs []*testCase
	for _, s := range shapes {
		rows, cols := s[0], s[1]
		cs = append(cs, &testCase{
			op: "RowSumSq", name: shapeName(rows, cols),
			args: []arg{out("dst", rows, 1, garbage, tolReduction), in("x", rows, cols, withSpecials(uniform(-3, 3), specials))},
			call: func(b nn.Backend, m []nn.Mat) { b.RowSumSq(m[0], m[1]) },
		})
	}
	return cs
}

func activateCases() []*testCase {
	var cs []*testCase
	for _, s := range shapes {
		rows, cols := s[0], s[1]
		for _, a := range activations {
			cs = append(cs, &testCase{
				op: "Activate", name: fmt.Sprintf("%s/%v", shapeName(rows, cols), a),
				args: []arg{out("y", rows, cols, garbage, actTol(a)), in("x", rows, cols, withSpecials(uniform(-5, 5), specials))},
				call: func(b nn.Backend, m []nn.Mat) { b.Activate(m[0], m[1], a) },
			})
		}
	}
	for _, a := range activations {
		cs = append(cs, &testCase{
			op: "Activate", name: fmt.Sprintf("in place/%v", a),
			args: []arg{out("x", 7, 33, withSpecials(uniform(-5, 5), specials), actTol(a))},
			call: func(b nn.Backend, m []nn.Mat) { b.Activate(m[0], m[0], a) },
		})
	}
	return cs
}

// actBackwardUnits bounds dy ⊙ act'(y) computed in float32 against the
// exact value, in units of 2⁻²⁴. Tanh, dy·(1 − y·y): the rounding of y·y
// is carried through the subtraction unscaled, then two more roundings of
// the result: |dy|·(2y² + 3|1 − y²|). Sigmoid, dy·(y·(1 − y)): three
// roundings of a product with no cancellation (1 − y is exact or rounded
// relative to itself): 4·|want|.
func actBackwardUnits(a nn.Act, dyArg, yArg int) func(e *env) []float64 {
	if a.Kind == nn.ActSigmoid {
		return rel(4)
	}
	return func(e *env) []float64 {
		u := make([]float64, len(e.want))
		for i, dy := range e.in[dyArg] {
			y := e.in[yArg][i]
			u[i] = math.Abs(dy) * (2*y*y + 3*math.Abs(1-y*y))
		}
		return u
	}
}

// actOutputs draws values of an activation's output y: anything for the
// identity and LeakyReLU, [−1, 1] for tanh and [0, 1] for sigmoid, with
// the specials where the derivative is defined.
func actOutputs(a nn.Act) gen {
	switch a.Kind {
	case nn.ActTanh:
		return withSpecials(uniform(-1, 1), []float32{0, negZero, 1, -1, 0.5, -0.5, subMin, -subMin, nan, inf, -inf})
	case nn.ActSigmoid:
		return withSpecials(uniform(0, 1), []float32{0, negZero, 1, 0.5, subMin, subMax, nan, inf})
	}
	return withSpecials(uniform(-2, 2), specials)
}

func actBackwardCases() []*testCase {
	var cs []*testCase
	for _, s := range shapes {
		rows, cols := s[0], s[1]
		for _, a := range activations {
			t := tolExact
			if a.Kind == nn.ActTanh || a.Kind == nn.ActSigmoid {
				t = tolRounded(actBackwardUnits(a, 1, 2))
			}
			cs = append(cs, &testCase{
				op: "ActBackward", name: fmt.Sprintf("%s/%v", shapeName(rows, cols), a),
				args: []arg{out("dx", rows, cols, garbage, t),
					in("dy", rows, cols, withSpecials(uniform(-1, 1), specials)), in("y", rows, cols, actOutputs(a))},
				call: func(b nn.Backend, m []nn.Mat) { b.ActBackward(m[0], m[1], m[2], a) },
			})
		}
	}
	for _, a := range activations {
		t := tolExact
		if a.Kind == nn.ActTanh || a.Kind == nn.ActSigmoid {
			t = tolRounded(actBackwardUnits(a, 0, 1))
		}
		cs = append(cs, &testCase{
			op: "ActBackward", name: fmt.Sprintf("in place/%v", a),
			args: []arg{out("dy", 7, 33, withSpecials(uniform(-1, 1), specials), t), in("y", 7, 33, actOutputs(a))},
			call: func(b nn.Backend, m []nn.Mat) { b.ActBackward(m[0], m[0], m[1], a) },
		})
	}
	return cs
}

func dropoutCases() []*testCase {
	var cs []*testCase
	key := nn.RandKey{Seed: 42, Stream: nn.StreamID(nn.PurposeDropout, 7)}
	for _, s := range shapes {
		rows, cols := s[0], s[1]
		for _, p := range []float32{0, 0.3, 0.5, 1} {
			// The mask is a decision and a float32 constant: exact. y =
			// x·mask is one rounding when 1/(1−p) is a power of two, else
			// two (the float32 mask, then the product) away from
			// x/(1−p).
			ty := tolExact
			if p == 0.3 {
				ty = tolRounded(rel(2))
			}
			cs = append(cs, &testCase{
				op: "Dropout", name: fmt.Sprintf("%s/p=%v", shapeName(rows, cols), p),
				args: []arg{out("y", rows, cols, garbage, ty), out("mask", rows, cols, garbage, tolExact),
					in("x", rows, cols, withSpecials(uniform(-1, 1), specials))},
				call: func(b nn.Backend, m []nn.Mat) { b.Dropout(m[0], m[1], m[2], p, key) },
			})
		}
		cs = append(cs, &testCase{
			op: "DropoutBackward", name: shapeName(rows, cols),
			args: []arg{out("dx", rows, cols, garbage, tolExact),
				in("dy", rows, cols, withSpecials(uniform(-1, 1), specials)), in("mask", rows, cols, dropoutMask(0.3))},
			call: func(b nn.Backend, m []nn.Mat) { b.DropoutBackward(m[0], m[1], m[2]) },
		})
	}
	cs = append(cs, &testCase{
		op: "DropoutBackward", name: "in place",
		args: []arg{out("dy", 7, 33, withSpecials(uniform(-1, 1), specials), tolExact), in("mask", 7, 33, dropoutMask(0.5))},
		call: func(b nn.Backend, m []nn.Mat) { b.DropoutBackward(m[0], m[0], m[1]) },
	})
	return cs
}

// bceLogits are logits up to ±100 (docs/tolerances.md: sigmoid-then-log gives +Inf
// from x ≈ 20), with the values where the stable form matters in front.
var bceLogits = withSpecials(uniform(-100, 100),
	[]float32{100, -100, 0, negZero, 20, -20, 1e-3, -1e-3, 40, -40, 88.7, -88.7, 99.99, 1e-30})

func lossCases() []*testCase {
	var cs []*testCase
	// SigmoidBCE: a discriminator's logit column, awkward sizes, and
	// matrices of several reduction chunks.
	for _, s := range [][2]int{{1, 1}, {7, 1}, {33, 1}, {128, 1}, {1000, 1}, {127, 129}, {64, 784}} {
		rows, cols := s[0], s[1]
		scale := 1 / float32(rows*cols)
		cs = append(cs, &testCase{
			op: "SigmoidBCE", name: shapeName(rows, cols),
			args: []arg{out("grad", rows, cols, garbage, tolLoss), out("stats", 1, 2, garbage, tolLoss),
				in("x", rows, cols, bceLogits), in("t", rows, cols, bceTargets)},
			call: func(b nn.Backend, m []nn.Mat) { b.SigmoidBCE(m[0], m[1], m[2], m[3], scale) },
		})
	}
	cs = append(cs, &testCase{
		op: "SigmoidBCE", name: "in place",
		args: []arg{out("x", 128, 1, bceLogits, tolLoss), out("stats", 1, 2, garbage, tolLoss), in("t", 128, 1, bceTargets)},
		call: func(b nn.Backend, m []nn.Mat) { b.SigmoidBCE(m[0], m[1], m[0], m[2], 0.5) },
	})

	// Softmax: computed in float64 on the CPU; the documentation leaves
	// the precision open, so the reference allows 4 roundings relative to
	// each probability (a float32 exp and division) and two backends
	// docs/tolerances.md's loss tolerance.
	smTol := tol{ref: checkBound(rel(4)), pair: checkLoss}
	smIn := func(r *rand.Rand, rows, cols int) []float32 {
		v := uniform(-30, 30)(r, rows, cols)
		v[0] = 1000 // the max subtraction keeps this finite
		return v
	}
	for _, s := range [][2]int{{1, 1}, {1, 7}, {7, 33}, {33, 1}, {127, 129}, {1, 1000}, {1000, 10}, {64, 784}, {128, 1024}} {
		rows, cols := s[0], s[1]
		cs = append(cs, &testCase{
			op: "Softmax", name: shapeName(rows, cols),
			args: []arg{out("y", rows, cols, garbage, smTol), in("x", rows, cols, smIn)},
			call: func(b nn.Backend, m []nn.Mat) { b.Softmax(m[0], m[1]) },
		})
	}
	cs = append(cs, &testCase{
		op: "Softmax", name: "in place",
		args: []arg{out("x", 33, 10, smIn, smTol)},
		call: func(b nn.Backend, m []nn.Mat) { b.Softmax(m[0], m[0]) },
	})

	// SoftmaxCE: classifier shapes, one row, a row wider than a reduction
	// chunk, and several chunks of rows.
	for _, s := range [][2]int{{1, 1}, {1, 10}, {7, 5}, {33, 10}, {128, 10}, {1000, 10}, {3, 5000}, {127, 129}} {
		rows, cols := s[0], s[1]
		scale := 1 / float32(rows)
		cs = append(cs, &testCase{
			op: "SoftmaxCE", name: shapeName(rows, cols),
			args: []arg{out("grad", rows, cols, garbage, tolLoss), out("stats", 1, 2, garbage, tolLoss),
				in("x", rows, cols, logits), in("t", rows, cols, targets)},
			call: func(b nn.Backend, m []nn.Mat) { b.SoftmaxCE(m[0], m[1], m[2], m[3], scale) },
		})
	}
	cs = append(cs, &testCase{
		op: "SoftmaxCE", name: "in place",
		args: []arg{out("x", 33, 10, logits, tolLoss), out("stats", 1, 2, garbage, tolLoss), in("t", 33, 10, targets)},
		call: func(b nn.Backend, m []nn.Mat) { b.SoftmaxCE(m[0], m[1], m[0], m[2], 1.0/33) },
	})
	return cs
}

func adamCases() []*testCase {
	var cs []*testCase
	grads := withSpecials(uniform(-1, 1), []float32{0, negZero, 1e-12, -1e-12, 1, -1, 1e-8, 3e-9, 100, -100, 1e-30, subMin})
	for _, s := range [][2]int{{1, 1}, {1, 7}, {7, 33}, {1, 1000}, {64, 784}, {1, 100003}} {
		rows, cols := s[0], s[1]
		for _, step := range []int{1, 10, 1000} {
			st := nn.AdamStep{LR: 2e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: step}
			m0, v0 := uniform(-0.01, 0.01), uniform(0, 1e-4)
			if step == 1 {
				m0, v0 = nil, nil // zero moments, as at the first step
			}
			w1 := 1 - float64(st.Beta1)
			// m = m + w1·(g − m): the subtraction, the product, the
			// float32 weight w1 and the sum each round once.
			mUnits := func(e *env) []float64 {
				u := make([]float64, len(e.want))
				for i, g := range e.in[1] {
					m := e.in[2][i]
					u[i] = 4*w1*math.Abs(g-m) + 2*math.Abs(e.want[i])
				}
				return u
			}
			cs = append(cs, &testCase{
				op: "Adam", name: fmt.Sprintf("%s/step=%d", shapeName(rows, cols), step),
				args: []arg{
					// docs/tolerances.md: the parameter within atol 1e-7 + rtol 1e-6
					// after a step; between two backends the same float32
					// formula gives the same bits.
					out("p", rows, cols, uniform(-1, 1), tol{ref: check{kind: kindClose, rtol: 1e-6, atol: 1e-7}, pair: checkExact}),
					in("g", rows, cols, grads),
					out("m", rows, cols, m0, tolRounded(mUnits)),
					// v = v·β2 + (w2·g)·g: sums and products of
					// non-negative terms, five roundings with w2's.
					out("v", rows, cols, v0, tolRounded(rel(6))),
				},
				call: func(b nn.Backend, m []nn.Mat) { b.Adam(m[0], m[1], m[2], m[3], st) },
			})
		}
	}
	return cs
}

func copyFillCases() []*testCase {
	var cs []*testCase
	src := withSpecials(uniform(-1, 1), specials)
	for _, s := range shapes {
		rows, cols := s[0], s[1]
		sh := shapeName(rows, cols)
		cs = append(cs, &testCase{
			op: "Copy", name: sh,
			args: []arg{out("dst", rows, cols, garbage, tolExact), in("src", rows, cols, src)},
			call: func(b nn.Backend, m []nn.Mat) { b.Copy(m[0], m[1]) },
		})
		for _, v := range []float32{0, negZero, 2.5, nan, -inf, -1e-30} {
			cs = append(cs, &testCase{
				op: "Fill", name: fmt.Sprintf("%s/%v", sh, v),
				args: []arg{out("dst", rows, cols, uniform(-1, 1), tolExact)},
				call: func(b nn.Backend, m []nn.Mat) { b.Fill(m[0], v) },
			})
		}
	}
	// Contiguous copies may reshape.
	for _, s := range [][4]int{{4, 6, 6, 4}, {784, 64, 64, 784}, {1, 1000, 1000, 1}} {
		cs = append(cs, &testCase{
			op: "Copy", name: fmt.Sprintf("reshape %s to %s", shapeName(s[2], s[3]), shapeName(s[0], s[1])),
			args: []arg{out("dst", s[0], s[1], garbage, tolExact), in("src", s[2], s[3], src)},
			call: func(b nn.Backend, m []nn.Mat) { b.Copy(m[0], m[1]) },
		})
	}
	// Strided copies: either side or both.
	for _, s := range stridedShapes {
		rows, cols := s[0], s[1]
		for _, l := range [][2]layout{{strided, strided}, {dense, strided}, {strided, dense}} {
			d, sr := out("dst", rows, cols, garbage, tolExact), in("src", rows, cols, src)
			d.layout, sr.layout = l[0], l[1]
			cs = append(cs, &testCase{
				op: "Copy", name: fmt.Sprintf("%s/strided dst=%v src=%v", shapeName(rows, cols), l[0] == strided, l[1] == strided),
				args: []arg{d, sr},
				call: func(b nn.Backend, m []nn.Mat) { b.Copy(m[0], m[1]) },
			})
		}
	}
	return cs
}

func randCases() []*testCase {
	var cs []*testCase
	key := nn.RandKey{Seed: 0x0123456789abcdef, Stream: nn.StreamID(nn.PurposeInit, 3)}
	for _, s := range shapes {
		rows, cols := s[0], s[1]
		for _, r := range [][2]float32{{0, 1}, {-1, 1}, {-0.0625, 0.3}, {-3, 5}} {
			lo, hi := r[0], r[1]
			// lo + fl(fl(hi − lo)·u): three roundings of |lo| + |hi − lo|
			// (u is an exact float32 draw).
			units := func(e *env) []float64 {
				u := make([]float64, len(e.want))
				for i := range u {
					u[i] = 3 * (math.Abs(float64(lo)) + math.Abs(float64(hi)-float64(lo)))
				}
				return u
			}
			t := tolRounded(units)
			if (lo == 0 || lo == -1) && hi == 1 {
				// lo + 2^e·u is exact for the shared generator's draws
				// (multiples of 2⁻²⁴ in [0, 1)): the backend must give
				// nn.RandKey.Uniform's bits, as the reference does.
				t = tolExact
			}
			cs = append(cs, &testCase{
				op: "RandUniform", name: fmt.Sprintf("%s/[%v,%v)", shapeName(rows, cols), lo, hi),
				args: []arg{out("dst", rows, cols, garbage, t)},
				call: func(b nn.Backend, m []nn.Mat) { b.RandUniform(m[0], lo, hi, key) },
			})
		}
		for _, r := range [][2]float32{{0, 1}, {0, 0.125}, {0.5, 0.02}, {-3, 2.5}} {
			mean, std := r[0], r[1]
			// mean + fl(std·z): two roundings of |mean| + |std·z| (z is
			// the shared generator's float32 draw).
			units := func(e *env) []float64 {
				u := make([]float64, len(e.want))
				for i := range u {
					u[i] = 2 * (math.Abs(float64(mean)) + math.Abs(float64(std)*float64(key.Normal(uint64(i)))))
				}
				return u
			}
			t := tolRounded(units)
			if mean == 0 {
				// 0 + std·z with std a power of two is exact: the backend
				// must give nn.RandKey.Normal's bits, scaled.
				t = tolExact
			}
			cs = append(cs, &testCase{
				op: "RandNormal", name: fmt.Sprintf("%s/N(%v,%v)", shapeName(rows, cols), mean, std),
				args: []arg{out("dst", rows, cols, garbage, t)},
				call: func(b nn.Backend, m []nn.Mat) { b.RandNormal(m[0], mean, std, key) },
			})
		}
	}
	return cs
}

// indices returns n row indices in [0, rows), with repeats, seeded by seed.
func indices(n, rows int, seed uint64) []int32 {
	r := rand.New(rand.NewPCG(seed, 77))
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(r.IntN(rows))
	}
	return idx
}

func gatherScatterCases() []*testCase {
	var cs []*testCase
	// GatherRows: dst rows, src rows, width. Three indices more than dst
	// has rows: they must be ignored (they are out of range).
	for k, s := range [][3]int{{2, 5, 3}, {64, 1000, 784}, {33, 7, 33}, {1, 129, 127}, {128, 10, 1}} {
		rows, srcRows, cols := s[0], s[1], s[2]
		idx := append(indices(rows, srcRows, uint64(k)), -1, int32(srcRows), 1<<30)
		cs = append(cs, &testCase{
			op: "GatherRows", name: fmt.Sprintf("%d rows of %s", rows, shapeName(srcRows, cols)),
			args: []arg{out("dst", rows, cols, garbage, tolExact), in("src", srcRows, cols, withSpecials(uniform(-1, 1), specials))},
			call: func(b nn.Backend, m []nn.Mat) { b.GatherRows(m[0], m[1], idx) },
		})
	}
	// ScatterAddRows: dst rows, src rows, width; the last shape sends every
	// row to row 0.
	for k, s := range [][3]int{{5, 8, 3}, {1000, 128, 64}, {7, 129, 33}, {64, 64, 784}, {1, 33, 7}} {
		dstRows, srcRows, cols := s[0], s[1], s[2]
		idx := append(indices(srcRows, dstRows, uint64(100+k)), -1, int32(dstRows))
		for _, beta := range []float32{0, 1, 0.5} {
			// Each element is fl(beta·dst) plus its rows in order, one
			// float32 addition each: (adds + 1) roundings of the sum of
			// the magnitudes.
			units := func(e *env) []float64 {
				u := make([]float64, len(e.want))
				cnt := make([]float64, dstRows)
				for i := range u {
					if beta != 0 {
						u[i] = math.Abs(float64(beta) * e.in[0][i])
					}
				}
				for i, r := range idx[:srcRows] {
					cnt[r]++
					for j := 0; j < cols; j++ {
						u[int(r)*cols+j] += math.Abs(e.in[1][i*cols+j])
					}
				}
				for i := range u {
					u[i] *= cnt[i/cols] + 1
				}
				return u
			}
			dst0 := uniform(-1, 1)
			if beta == 0 {
				dst0 = garbage
			}
			cs = append(cs, &testCase{
				op: "ScatterAddRows", name: fmt.Sprintf("%s into %s/beta=%v", shapeName(srcRows, cols), shapeName(dstRows, cols), beta),
				args: []arg{out("dst", dstRows, cols, dst0, tolRounded(units)), in("src", srcRows, cols, uniform(-1, 1))},
				call: func(b nn.Backend, m []nn.Mat) { b.ScatterAddRows(m[0], m[1], idx, beta) },
			})
		}
	}
	return cs
}

// axpbyUnits bounds fl(fl(alpha·a) + fl(beta·b)) against alpha·a + beta·b:
// three roundings of |alpha·a| + |beta·b|.
func axpbyUnits(alpha, beta float32, aArg, bArg int) func(e *env) []float64 {
	return func(e *env) []float64 {
		u := make([]float64, len(e.want))
		for i := range u {
			u[i] = math.Abs(float64(alpha) * e.in[aArg][i])
			if beta != 0 {
				u[i] += math.Abs(float64(beta) * e.in[bArg][i])
			}
			u[i] *= 3
		}
		return u
	}
}

func axpbyMulCases() []*testCase {
	var cs []*testCase
	type variant struct {
		shape [2]int
		lay   layout
	}
	var vs []variant
	for _, s := range shapes {
		vs = append(vs, variant{s, dense})
	}
	for _, s := range stridedShapes {
		vs = append(vs, variant{s, strided})
	}
	for _, v := range vs {
		rows, cols := v.shape[0], v.shape[1]
		sh := shapeName(rows, cols)
		if v.lay == strided {
			sh += "/strided"
		}
		set := func(as ...arg) []arg {
			for i := range as {
				if as[i].layout != zeroMat {
					as[i].layout = v.lay
				}
			}
			return as
		}
		// |alpha|, |beta| ≤ 1 keep every product finite, so all specials
		// may go in; larger weights get finite values only.
		for _, ab := range [][2]float32{{1, 1}, {1, -1}, {-0.3, 0.7}, {1.5, -2}} {
			alpha, beta := ab[0], ab[1]
			g := withSpecials(uniform(-1, 1), specials)
			if math.Abs(float64(alpha)) > 1 || math.Abs(float64(beta)) > 1 {
				g = uniform(-1000, 1000)
			}
			cs = append(cs, &testCase{
				op: "Axpby", name: fmt.Sprintf("%s/%v·a%+v·b", sh, alpha, beta),
				args: set(out("y", rows, cols, garbage, tolRounded(axpbyUnits(alpha, beta, 1, 2))),
					in("a", rows, cols, g), in("b", rows, cols, withSpecials(uniform(-1, 1), boundedSpecials))),
				call: func(b nn.Backend, m []nn.Mat) { b.Axpby(m[0], m[1], m[2], alpha, beta) },
			})
		}
		// beta = 0: b is not read, whether absent or full of NaN.
		cs = append(cs, &testCase{
			op: "Axpby", name: sh + "/2.5·a, b absent",
			args: set(out("y", rows, cols, garbage, tolExact), in("a", rows, cols, withSpecials(uniform(-1, 1), specials)), absent("b")),
			call: func(b nn.Backend, m []nn.Mat) { b.Axpby(m[0], m[1], m[2], 2.5, 0) },
		}, &testCase{
			op: "Axpby", name: sh + "/-0.5·a, b NaN",
			args: set(out("y", rows, cols, garbage, tolExact), in("a", rows, cols, withSpecials(uniform(-1, 1), specials)),
				in("b", rows, cols, garbage)),
			call: func(b nn.Backend, m []nn.Mat) { b.Axpby(m[0], m[1], m[2], -0.5, 0) },
		})
		cs = append(cs, &testCase{
			op: "Mul", name: sh,
			args: set(out("y", rows, cols, garbage, tolExact), in("a", rows, cols, withSpecials(uniform(-3, 3), specials)),
				in("b", rows, cols, withSpecials(uniform(-3, 3), slices.Concat(specials[len(specials)/2:], specials)))),
			call: func(b nn.Backend, m []nn.Mat) { b.Mul(m[0], m[1], m[2]) },
		})
	}
	// In place: y is a, or y is b.
	for _, l := range []layout{dense, strided} {
		name := "in place"
		if l == strided {
			name += "/strided"
		}
		y := out("y", 33, 7, withSpecials(uniform(-1, 1), specials), tolRounded(axpbyUnits(0.75, -1, 0, 1)))
		o := in("b", 33, 7, withSpecials(uniform(-1, 1), boundedSpecials))
		y.layout, o.layout = l, l
		cs = append(cs, &testCase{
			op: "Axpby", name: name + "/y=a",
			args: []arg{y, o},
			call: func(b nn.Backend, m []nn.Mat) { b.Axpby(m[0], m[0], m[1], 0.75, -1) },
		})
		y2 := y
		y2.out = ptr(tolRounded(axpbyUnits(0.75, -1, 1, 0)))
		cs = append(cs, &testCase{
			op: "Axpby", name: name + "/y=b",
			args: []arg{y2, o},
			call: func(b nn.Backend, m []nn.Mat) { b.Axpby(m[0], m[1], m[0], 0.75, -1) },
		})
		y3 := y
		y3.out = ptr(tolExact)
		cs = append(cs, &testCase{
			op: "Mul", name: name,
			args: []arg{y3, o},
			call: func(b nn.Backend, m []nn.Mat) { b.Mul(m[0], m[1], m[0]) },
		})
	}
	return cs
}

// ptr returns a pointer to a copy of t.
func ptr(t tol) *tol { return &t }

func scaleRowsCases() []*testCase {
	var cs []*testCase
	x := withSpecials(uniform(-3, 3), specials)
	s := withSpecials(uniform(-2, 2), specials)
	for _, sh := range shapes {
		rows, cols := sh[0], sh[1]
		cs = append(cs, &testCase{
			op: "ScaleRows", name: shapeName(rows, cols),
			args: []arg{out("y", rows, cols, garbage, tolExact), in("x", rows, cols, x), in("s", rows, 1, s)},
			call: func(b nn.Backend, m []nn.Mat) { b.ScaleRows(m[0], m[1], m[2]) },
		})
	}
	for _, sh := range stridedShapes {
		rows, cols := sh[0], sh[1]
		cs = append(cs, &testCase{
			op: "ScaleRows", name: shapeName(rows, cols) + "/strided",
			args: []arg{out("y", rows, cols, garbage, tolExact).strided(), in("x", rows, cols, x).strided(),
				in("s", rows, 1, s).strided()},
			call: func(b nn.Backend, m []nn.Mat) { b.ScaleRows(m[0], m[1], m[2]) },
		})
	}
	cs = append(cs, &testCase{
		op: "ScaleRows", name: "in place",
		args: []arg{out("x", 33, 7, x, tolExact), in("s", 33, 1, s)},
		call: func(b nn.Backend, m []nn.Mat) { b.ScaleRows(m[0], m[0], m[1]) },
	})
	return cs
}

func mapCases() []*testCase {
	var cs []*testCase
	expIn := withSpecials(uniform(-100, 100),
		[]float32{88.72, 88.73, -103.97, -104, 0, negZero, inf, -inf, nan, subMin, 1, -1, 1e-30})
	fns := []struct {
		f   nn.MapFn
		c   float32
		in  gen
		tol tol
	}{
		{nn.MapScale, 2.5, withSpecials(uniform(-3, 3), specials), tolExact},
		{nn.MapScale, -0.5, withSpecials(uniform(-3, 3), specials), tolExact},
		{nn.MapAddConst, -1.25, withSpecials(uniform(-3, 3), specials), tolExact},
		{nn.MapSquare, 0, withSpecials(uniform(-3, 3), specials), tolExact},
		{nn.MapSqrt, 0, withSpecials(uniform(0, 100), specials), tolExact},
		{nn.MapRecip, 0, withSpecials(uniform(-3, 3), specials), tolExact},
		{nn.MapExp, 0, expIn, tolTranscendental},
		{nn.MapLog, 0, withSpecials(uniform(0, 100), specials), tolTranscendental},
	}
	for _, f := range fns {
		for _, sh := range shapes {
			rows, cols := sh[0], sh[1]
			cs = append(cs, &testCase{
				op: "Map", name: fmt.Sprintf("%v(%v)/%s", f.f, f.c, shapeName(rows, cols)),
				args: []arg{out("y", rows, cols, garbage, f.tol), in("x", rows, cols, f.in)},
				call: func(b nn.Backend, m []nn.Mat) { b.Map(m[0], m[1], f.f, f.c) },
			})
		}
		for _, sh := range stridedShapes {
			rows, cols := sh[0], sh[1]
			cs = append(cs, &testCase{
				op: "Map", name: fmt.Sprintf("%v(%v)/%s/strided", f.f, f.c, shapeName(rows, cols)),
				args: []arg{out("y", rows, cols, garbage, f.tol).strided(), in("x", rows, cols, f.in).strided()},
				call: func(b nn.Backend, m []nn.Mat) { b.Map(m[0], m[1], f.f, f.c) },
			})
		}
		cs = append(cs, &testCase{
			op: "Map", name: fmt.Sprintf("%v(%v)/in place", f.f, f.c),
			args: []arg{out("x", 33, 7, f.in, f.tol).strided()},
			call: func(b nn.Backend, m []nn.Mat) { b.Map(m[0], m[0], f.f, f.c) },
		})
	}
	return cs
}

// rowStats returns the mean and 1/√(σ² + eps) of each row of the m×n x, in
// float64, two passes, as LayerNorm documents them.
func rowStats(x []float64, rows, cols int, eps float64) (mu, r []float64) {
	mu, r = make([]float64, rows), make([]float64, rows)
	for i := 0; i < rows; i++ {
		row := x[i*cols : (i+1)*cols]
		var s, q float64
		for _, v := range row {
			s += v
		}
		mu[i] = s / float64(cols)
		for _, v := range row {
			q += (v - mu[i]) * (v - mu[i])
		}
		r[i] = 1 / math.Sqrt(q/float64(cols)+eps)
	}
	return mu, r
}

// layerNormUnits bounds LayerNorm's y = fl(fl(fl(fl(x − μ)·r)·γ) + β), with
// μ and r rounded to float32, against (x − μ)·r·γ + β: the rounding of μ
// carried through (|μ|·r·|γ|), the roundings of x − μ, of r and of the two
// products (|x − μ|·r·|γ| each), and of the sum (|β|), doubled for the
// other backend's μ and r in a comparison of two.
func layerNormUnits(rows, cols, xArg, gArg, bArg int) func(e *env) []float64 {
	return func(e *env) []float64 {
		mu, r := rowStats(e.in[xArg], rows, cols, 1e-5)
		u := make([]float64, rows*cols)
		for i := range u {
			row, j := i/cols, i%cols
			g, bt := 1.0, 0.0
			if gArg >= 0 {
				g = math.Abs(e.in[gArg][j])
			}
			if bArg >= 0 {
				bt = math.Abs(e.in[bArg][j])
			}
			u[i] = 2 * (r[row]*g*(math.Abs(mu[row])+5*math.Abs(e.in[xArg][i]-mu[row])) + bt)
		}
		return u
	}
}

func layerNormCases() []*testCase {
	var cs []*testCase
	const eps = 1e-5
	lnShapes := [][2]int{{1, 1}, {1, 7}, {7, 33}, {33, 1}, {127, 129}, {64, 784}, {128, 1024}, {4, 1000}}
	for _, sh := range lnShapes {
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
				op: "LayerNorm", name: fmt.Sprintf("%s/%s", shapeName(rows, cols), aff.name),
				args: []arg{out("y", rows, cols, garbage, tolBound(layerNormUnits(rows, cols, 3, gArg, bArg))),
					out("mean", rows, 1, garbage, tolReduction), out("rstd", rows, 1, garbage, tolReduction),
					in("x", rows, cols, layerNormRows), gamma, beta},
				call: func(b nn.Backend, m []nn.Mat) { b.LayerNorm(m[0], m[1], m[2], m[3], m[4], m[5], eps) },
			})
		}
		cs = append(cs, layerNormBackwardCases(rows, cols)...)
	}
	cs = append(cs, &testCase{
		op: "LayerNorm", name: "in place",
		args: []arg{out("x", 33, 40, layerNormRows, tolBound(layerNormUnits(33, 40, 0, 3, 4))),
			out("mean", 33, 1, garbage, tolReduction), out("rstd", 33, 1, garbage, tolReduction),
			in("gamma", 1, 40, uniform(0.5, 1.5)), in("beta", 1, 40, uniform(-1, 1))},
		call: func(b nn.Backend, m []nn.Mat) { b.LayerNorm(m[0], m[1], m[2], m[0], m[3], m[4], eps) },
	})
	return cs
}

// layerNormBackwardCases are LayerNormBackward's cases for one shape. The
// mean and rstd operands are those of a forward pass over x (drawn by x's
// generator, so they belong to the x of the same case).
func layerNormBackwardCases(rows, cols int) []*testCase {
	var cs []*testCase
	for _, v := range []struct {
		name          string
		gamma, params bool
	}{{"gamma, param grads", true, true}, {"no gamma, param grads", false, true}, {"gamma, no param grads", true, false}} {
		var x []float32 // the last x drawn, for the statistics
		xGen := func(r *rand.Rand, rows, cols int) []float32 {
			x = layerNormRows(r, rows, cols)
			return x
		}
		stat := func(which int) gen {
			return func(r *rand.Rand, rows, _ int) []float32 {
				mu, rs := rowStats(widen(x), rows, cols, 1e-5)
				return narrow([][]float64{mu, rs}[which])
			}
		}
		const (
			dxArg, dgArg, dbArg, dyArg, xArg, meanArg, rstdArg, gArg = 0, 1, 2, 3, 4, 5, 6, 7
		)
		// dx = float32(r·((g − a) − x̂·c)) against the exact value: g and
		// x̂ are one and two float32 roundings, a = mean(g) and c =
		// mean(g·x̂) inherit them (|c| by up to three roundings of
		// mean|g·x̂|, which cancellation does not shrink), and the result
		// is rounded once.
		dxUnits := func(e *env) []float64 {
			u := make([]float64, rows*cols)
			for i := 0; i < rows; i++ {
				mu, r := e.in[meanArg][i], e.in[rstdArg][i]
				g := make([]float64, cols)
				xh := make([]float64, cols)
				var mg, mgx, c float64
				for j := range g {
					g[j] = e.in[dyArg][i*cols+j]
					if v.gamma {
						g[j] *= e.in[gArg][j]
					}
					xh[j] = (e.in[xArg][i*cols+j] - mu) * r
					mg += math.Abs(g[j]) / float64(cols)
					mgx += math.Abs(g[j]*xh[j]) / float64(cols)
					c += g[j] * xh[j] / float64(cols)
				}
				for j := range g {
					u[i*cols+j] = 2 * (r*(math.Abs(g[j])+mg+math.Abs(xh[j])*(3*mgx+2*math.Abs(c))) + math.Abs(e.want[i*cols+j]))
				}
			}
			return u
		}
		// dgamma = Σ dy·x̂: x̂'s two roundings and the final one, relative
		// to Σ|dy·x̂|.
		dgUnits := func(e *env) []float64 {
			u := make([]float64, cols)
			for i := 0; i < rows; i++ {
				mu, r := e.in[meanArg][i], e.in[rstdArg][i]
				for j := range u {
					u[j] += 3 * math.Abs(e.in[dyArg][i*cols+j]*(e.in[xArg][i*cols+j]-mu)*r)
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
		cs = append(cs, &testCase{
			op: "LayerNormBackward", name: fmt.Sprintf("%s/%s", shapeName(rows, cols), v.name),
			args: []arg{out("dx", rows, cols, garbage, tolBound(dxUnits)), dg, db,
				in("dy", rows, cols, uniform(-1, 1)), in("x", rows, cols, xGen),
				in("mean", rows, 1, stat(0)), in("rstd", rows, 1, stat(1)), gamma},
			call: func(b nn.Backend, m []nn.Mat) { b.LayerNormBackward(m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]) },
		})
	}
	return cs
}
