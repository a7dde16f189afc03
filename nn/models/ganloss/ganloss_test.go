package ganloss_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/models/ganloss"
	"gan/nn/ref"
)

// fdStep and fdTol are the finite-difference check's step and tolerance
// (docs/tolerances.md, "fd": the graph tests' 1e-6 of the largest gradient
// element, with central differences in float64 accurate to ~1e-10).
const (
	fdStep = 1e-5
	fdTol  = 1e-6
)

// upload64 allocates an r×c matrix on the reference backend holding v.
func upload64(t *testing.T, b *ref.Backend, r, c int, v []float64) nn.Mat {
	t.Helper()
	m, err := b.Alloc(r, c)
	require.NoError(t, err)
	t.Cleanup(func() { b.Free(m) })
	require.NoError(t, b.Upload64(m, v))
	return m
}

func download64(t *testing.T, b *ref.Backend, m nn.Mat) []float64 {
	t.Helper()
	v := make([]float64, m.Rows*m.Cols)
	require.NoError(t, b.Download64(v, m))
	return v
}

func uniform(rng *rand.Rand, n int, lo, hi float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*rng.Float64()
	}
	return v
}

// valueTol is the relative error allowed of a loss computed on the float64
// reference backend: the graph's constants (Mean's 1/n, λ, the targets) are
// float32, so 1/7 carries float32's rounding of 2⁻²⁴ ≈ 6e-8; a wrong
// formula errs by O(1).
const valueTol = 1e-6

// TestLossValues checks every loss, D's and G's, against its formula
// evaluated in float64 on the host, for given raw outputs of D.
func TestLossValues(t *testing.T) {
	const n = 7
	rng := rand.New(rand.NewPCG(3, 4))
	dr, df := uniform(rng, n, -2.5, 2.5), uniform(rng, n, -2.5, 2.5)
	mean := func(v []float64, f func(float64) float64) float64 {
		s := 0.0
		for _, x := range v {
			s += f(x)
		}
		return s / float64(len(v))
	}
	id := func(x float64) float64 { return x }
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	relu := func(x float64) float64 { return math.Max(x, 0) }
	want := map[string][4]float64{ // d_loss, g_loss, then the two statistics
		ganloss.BCE: {
			mean(dr, func(x float64) float64 { return -math.Log(sig(x)) }) + mean(df, func(x float64) float64 { return -math.Log(1 - sig(x)) }),
			mean(df, func(x float64) float64 { return -math.Log(sig(x)) }),
			mean(dr, sig), mean(df, sig)},
		ganloss.LSGAN: {
			0.5 * (mean(dr, func(x float64) float64 { return (x - 1) * (x - 1) }) + mean(df, func(x float64) float64 { return x * x })),
			mean(df, func(x float64) float64 { return (x - 1) * (x - 1) }),
			mean(dr, id), mean(df, id)},
		ganloss.Hinge: {
			mean(dr, func(x float64) float64 { return relu(1 - x) }) + mean(df, func(x float64) float64 { return relu(1 + x) }),
			-mean(df, id),
			mean(dr, id), mean(df, id)},
	}
	for name, w := range want {
		b := ref.New()
		g := graph.New()
		r, f := g.Input("real", graph.Shape{n, 1}), g.Input("fake", graph.Shape{n, 1})
		d := ganloss.DLoss(g, name, ganloss.DInput{Real: r, Fake: f})
		gl := ganloss.GLoss(g, name, f)
		outs := append([]*graph.Node{d.Loss, gl}, d.Stats...)
		for i := range outs {
			outs[i] = g.Copy(outs[i])
		}
		g.Output(outs...)
		prog, err := g.Compile(b)
		require.NoError(t, err)
		require.NoError(t, prog.Bind(r, upload64(t, b, n, 1, dr)))
		require.NoError(t, prog.Bind(f, upload64(t, b, n, 1, df)))
		require.NoError(t, prog.Run(1, 0))
		require.Len(t, outs, len(ganloss.Stats(name)))
		for i, o := range outs {
			got := download64(t, b, prog.Mat(o))[0]
			assert.InDelta(t, w[i], got, valueTol*math.Max(1, math.Abs(w[i])), "%s: %s", name, ganloss.Stats(name)[i].Name)
		}
		prog.Free()
	}
}

