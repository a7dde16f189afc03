package gorgoniagan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorgonia.org/tensor"
)

// The reference below is a plain float64 forward pass of the seed GAN,
// written without Gorgonia, so that the finite differences check Gorgonia's
// graphs and gradients against an independent definition of the losses.

// refLinear returns x·Wᵀ + b for x n×in, W out×in (PyTorch layout).
func refLinear(x []float64, n int, w, b []float64) []float64 {
	out := len(b)
	in := len(w) / out
	y := make([]float64, n*out)
	for r := range n {
		for o := range out {
			s := b[o]
			for i := range in {
				s += x[r*in+i] * w[o*in+i]
			}
			y[r*out+o] = s
		}
	}
	return y
}

func refLeaky(x []float64) {
	for i, v := range x {
		if v < 0 {
			x[i] = leakySlope * v
		}
	}
}

func refGen(g mlp64, z []float64, n int) []float64 {
	h := z
	for l := range 4 {
		h = refLinear(h, n, g.W[l], g.B[l])
		if l < 3 {
			refLeaky(h)
		} else {
			for i, v := range h {
				h[i] = math.Tanh(v)
			}
		}
	}
	return h
}

// refDisc returns D's logits for the n rows of x with masks m1, m2 (nil = ones).
func refDisc(d mlp64, x []float64, n int, m1, m2 []float64) []float64 {
	h := x
	for l, m := range [][]float64{m1, m2, nil, nil} {
		h = refLinear(h, n, d.W[l], d.B[l])
		if l == 3 {
			break
		}
		refLeaky(h)
		if l < 2 && m != nil {
			for i := range h {
				h[i] *= m[i]
			}
		}
	}
	return h
}

