package cgan

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
	"gan/nn/layer"
	"gan/nn/mnist"
	"gan/nn/model"
	"gan/nn/ref"
)

func newGAN(t testing.TB, b nn.Backend, c model.Config) *GAN {
	m, err := New(b, c)
	require.NoError(t, err)
	t.Cleanup(m.Free)
	return m
}

// mnistSubset is the first n training digits on b.
func mnistSubset(t testing.TB, b nn.Backend, n int) (*model.Dataset, nn.Mat) {
	set, err := mnist.Load("mnist", "", true)
	require.NoError(t, err)
	d := model.FromMNIST(set)
	d.N = n
	d.Pixels = d.Pixels[:n*ImageDim]
	d.Labels = d.Labels[:n]
	dev, err := d.Upload(b)
	require.NoError(t, err)
	t.Cleanup(func() { b.Free(dev) })
	return d, dev
}

// TestTrainingNamesAndShapes: the tensors carry PyTorch-GAN's cgan names
// and PyTorch's shapes, in state_dict order.
func TestTrainingNamesAndShapes(t *testing.T) {
	m := newGAN(t, cpu.New(), DefaultConfig())
	var names []string
	shapes := map[string][]int{}
	for _, n := range m.Nets() {
		for _, p := range n.Params.Params() {
			names = append(names, n.Name+"."+p.Name)
			shapes[n.Name+"."+p.Name] = p.Shape
		}
	}
	assert.Equal(t, []string{
		"G.label_emb.weight", "G.model.0.weight", "G.model.0.bias", "G.model.2.weight", "G.model.2.bias",
		"G.model.4.weight", "G.model.4.bias", "G.model.6.weight", "G.model.6.bias",
		"D.label_embedding.weight", "D.model.0.weight", "D.model.0.bias", "D.model.3.weight", "D.model.3.bias",
		"D.model.6.weight", "D.model.6.bias", "D.model.8.weight", "D.model.8.bias",
	}, names)
	assert.Equal(t, []int{10, 10}, shapes["G.label_emb.weight"])
	assert.Equal(t, []int{256, 110}, shapes["G.model.0.weight"])
	assert.Equal(t, []int{1024, 794}, shapes["D.model.0.weight"])
	assert.Equal(t, []int{1, 256}, shapes["D.model.8.weight"])
}

// TestShortTrainingRun: 60 steps on 2000 real digits: the statistics stay
// finite, D tells real from generated on average, every tensor moves, and
// a training step allocates nothing once compiled.
func TestShortTrainingRun(t *testing.T) {
	b := cpu.New()
	c := DefaultConfig()
	c.Epochs = 10
	m := newGAN(t, b, c)
	data, dev := mnistSubset(t, b, 2000)
	before, err := model.Checkpoint(m)
	require.NoError(t, err)
	var dx, dgz float64
	require.NoError(t, model.Train(context.Background(), m, data, dev, 60, model.Hooks{OnStep: func(p model.Progress) error {
		if p.Step > 10 {
			dx += p.Stats[2] / 50
			dgz += p.Stats[3] / 50
		}
		return nil
	}}))
	assert.Equal(t, 60, m.Step())
	t.Logf("steps 11-60: mean D(x) %.3f, mean D(G(z)) %.3f", dx, dgz)
	assert.Greater(t, dx, dgz+0.1)
	after, err := model.Checkpoint(m)
	require.NoError(t, err)
	for _, n := range m.Nets() {
		for _, p := range n.Params.Trainable() {
			name := n.Name + "." + p.Name
			assert.NotEqual(t, before.Data[name], after.Data[name], "%s did not move", name)
		}
	}

	idx := make([]int32, c.Batch)
	for i := range idx {
		idx[i] = int32(7 * i)
	}
	batch := &model.Batch{Data: data, Dev: dev, Idx: idx}
	_, err = m.TrainStep(batch)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := m.TrainStep(batch); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "allocations per training step")
}

