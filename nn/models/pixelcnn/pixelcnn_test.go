package pixelcnn

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
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
// weights (no mask); for both architectures (the gated one's 3×3
// convolutions feed tanh and σ through column views and a product).
func TestMaskedConvGradientsMatchFiniteDifferences(t *testing.T) {
	for _, arch := range []string{"", ArchGated} {
		t.Run("arch="+arch, func(t *testing.T) { checkMaskedConvGradients(t, arch) })
	}
}

func checkMaskedConvGradients(t *testing.T, arch string) {
	b := ref.New()
	cfg := tinyConfig(3, 2)
	cfg.Arch = arch
	m, err := New(b, cfg)
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
	convs := []*conv{m.head1}
	if arch == ArchGated {
		for _, l := range m.stack {
			convs = append(convs, l.vconv, l.hconv, l.link)
		}
		convs = append(convs, m.stack[1].out)
	} else {
		convs = append(convs, m.input, m.blocks[0].conv, m.blocks[1].conv, m.blocks[0].in)
	}
	for _, c := range convs {
		worst, checked, masked, err := artest.MaskedGradCheck(b, prog, loss, c.W, maskOf(c), 60)
		require.NoError(t, err)
		require.Positive(t, checked)
		switch {
		case c == m.input: // mask A of 7×7: 24 of 49 taps open
			require.Equal(t, c.Out*c.In*25, masked)
		case c.M != nil && c.KH == 3: // mask B of 3×3: 5 of 9 open
			require.Equal(t, c.Out*c.In*4, masked)
		case c.M != nil && c.K == 7: // the gated stacks' 1×7 mask A: 3 of 7 open
			require.Equal(t, c.Out*c.In*4, masked)
		case c.M != nil: // their 1×3 mask B: 2 of 3 open
			require.Equal(t, c.Out*c.In*1, masked)
		default:
			require.Zero(t, masked)
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

// fullSample is the sampler without shortcuts: at each of the 784 steps
// it reruns the whole-image network on the backend and draws the pixel
// from that logit (or keeps the known one in the first rows rows).
func fullSample(t *testing.T, m *PixelCNN, z, known []float32, rows int) []float32 {
	n := len(z) / D
	img, lg := make([]float32, n*D), make([]float32, n*D)
	for p := range D {
		require.NoError(t, m.run(img, n, Side, Side, lg))
		for i := range n {
			if known != nil && p < rows*Side {
				img[i*D+p] = known[i*D+p]
			} else {
				img[i*D+p] = autoreg.Draw(z[i*D+p], lg[i*D+p])
			}
		}
	}
	for i, v := range img {
		img[i] = 2*v - 1
	}
	return img
}

// TestFastSamplerIsExact: the one-pixel-per-step host sampler gives bit
// for bit the samples and completions of rerunning the whole-image
// network on the CPU backend at every step (one image: the padded
// two-row products), and every pixel of a 3-image chunk is the draw of
// its normal against the whole-image logit of the finished image, with no
// exception: the sampler's logits are bit for bit the network's; for the
// residual and the gated architecture. Completions keep the given rows.
func TestFastSamplerIsExact(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	for _, arch := range []string{"", ArchGated} {
		cfg := tinyConfig(4, 2)
		cfg.Arch = arch
		m, err := New(b, cfg)
		require.NoError(t, err)
		const n = 3
		key := nn.RandKey{Seed: 5, Stream: nn.StreamID(nn.PurposeSample, 0)}
		z := make([]float32, n*D)
		for i := range z {
			z[i] = key.Normal(uint64(i))
		}
		out := make([]float32, n*D)
		require.NoError(t, m.Generate(z[:D], out[:D]))
		require.Equal(t, fullSample(t, m, z[:D], nil, 0), out[:D], "arch %q: one image", arch)
		known := randomBinary(rand.New(rand.NewPCG(9, 9)), n*D)
		require.NoError(t, m.Complete(z[:D], known[:D], 14, out[:D]))
		require.Equal(t, fullSample(t, m, z[:D], known[:D], 14), out[:D], "arch %q: completion", arch)

		fast := make([]float32, n*D)
		require.NoError(t, m.sample(z, nil, 0, out, fast))
		x := make([]float32, n*D)
		ones := 0
		for i, v := range out {
			x[i] = (v + 1) / 2
			ones += int(x[i])
		}
		lg := make([]float32, n*D)
		require.NoError(t, m.Logits(x, lg))
		require.Equal(t, lg, fast, "arch %q: logits of the sampler and of the whole-image network", arch)
		for j := range x {
			require.Equal(t, x[j], autoreg.Draw(z[j], lg[j]), "arch %q: pixel %d", arch, j)
		}
		require.Positive(t, ones)
		require.Less(t, ones, n*D)
		require.NoError(t, m.Complete(z, known, 26, out))
		for i := range n {
			for d := range 26 * Side {
				require.Equal(t, 2*known[i*D+d]-1, out[i*D+d])
			}
		}
		require.Error(t, m.Complete(z, known, -1, out))
		m.Free()
	}
}

// TestShortRun trains 60 steps of batch 32 of a small PixelCNN (residual,
// then gated) on MNIST:
// the NLL falls from ~543 nats to below 250, and the test NLL of 200
// fixed-binarised test images agrees.
func TestShortRun(t *testing.T) {
	for _, arch := range []string{"", ArchGated} {
		t.Run("arch="+arch, func(t *testing.T) { shortRun(t, arch) })
	}
}

func shortRun(t *testing.T, arch string) {
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
	cfg.Arch = arch
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
	// The untrained NLL is near 784·ln 2 = 543 (the gated stacks' start
	// further off: 609).
	assert.InDelta(t, D*math.Ln2, first, 80, "untrained NLL")
	assert.Less(t, last, 250.0)
	test, err := mnist.Load("mnist", "", false)
	require.NoError(t, err)
	res, err := autoreg.Evaluate(m, autoreg.FixedBinarize(model.FromMNIST(test).Pixels[:200*D]), 100)
	require.NoError(t, err)
	t.Logf("after 60 steps: train NLL %.2f (first %.2f), %v", last, first, res)
	assert.Less(t, res.NLL, 250.0)
}

// TestTrainStepDoesNotAllocate: after the first step a training step
// allocates nothing on the CPU backend, for both architectures.
func TestTrainStepDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	data := &model.Dataset{Name: "random", N: 64, C: 1, H: 28, W: 28, Pixels: make([]float32, 64*D)}
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	for _, arch := range []string{"", ArchGated} {
		cfg := tinyConfig(4, 1)
		cfg.Arch = arch
		m, err := New(b, cfg)
		require.NoError(t, err)
		batch := &model.Batch{Data: data, Dev: dev, Idx: []int32{0, 5, 9, 13}}
		_, err = m.TrainStep(batch)
		require.NoError(t, err)
		assert.Zero(t, testing.AllocsPerRun(4, func() {
			if _, err := m.TrainStep(batch); err != nil {
				t.Fatal(err)
			}
		}), "arch %q", arch)
		m.Free()
	}
}

// TestCheckpointRoundTrip: masks are buffers saved with the checkpoint;
// a loaded model (residual or gated) gives the same likelihoods.
func TestCheckpointRoundTrip(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	for _, arch := range []string{"", ArchGated} {
		t.Run("arch="+arch, func(t *testing.T) { checkpointRoundTrip(t, b, arch) })
	}
}

func checkpointRoundTrip(t *testing.T, b nn.Backend, arch string) {
	cfg := tinyConfig(4, 2)
	cfg.Arch = arch
	m, err := New(b, cfg)
	require.NoError(t, err)
	defer m.Free()
	path := filepath.Join(t.TempDir(), "pixelcnn.safetensors")
	require.NoError(t, model.Save(m, path))
	saved, err := nn.ReadTensorsFile(path)
	require.NoError(t, err)
	if arch == ArchGated {
		// The stacks' convolutions give the 2h channels of f and g.
		require.Equal(t, []int{8, 1, 3, 7}, saved.Shapes["PixelCNN.stack.0.vconv.weight"])
		require.Equal(t, []int{8, 1, 1, 7}, saved.Shapes["PixelCNN.stack.0.hconv.mask"])
		require.Equal(t, []int{8, 4, 2, 3}, saved.Shapes["PixelCNN.stack.2.vconv.weight"])
		require.Equal(t, []int{8, 4, 1, 3}, saved.Shapes["PixelCNN.stack.2.hconv.weight"])
		require.Equal(t, []int{8, 8, 1, 1}, saved.Shapes["PixelCNN.stack.2.link.weight"])
		require.Equal(t, []int{4, 4, 1, 1}, saved.Shapes["PixelCNN.stack.2.out.weight"])
		require.NotContains(t, saved.Data, "PixelCNN.input.weight")
	} else {
		require.Contains(t, saved.Data, "PixelCNN.input.mask")
		require.Contains(t, saved.Data, "PixelCNN.blocks.1.conv.mask")
		require.Equal(t, []int{4, 4, 3, 3}, saved.Shapes["PixelCNN.blocks.1.conv.weight"])
	}
	l, err := model.Load(b, path, "")
	require.NoError(t, err)
	defer l.Free()
	require.Equal(t, arch == ArchGated, l.(*PixelCNN).gated)
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
		func() model.Config { c := DefaultConfig(); c.Arch = "conv"; return c }(),
		func() model.Config { c := DefaultConfig(); c.Channels = 3; return c }(),
	} {
		_, err := New(b, c)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "\n")
	}
}

