//go:build (gancuda || cudaemu) && cgo

package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/models/ganloss"
	"gan/nn/models/seedgan"
	"gan/nn/ref"
)

// wganCriticGrad compiles wgan-gp's critic loss, E[D(fake)] − E[D(real)] +
// λ·E[(‖∇ₓ̂D(x̂)‖₂ − 1)²] (package ganloss), on b for the critic that build
// makes, with the weights w and the n×784 inputs real and fake, runs it once
// and returns ∂loss/∂θ for every parameter (the penalty's part is a second
// derivative: the gradient of a gradient) and the penalty term.
func wganCriticGrad(t *testing.T, b nn.Backend, build func(*nn.ParamSet) *layer.Sequential, w, real, fake []float32, n int) ([]float64, float64) {
	t.Helper()
	ps := nn.NewParamSet(0)
	critic := build(ps)
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	if w != nil {
		require.NoError(t, b.Upload(ps.Value, w))
	}
	g := graph.New()
	rx, fx := g.Input("real", graph.Shape{n, seedgan.ImageDim}), g.Input("fake", graph.Shape{n, seedgan.ImageDim})
	ctx := &layer.Ctx{G: g, Train: true}
	D := func(x *graph.Node) *graph.Node { return critic.Forward(ctx, x) }
	d := ganloss.DLoss(g, ganloss.WGANGP, ganloss.DInput{Real: D(rx), Fake: D(fx), Critic: D, RealX: rx, FakeX: fx,
		Interp: graph.StepStream(nn.PurposeRandom, 1)})
	g.Backward(d.Loss, ps)
	g.Fetch(d.Loss, d.Stats[1])
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	for i, in := range []*graph.Node{rx, fx} {
		v := [][]float32{real, fake}[i]
		m := upload(t, b, n, seedgan.ImageDim, v)
		defer b.Free(m)
		require.NoError(t, prog.Bind(in, m))
	}
	require.NoError(t, prog.Run(7, 3))
	grads := make([]float64, ps.Size())
	if r, ok := b.(*ref.Backend); ok {
		require.NoError(t, r.Download64(grads, ps.Grad))
	} else {
		for i, v := range download(t, b, ps.Grad) {
			grads[i] = float64(v)
		}
	}
	return grads, float64(prog.Value(d.Stats[1]))
}