// refSoftplus is log(1+eˣ) in the stable form max(x,0) + log1p(exp(−|x|)).
func refSoftplus(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

func refMean(x []float64, f func(float64) float64) float64 {
	var s float64
	for _, v := range x {
		s += f(v)
	}
	return s / float64(len(x))
}

// refDLoss is d_loss for D weights d, with the fake rows given.
func refDLoss(d mlp64, in input64, fake []float64) (loss, dx, dgz float64) {
	b := in.batch
	x := append(append([]float64(nil), in.real...), fake...)
	lg := refDisc(d, x, 2*b, in.maskD1, in.maskD2)
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	loss = refMean(lg[:b], func(v float64) float64 { return refSoftplus(-v) }) + refMean(lg[b:], refSoftplus)
	return loss, refMean(lg[:b], sig), refMean(lg[b:], sig)
}

// refGLoss is g_loss for G weights g and D weights d.
func refGLoss(g, d mlp64, in input64) float64 {
	fake := refGen(g, in.z, in.batch)
	lg := refDisc(d, fake, in.batch, in.maskG1, in.maskG2)
	return refMean(lg, func(v float64) float64 { return refSoftplus(-v) })
}

// randMLP returns PyTorch-initialised weights (U(±1/√in)) for widths dims.
func randMLP(rng *rand.Rand, dims []int) mlp64 {
	m := mlp64{}
	for l := range len(dims) - 1 {
		in, out := dims[l], dims[l+1]
		bound := 1 / math.Sqrt(float64(in))
		w := make([]float64, out*in)
		for i := range w {
			w[i] = (2*rng.Float64() - 1) * bound
		}
		b := make([]float64, out)
		for i := range b {
			b[i] = (2*rng.Float64() - 1) * bound
		}
		m.W, m.B = append(m.W, w), append(m.B, b)
	}
	return m
}

// randMask returns a dropout mask with keep probability 1−DropoutP.
func randMask(rng *rand.Rand, n int) []float64 {
	m := make([]float64, n)
	for i := range m {
		if rng.Float64() >= DropoutP {
			m[i] = 1 / (1 - DropoutP)
		}
	}
	return m
}

func randInput(rng *rand.Rand, b int, gDims, dDims []int) input64 {
	in := input64{batch: b, real: make([]float64, b*dDims[0]), z: make([]float64, b*gDims[0])}
	for i := range in.real {
		in.real[i] = 2*rng.Float64() - 1
	}
	for i := range in.z {
		in.z[i] = rng.NormFloat64()
	}
	in.maskD1 = randMask(rng, 2*b*dDims[1])
	in.maskD2 = randMask(rng, 2*b*dDims[2])
	in.maskG1 = randMask(rng, b*dDims[1])
	in.maskG2 = randMask(rng, b*dDims[2])
	return in
}

// tensorsOf lists an MLP's parameter slices in the order W0, b0, W1, b1, ….
func tensorsOf(m mlp64) [][]float64 {
	var ts [][]float64
	for l := range m.W {
		ts = append(ts, m.W[l], m.B[l])
	}
	return ts
}

// fdCheck compares the analytic gradient grad of f with respect to param
// (one of f's parameter slices) at entries idx against central differences
// with step 1e-6, at atol 1e-5 + rtol 1e-3 (gradcheck's defaults).
func fdCheck(t *testing.T, name string, param, grad []float64, idx []int, f func() float64) {
	t.Helper()
	const eps, atol, rtol = 1e-6, 1e-5, 1e-3
	for _, i := range idx {
		old := param[i]
		param[i] = old + eps
		fp := f()
		param[i] = old - eps
		fm := f()
		param[i] = old
		fd := (fp - fm) / (2 * eps)
		assert.LessOrEqualf(t, math.Abs(grad[i]-fd), atol+rtol*math.Abs(fd),
			"%s[%d]: autodiff %.10g, finite difference %.10g", name, i, grad[i], fd)
	}
}

func allIndices(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// maxAbs returns the largest |x| over all of an MLP's gradients.
func maxAbs(m mlp64) float64 {
	var mx float64
	for _, ts := range tensorsOf(m) {
		for _, v := range ts {
			mx = math.Max(mx, math.Abs(v))
		}
	}
	return mx
}

// checkAgainstReference runs the float64 graph on (g, d, in) and checks the
// losses against the plain reference and the gradients at the entries that
// pick chooses against finite differences of the reference.
func checkAgainstReference(t *testing.T, g, d mlp64, in input64, pick func(n int, grad []float64) []int) {
	t.Helper()
	r, err := ganGrads(tensor.Float64, g, d, in)
	require.NoError(t, err)

	fake := refGen(g, in.z, in.batch)
	dLoss, dx, dgz := refDLoss(d, in, fake)
	assert.InDelta(t, dLoss, r.dLoss, 1e-12*math.Max(1, dLoss), "d_loss")
	assert.InDelta(t, refGLoss(g, d, in), r.gLoss, 1e-12*math.Max(1, r.gLoss), "g_loss")
	assert.InDelta(t, dx, r.dx, 1e-12, "D(x)")
	assert.InDelta(t, dgz, r.dgz, 1e-12, "D(G(z))")
	// Gradients that are all (nearly) zero would pass any comparison.
	require.Greater(t, maxAbs(r.gradD), 1e-3, "D gradients are all near zero")
	require.Greater(t, maxAbs(r.gradG), 1e-3, "G gradients are all near zero")

	for k, p := range tensorsOf(d) {
		grad := tensorsOf(r.gradD)[k]
		fdCheck(t, fmt.Sprintf("D.%d", k), p, grad, pick(len(p), grad), func() float64 {
			l, _, _ := refDLoss(d, in, fake)
			return l
		})
	}
	for k, p := range tensorsOf(g) {
		grad := tensorsOf(r.gradG)[k]
		fdCheck(t, fmt.Sprintf("G.%d", k), p, grad, pick(len(p), grad), func() float64 {
			return refGLoss(g, d, in)
		})
	}
}

// TestGANGradsFiniteDifferencesTiny checks every gradient entry of the
// float64 graph, on the seed architecture with tiny widths, against central
// differences of the independent reference.
func TestGANGradsFiniteDifferencesTiny(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gDims, dDims := []int{3, 5, 6, 7, 8}, []int{8, 7, 6, 5, 1}
	for trial := range 3 {
		t.Run(fmt.Sprint("trial", trial), func(t *testing.T) {
			g, d := randMLP(rng, gDims), randMLP(rng, dDims)
			// Scale D up so that its logits are O(1) and the gradients not tiny.
			for l := range d.W {
				for i := range d.W[l] {
					d.W[l][i] *= 2
				}
			}
			in := randInput(rng, 3, gDims, dDims)
			checkAgainstReference(t, g, d, in, func(n int, _ []float64) []int { return allIndices(n) })
		})
	}
}

// TestGANGradsFiniteDifferencesSeed checks a handful of entries of every
// gradient tensor of the float64 graph at the seed widths: the largest
// entry and two random ones.
func TestGANGradsFiniteDifferencesSeed(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	g, d := randMLP(rng, SeedGDims), randMLP(rng, SeedDDims)
	in := randInput(rng, 3, SeedGDims, SeedDDims)
	checkAgainstReference(t, g, d, in, func(n int, grad []float64) []int {
		best := 0
		for i, v := range grad {
			if math.Abs(v) > math.Abs(grad[best]) {
				best = i
			}
		}
		return []int{best, rng.IntN(n), rng.IntN(n)}
	})
}

// narrowInput rounds a float64 input to the float32 API type.
func narrowInput(in input64) StepInput {
	n := func(x []float64) []float32 {
		if x == nil {
			return nil
		}
		return narrow(x)
	}
	return StepInput{Batch: in.batch, Real: n(in.real), Z: n(in.z),
		MaskD1: n(in.maskD1), MaskD2: n(in.maskD2), MaskG1: n(in.maskG1), MaskG2: n(in.maskG2)}
}

// TestGANGradsFloat32 compares the float32 graph with the float64 graph on
// the same (float32) inputs at the seed widths. A gradient entry is a sum of
// up to 1024·B products that went through several float32 layers; measured
// errors are below 1e-6 of the tensor's largest entry (about 1e-4 relative
// on single entries). The bound is 1e-5 of the largest entry, which a layout
// or indexing bug (an error of the order of the entries) exceeds by far.
func TestGANGradsFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	g, d := narrowMLP(randMLP(rng, SeedGDims)), narrowMLP(randMLP(rng, SeedDDims))
	in := narrowInput(randInput(rng, 4, SeedGDims, SeedDDims))

	r32, err := GANGrads(g, d, in)
	require.NoError(t, err)
	r64, err := GANGrads64(g, d, in)
	require.NoError(t, err)

	assert.InDelta(t, r64.DLoss, r32.DLoss, 1e-6, "d_loss")
	assert.InDelta(t, r64.GLoss, r32.GLoss, 1e-6, "g_loss")
	assert.InDelta(t, r64.DX, r32.DX, 1e-6, "D(x)")
	assert.InDelta(t, r64.DGZ, r32.DGZ, 1e-6, "D(G(z))")
	compare := func(name string, want, got Weights) {
		require.Len(t, got.W, len(want.W))
		require.Len(t, got.B, len(want.B))
		for l := range want.W {
			for _, p := range []struct {
				kind      string
				want, got []float32
			}{{"W", want.W[l], got.W[l]}, {"b", want.B[l], got.B[l]}} {
				require.Len(t, p.got, len(p.want), "%s.%s%d", name, p.kind, l)
				var scale float64
				for _, v := range p.want {
					scale = math.Max(scale, math.Abs(float64(v)))
				}
				require.Greater(t, scale, 0.0, "%s.%s%d is all zero", name, p.kind, l)
				bad := 0
				for i := range p.want {
					w, g := float64(p.want[i]), float64(p.got[i])
					if math.Abs(w-g) > 1e-5*scale {
						bad++
					}
				}
				assert.Zerof(t, bad, "%s.%s%d: %d of %d entries differ", name, p.kind, l, bad, len(p.want))
			}
		}
	}
	compare("GradD", r64.GradD, r32.GradD)
	compare("GradG", r64.GradG, r32.GradG)
}

// TestGANGradsNilMasks checks that nil masks mean no dropout.
func TestGANGradsNilMasks(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	gDims, dDims := []int{3, 5, 6, 7, 8}, []int{8, 7, 6, 5, 1}
	g, d := narrowMLP(randMLP(rng, gDims)), narrowMLP(randMLP(rng, dDims))
	in := narrowInput(randInput(rng, 2, gDims, dDims))
	in.MaskD1, in.MaskD2, in.MaskG1, in.MaskG2 = nil, nil, nil, nil
	rNil, err := GANGrads64(g, d, in)
	require.NoError(t, err)

	ones := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = 1
		}
		return x
	}
	in.MaskD1, in.MaskD2 = ones(2*2*dDims[1]), ones(2*2*dDims[2])
	in.MaskG1, in.MaskG2 = ones(2*dDims[1]), ones(2*dDims[2])
	rOnes, err := GANGrads64(g, d, in)
	require.NoError(t, err)
	assert.Equal(t, rOnes, rNil)
}

