package gorgoniagan_test

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/bench/gorgoniagan"
	"gan/cpu"
	"gan/nn"
	"gan/nn/mnist"
	"gan/nn/model"
	"gan/nn/models/seedgan"
)

// weightsOf downloads a network's parameters (or the gradients the last
// training step bound to them) in PyTorch layout.
func weightsOf(t *testing.T, b nn.Backend, ps *nn.ParamSet, grad bool) gorgoniagan.Weights {
	var w gorgoniagan.Weights
	for _, p := range ps.Trainable() {
		m := p.Value
		if grad {
			m = p.Grad
		}
		v := make([]float32, m.Len())
		require.NoError(t, b.Download(v, m))
		if strings.HasSuffix(p.Name, ".bias") {
			w.B = append(w.B, v)
		} else {
			w.W = append(w.W, v)
		}
	}
	return w
}

// dropoutMasks regenerates the masks our D drew in one pass from the shared
// generator: its dropout layers sit at positions 1 and 3 of the fused layer
// list, and pass index k uses streams (PurposeDropout, k<<8 | position)
// (the seed GAN's legacy layout, see nn/streams.go).
func dropoutMasks(seed uint64, passIndex uint64, rows int) (m1, m2 []float32) {
	mask := func(pos uint64, width int) []float32 {
		key := nn.RandKey{Seed: seed, Stream: nn.StreamID(nn.PurposeDropout, passIndex<<8|pos)}
		scale := float32(1 / (1 - float64(float32(gorgoniagan.DropoutP))))
		out := make([]float32, rows*width)
		for i := range out {
			if key.Uniform(uint64(i)) < float32(1-float64(float32(gorgoniagan.DropoutP))) {
				out[i] = scale
			}
		}
		return out
	}
	return mask(1, 1024), mask(3, 512)
}

// requireClose compares our float32 gradients with the float64 oracle's,
// tensor by tensor: the largest elementwise difference must stay below
// 1e-4 of the tensor's largest entry. A float32 gradient accumulates
// rounding errors of about √K·2⁻²⁴ ≈ 2e-6 relative per dot product (K ≤
// 1024) through four layers, so 1e-4 leaves a wide margin, while any wrong
// index, missing term or transposed product gives errors of order 1.
func requireClose(t *testing.T, what string, want, got gorgoniagan.Weights) {
	for _, pair := range []struct {
		kind      string
		want, got [][]float32
	}{{"weight", want.W, got.W}, {"bias", want.B, got.B}} {
		require.Len(t, pair.got, len(pair.want))
		for l := range pair.want {
			w, g := pair.want[l], pair.got[l]
			require.Len(t, g, len(w))
			var maxAbs, maxDiff float64
			for i := range w {
				maxAbs = math.Max(maxAbs, math.Abs(float64(w[i])))
				maxDiff = math.Max(maxDiff, math.Abs(float64(w[i])-float64(g[i])))
			}
			require.Greater(t, maxAbs, 0.0, "%s layer %d %s: oracle gradient is zero", what, l, pair.kind)
			assert.LessOrEqual(t, maxDiff, 1e-4*maxAbs, "%s layer %d %s: max diff %g, max |g| %g", what, l, pair.kind, maxDiff, maxAbs)
		}
	}
}

// TestGradientsMatchGorgonia checks one full training step of our seed GAN
// (the seed-mlp-gan family's compiled step, which binds each network's
// gradients to its ParamSet's Grad arena) on the CPU backend against
// Gorgonia's symbolic differentiation of the same model, from the same
// weights, images, noise and dropout masks.
func TestGradientsMatchGorgonia(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	cfg := seedgan.DefaultConfig()
	cfg.Batch = 16
	cfg.Seed = 21
	g, err := seedgan.New(b, cfg)
	require.NoError(t, err)
	defer g.Free()

	mn, err := mnist.Embedded(false)
	require.NoError(t, err)
	const n = 16
	set := model.FromMNIST(mn)
	set.N, set.Pixels, set.Labels = n, set.Pixels[:n*seedgan.ImageDim], set.Labels[:n]
	real := set.Pixels
	data, err := set.Upload(b)
	require.NoError(t, err)
	defer b.Free(data)
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}

	g0, d0 := weightsOf(t, b, g.PG, false), weightsOf(t, b, g.PD, false)
	stats, err := g.TrainStep(&model.Batch{Data: set, Dev: data, Idx: idx})
	require.NoError(t, err)
	require.Len(t, stats, 4) // d_loss, g_loss, D(x), D(G(z))
	gradD, gradG := weightsOf(t, b, g.PD, true), weightsOf(t, b, g.PG, true)
	d1 := weightsOf(t, b, g.PD, false) // D after its update: the G step runs through it

	// Step 0's noise: the seed GAN's legacy stream (PurposeNoise, step).
	z := make([]float32, n*seedgan.ZDim)
	key := nn.RandKey{Seed: cfg.Seed, Stream: nn.StreamID(nn.PurposeNoise, 0)}
	for i := range z {
		z[i] = key.Normal(uint64(i))
	}
	in := gorgoniagan.StepInput{Batch: n, Real: real, Z: z}
	in.MaskD1, in.MaskD2 = dropoutMasks(cfg.Seed, 0, 2*n)
	in.MaskG1, in.MaskG2 = dropoutMasks(cfg.Seed, 1, n)

	dStep, err := gorgoniagan.GANGrads64(g0, d0, in)
	require.NoError(t, err)
	gStep, err := gorgoniagan.GANGrads64(g0, d1, in)
	require.NoError(t, err)

	// Losses: fused BCE in float32 against the float64 oracle.
	assert.InEpsilon(t, dStep.DLoss, stats[0], 1e-5)
	assert.InEpsilon(t, gStep.GLoss, stats[1], 1e-5)
	assert.InEpsilon(t, dStep.DX, stats[2], 1e-5)
	assert.InEpsilon(t, dStep.DGZ, stats[3], 1e-5)
	requireClose(t, "D", dStep.GradD, gradD)
	requireClose(t, "G", gStep.GradG, gradG)
}