// TestWGANGPCriticGradMatchesReference checks the exactness of wgan-gp's
// critic gradient, gradient penalty included, on the CUDA backend (in the
// emulator under -tags cudaemu): for a small MLP critic (784-32-16-1, the
// layers of seedgan.NewCritic at reduced width) and the convolutional
// critic of the WGAN-GP paper (seedgan.NewConvCritic at channels 4-8-16
// instead of 64-128-256), from the same weights and inputs, the gradient
// of the critic loss with respect to every weight tensor on the GPU and on
// the CPU backend is compared with the float64 gradient of nn/ref (the same
// graph in double precision; nn/models/seedgan checks that one against
// finite differences within 1e-6).
//
// The double backward of the penalty runs through MatMul, BiasAct and
// AddBias, ActBackward (LeakyReLU's derivative, itself differentiated),
// Mul, ColSum, RowSumSq, Map (sqrt, square, add-const), ScaleRows, Axpby,
// RandUniform, Copy, Fill and, for the convolutions and their adjoints,
// Im2Col and Col2Im: every one of them has cases in the conformance suite
// (nn/backendtest, run on this backend by conformance_test.go), so this
// test checks their composition, not each op.
//
// Tolerance: relative L2 difference per tensor, ‖g − g_ref‖₂/‖g_ref‖₂ ≤
// 1e-4, the bound docs/tolerances.md's "step" row uses for whole-step
// float32 comparisons. The gradient is a chain of a few float32 products
// of K ≤ 784 terms (forward, backward, and the backward of the backward),
// each good to about √K·2⁻²⁴ ≈ 2e-6 relative; the gradient of a rounded
// ‖∇ₓ̂D‖ − 1 is the least well conditioned step. Measured in the emulator:
// at most 2.9e-7 (MLP) and 3.9e-7 (conv) GPU against float64, 1.5e-7 and
// 2.3e-7 CPU against float64; each run logs its figures. The output bias's
// gradient is exactly zero (it cancels in the loss) and is checked as
// such. An indexing or transposition bug errs by O(1).
func TestWGANGPCriticGradMatchesReference(t *testing.T) {
	p := newPair(t)
	r := ref.New()
	for _, tc := range []struct {
		name  string
		n     int
		build func(*nn.ParamSet) *layer.Sequential
	}{
		{"mlp 784-32-16-1", 4, func(ps *nn.ParamSet) *layer.Sequential {
			return layer.NewSequential(ps, "model",
				layer.Linear(seedgan.ImageDim, 32), layer.LeakyReLU(seedgan.LeakySlope),
				layer.Linear(32, 16), layer.LeakyReLU(seedgan.LeakySlope),
				layer.Linear(16, 1))
		}},
		{"conv 4-8-16", 3, func(ps *nn.ParamSet) *layer.Sequential { return seedgan.NewConvCritic(ps, 4) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Weights: PyTorch's initialisation drawn on the CPU, then the
			// same float32 values on all three backends.
			ps := nn.NewParamSet(0)
			critic := tc.build(ps)
			require.NoError(t, ps.Alloc(p.c))
			critic.Init(p.c, 5)
			w := download(t, p.c, ps.Value)
			trainable := ps.Trainable()
			offs := make([]int, len(trainable))
			for i, prm := range trainable {
				offs[i] = prm.Value.Off - ps.Value.Off
			}
			ps.Free(p.c)

			rng := rand.New(rand.NewPCG(11, 12))
			real := randVals(rng, tc.n*seedgan.ImageDim, -1, 1)
			fake := randVals(rng, tc.n*seedgan.ImageDim, -1, 1)
			want, gpRef := wganCriticGrad(t, r, tc.build, w, real, fake, tc.n)
			require.Greater(t, gpRef, 1e-3, "the penalty term is not negligible")
			gotG, gpG := wganCriticGrad(t, p.g, tc.build, w, real, fake, tc.n)
			gotC, gpC := wganCriticGrad(t, p.c, tc.build, w, real, fake, tc.n)
			scale := 0.0 // ‖∂loss/∂θ‖₂ over all parameters, in float64
			for _, v := range want {
				scale += v * v
			}
			scale = math.Sqrt(scale)
			worst := map[string]float64{}
			for i, prm := range trainable {
				off, k := offs[i], prm.Len()
				ref64 := want[off : off+k]
				for _, c := range []struct {
					name string
					a, b []float64
				}{{"gpu-ref", gotG[off : off+k], ref64}, {"cpu-ref", gotC[off : off+k], ref64}, {"gpu-cpu", gotG[off : off+k], gotC[off : off+k]}} {
					var diff2, norm2 float64
					for j := range c.a {
						d := c.a[j] - c.b[j]
						diff2 += d * d
						norm2 += c.b[j] * c.b[j]
					}
					if norm2 == 0 {
						// The output bias: it cancels in E[D(fake)] − E[D(real)]
						// and the penalty does not depend on it, so its
						// gradient is exactly zero; the other must be tiny.
						require.LessOrEqual(t, math.Sqrt(diff2), 1e-6*scale, "%s: ∂loss/∂%s should be zero", c.name, prm.Name)
						continue
					}
					rel := math.Sqrt(diff2 / norm2)
					require.LessOrEqual(t, rel, 1e-4, "%s: ∂loss/∂%s: relative L2 difference", c.name, prm.Name)
					worst[c.name] = math.Max(worst[c.name], rel)
				}
			}
			require.InEpsilon(t, gpRef, gpG, 1e-4, "penalty gpu/ref")
			require.InEpsilon(t, gpRef, gpC, 1e-4, "penalty cpu/ref")
			t.Logf("%s, batch %d: penalty %.6g (gpu %.6g, cpu %.6g); worst relative L2 per tensor: gpu-ref %.2g, cpu-ref %.2g, gpu-cpu %.2g",
				tc.name, tc.n, gpRef, gpG, gpC, worst["gpu-ref"], worst["cpu-ref"], worst["gpu-cpu"])
		})
	}
}
