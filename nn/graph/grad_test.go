package graph_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/ref"
)

// The gradient checks run every graph on the float64 reference backend
// (package ref), so that a central difference with step h = 1e-5 is
// accurate to about h²·|f”'| + 2⁻⁵³·|f|/h ≈ 1e-10 relative: far below the
// 1e-6 that the checks allow, and far above nothing an indexing or
// sign mistake would produce (errors of order 1). The worst error seen is
// logged; at the time of writing it is below 1e-8 for every case.
const (
	fdStep = 1e-5
	fdTol  = 1e-6
)

// fdCase is one graph to differentiate: build maps the inputs to a tensor,
// which the harness turns into the scalar L = Σ out ⊙ w with random
// weights w (or uses as L directly when scalar is set), and checks
// ∂L/∂x for each of the first len(shapes)−fixed inputs against central
// differences.
type fdCase struct {
	name   string
	shapes []graph.Shape
	// fixed is the number of trailing inputs not differentiated (targets).
	fixed int
	// positive draws inputs in [0.5, 2] (for log, sqrt, recip); targets
	// are drawn in [0, 1].
	positive bool
	// scalar uses build's output as the loss (it must be a scalar), which
	// exercises the constant upstream gradient path of fused losses.
	scalar bool
	// distribution normalises each row of the targets to sum to 1.
	distribution bool
	// index, when not nil, are the values of the case's one index vector.
	index []int32
	build func(g *graph.Graph, x []*graph.Node, ix *graph.Index) *graph.Node
}

// draw returns n values for input i of c: away from 0 by at least 0.05 so
// that no finite difference straddles a kink of LeakyReLU.
func (c fdCase) draw(rng *rand.Rand, i, n int) []float64 {
	v := make([]float64, n)
	for j := range v {
		switch {
		case i >= len(c.shapes)-c.fixed:
			v[j] = rng.Float64()
		case c.positive:
			v[j] = 0.5 + 1.5*rng.Float64()
		default:
			x := 2*rng.Float64() - 1
			if math.Abs(x) < 0.05 {
				x = math.Copysign(0.05+x*x, x)
			}
			v[j] = x
		}
	}
	return v
}

// fdHarness compiles a scalar L of some inputs on the reference backend and
// evaluates it and its gradients.
type fdHarness struct {
	t    *testing.T
	b    *ref.Backend
	prog *graph.Program
	loss *graph.Node
	seed uint64
}

// lossValue runs the program and returns L in float64.
func (h *fdHarness) lossValue() float64 {
	h.t.Helper()
	require.NoError(h.t, h.prog.Run(h.seed, 3))
	var v [1]float64
	require.NoError(h.t, h.b.Download64(v[:], h.prog.Mat(h.loss)))
	return v[0]
}

// download64 reads m in float64.
func download64(t *testing.T, b *ref.Backend, m nn.Mat) []float64 {
	t.Helper()
	v := make([]float64, m.Rows*m.Cols)
	require.NoError(t, b.Download64(v, m))
	return v
}

// checkAgainstFD compares the analytic gradient grad of L with respect to
// the values held in m (float64 storage of the reference backend) with
// central differences, element by element, and returns the largest error
// relative to max(1, the largest gradient element).
func (h *fdHarness) checkAgainstFD(name string, m nn.Mat, grad []float64) float64 {
	t := h.t
	t.Helper()
	vals := download64(t, h.b, m)
	require.Len(t, grad, len(vals), name)
	scale := 1.0
	for _, g := range grad {
		scale = math.Max(scale, math.Abs(g))
	}
	worst := 0.0
	for j := range vals {
		orig := vals[j]
		vals[j] = orig + fdStep
		require.NoError(t, h.b.Upload64(m, vals))
		up := h.lossValue()
		vals[j] = orig - fdStep
		require.NoError(t, h.b.Upload64(m, vals))
		down := h.lossValue()
		vals[j] = orig
		require.NoError(t, h.b.Upload64(m, vals))
		fd := (up - down) / (2 * fdStep)
		e := math.Abs(fd-grad[j]) / scale
		if !(e <= fdTol) { // NaN fails too
			require.Failf(t, "gradient differs from finite differences", "%s[%d]: analytic %v, finite difference %v", name, j, grad[j], fd)
		}
		worst = math.Max(worst, e)
	}
	return worst
}

