package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
)

// ref64 is a float64 re-implementation of a Sequential's forward pass,
// built from the model's own weights, used as the finite-difference oracle
// of the whole-model gradient checks.
type ref64 struct {
	layers []refLayer
}

type refLayer struct {
	w, b    []float64 // Linear: Out×In, Out
	in, out int
	act     nn.Act
	mask    []float64 // Dropout: n×width multipliers (nil: identity)
	isDrop  bool
	param   *nn.Param // weight, for mapping gradients
	bias    *nn.Param
	dropKey nn.RandKey
	p       float32
}

func download(t *testing.T, b nn.Backend, m nn.Mat) []float64 {
	v := make([]float32, m.Len())
	require.NoError(t, b.Download(v, m))
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// newRef64 copies s's weights; pass gives the dropout streams.
func newRef64(t *testing.T, b nn.Backend, s *nn.Sequential, pass nn.Pass, n int) *ref64 {
	r := &ref64{}
	for i, l := range s.Layers {
		switch l := l.(type) {
		case *nn.Linear:
			r.layers = append(r.layers, refLayer{w: download(t, b, l.W.Value), b: download(t, b, l.B.Value),
				in: l.In, out: l.OutN, act: l.Act, param: l.W, bias: l.B})
		case *nn.Dropout:
			key := nn.RandKey{Seed: pass.Seed, Stream: nn.StreamID(nn.PurposeDropout, pass.DropoutIndex<<8|uint64(i))}
			mask := make([]float64, n*l.Width)
			scale := float64(float32(1 / (1 - float64(l.P))))
			for j := range mask {
				if key.Uniform(uint64(j)) < float32(1-float64(l.P)) {
					mask[j] = scale
				}
			}
			r.layers = append(r.layers, refLayer{isDrop: true, mask: mask, in: l.Width, out: l.Width})
		default:
			t.Fatalf("ref64: unsupported layer %T", l)
		}
	}
	return r
}

func act64(a nn.Act, x float64) float64 {
	switch a.Kind {
	case nn.ActLeakyReLU:
		if x > 0 {
			return x
		}
		return float64(a.Slope) * x
	case nn.ActTanh:
		return math.Tanh(x)
	}
	return x
}

// forward runs the reference on x (n rows).
func (r *ref64) forward(x []float64, n int) []float64 {
	for _, l := range r.layers {
		if l.isDrop {
			y := make([]float64, len(x))
			for i := range x {
				y[i] = x[i] * l.mask[i]
			}
			x = y
			continue
		}
		y := make([]float64, n*l.out)
		for row := 0; row < n; row++ {
			for o := 0; o < l.out; o++ {
				s := l.b[o]
				wr := l.w[o*l.in : (o+1)*l.in]
				xr := x[row*l.in : (row+1)*l.in]
				for k := range wr {
					s += wr[k] * xr[k]
				}
				y[row*l.out+o] = act64(l.act, s)
			}
		}
		x = y
	}
	return x
}

// fdCheck compares analytic gradients with central differences of the
// float64 reference loss, for a random sample of parameters. Tolerances are
// gradcheck's defaults (atol 1e-5, rtol 1e-3) applied to a float32 analytic
// gradient: its rounding error, about √K·2⁻²⁴ relative per dot product,
// stays well inside rtol 1e-3.
func fdCheck(t *testing.T, r *ref64, grads map[*nn.Param][]float64, loss func() float64, rng *rand.Rand, samples int) {
	const eps = 1e-6
	checked := 0
	for li := range r.layers {
		l := &r.layers[li]
		if l.isDrop {
			continue
		}
		for _, target := range []struct {
			vals []float64
			p    *nn.Param
		}{{l.w, l.param}, {l.b, l.bias}} {
			g := grads[target.p]
			for s := 0; s < samples; s++ {
				i := rng.IntN(len(target.vals))
				old := target.vals[i]
				target.vals[i] = old + eps
				lp := loss()
				target.vals[i] = old - eps
				lm := loss()
				target.vals[i] = old
				fd := (lp - lm) / (2 * eps)
				require.InDelta(t, fd, g[i], 1e-5+1e-3*math.Abs(fd), "%s[%d]: analytic %g, finite difference %g", target.p.Name, i, g[i], fd)
				checked++
			}
		}
	}
	require.Greater(t, checked, 0)
}

func randMat(t *testing.T, b nn.Backend, rows, cols int, rng *rand.Rand, scale float64) (nn.Mat, []float64) {
	m, err := b.Alloc(rows, cols)
	require.NoError(t, err)
	v := make([]float32, rows*cols)
	v64 := make([]float64, len(v))
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
		v64[i] = float64(v[i])
	}
	require.NoError(t, b.Upload(m, v))
	return m, v64
}

