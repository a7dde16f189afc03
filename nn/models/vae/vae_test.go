package vae

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/likelihood"
	"gan/nn/mnist"
	"gan/nn/model"
	"gan/nn/ref"
)

// tiny builds an MLP VAE with image pixels, hidden units and latent width
// on b.
func tiny(t *testing.T, b nn.Backend, image, hidden, latent, iw int, beta float32, binarize string) *VAE {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Latent, cfg.IW, cfg.KLBeta, cfg.Binarize = latent, iw, beta, binarize
	ps := nn.NewParamSetFrom(&nn.InitStreams{})
	m, err := build(b, cfg, ps, newMLP(ps, image, hidden, latent), image)
	require.NoError(t, err)
	t.Cleanup(m.Free)
	return m
}

// TestGradientMatchesFiniteDifferences checks the gradient of the whole
// training objective with respect to every parameter against central
// differences on the float64 reference backend (step and tolerance as
// nn/graph's checks: h = 1e-5, 1e-6 relative to max(1, |∇|∞); see
// docs/tolerances.md), with the noise fixed by the run's seed and step:
// the closed-form KL with β, the reparameterised sample, dynamic
// binarisation of the targets, the per-pixel BCE of the importance
// weights, and the IWAE bound's log-sum-exp.
func TestGradientMatchesFiniteDifferences(t *testing.T) {
	for _, c := range []struct {
		name     string
		k        int
		binarize string
		weights  bool
	}{
		{"elbo grey", 1, BinarizeNone, false},
		{"elbo dynamic binarisation", 1, BinarizeDynamic, false},
		{"elbo from log weights", 1, BinarizeDynamic, true},
		{"iwae k=3", 3, BinarizeDynamic, false},
		{"iwae k=2 grey", 2, BinarizeNone, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			const n, image, hidden, latent = 3, 6, 5, 2
			b := ref.New()
			m := tiny(t, b, image, hidden, latent, c.k, 0.7, c.binarize)
			g := graph.New()
			data := g.Input("x", graph.Shape{n, image})
			slots := &nn.StreamSlots{}
			x := m.targets(g, data, slots)
			bd := m.objective(&layer.Ctx{G: g, Train: true, Slots: slots}, x, c.k, graph.StepStream(nn.PurposeNoise, slots.Next()), c.weights)
			g.Backward(bd.loss, m.P)
			g.Output(bd.loss)
			prog, err := g.Compile(b)
			require.NoError(t, err)
			defer prog.Free()
			if bd.repeated {
				require.NoError(t, prog.SetIndices(bd.rep, repIndices(n, c.k)))
			}
			xm, err := b.Alloc(n, image)
			require.NoError(t, err)
			defer b.Free(xm)
			xv := make([]float64, n*image)
			for i := range xv {
				xv[i] = math.Sin(float64(3*i+1))*0.9 + 0.05
			}
			require.NoError(t, b.Upload64(xm, xv))
			require.NoError(t, prog.Bind(data, xm))
			loss := func() float64 {
				require.NoError(t, prog.Run(5, 3))
				var v [1]float64
				require.NoError(t, b.Download64(v[:], prog.Mat(bd.loss)))
				return v[0]
			}
			loss()
			grad := make([]float64, m.P.Size())
			require.NoError(t, b.Download64(grad, m.P.Grad))
			vals := make([]float64, m.P.Size())
			require.NoError(t, b.Download64(vals, m.P.Value))
			scale := 1.0
			for _, v := range grad {
				scale = math.Max(scale, math.Abs(v))
			}
			const h, tol = 1e-5, 1e-6
			worst := 0.0
			for j := range vals {
				orig := vals[j]
				vals[j] = orig + h
				require.NoError(t, b.Upload64(m.P.Value, vals))
				up := loss()
				vals[j] = orig - h
				require.NoError(t, b.Upload64(m.P.Value, vals))
				down := loss()
				vals[j] = orig
				require.NoError(t, b.Upload64(m.P.Value, vals))
				e := math.Abs((up-down)/(2*h)-grad[j]) / scale
				require.Truef(t, e <= tol, "parameter %d: analytic %v, finite difference %v", j, grad[j], (up-down)/(2*h))
				worst = math.Max(worst, e)
			}
			t.Logf("%d parameters, worst relative error %.2g", len(vals), worst)
		})
	}
}