// TestPenaltyOfLinearCritic: a linear critic D(x) = x·w + c has the same
// gradient w at every x̂, so the penalty is λ(‖w‖₂ − 1)² exactly, the norm
// over the whole flattened sample (an image batch n×1×4×4 here, not a
// per-pixel or per-row norm), whatever the interpolation; and W is
// E[D(x)] − E[D(G(z))].
func TestPenaltyOfLinearCritic(t *testing.T) {
	const n, dim = 5, 16
	rng := rand.New(rand.NewPCG(5, 6))
	w := uniform(rng, dim, -0.6, 0.6)
	real, fake := uniform(rng, n*dim, -1, 1), uniform(rng, n*dim, -1, 1)
	b := ref.New()
	g := graph.New()
	rx, fx := g.Input("real", graph.Shape{n, 1, 4, 4}), g.Input("fake", graph.Shape{n, 1, 4, 4})
	wn := g.Input("w", graph.Shape{dim, 1})
	critic := func(x *graph.Node) *graph.Node { return g.AddConst(g.MatMul(g.Flatten(x), wn, false, false), 0.3) }
	d := ganloss.DLoss(g, ganloss.WGANGP, ganloss.DInput{Real: critic(rx), Fake: critic(fx), Critic: critic,
		RealX: rx, FakeX: fx, Interp: graph.FixedStream(nn.PurposeRandom, 9)})
	outs := []*graph.Node{g.Copy(d.Loss), g.Copy(d.Stats[0]), g.Copy(d.Stats[1]), g.Copy(d.Eps)}
	g.Output(outs...)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	require.NoError(t, prog.Bind(rx, upload64(t, b, n, dim, real)))
	require.NoError(t, prog.Bind(fx, upload64(t, b, n, dim, fake)))
	require.NoError(t, prog.Bind(wn, upload64(t, b, dim, 1, w)))
	require.NoError(t, prog.Run(1, 0))

	norm := 0.0
	for _, x := range w {
		norm += x * x
	}
	norm = math.Sqrt(norm)
	wantGP := ganloss.Lambda * (norm - 1) * (norm - 1)
	wantW := 0.0
	for i := range n {
		for j := range dim {
			wantW += (real[i*dim+j] - fake[i*dim+j]) * w[j] / n
		}
	}
	loss := download64(t, b, prog.Mat(outs[0]))[0]
	gotW := download64(t, b, prog.Mat(outs[1]))[0]
	gotGP := download64(t, b, prog.Mat(outs[2]))[0]
	eps := download64(t, b, prog.Mat(outs[3]))
	assert.InDelta(t, wantGP, gotGP, valueTol*wantGP)
	assert.InDelta(t, wantW, gotW, valueTol)
	assert.InDelta(t, gotGP-gotW, loss, 1e-12)
	require.Len(t, eps, n, "one interpolation coefficient per sample")
	for _, e := range eps {
		assert.True(t, e >= 0 && e < 1, "coefficient %v in [0, 1)", e)
	}
	assert.NotEqual(t, eps[0], eps[1])
}

// TestLossGradientsMatchFiniteDifferences builds each loss's D objective
// and G objective on a small MLP critic of the PyTorch-GAN wgan_gp shape
// (Linear, LeakyReLU 0.2, Linear, LeakyReLU 0.2, Linear; 12-10-6-1) and
// compares the gradient of D's loss with respect to every critic weight,
// and of G's loss with respect to every generated pixel, with float64
// central differences. For wgan-gp the weight gradient is a second
// derivative (through ∇ₓ̂D); it is also checked with a tanh critic, whose
// second derivatives do not vanish between kinks.
func TestLossGradientsMatchFiniteDifferences(t *testing.T) {
	type tc struct {
		loss string
		act  layer.Spec
	}
	cases := []tc{
		{ganloss.BCE, layer.LeakyReLU(0.2)}, {ganloss.LSGAN, layer.LeakyReLU(0.2)},
		{ganloss.Hinge, layer.LeakyReLU(0.2)}, {ganloss.WGANGP, layer.LeakyReLU(0.2)},
		{ganloss.WGANGP + "/tanh", layer.Tanh()},
	}
	worstAll := 0.0
	for _, c := range cases {
		loss := c.loss
		if loss == ganloss.WGANGP+"/tanh" {
			loss = ganloss.WGANGP
		}
		t.Run(c.loss, func(t *testing.T) {
			const n, dim = 6, 12
			b := ref.New()
			ps := nn.NewParamSet(0)
			critic := layer.NewSequential(ps, "model", layer.Linear(dim, 10), c.act, layer.Linear(10, 6), c.act, layer.Linear(6, 1))
			require.NoError(t, ps.Alloc(b))
			defer ps.Free(b)
			critic.Init(b, 7)

			g := graph.New()
			rx, fx := g.Input("real", graph.Shape{n, dim}), g.Input("fake", graph.Shape{n, dim})
			ctx := &layer.Ctx{G: g, Train: true}
			D := func(x *graph.Node) *graph.Node { return critic.Forward(ctx, x) }
			d := ganloss.DLoss(g, loss, ganloss.DInput{Real: D(rx), Fake: D(fx), Critic: D, RealX: rx, FakeX: fx,
				Interp: graph.FixedStream(nn.PurposeRandom, 1)})
			gl := ganloss.GLoss(g, loss, D(fx))
			dFake := g.Copy(g.Grad(gl, fx)[0])
			g.Backward(d.Loss, ps)
			dl, gll := g.Copy(d.Loss), g.Copy(gl)
			g.Output(dl, gll, dFake)
			prog, err := g.Compile(b)
			require.NoError(t, err)
			defer prog.Free()
			rng := rand.New(rand.NewPCG(8, 9))
			rm, fm := upload64(t, b, n, dim, uniform(rng, n*dim, -1, 1)), upload64(t, b, n, dim, uniform(rng, n*dim, -1, 1))
			require.NoError(t, prog.Bind(rx, rm))
			require.NoError(t, prog.Bind(fx, fm))

			value := func(out *graph.Node) float64 {
				require.NoError(t, prog.Run(2, 5))
				return download64(t, b, prog.Mat(out))[0]
			}
			check := func(what string, m nn.Mat, grad []float64, out *graph.Node) float64 {
				vals := download64(t, b, m)
				scale := 1e-300
				for _, x := range grad {
					scale = math.Max(scale, math.Abs(x))
				}
				worst := 0.0
				for j := range vals {
					orig := vals[j]
					vals[j] = orig + fdStep
					require.NoError(t, b.Upload64(m, vals))
					up := value(out)
					vals[j] = orig - fdStep
					require.NoError(t, b.Upload64(m, vals))
					down := value(out)
					vals[j] = orig
					require.NoError(t, b.Upload64(m, vals))
					e := math.Abs((up-down)/(2*fdStep)-grad[j]) / scale
					require.False(t, !(e <= fdTol), "%s[%d]: analytic %v, finite difference %v", what, j, grad[j], (up-down)/(2*fdStep))
					worst = math.Max(worst, e)
				}
				return worst
			}
			value(dl)
			gw := download64(t, b, ps.Grad)
			gf := download64(t, b, prog.Mat(dFake))
			e1 := check("∂d_loss/∂w", ps.Value, gw, dl)
			e2 := check("∂g_loss/∂fake", fm, gf, gll)
			t.Logf("%s: worst error relative to the largest gradient element: D's weights (%d) %.2g, G's loss w.r.t. the fake batch %.2g",
				c.loss, len(gw), e1, e2)
			worstAll = math.Max(worstAll, math.Max(e1, e2))
		})
	}
	t.Logf("worst relative error over all losses %.2g (tolerance %g)", worstAll, fdTol)
}