func paramGrads(t *testing.T, b nn.Backend, s *nn.Sequential) map[*nn.Param][]float64 {
	g := map[*nn.Param][]float64{}
	for _, p := range s.Params.Params() {
		g[p] = download(t, b, p.Grad)
	}
	return g
}

// TestDiscriminatorGradientFD checks D's full backward pass (through dropout,
// LeakyReLU and the fused sigmoid-BCE) against finite differences, for
// parameters and for the input.
func TestDiscriminatorGradientFD(t *testing.T) {
	b := cpu.New()
	const n = 3
	d := nn.NewDiscriminator(n)
	require.NoError(t, d.Alloc(b))
	d.InitParams(5)
	rng := rand.New(rand.NewPCG(1, 2))
	x, x64 := randMat(t, b, n, nn.ImageDim, rng, 0.5)
	targets := []float32{1, 0, 1}
	tm, err := b.Alloc(n, 1)
	require.NoError(t, err)
	require.NoError(t, b.Upload(tm, targets))
	grad, _ := b.Alloc(n, 1)
	stats, _ := b.Alloc(1, 2)

	pass := nn.Pass{Train: true, Seed: 9, DropoutIndex: 4, ParamGrads: true, InputGrad: true}
	logits := d.Forward(x, &pass)
	b.SigmoidBCE(grad, stats, logits, tm, 1.0/n)
	dx := d.Backward(grad, &pass)
	require.NoError(t, b.Sync())
	dx64 := download(t, b, dx)

	ref := newRef64(t, b, d, pass, n)
	loss := func() float64 {
		z := ref.forward(x64, n)
		var s float64
		for i, v := range z {
			tt := float64(targets[i])
			s += math.Max(v, 0) - v*tt + math.Log1p(math.Exp(-math.Abs(v)))
		}
		return s / n
	}
	st := download(t, b, stats)
	require.InEpsilon(t, loss(), st[0], 1e-4, "loss")
	fdCheck(t, ref, paramGrads(t, b, d), loss, rng, 6)
	for s := 0; s < 20; s++ {
		i := rng.IntN(len(x64))
		old := x64[i]
		x64[i] = old + 1e-6
		lp := loss()
		x64[i] = old - 1e-6
		lm := loss()
		x64[i] = old
		fd := (lp - lm) / 2e-6
		require.InDelta(t, fd, dx64[i], 1e-5+1e-3*math.Abs(fd), "input[%d]", i)
	}
}

// TestGeneratorGradientFD checks G's backward pass (LeakyReLU, Tanh, all
// four Linear layers) against finite differences of L = Σ w ⊙ G(z) / n.
func TestGeneratorGradientFD(t *testing.T) {
	b := cpu.New()
	const n = 3
	g := nn.NewGenerator(n)
	require.NoError(t, g.Alloc(b))
	g.InitParams(6)
	rng := rand.New(rand.NewPCG(3, 4))
	z, z64 := randMat(t, b, n, nn.ZDim, rng, 1)
	w, w64 := randMat(t, b, n, nn.ImageDim, rng, 1)
	dy, _ := b.Alloc(n, nn.ImageDim)
	b.Copy(dy, w)
	pass := nn.Pass{Train: true, Seed: 1, ParamGrads: true}
	g.Forward(z, &pass)
	g.Backward(dy, &pass)
	require.NoError(t, b.Sync())
	ref := newRef64(t, b, g, pass, n)
	loss := func() float64 {
		y := ref.forward(z64, n)
		var s float64
		for i := range y {
			s += y[i] * w64[i]
		}
		return s
	}
	fdCheck(t, ref, paramGrads(t, b, g), loss, rng, 6)
}