// TestGatedStacksHaveNoBlindSpot: with 2 blocks, the logit of pixel
// (14, 10) of the gated stacks changes when pixel (13, 14) or (13, 15)
// flips (the vertical stack reaches 3 + 2 columns aside in the rows
// above), while the residual network's, whose masked convolutions reach
// (r−1, c+3) and no further right in the row above, does not: its blind
// spot.
func TestGatedStacksHaveNoBlindSpot(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	x := randomBinary(rand.New(rand.NewPCG(3, 4)), D)
	for _, arch := range []string{"", ArchGated} {
		cfg := tinyConfig(4, 2)
		cfg.Arch = arch
		m, err := New(b, cfg)
		require.NoError(t, err)
		base := make([]float32, D)
		require.NoError(t, m.run(x, 1, Side, Side, base))
		for _, col := range []int{13, 14, 15} {
			y := slices.Clone(x)
			y[13*Side+col] = 1 - y[13*Side+col]
			lg := make([]float32, D)
			require.NoError(t, m.run(y, 1, Side, Side, lg))
			changed := lg[14*Side+10] != base[14*Side+10]
			want := arch == ArchGated || col == 13
			assert.Equal(t, want, changed, "arch %q: flipping (13, %d)", arch, col)
		}
		m.Free()
	}
}

// TestLogitsDoNotDependOnTheChunk compares the default network's logits of
// 100 images (one evaluation program, large enough for the CPU backend's
// parallel paths) with those of the same images 3 at a time: every op
// treats images (rows) independently, so they must agree bit for bit. A
// fused op that wrote memory the planner had reused while it still read
// it (the fusion pass's apart rule) made the large program race.
func TestLogitsDoNotDependOnTheChunk(t *testing.T) {
	be := cpu.New()
	defer be.Close()
	m, err := New(be, DefaultConfig())
	require.NoError(t, err)
	defer m.Free()
	const n = evalChunk
	x := randomBinary(rand.New(rand.NewPCG(7, 8)), n*D)
	all := make([]float32, n*D)
	require.NoError(t, m.Logits(x, all))
	for lo := 0; lo < n; lo += 3 {
		hi := min(n, lo+3)
		part := make([]float32, (hi-lo)*D)
		require.NoError(t, m.Logits(x[lo*D:hi*D], part))
		for i, v := range part {
			require.Equal(t, math.Float32bits(all[lo*D+i]), math.Float32bits(v), "image %d pixel %d", lo+i/D, i%D)
		}
	}
}
