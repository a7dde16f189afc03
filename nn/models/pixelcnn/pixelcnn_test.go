package pixelcnn

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

func tinyConfig(h, blocks int) model.Config {
	c := DefaultConfig()
	c.Hidden, c.Blocks, c.Batch = h, blocks, 8
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
	t.Logf("%d flips checked", n)
}

// TestMaskedConvGradientsMatchFiniteDifferences: on the float64 reference
// backend, the NLL's gradient with respect to the mask-A and mask-B
// convolution weights is exactly zero at the masked taps and matches
// central differences at the others; the same for the 1×1 and head
// weights (no mask).
func TestMaskedConvGradientsMatchFiniteDifferences(t *testing.T) {
	b := ref.New()
	m, err := New(b, tinyConfig(3, 2))
	require.NoError(t, err)
	defer m.Free()
	const n, hgt, wid = 2, 6, 5
	g := graph.New()
	x := g.Input("x", graph.Shape{n, hgt * wid})
	bce, _ := g.SigmoidBCE(m.Forward(g, x, n, hgt, wid), x)
	loss := g.Scale(bce, hgt*wid)
	g.Backward(loss, m.P)
	g.Output(loss)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	xm, err := b.Alloc(n, hgt*wid)
	require.NoError(t, err)
	require.NoError(t, b.Upload(xm, randomBinary(rand.New(rand.NewPCG(5, 6)), n*hgt*wid)))
	require.NoError(t, prog.Bind(x, xm))
	maskOf := func(c *conv) []float64 {
		v := make([]float64, c.W.Len())
		if c.M == nil {
			for i := range v {
				v[i] = 1
			}
			return v
		}
		require.NoError(t, b.Download64(v, c.M.Value))
		return v
	}
	for _, c := range []*conv{m.input, m.blocks[0].conv, m.blocks[1].conv, m.blocks[0].in, m.head1} {
		worst, checked, masked, err := artest.MaskedGradCheck(b, prog, loss, c.W, maskOf(c), 60)
		require.NoError(t, err)
		require.Positive(t, checked)
		switch c {
		case m.input: // mask A of 7×7: 24 of 49 taps open
			require.Equal(t, c.Out*c.In*25, masked)
		case m.blocks[0].conv, m.blocks[1].conv: // mask B of 3×3: 5 of 9 open
			require.Equal(t, c.Out*c.In*4, masked)
		}
		t.Logf("%s: %d compared (worst %.2g), %d masked with zero gradient", c.W.Name, checked, worst, masked)
	}
}

// TestMasks: mask A is the 24 taps before the centre of a 7×7 kernel,
// mask B adds the centre.
func TestMasks(t *testing.T) {
	a := Mask(1, 1, 7, false)
	bm := Mask(1, 1, 3, true)
	sum := func(v []float32) (s float32) {
		for _, x := range v {
			s += x
		}
		return s
	}
	assert.Equal(t, float32(24), sum(a))
	assert.Equal(t, float32(1), a[3*7+2])
	assert.Equal(t, float32(0), a[3*7+3])
	assert.Equal(t, []float32{1, 1, 1, 1, 1, 0, 0, 0, 0}, bm)
}

// TestSamplerMatchesNetwork: every pixel drawn on windows is the draw of
// its normal against the logit of the whole-image network on the finished
// image (so the windows lose nothing), up to draws within float32
// rounding of the threshold; completions keep the given rows.
func TestSamplerMatchesNetwork(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	m, err := New(b, tinyConfig(4, 2))
	require.NoError(t, err)
	defer m.Free()
	r0, c0, w := m.Window(20, 14)
	require.Equal(t, [3]int{15, 9, 11}, [3]int{r0, c0, w})
	const n = 3
	key := nn.RandKey{Seed: 5, Stream: nn.StreamID(nn.PurposeSample, 0)}
	z := make([]float32, n*D)
	for i := range z {
		z[i] = key.Normal(uint64(i))
	}
	out := make([]float32, n*D)
	require.NoError(t, m.Generate(z, out))
	x := make([]float32, n*D)
	for i, v := range out {
		x[i] = (v + 1) / 2
	}
	lg := make([]float32, n*D)
	require.NoError(t, m.Logits(x, lg))
	mismatches := 0
	for j := range x {
		if autoreg.Draw(z[j], lg[j]) != x[j] {
			mismatches++
		}
	}
	assert.LessOrEqual(t, mismatches, 2, "draws that disagree with the whole-image logits")

	known := randomBinary(rand.New(rand.NewPCG(9, 9)), n*D)
	require.NoError(t, m.Complete(z, known, 26, out))
	for i := range n {
		for d := range 26 * Side {
			require.Equal(t, 2*known[i*D+d]-1, out[i*D+d])
		}
	}
	require.Error(t, m.Complete(z, known, -1, out))
}