// TestBinarizeIsExact: the composed Bernoulli draw is exactly 0 or 1, is 1
// exactly when u < p (ties, p = 0 and p = 1 included), and its mean over
// many draws is the grey level.
func TestBinarizeIsExact(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	ps := []float32{0, 1, 0.5, 0.5, 0.5, 1.0 / 255, 254.0 / 255, 0.25, 0.25, 0}
	us := []float32{0, 0.9999999, 0.5, 0.49999997, 0.50000006, 0, 254.0 / 255, 0.25 - 1.0/16777216, 0.25 + 1.0/16777216, 0.999}
	g := graph.New()
	p, u := g.Input("p", graph.Shape{1, len(ps)}), g.Input("u", graph.Shape{1, len(ps)})
	y := Binarize(g, p, u)
	g.Output(y)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	pm, _ := b.Alloc(1, len(ps))
	um, _ := b.Alloc(1, len(ps))
	require.NoError(t, b.Upload(pm, ps))
	require.NoError(t, b.Upload(um, us))
	require.NoError(t, prog.Bind(p, pm))
	require.NoError(t, prog.Bind(u, um))
	require.NoError(t, prog.Run(1, 0))
	got := make([]float32, len(ps))
	require.NoError(t, b.Download(got, prog.Mat(y)))
	for i := range ps {
		want := float32(0)
		if us[i] < ps[i] {
			want = 1
		}
		assert.Equalf(t, want, got[i]+0, "p %v u %v", ps[i], us[i]) // +0 folds −0
	}

	// Frequencies: 4096 draws of 4 grey levels through the training graph's path.
	const n = 4096
	g = graph.New()
	x := g.Input("x", graph.Shape{n, 4})
	cfg := DefaultConfig()
	cfg.Binarize = BinarizeDynamic
	mm := &VAE{Base: model.Base{Cfg: cfg}}
	y = mm.targets(g, x, &nn.StreamSlots{})
	g.Output(y)
	prog2, err := g.Compile(b)
	require.NoError(t, err)
	defer prog2.Free()
	grey := []float32{0, 0.1, 0.5, 0.9}
	xs := make([]float32, n*4)
	for i := range xs {
		xs[i] = 2*grey[i%4] - 1
	}
	xm, _ := b.Alloc(n, 4)
	require.NoError(t, b.Upload(xm, xs))
	require.NoError(t, prog2.Bind(x, xm))
	require.NoError(t, prog2.Run(1, 7))
	out := make([]float32, n*4)
	require.NoError(t, b.Download(out, prog2.Mat(y)))
	var mean [4]float64
	for i, v := range out {
		require.Truef(t, v == 0 || v == 1, "value %v", v)
		mean[i%4] += float64(v) / n
	}
	for j, p := range grey {
		assert.InDeltaf(t, float64(p), mean[j], 4*math.Sqrt(float64(p*(1-p))/n)+1e-9, "grey %v", p)
	}
}