// TestFakeLabelsAreUniform: the generated images' labels cover the
// classes evenly and differ from step to step.
func TestFakeLabelsAreUniform(t *testing.T) {
	var count [Classes]int
	buf := make([]int32, 64)
	FakeLabels(buf, 1, 0)
	first := append([]int32(nil), buf...)
	FakeLabels(buf, 1, 1)
	assert.NotEqual(t, first, buf)
	for step := range 500 {
		FakeLabels(buf, 1, step)
		for _, y := range buf {
			require.True(t, y >= 0 && y < Classes)
			count[y]++
		}
	}
	for c, k := range count {
		assert.InDelta(t, 3200, k, 250, "class %d", c) // 32000 draws, σ ≈ 54
	}
	for _, p := range []uint64{nn.PurposeInit, nn.PurposeNoise, nn.PurposeDropout, nn.PurposeShuffle,
		nn.PurposeFixed, nn.PurposeSample, nn.PurposeRandom, nn.PurposeAugment, nn.PurposeEvalSubset} {
		assert.NotEqual(t, uint64(nn.PurposeLabel), p, "the label purpose is its own")
	}
}

// TestGenerateLabelsHonoursEachRow: with G's label embedding scaled up so
// that it dominates the noise, and one noise vector on every row, the
// image of row i is a function of labels[i] alone: permuting the labels
// permutes the images, equal labels give equal images and the ten classes
// ten different images. Generate cycles the labels 0…9 row by row.
func TestGenerateLabelsHonoursEachRow(t *testing.T) {
	b := cpu.New()
	m := newGAN(t, b, DefaultConfig())
	emb := make([]float32, Classes*EmbedDim)
	for c := range Classes {
		emb[c*EmbedDim+c] = 30 // one-hot, far larger than z's entries
	}
	require.NoError(t, b.Upload(m.G.Emb.W.Value, emb))
	const n = 12
	z := make([]float32, n*ZDim)
	for i := range z {
		z[i] = nn.RandKey{Seed: 9}.Normal(uint64(i % ZDim))
	}
	labels := []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3, 7}
	img := make([]float32, n*ImageDim)
	require.NoError(t, m.GenerateLabels(z, labels, img))
	row := func(p []float32, i int) []float32 { return p[i*ImageDim : (i+1)*ImageDim] }
	for i := range Classes {
		for j := i + 1; j < Classes; j++ {
			assert.NotEqual(t, row(img, i), row(img, j), "classes %d and %d", i, j)
		}
	}
	assert.Equal(t, row(img, 3), row(img, 10))
	assert.Equal(t, row(img, 7), row(img, 11))

	perm := []int32{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 7, 3}
	back := make([]float32, n*ImageDim)
	require.NoError(t, m.GenerateLabels(z, perm, back))
	for i, y := range perm {
		assert.Equal(t, row(img, int(y)), row(back, i), "row %d asked for label %d", i, y)
	}

	// Generate: row i is label i mod 10.
	require.NoError(t, m.Generate(z, back))
	for i := range n {
		assert.Equal(t, row(img, i%Classes), row(back, i), "row %d", i)
	}

	for _, bad := range []int32{-1, Classes} {
		labels[4] = bad
		err := m.GenerateLabels(z, labels, img)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "row 4")
	}
	assert.Error(t, m.GenerateLabels(z, labels[:3], img), "a label per row")
}