// TestPenaltyAtZeroGradientIsFinite: with a critic whose weights are all
// zero, ∇ₓ̂D = 0 at every x̂ and the penalty's second derivative would be
// ∞·0 without PenaltyEps; on the float32 CPU backend every weight gradient
// must come out finite (and the penalty λ(√ε − 1)² ≈ λ).
func TestPenaltyAtZeroGradientIsFinite(t *testing.T) {
	const n, dim = 4, 8
	b := cpu.New()
	defer b.Close()
	ps := nn.NewParamSet(0)
	critic := layer.NewSequential(ps, "model", layer.Linear(dim, 5), layer.LeakyReLU(0.2), layer.Linear(5, 1))
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	b.Fill(ps.Value, 0)
	g := graph.New()
	rx, fx := g.Input("real", graph.Shape{n, dim}), g.Input("fake", graph.Shape{n, dim})
	ctx := &layer.Ctx{G: g, Train: true}
	D := func(x *graph.Node) *graph.Node { return critic.Forward(ctx, x) }
	d := ganloss.DLoss(g, ganloss.WGANGP, ganloss.DInput{Real: D(rx), Fake: D(fx), Critic: D, RealX: rx, FakeX: fx,
		Interp: graph.FixedStream(nn.PurposeRandom, 1)})
	g.Backward(d.Loss, ps)
	g.Fetch(d.Stats[1])
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	for _, in := range []*graph.Node{rx, fx} {
		m, err := b.Alloc(n, dim)
		require.NoError(t, err)
		defer b.Free(m)
		b.RandUniform(m, -1, 1, nn.RandKey{Seed: uint64(in.ID())})
		require.NoError(t, prog.Bind(in, m))
	}
	require.NoError(t, prog.Run(1, 0))
	assert.InDelta(t, ganloss.Lambda, prog.Value(d.Stats[1]), 1e-4)
	grads := make([]float32, ps.Size())
	require.NoError(t, b.Download(grads, ps.Grad))
	for i, x := range grads {
		require.False(t, math.IsNaN(float64(x)) || math.IsInf(float64(x), 0), "gradient %d is %v", i, x)
	}
}

// TestCheckAndDefaults: the names, the paper's settings of wgan-gp, and
// the statistics each loss reports.
func TestCheckAndDefaults(t *testing.T) {
	for _, n := range ganloss.Names {
		assert.NoError(t, ganloss.Check(n))
	}
	err := ganloss.Check("wgan")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wgan-gp")
	s, ok := ganloss.Defaults(ganloss.WGANGP)
	require.True(t, ok)
	assert.Equal(t, ganloss.Settings{LR: 1e-4, Beta1: 0.5, Beta2: 0.9, NCritic: 5}, s)
	_, ok = ganloss.Defaults(ganloss.BCE)
	assert.False(t, ok)
	var names []string
	for _, st := range ganloss.Stats(ganloss.WGANGP) {
		names = append(names, st.Name)
	}
	assert.Equal(t, []string{"d_loss", "g_loss", "W", "gp"}, names)
	assert.False(t, ganloss.HasLossFloor(ganloss.WGANGP))
	assert.True(t, ganloss.HasLossFloor(ganloss.Hinge))
	assert.Panics(t, func() { ganloss.DLoss(graph.New(), "nope", ganloss.DInput{}) })
}