// TestGANGradsRejectsBadShapes checks that every inconsistent size is an error.
func TestGANGradsRejectsBadShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	gDims, dDims := []int{3, 5, 6, 7, 8}, []int{8, 7, 6, 5, 1}
	good := func() (Weights, Weights, StepInput) {
		return narrowMLP(randMLP(rng, gDims)), narrowMLP(randMLP(rng, dDims)), narrowInput(randInput(rng, 2, gDims, dDims))
	}
	g, d, in := good()
	_, err := GANGrads(g, d, in)
	require.NoError(t, err)

	cases := map[string]func(g, d *Weights, in *StepInput){
		"short Real":       func(_, _ *Weights, in *StepInput) { in.Real = in.Real[1:] },
		"short Z":          func(_, _ *Weights, in *StepInput) { in.Z = in.Z[1:] },
		"short MaskD1":     func(_, _ *Weights, in *StepInput) { in.MaskD1 = in.MaskD1[1:] },
		"short MaskD2":     func(_, _ *Weights, in *StepInput) { in.MaskD2 = in.MaskD2[1:] },
		"short MaskG1":     func(_, _ *Weights, in *StepInput) { in.MaskG1 = in.MaskG1[1:] },
		"short MaskG2":     func(_, _ *Weights, in *StepInput) { in.MaskG2 = in.MaskG2[1:] },
		"batch 1":          func(_, _ *Weights, in *StepInput) { in.Batch = 1 },
		"three G layers":   func(g, _ *Weights, _ *StepInput) { g.W, g.B = g.W[:3], g.B[:3] },
		"ragged G weight":  func(g, _ *Weights, _ *StepInput) { g.W[1] = g.W[1][1:] },
		"G/D width":        func(_, d *Weights, _ *StepInput) { d.W[0] = d.W[0][:len(d.W[0])-len(d.B[0])] },
		"D output width 2": func(_, d *Weights, _ *StepInput) { d.W[3], d.B[3] = append(d.W[3], d.W[3]...), append(d.B[3], 0) },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			g, d, in := good()
			breakIt(&g, &d, &in)
			_, err := GANGrads(g, d, in)
			assert.Error(t, err)
		})
	}
}