// run builds, compiles and checks one case.
func (c fdCase) run(t *testing.T) float64 {
	rng := rand.New(rand.NewPCG(7, uint64(len(c.name))))
	b := ref.New()
	g := graph.New()
	xs := make([]*graph.Node, len(c.shapes))
	for i, s := range c.shapes {
		xs[i] = g.Input(fmt.Sprintf("x%d", i), s)
	}
	var ix *graph.Index
	if c.index != nil {
		ix = g.Indices("ix", len(c.index))
	}
	out := c.build(g, xs, ix)
	var w *graph.Node
	loss := out
	if !c.scalar {
		w = g.Input("w", out.Shape())
		loss = g.Sum(g.Mul(out, w))
	}
	diff := xs[:len(xs)-c.fixed]
	grads := g.Grad(loss, diff...)
	for i := range grads {
		grads[i] = g.Copy(grads[i]) // contiguous, for Download64
	}
	g.Output(loss)
	g.Output(grads...)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()

	mats := make([]nn.Mat, len(xs))
	for i, s := range c.shapes {
		r, cols := s.Mat()
		m, err := b.Alloc(r, cols)
		require.NoError(t, err)
		defer b.Free(m)
		v := c.draw(rng, i, r*cols)
		if c.distribution && i >= len(xs)-c.fixed {
			for row := range r {
				sum := 0.0
				for _, e := range v[row*cols : (row+1)*cols] {
					sum += e
				}
				for j := range cols {
					v[row*cols+j] /= sum
				}
			}
		}
		require.NoError(t, b.Upload64(m, v))
		require.NoError(t, prog.Bind(xs[i], m))
		mats[i] = m
	}
	if w != nil {
		r, cols := w.Shape().Mat()
		m, err := b.Alloc(r, cols)
		require.NoError(t, err)
		defer b.Free(m)
		require.NoError(t, b.Upload64(m, fdCase{shapes: []graph.Shape{nil}}.draw(rng, 0, r*cols)))
		require.NoError(t, prog.Bind(w, m))
	}
	if ix != nil {
		require.NoError(t, prog.SetIndices(ix, c.index))
	}
	h := &fdHarness{t: t, b: b, prog: prog, loss: loss, seed: 11}
	h.lossValue()
	analytic := make([][]float64, len(diff))
	for i, gn := range grads {
		analytic[i] = download64(t, b, prog.Mat(gn))
	}
	worst := 0.0
	for i := range diff {
		worst = math.Max(worst, h.checkAgainstFD(fmt.Sprintf("%s: d/dx%d", c.name, i), mats[i], analytic[i]))
	}
	return worst
}

var (
	leaky   = nn.Act{Kind: nn.ActLeakyReLU, Slope: 0.2}
	relu    = nn.Act{Kind: nn.ActLeakyReLU}
	tanh    = nn.Act{Kind: nn.ActTanh}
	sigmoid = nn.Act{Kind: nn.ActSigmoid}
	acts    = []nn.Act{leaky, relu, tanh, sigmoid}
)

