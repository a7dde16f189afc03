package made

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/graph"
	"gan/nn/mnist"
	"gan/nn/model"
	"gan/nn/models/made/autoreg"
	"gan/nn/models/made/autoreg/artest"
	"gan/nn/ref"
)

func smallConfig(orders, hidden int) model.Config {
	c := DefaultConfig()
	c.Orders, c.Hidden, c.Batch = orders, hidden, 16
	return c
}

func randomBinary(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		if rng.IntN(2) == 1 {
			x[i] = 1
		}
	}
	return x
}

// TestCausality runs the causality check (CheckCausality) on the CPU.
func TestCausality(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	n, err := CheckCausality(b)
	require.NoError(t, err)
	t.Logf("%d flips changed a later logit, none an earlier one", n)
}

// TestMaskedGradientsMatchFiniteDifferences: on the float64 reference
// backend, the gradient of the NLL with respect to each masked weight is
// exactly zero where the mask is 0 and matches central differences where
// it is 1; likewise for the biases (mask of ones).
func TestMaskedGradientsMatchFiniteDifferences(t *testing.T) {
	b := ref.New()
	m, err := New(b, smallConfig(2, 8))
	require.NoError(t, err)
	defer m.Free()
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 3
	xs := randomBinary(rng, n*D)
	for o := range m.K {
		g := graph.New()
		x := g.Input("x", graph.Shape{n, D})
		bce, _ := g.SigmoidBCE(m.logits(g, x, o), x)
		loss := g.Scale(bce, D)
		g.Backward(loss, m.P)
		g.Output(loss)
		prog, err := g.Compile(b)
		require.NoError(t, err)
		xm, err := b.Alloc(n, D)
		require.NoError(t, err)
		require.NoError(t, b.Upload(xm, xs))
		require.NoError(t, prog.Bind(x, xm))
		mask := func(p *nn.Param, o int) []float64 {
			v := make([]float64, p.Len())
			require.NoError(t, b.Download64(v, p.Value))
			per := p.Len() / m.K
			return v[o*per : (o+1)*per]
		}
		for _, c := range []struct {
			p    *nn.Param
			mask []float64
		}{
			{m.L1.W, mask(m.M1, o)}, {m.L2.W, mask(m.M2, o)},
			{m.L1.B, ones(m.H)}, {m.L2.B, ones(D)},
		} {
			worst, checked, masked, err := artest.MaskedGradCheck(b, prog, loss, c.p, c.mask, 40)
			require.NoError(t, err, "ordering %d", o)
			require.Positive(t, checked)
			if c.p == m.L1.W || c.p == m.L2.W {
				require.Positive(t, masked, "%s has masked weights", c.p.Name)
			}
			t.Logf("ordering %d, %s: %d compared (worst %.2g), %d masked with zero gradient", o, c.p.Name, checked, worst, masked)
		}
		prog.Free()
		b.Free(xm)
	}
}

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// TestShortRun trains 300 steps of batch 100 on MNIST: the training NLL
// falls from ~543 nats (784·ln 2, untrained) to below 200, the test NLL of
// 500 fixed-binarised test images agrees with it, and the 2-ordering
// ensemble's likelihood is finite and the log-mean-exp of its members'.
func TestShortRun(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	train, err := mnist.Load("mnist", "", true)
	require.NoError(t, err)
	data := model.FromMNIST(train)
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	cfg := smallConfig(2, 200)
	cfg.Batch = 100
	m, err := New(b, cfg)
	require.NoError(t, err)
	defer m.Free()
	var first, last float64
	require.NoError(t, model.Train(context.Background(), m, data, dev, 300, model.Hooks{OnStep: func(p model.Progress) error {
		if p.Step == 1 {
			first = p.Stats[0]
		}
		last = p.Stats[0]
		return nil
	}}))
	assert.InDelta(t, D*math.Ln2, first, 30, "untrained NLL")
	assert.Less(t, last, 200.0)
	test, err := mnist.Load("mnist", "", false)
	require.NoError(t, err)
	x := autoreg.FixedBinarize(model.FromMNIST(test).Pixels[:500*D])
	res, err := autoreg.Evaluate(m, x, 200)
	require.NoError(t, err)
	t.Logf("after 300 steps: train NLL %.2f, %v", last, res)
	assert.Less(t, res.NLL, 200.0)
	assert.InDelta(t, res.NLL/(D*math.Ln2), res.BitsPerDim, 1e-12)
	// The ensemble is the log-mean-exp of the two orderings' likelihoods.
	lg := make([]float32, 5*D)
	per := make([][]float64, 2)
	for o := range 2 {
		per[o] = make([]float64, 5)
		require.NoError(t, m.Logits(x[:5*D], o, lg))
		autoreg.LogProbRows(x[:5*D], lg, D, per[o])
	}
	ens := make([]float64, 5)
	require.NoError(t, m.LogProb(x[:5*D], ens))
	for i := range 5 {
		want := math.Log((math.Exp(per[0][i]) + math.Exp(per[1][i])) / 2)
		assert.InDelta(t, want, ens[i], 1e-9*math.Abs(want))
	}
}