// TestShortRun trains 60 steps of batch 32 of a small PixelCNN on MNIST:
// the NLL falls from ~543 nats to below 250, and the test NLL of 200
// fixed-binarised test images agrees.
func TestShortRun(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	train, err := mnist.Load("mnist", "", true)
	require.NoError(t, err)
	data := model.FromMNIST(train)
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	cfg := tinyConfig(8, 2)
	cfg.Batch = 32
	cfg.LR = 3e-3
	m, err := New(b, cfg)
	require.NoError(t, err)
	defer m.Free()
	var first, last float64
	require.NoError(t, model.Train(context.Background(), m, data, dev, 60, model.Hooks{OnStep: func(p model.Progress) error {
		if p.Step == 1 {
			first = p.Stats[0]
		}
		last = p.Stats[0]
		return nil
	}}))
	assert.InDelta(t, D*math.Ln2, first, 60, "untrained NLL")
	assert.Less(t, last, 250.0)
	test, err := mnist.Load("mnist", "", false)
	require.NoError(t, err)
	res, err := autoreg.Evaluate(m, autoreg.FixedBinarize(model.FromMNIST(test).Pixels[:200*D]), 100)
	require.NoError(t, err)
	t.Logf("after 60 steps: train NLL %.2f (first %.2f), %v", last, first, res)
	assert.Less(t, res.NLL, 250.0)
}

// TestTrainStepDoesNotAllocate: after the first step a training step
// allocates nothing on the CPU backend.
func TestTrainStepDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	data := &model.Dataset{Name: "random", N: 64, C: 1, H: 28, W: 28, Pixels: make([]float32, 64*D)}
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	m, err := New(b, tinyConfig(4, 1))
	require.NoError(t, err)
	defer m.Free()
	batch := &model.Batch{Data: data, Dev: dev, Idx: []int32{0, 5, 9, 13}}
	_, err = m.TrainStep(batch)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(4, func() {
		if _, err := m.TrainStep(batch); err != nil {
			t.Fatal(err)
		}
	}))
}

// TestCheckpointRoundTrip: masks are buffers saved with the checkpoint;
// a loaded model gives the same likelihoods.
func TestCheckpointRoundTrip(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	m, err := New(b, tinyConfig(4, 2))
	require.NoError(t, err)
	defer m.Free()
	path := filepath.Join(t.TempDir(), "pixelcnn.safetensors")
	require.NoError(t, model.Save(m, path))
	saved, err := nn.ReadTensorsFile(path)
	require.NoError(t, err)
	require.Contains(t, saved.Data, "PixelCNN.input.mask")
	require.Contains(t, saved.Data, "PixelCNN.blocks.1.conv.mask")
	l, err := model.Load(b, path, "")
	require.NoError(t, err)
	defer l.Free()
	x := randomBinary(rand.New(rand.NewPCG(1, 1)), 2*D)
	a, c := make([]float64, 2), make([]float64, 2)
	require.NoError(t, m.LogProb(x, a))
	require.NoError(t, l.(*PixelCNN).LogProb(x, c))
	require.Equal(t, a, c)
}

// TestBadConfig: bad values are one-line errors.
func TestBadConfig(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	for _, c := range []model.Config{
		func() model.Config { c := DefaultConfig(); c.Blocks = 65; return c }(),
		func() model.Config { c := DefaultConfig(); c.Hidden = 2000; return c }(),
		func() model.Config { c := DefaultConfig(); c.Orders = 2; return c }(),
		func() model.Config { c := DefaultConfig(); c.Arch = "gated"; return c }(),
		func() model.Config { c := DefaultConfig(); c.Channels = 3; return c }(),
	} {
		_, err := New(b, c)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "\n")
	}
}