// fdCases covers every differentiable builder method of the graph, the
// views, and the gradients of gradients (ActBackward's own gradient).
func fdCases() []fdCase {
	var cs []fdCase
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		ta, tb := tr[0], tr[1]
		a, bs := graph.Shape{3, 4}, graph.Shape{4, 5}
		if ta {
			a = graph.Shape{4, 3}
		}
		if tb {
			bs = graph.Shape{5, 4}
		}
		cs = append(cs, fdCase{name: fmt.Sprintf("matmul/ta=%v/tb=%v", ta, tb), shapes: []graph.Shape{a, bs},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node { return g.MatMul(x[0], x[1], ta, tb) }})
	}
	for _, act := range acts {
		cs = append(cs,
			fdCase{name: "bias_act/" + act.String(), shapes: []graph.Shape{{3, 4}, {4, 5}, {5}},
				build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
					return g.BiasAct(g.MatMul(x[0], x[1], false, false), x[2], act)
				}},
			fdCase{name: "act/" + act.String(), shapes: []graph.Shape{{4, 6}},
				build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node { return g.Act(x[0], act) }},
			// The gradient of a gradient: ActBackward's derivatives with
			// respect to the upstream gradient and (through y) to x.
			fdCase{name: "act_backward/" + act.String(), shapes: []graph.Shape{{4, 6}, {4, 6}},
				build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
					return g.ActBackward(x[0], g.Act(x[1], act), act)
				}},
		)
	}
	unary := func(name string, positive bool, f func(g *graph.Graph, x *graph.Node) *graph.Node) fdCase {
		return fdCase{name: name, shapes: []graph.Shape{{4, 5}}, positive: positive,
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node { return f(g, x[0]) }}
	}
	cs = append(cs,
		unary("col_sum", false, (*graph.Graph).ColSum),
		unary("row_sum_sq", false, (*graph.Graph).RowSumSq),
		unary("row_sum", false, (*graph.Graph).RowSum),
		unary("sum", false, (*graph.Graph).Sum),
		unary("mean", false, (*graph.Graph).Mean),
		unary("scale", false, func(g *graph.Graph, x *graph.Node) *graph.Node { return g.Scale(x, -1.5) }),
		unary("add_const", false, func(g *graph.Graph, x *graph.Node) *graph.Node { return g.AddConst(x, 0.25) }),
		unary("square", false, (*graph.Graph).Square),
		unary("sqrt", true, (*graph.Graph).Sqrt),
		unary("recip", true, (*graph.Graph).Recip),
		unary("exp", false, (*graph.Graph).Exp),
		unary("log", true, (*graph.Graph).Log),
		unary("copy", false, (*graph.Graph).Copy),
		unary("softmax", false, (*graph.Graph).Softmax),
		unary("rows_view", false, func(g *graph.Graph, x *graph.Node) *graph.Node { return g.Square(g.Rows(x, 1, 2)) }),
		unary("cols_view", false, func(g *graph.Graph, x *graph.Node) *graph.Node { return g.Square(g.Cols(x, 1, 3)) }),
		unary("cols_split", false, func(g *graph.Graph, x *graph.Node) *graph.Node {
			// The VAE's mu/logvar split: two column blocks of one tensor used differently.
			return g.Add(g.Exp(g.Cols(x, 0, 2)), g.Square(g.Cols(x, 2, 2)))
		}),
		unary("reshape", false, func(g *graph.Graph, x *graph.Node) *graph.Node {
			return g.Mul(g.Reshape(x, graph.Shape{2, 10}), g.Reshape(x, graph.Shape{2, 10}))
		}),
		unary("dropout", false, func(g *graph.Graph, x *graph.Node) *graph.Node {
			return g.Dropout(x, 0.3, graph.FixedStream(nn.PurposeRandom, 5))
		}),
		unary("layer_norm/bare", false, func(g *graph.Graph, x *graph.Node) *graph.Node { return g.LayerNorm(x, nil, nil, 1e-5) }),
		fdCase{name: "broadcast_rows", shapes: []graph.Shape{{5}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				return g.BroadcastRows(x[0], graph.Shape{4, 5})
			}},
		fdCase{name: "scale_rows", shapes: []graph.Shape{{4, 5}, {4, 1}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node { return g.ScaleRows(x[0], x[1]) }},
		fdCase{name: "axpby", shapes: []graph.Shape{{4, 5}, {4, 5}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				return g.Axpby(x[0], x[1], 0.7, -1.3)
			}},
		fdCase{name: "lerp", shapes: []graph.Shape{{4, 5}, {4, 5}, {4, 1}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node { return g.Lerp(x[0], x[1], x[2]) }},
		fdCase{name: "mul", shapes: []graph.Shape{{4, 5}, {4, 5}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node { return g.Mul(x[0], x[1]) }},
		fdCase{name: "mul_self", shapes: []graph.Shape{{4, 5}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node { return g.Mul(x[0], x[0]) }},
		fdCase{name: "concat_rows", shapes: []graph.Shape{{2, 5}, {3, 5}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				return g.Square(g.ConcatRows(x[0], x[1]))
			}},
		fdCase{name: "concat_cols", shapes: []graph.Shape{{4, 2}, {4, 3}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				return g.Square(g.ConcatCols(x[0], x[1]))
			}},
		fdCase{name: "sigmoid_bce", shapes: []graph.Shape{{4, 3}, {4, 3}}, fixed: 1,
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				l, _ := g.SigmoidBCE(x[0], x[1])
				return l
			}},
		fdCase{name: "sigmoid_bce/constant_weight", shapes: []graph.Shape{{4, 3}, {4, 3}}, fixed: 1, scalar: true,
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				l, _ := g.SigmoidBCE(x[0], x[1])
				return g.Scale(l, 3)
			}},
		fdCase{name: "softmax_ce", shapes: []graph.Shape{{4, 6}, {4, 6}}, fixed: 1, distribution: true,
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				l, _ := g.SoftmaxCE(x[0], x[1])
				return l
			}},
		fdCase{name: "softmax_ce/constant_weight", shapes: []graph.Shape{{4, 6}, {4, 6}}, fixed: 1, scalar: true, distribution: true,
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				l, _ := g.SoftmaxCE(x[0], x[1])
				return l
			}},
		fdCase{name: "gather_rows", shapes: []graph.Shape{{4, 3}}, index: []int32{2, 0, 2, 3, 2},
			build: func(g *graph.Graph, x []*graph.Node, ix *graph.Index) *graph.Node { return g.GatherRows(x[0], ix) }},
		fdCase{name: "layer_norm/affine", shapes: []graph.Shape{{4, 6}, {6}, {6}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				return g.LayerNorm(x[0], x[1], x[2], 1e-5)
			}},
		// Convolutions (Im2Col, Col2Im and MatMul underneath), from NCHW and
		// channels-last inputs, and the layout conversions.
		fdCase{name: "conv2d/nchw", shapes: []graph.Shape{{2, 2, 5, 5}, {3, 2, 3, 3}, {3}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				im := graph.Image{N: 2, C: 2, H: 5, W: 5, Layout: nn.NCHW}
				y, _ := g.Conv2d(x[0], im, x[1], x[2], 2, 2, 1, 1, tanh)
				return y
			}},
		fdCase{name: "conv2d/nhwc", shapes: []graph.Shape{{2, 3, 4, 5}, {2, 3, 2, 3}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				in, im := g.ToNHWC(x[0], graph.Image{N: 2, C: 3, H: 4, W: 5, Layout: nn.NCHW})
				y, out := g.Conv2d(in, im, x[1], nil, 1, 1, 0, 1, nn.Act{})
				y, _ = g.ToNCHW(y, out)
				return y
			}},
		fdCase{name: "conv_transpose2d", shapes: []graph.Shape{{2, 3, 3, 3}, {3, 2, 4, 4}, {2}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				im := graph.Image{N: 2, C: 3, H: 3, W: 3, Layout: nn.NCHW}
				y, _ := g.ConvTranspose2d(x[0], im, x[1], x[2], 2, 2, 1, 1, 1, 1, sigmoid)
				return y
			}},
		// The whole-image geometries, where Im2Col and Col2Im are reshapes:
		// a 1×1 input spread over a 3×3 output (DCGAN's first transposed
		// convolution) and a kernel as large as its channels-last image
		// (its critic's last convolution; also in double_backward/conv).
		fdCase{name: "conv_transpose2d/whole_image", shapes: []graph.Shape{{2, 3, 1, 1}, {3, 2, 3, 3}, {3, 2, 3, 3}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				im := graph.Image{N: 2, C: 3, H: 1, W: 1, Layout: nn.NCHW}
				y, out := g.ConvTranspose2d(x[0], im, x[1], nil, 1, 1, 0, 0, 0, 0, tanh)
				z, _ := g.Conv2d(y, out, x[2], nil, 1, 1, 0, 0, nn.Act{})
				return z
			}},
		// BatchNorm in training mode (batch statistics), through the input,
		// γ and β: its gradient is that of the composed ops.
		fdCase{name: "batch_norm/train", shapes: []graph.Shape{{6, 3}, {3}, {3}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				return g.BatchNorm(x[0], x[1], x[2], bnStats(), true)
			}},
		// A convolutional critic differentiated twice (WGAN-GP's penalty on
		// the paper's MNIST critic, in small): Σ (∂ΣD/∂x)² with respect to
		// the image and every weight.
		fdCase{name: "double_backward/conv", shapes: []graph.Shape{{2, 1, 6, 6}, {3, 1, 3, 3}, {3}, {2, 3, 3, 3}, {2}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				im := graph.Image{N: 2, C: 1, H: 6, W: 6, Layout: nn.NCHW}
				h, him := g.Conv2d(x[0], im, x[1], x[2], 2, 2, 1, 1, tanh)
				y, _ := g.Conv2d(h, him, x[3], x[4], 1, 1, 0, 0, leaky)
				gx := g.Grad(g.Sum(y), x[0])[0]
				return g.RowSumSq(g.Reshape(gx, graph.Shape{2, 36}))
			}},
		// A small network, differentiated twice: Σ (∂Σf/∂x)² with respect
		// to x, through MatMul, BiasAct and ActBackward.
		fdCase{name: "double_backward/mlp", shapes: []graph.Shape{{3, 4}, {4, 5}, {5}, {5, 1}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				h := g.BiasAct(g.MatMul(x[0], x[1], false, false), x[2], tanh)
				f := g.Sum(g.MatMul(h, x[3], false, false))
				return g.RowSumSq(g.Grad(f, x[0])[0])
			}},
	)
	cs = append(cs, attentionFDCases()...)
	return cs
}