// TestImportanceWeightedEstimateMatchesExactLikelihood: for a VAE of
// 4-pixel images with a 1-D latent, log p(x) = log ∫ N(z; 0, 1) p(x|z) dz
// is computed by quadrature for all 16 binary images (their probabilities
// sum to 1), and the importance-weighted estimate with k = 5000 matches it
// within 0.05 nats per image (its Monte Carlo error with this deliberately
// poor q is about 0.01) and 0.01 on the mean of the 16, while the ELBO
// stays below it, 3 nats looser.
func TestImportanceWeightedEstimateMatchesExactLikelihood(t *testing.T) {
	b := ref.New()
	const image, hidden = 4, 8
	m := tiny(t, b, image, hidden, 1, 1, 1, BinarizeDynamic)
	mlp := m.net.(*mlp)
	// A decoder whose p(x|z) varies strongly with z: posteriors differ
	// from the prior and from q.
	w := make([]float32, mlp.fc4.W.Len())
	for i := range w {
		w[i] = float32(math.Sin(float64(i+1))) * 3
	}
	require.NoError(t, b.Upload(mlp.fc4.W.Value, w))
	w3 := make([]float32, mlp.fc3.W.Len())
	for i := range w3 {
		w3[i] = float32(math.Cos(float64(2*i+1))) * 2
	}
	require.NoError(t, b.Upload(mlp.fc3.W.Value, w3))

	// Quadrature of the decoder over z ∈ [−10, 10].
	const nodes = 8001
	const lo, hi = -10.0, 10.0
	dz := (hi - lo) / (nodes - 1)
	g := graph.New()
	z := g.Input("z", graph.Shape{nodes, 1})
	logits := m.net.decode(&layer.Ctx{G: g}, z)
	g.Output(logits)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	zm, _ := b.Alloc(nodes, 1)
	zs := make([]float64, nodes)
	for i := range zs {
		zs[i] = lo + float64(i)*dz
	}
	require.NoError(t, b.Upload64(zm, zs))
	require.NoError(t, prog.Bind(z, zm))
	require.NoError(t, prog.Run(1, 0))
	l := make([]float64, nodes*image)
	require.NoError(t, b.Download64(l, prog.Mat(logits)))

	var xs []float32
	exact := make([]float64, 16)
	total := 0.0
	for pattern := range 16 {
		x := make([]float32, image)
		for j := range image {
			x[j] = float32(pattern >> j & 1)
		}
		xs = append(xs, x...)
		s := 0.0
		for i, zv := range zs {
			logp := -0.5*zv*zv - 0.5*math.Log(2*math.Pi)
			for j := range image {
				lj := l[i*image+j]
				// log σ(l) = −softplus(−l), log(1 − σ(l)) = −softplus(l).
				if x[j] == 1 {
					logp -= softplus(-lj)
				} else {
					logp -= softplus(lj)
				}
			}
			wq := dz
			if i == 0 || i == nodes-1 {
				wq /= 2
			}
			s += wq * math.Exp(logp)
		}
		exact[pattern] = -math.Log(s)
		total += s
	}
	require.InDelta(t, 1, total, 1e-9, "the 16 images' probabilities sum to 1")

	r, err := likelihood.Evaluate(m, xs, 5000, 3, nil)
	require.NoError(t, err)
	for i := range 16 {
		assert.InDeltaf(t, exact[i], r.ImageNLL[i], 0.05, "image %04b", i)
		assert.GreaterOrEqualf(t, r.ImageNegELBO[i], exact[i]-0.01, "image %04b: −ELBO is an upper bound of −log p(x)", i)
	}
	meanExact := 0.0
	for _, v := range exact {
		meanExact += v / 16
	}
	t.Logf("exact mean −log p(x) %.5f, importance-weighted (k=5000) %.5f, −ELBO %.5f", meanExact, r.NLL, r.NegELBO)
	assert.InDelta(t, meanExact, r.NLL, 0.01)
	assert.Greater(t, r.NegELBO-meanExact, 1.0, "this q is not the posterior: the ELBO is loose")

	// k = 1 is an unbiased estimate of the ELBO.
	r1, err := likelihood.Evaluate(m, repeat(xs, 400), 1, 4, nil)
	require.NoError(t, err)
	assert.InDelta(t, r.NegELBO, r1.NLL, 0.05, "mean of −log w over single samples is −ELBO")
}

func repeat(x []float32, n int) []float32 {
	var out []float32
	for range n {
		out = append(out, x...)
	}
	return out
}