// TestSamplerMatchesNetwork: each pixel the host sampler draws is the
// Bernoulli draw of its normal against the logit the compiled network
// gives for the finished image (the incremental host computation is the
// network's), up to draws within float32 rounding of the threshold;
// completions keep the given rows.
func TestSamplerMatchesNetwork(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	m, err := New(b, smallConfig(2, 64))
	require.NoError(t, err)
	defer m.Free()
	const n = 4
	key := nn.RandKey{Seed: 5, Stream: nn.StreamID(nn.PurposeSample, 0)}
	z := make([]float32, n*D)
	for i := range z {
		z[i] = key.Normal(uint64(i))
	}
	out := make([]float32, n*D)
	require.NoError(t, m.Generate(z, out))
	x := make([]float32, n*D)
	for i, v := range out {
		require.True(t, v == 1 || v == -1)
		x[i] = (v + 1) / 2
	}
	lg := make([]float32, D)
	mismatches := 0
	for i := range n {
		require.NoError(t, m.Logits(x[i*D:(i+1)*D], i%m.K, lg))
		for d := range D {
			if autoreg.Draw(z[i*D+d], lg[d]) != x[i*D+d] {
				mismatches++
			}
		}
	}
	assert.LessOrEqual(t, mismatches, 2, "draws that disagree with the network's logits")

	known := randomBinary(rand.New(rand.NewPCG(9, 9)), n*D)
	require.NoError(t, m.Complete(z, known, 14, out))
	for i := range n {
		for d := range 14 * autoreg.Side {
			require.Equal(t, 2*known[i*D+d]-1, out[i*D+d])
		}
	}
	require.Error(t, m.Complete(z, known, 29, out))
	require.Error(t, m.Generate(z[:10], out))
}

// TestTrainStepDoesNotAllocate: after the first step of each ordering a
// training step allocates nothing on the CPU backend.
func TestTrainStepDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	data := &model.Dataset{Name: "random", N: 64, C: 1, H: 28, W: 28, Pixels: make([]float32, 64*D)}
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	m, err := New(b, smallConfig(2, 32))
	require.NoError(t, err)
	defer m.Free()
	batch := &model.Batch{Data: data, Dev: dev, Idx: []int32{0, 5, 9, 13, 20, 31, 40, 63}}
	for range 2 {
		_, err = m.TrainStep(batch)
		require.NoError(t, err)
	}
	assert.Zero(t, testing.AllocsPerRun(6, func() {
		if _, err := m.TrainStep(batch); err != nil {
			t.Fatal(err)
		}
	}))
}

// TestCheckpointRoundTrip: the masks and orderings are buffers saved with
// the checkpoint; a loaded model gives the same likelihoods.
func TestCheckpointRoundTrip(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	cfg := smallConfig(3, 32)
	m, err := New(b, cfg)
	require.NoError(t, err)
	defer m.Free()
	path := filepath.Join(t.TempDir(), "made.safetensors")
	require.NoError(t, model.Save(m, path))
	saved, err := nn.ReadTensorsFile(path)
	require.NoError(t, err)
	require.Contains(t, saved.Data, "MADE.net.0.mask")
	require.Contains(t, saved.Data, "MADE.order")
	l, err := model.Load(b, path, "")
	require.NoError(t, err)
	defer l.Free()
	x := randomBinary(rand.New(rand.NewPCG(1, 1)), 3*D)
	a, c := make([]float64, 3), make([]float64, 3)
	require.NoError(t, m.LogProb(x, a))
	require.NoError(t, l.(*MADE).LogProb(x, c))
	require.Equal(t, a, c)
}

// TestBadConfig: bad values are one-line errors.
func TestBadConfig(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	for _, c := range []model.Config{
		func() model.Config { c := DefaultConfig(); c.Orders = 65; return c }(),
		func() model.Config { c := DefaultConfig(); c.Hidden = -1; return c }(),
		func() model.Config { c := DefaultConfig(); c.Size = 32; return c }(),
		func() model.Config { c := DefaultConfig(); c.Loss = "hinge"; return c }(),
	} {
		_, err := New(b, c)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "\n")
	}
}