// TestGradientsMatchFiniteDifferences checks the gradient of every graph
// op against float64 central differences.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	worst := 0.0
	for _, c := range fdCases() {
		t.Run(c.name, func(t *testing.T) {
			e := c.run(t)
			t.Logf("worst relative error %.2g", e)
			worst = math.Max(worst, e)
		})
	}
	t.Logf("worst relative error over all ops %.2g (tolerance %g)", worst, fdTol)
}

// TestGradientPenaltyMatchesFiniteDifferences writes WGAN-GP's critic loss
// with its gradient penalty as graph code, as the package doc shows, and
// checks its gradient with respect to every weight of the critic (a second
// derivative: the penalty is a function of ∇ₓD) against float64 finite
// differences, for a LeakyReLU critic (the seed's D) and a tanh/sigmoid
// one (whose second derivatives are not zero).
func TestGradientPenaltyMatchesFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		name string
		acts [2]layer.Spec
	}{
		{"leaky_relu", [2]layer.Spec{layer.LeakyReLU(0.2), layer.LeakyReLU(0.2)}},
		{"tanh/sigmoid", [2]layer.Spec{layer.Tanh(), layer.Sigmoid()}},
	} {
		acts := tc.acts
		b := ref.New()
		ps := nn.NewParamSet(0)
		critic := layer.NewSequential(ps, "D.model",
			layer.Linear(6, 8), acts[0], layer.Linear(8, 8), acts[1], layer.Linear(8, 1))
		require.NoError(t, ps.Alloc(b))
		defer ps.Free(b)
		critic.Init(b, 3)

		const n = 5
		g := graph.New()
		real := g.Input("real", graph.Shape{n, 6})
		fake := g.Input("fake", graph.Shape{n, 6})
		eps := g.Input("eps", graph.Shape{n, 1})
		ctx := &layer.Ctx{G: g}
		D := func(x *graph.Node) *graph.Node { return critic.Forward(ctx, x) }

		wLoss := g.Sub(g.Mean(D(fake)), g.Mean(D(real)))
		xHat := g.Lerp(fake, real, eps)
		gx := g.Grad(g.Sum(D(xHat)), xHat)[0]
		norm := g.Sqrt(g.AddConst(g.RowSumSq(gx), 1e-12))
		gp := g.Scale(g.Mean(g.Square(g.AddConst(norm, -1))), 10)
		loss := g.Add(wLoss, gp)
		g.Backward(loss, ps)
		g.Output(loss)
		prog, err := g.Compile(b)
		require.NoError(t, err)
		defer prog.Free()

		rng := rand.New(rand.NewPCG(1, 2))
		for _, in := range []*graph.Node{real, fake, eps} {
			r, c := in.Shape().Mat()
			m, err := b.Alloc(r, c)
			require.NoError(t, err)
			defer b.Free(m)
			v := make([]float64, r*c)
			for i := range v {
				v[i] = rng.Float64()*2 - 1
				if in == eps {
					v[i] = rng.Float64()
				}
			}
			require.NoError(t, b.Upload64(m, v))
			require.NoError(t, prog.Bind(in, m))
		}
		h := &fdHarness{t: t, b: b, prog: prog, loss: loss, seed: 1}
		l := h.lossValue()
		analytic := download64(t, b, ps.Grad)
		worst := h.checkAgainstFD("critic weights", ps.Value, analytic)
		t.Logf("%s critic: loss %.6f, %d weights, worst error of ∂loss/∂w relative to max|∂loss/∂w| %.3g",
			tc.name, l, len(analytic), worst)
	}
}

// bnStats are running statistics for a 3-channel batch norm on the
// reference backend (their values do not matter in training mode).
func bnStats() graph.BatchNormStats {
	ps := nn.NewParamSet(0)
	mean, vr := ps.AddBuffer("running_mean", 3), ps.AddBuffer("running_var", 3)
	if err := ps.Alloc(ref.New()); err != nil {
		panic(err)
	}
	return graph.BatchNormStats{Mean: mean, Var: vr, Momentum: 0.1, Eps: 1e-5}
}