func softplus(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

// mnistData loads the MNIST training set onto b.
func mnistData(t *testing.T, b nn.Backend) (*model.Dataset, nn.Mat) {
	t.Helper()
	set, err := mnist.Load("mnist", "", true)
	require.NoError(t, err)
	data := model.FromMNIST(set)
	dev, err := data.Upload(b)
	require.NoError(t, err)
	t.Cleanup(func() { b.Free(dev) })
	return data, dev
}

// TestShortRun trains each family briefly on MNIST: the loss falls, the
// statistics add up (loss = rec + kl for the ELBO) and the KL is positive.
func TestShortRun(t *testing.T) {
	for _, c := range []struct {
		name     string
		model    string
		iw       int
		binarize string
		steps    int
	}{
		{"vae grey", MLPName, 1, BinarizeNone, 60},
		{"vae dynamic iw=3", MLPName, 3, BinarizeDynamic, 40},
		{"conv-vae dynamic", ConvName, 1, BinarizeDynamic, 12},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := cpu.New()
			defer b.Close()
			data, dev := mnistData(t, b)
			cfg := DefaultConfig()
			cfg.Model, cfg.IW, cfg.Binarize, cfg.Batch = c.model, c.iw, c.binarize, 64
			m, err := New(b, cfg)
			require.NoError(t, err)
			defer m.Free()
			var losses []float64
			var last []float64
			require.NoError(t, model.Train(context.Background(), m, data, dev, c.steps, model.Hooks{OnStep: func(p model.Progress) error {
				losses = append(losses, p.Stats[0])
				last = append(last[:0], p.Stats...)
				return nil
			}}))
			first := mean(losses[:4])
			end := mean(losses[len(losses)-4:])
			t.Logf("loss %.2f → %.2f over %d steps (rec %.2f, kl %.2f)", first, end, len(losses), last[1], last[2])
			assert.Less(t, end, first-20, "the loss falls")
			assert.Greater(t, last[2], 0.0, "KL > 0")
			if c.iw == 1 {
				assert.InDelta(t, last[0], last[1]+last[2], 1e-3*last[0], "loss = rec + kl")
			}
		})
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// TestTrainStepDoesNotAllocate: after the first step (which compiles the
// program) a training step allocates nothing on the CPU backend, for the
// ELBO, the IWAE bound and the convolutional family.
func TestTrainStepDoesNotAllocate(t *testing.T) {
	for _, c := range []struct {
		model string
		iw    int
	}{{MLPName, 1}, {MLPName, 4}, {ConvName, 1}} {
		b := cpu.New()
		data := &model.Dataset{Name: "random", N: 64, C: 1, H: 28, W: 28, Pixels: make([]float32, 64*784)}
		for i := range data.Pixels {
			data.Pixels[i] = float32(i%13)/6 - 1
		}
		dev, err := data.Upload(b)
		require.NoError(t, err)
		cfg := DefaultConfig()
		cfg.Model, cfg.IW, cfg.Batch, cfg.Binarize = c.model, c.iw, 8, BinarizeDynamic
		m, err := New(b, cfg)
		require.NoError(t, err)
		batch := &model.Batch{Data: data, Dev: dev, Idx: []int32{0, 5, 9, 13, 20, 31, 40, 63}}
		_, err = m.TrainStep(batch)
		require.NoError(t, err)
		assert.Zerof(t, testing.AllocsPerRun(5, func() {
			if _, err := m.TrainStep(batch); err != nil {
				t.Fatal(err)
			}
		}), "%s iw %d", c.model, c.iw)
		m.Free()
		b.Free(dev)
		b.Close()
	}
}

// TestGenerateIsTheBernoulliMean: Generate writes 2σ(l) − 1 of the
// decoder's logits, in [−1, 1]; Encode returns one code per image.
func TestGenerateIsTheBernoulliMean(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	m, err := New(b, DefaultConfig())
	require.NoError(t, err)
	defer m.Free()
	const n = 300 // more than one chunk
	z := make([]float32, n*20)
	for i := range z {
		z[i] = float32(math.Sin(float64(i)))
	}
	out := make([]float32, n*ImageDim)
	require.NoError(t, m.Generate(z, out))
	// The logits of image 0 through an explicit graph.
	g := graph.New()
	zin := g.Input("z", graph.Shape{1, 20})
	l := m.net.decode(&layer.Ctx{G: g}, zin)
	g.Output(l)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	zm, _ := b.Alloc(1, 20)
	require.NoError(t, b.Upload(zm, z[:20]))
	require.NoError(t, prog.Bind(zin, zm))
	require.NoError(t, prog.Run(1, 0))
	logits := make([]float32, ImageDim)
	require.NoError(t, b.Download(logits, prog.Mat(l)))
	for j, v := range logits {
		want := 2/(1+math.Exp(-float64(v))) - 1
		require.InDelta(t, want, float64(out[j]), 1e-6)
	}
	for _, v := range out {
		require.True(t, v >= -1 && v <= 1)
	}
	mu := make([]float32, n*20)
	require.NoError(t, m.Encode(likelihood.Grey(out), mu, nil))
	assert.NotZero(t, mu[n*20-1])
	assert.Error(t, m.Generate(z[:7], out), "a partial code is an error")
}

// TestValidate: bad VAE settings are one-line errors.
func TestValidate(t *testing.T) {
	for _, c := range []struct {
		edit func(*model.Config)
		want string
	}{
		{func(c *model.Config) { c.Latent = 0 }, "latent 0"},
		{func(c *model.Config) { c.IW = 0 }, "iw 0"},
		{func(c *model.Config) { c.Binarize = "static" }, "binarize \"static\""},
		{func(c *model.Config) { c.KLBeta = -1 }, "beta -1"},
		{func(c *model.Config) { c.Loss = "hinge" }, "loss \"hinge\""},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		err := model.ValidateConfig(cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), c.want)
		assert.NotContains(t, err.Error(), "\n")
	}
	assert.NoError(t, model.ValidateConfig(DefaultConvConfig()))
}

// TestPyTorchNames: the MLP's parameters carry pytorch/examples' module
// names and shapes.
func TestPyTorchNames(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	m, err := New(b, DefaultConfig())
	require.NoError(t, err)
	defer m.Free()
	assert.Equal(t, []string{"fc1.weight", "fc1.bias", "fc21.weight", "fc21.bias", "fc22.weight", "fc22.bias",
		"fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias"}, m.paramNames())
	assert.Equal(t, []int{400, 784}, m.P.Lookup("fc1.weight").Shape)
	assert.Equal(t, []int{20, 400}, m.P.Lookup("fc22.weight").Shape)
}