// TestCheckpointRoundTrip: a saved and reloaded cgan keeps its
// configuration (architecture included) and step, generates the same
// images from the same noise and labels (over two chunks of 256 rows), and
// continues training bit for bit.
func TestCheckpointRoundTrip(t *testing.T) {
	b := cpu.New()
	c := DefaultConfig()
	c.Epochs, c.Batch, c.Seed = 3, 16, 5
	m := newGAN(t, b, c)
	data, dev := mnistSubset(t, b, 64)
	require.NoError(t, model.Train(context.Background(), m, data, dev, 5, model.Hooks{}))
	path := filepath.Join(t.TempDir(), "c.safetensors")
	require.NoError(t, model.Save(m, path))
	back, err := model.Load(b, path, "")
	require.NoError(t, err)
	defer back.Free()
	assert.Equal(t, *m.Config(), *back.Config())
	assert.Equal(t, ArchMLP, back.Config().Arch)
	assert.Equal(t, 5, back.Step())
	cg, ok := back.(model.ConditionalGenerator)
	require.True(t, ok)
	const n = 300 // two chunks
	z := make([]float32, n*ZDim)
	labels := make([]int32, n)
	for i := range z {
		z[i] = nn.RandKey{Seed: 2}.Normal(uint64(i))
	}
	for i := range labels {
		labels[i] = int32((i * 7) % Classes)
	}
	want, got := make([]float32, n*ImageDim), make([]float32, n*ImageDim)
	require.NoError(t, m.GenerateLabels(z, labels, want))
	require.NoError(t, cg.GenerateLabels(z, labels, got))
	assert.Equal(t, want, got)

	// Both runs continue alike.
	require.NoError(t, model.Train(context.Background(), m, data, dev, 3, model.Hooks{}))
	require.NoError(t, model.Train(context.Background(), back, data, dev, 3, model.Hooks{}))
	a, err := model.Checkpoint(m)
	require.NoError(t, err)
	bb, err := model.Checkpoint(back)
	require.NoError(t, err)
	assert.Equal(t, a.Data, bb.Data, "a resumed run continues bit for bit")
}

// TestBadInput: configurations the family cannot train and unlabelled or
// out-of-range data are errors, not panics.
func TestBadInput(t *testing.T) {
	for _, mod := range []func(*model.Config){
		func(c *model.Config) { c.Arch = "resnet" },
		func(c *model.Config) { c.Loss = "nope" },
		func(c *model.Config) { c.NCritic = -1 },
		func(c *model.Config) { c.Size = 64 },
		func(c *model.Config) { c.Batch = 0 },
	} {
		c := DefaultConfig()
		mod(&c)
		_, err := New(cpu.New(), c)
		assert.Error(t, err, "%+v", c)
	}
	b := cpu.New()
	c := DefaultConfig()
	c.Batch = 4
	m := newGAN(t, b, c)
	data, dev := mnistSubset(t, b, 8)
	batch := &model.Batch{Data: data, Dev: dev, Idx: []int32{0, 1, 2, 3}}
	labels := data.Labels
	data.Labels = nil
	_, err := m.TrainStep(batch)
	assert.ErrorContains(t, err, "labelled")
	data.Labels = append([]uint8(nil), labels...)
	data.Labels[2] = 10
	_, err = m.TrainStep(batch)
	assert.ErrorContains(t, err, "label 10")
}

// TestOtherLosses: Config.Loss lsgan and hinge train through package
// ganloss with that loss's statistics.
func TestOtherLosses(t *testing.T) {
	b := cpu.New()
	data, dev := mnistSubset(t, b, 64)
	for _, loss := range []string{"lsgan", "hinge"} {
		c := DefaultConfig()
		c.Batch, c.Loss = 16, loss
		m := newGAN(t, b, c)
		var names []string
		for _, s := range m.Stats() {
			names = append(names, s.Name)
		}
		assert.Equal(t, []string{"d_loss", "g_loss", "D(x)", "D(G(z))"}, names)
		require.NoError(t, model.Train(context.Background(), m, data, dev, 4, model.Hooks{OnStep: func(p model.Progress) error {
			if loss == "hinge" {
				assert.GreaterOrEqual(t, p.Stats[0], 0.0, "a hinge loss is not negative")
			}
			return nil
		}}), loss)
	}
}

// TestNetworkGradientsMatchFiniteDifferences differentiates D (label
// embedding, concatenation, dropout in training mode, fused sigmoid-BCE)
// and G (embedding, concatenation with z, tanh), built by the same code as
// the model's networks at small widths, on the float64 reference backend
// with repeated labels, and compares the gradient of every element of
// every tensor with central differences (1e-6 of the largest gradient
// element, as in nn/graph's checks; docs/tolerances.md).
func TestNetworkGradientsMatchFiniteDifferences(t *testing.T) {
	b := ref.New()
	const n, classes, emb, zdim, pixels = 4, 10, 3, 5, 12
	labelVals := []int32{3, 0, 3, 9}
	for _, net := range []string{"D", "G"} {
		var streams nn.InitStreams
		ps := nn.NewParamSetFrom(&streams)
		g := graph.New()
		var slots nn.StreamSlots
		ctx := &layer.Ctx{G: g, Train: true, Slots: &slots}
		labels := g.Indices("labels", n)
		var x, out *graph.Node
		if net == "D" {
			d := newDiscriminator(ps, true, classes, emb, pixels, 7, 6, 4)
			require.NoError(t, ps.Alloc(b))
			d.Init(b, 5)
			x = g.Input("x", graph.Shape{n, 1, 3, 4})
			out = d.Forward(ctx, x, labels)
		} else {
			gen := newGenerator(ps, classes, emb, zdim, pixels, 6, 7)
			require.NoError(t, ps.Alloc(b))
			gen.Init(b, 5)
			x = g.Input("z", graph.Shape{n, zdim})
			out = gen.Forward(ctx, x, labels)
		}
		var loss *graph.Node
		if net == "D" {
			loss, _ = g.SigmoidBCE(out, g.Const(graph.Shape{n, 1}, 1))
		} else {
			loss = g.Sum(g.Mul(out, g.RandNormal(graph.Shape{n, pixels}, 0, 1, graph.FixedStream(nn.PurposeRandom, 1))))
		}
		g.Backward(loss, ps)
		g.Output(loss)
		prog, err := g.Compile(b)
		require.NoError(t, err)
		require.NoError(t, prog.SetIndices(labels, labelVals))
		rng := rand.New(rand.NewPCG(1, 2))
		r, cols := x.Shape().Mat()
		xm, err := b.Alloc(r, cols)
		require.NoError(t, err)
		xv := make([]float64, r*cols)
		for i := range xv {
			xv[i] = rng.Float64()*2 - 1
		}
		require.NoError(t, b.Upload64(xm, xv))
		require.NoError(t, prog.Bind(x, xm))
		lossAt := func() float64 {
			require.NoError(t, prog.Run(7, 3))
			var v [1]float64
			require.NoError(t, b.Download64(v[:], prog.Mat(loss)))
			return v[0]
		}
		lossAt()
		grads := make([]float64, ps.Size())
		require.NoError(t, b.Download64(grads, ps.Grad))
		vals := make([]float64, ps.Size())
		require.NoError(t, b.Download64(vals, ps.Value))
		scale := 0.0
		for _, v := range grads {
			scale = math.Max(scale, math.Abs(v))
		}
		worst := 0.0
		check := func(name string, j int) {
			orig := vals[j]
			vals[j] = orig + 1e-5
			require.NoError(t, b.Upload64(ps.Value, vals))
			up := lossAt()
			vals[j] = orig - 1e-5
			require.NoError(t, b.Upload64(ps.Value, vals))
			down := lossAt()
			vals[j] = orig
			require.NoError(t, b.Upload64(ps.Value, vals))
			fd := (up - down) / 2e-5
			e := math.Abs(fd-grads[j]) / scale
			require.LessOrEqual(t, e, 1e-6, "%s.%s[%d]: analytic %v, finite difference %v", net, name, j, grads[j], fd)
			worst = math.Max(worst, e)
		}
		for _, p := range ps.Trainable() {
			off := p.Slice(ps.Value).Off - ps.Value.Off
			for j := range p.Len() {
				check(p.Name, off+j)
			}
		}
		for _, name := range []string{"label_emb.weight", "label_embedding.weight"} {
			if p := ps.Lookup(name); p != nil {
				off := p.Slice(ps.Value).Off - ps.Value.Off
				nonzero := 0
				for _, v := range grads[off : off+p.Len()] {
					if v != 0 {
						nonzero++
					}
				}
				// Rows 0, 3 (twice: the scatter adds) and 9 have gradients.
				assert.Equal(t, 3*emb, nonzero, "%s.%s: elements with a gradient", net, name)
			}
		}
		t.Logf("%s: worst error relative to max|grad| (%.3g) %.2g", net, scale, worst)
		prog.Free()
		b.Free(xm)
		ps.Free(b)
	}
}
