package cgan

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/model"
	"gan/nn/models/ganloss"
	"gan/nn/ref"
)

// convConfig is the configuration of gan train --model cgan --arch dcgan
// with batch n.
func convConfig(n int) model.Config {
	c := DefaultConfig()
	c.Arch, c.Batch = ArchDCGAN, n
	return c
}

// names lists m's tensors (G's, then D's) with their shapes, in
// state_dict order, without the optimisers' state.
func names(m *GAN) ([]string, map[string][]int) {
	var out []string
	shapes := map[string][]int{}
	for _, n := range m.Nets() {
		for _, p := range n.Params.Params() {
			out = append(out, n.Name+"."+p.Name)
			shapes[n.Name+"."+p.Name] = p.Shape
		}
	}
	return out, shapes
}

// TestConvNamesAndShapes: the DCGAN architecture's tensors carry the
// names and PyTorch shapes of the package doc's modules (the examples'
// DCGAN under "main", the label embeddings beside it); wgan-gp's critic
// has no batch norm and biased convolutions.
func TestConvNamesAndShapes(t *testing.T) {
	m := newGAN(t, cpu.New(), convConfig(64))
	got, shapes := names(m)
	assert.Equal(t, []string{
		"G.label_emb.weight", "G.main.0.weight",
		"G.main.1.weight", "G.main.1.bias", "G.main.1.running_mean", "G.main.1.running_var", "G.main.1.num_batches_tracked",
		"G.main.3.weight",
		"G.main.4.weight", "G.main.4.bias", "G.main.4.running_mean", "G.main.4.running_var", "G.main.4.num_batches_tracked",
		"G.main.6.weight",
		"D.label_embedding.weight", "D.main.0.weight", "D.main.2.weight",
		"D.main.3.weight", "D.main.3.bias", "D.main.3.running_mean", "D.main.3.running_var", "D.main.3.num_batches_tracked",
		"D.main.5.weight",
	}, got)
	for name, want := range map[string][]int{
		"G.label_emb.weight": {10, 10}, "G.main.0.weight": {110, 128, 7, 7}, "G.main.3.weight": {128, 64, 4, 4},
		"G.main.6.weight": {64, 1, 4, 4}, "D.label_embedding.weight": {10, 784}, "D.main.0.weight": {64, 2, 4, 4},
		"D.main.2.weight": {128, 64, 4, 4}, "D.main.5.weight": {1, 128, 7, 7},
	} {
		assert.Equal(t, want, shapes[name], name)
	}

	w := newGAN(t, cpu.New(), func() model.Config { c := wganConfig(); c.Arch = ArchDCGAN; return c }())
	got, shapes = names(w)
	var d []string
	for _, n := range got {
		if strings.HasPrefix(n, "D.") {
			d = append(d, n)
		}
	}
	assert.Equal(t, []string{"D.label_embedding.weight", "D.main.0.weight", "D.main.0.bias",
		"D.main.2.weight", "D.main.2.bias", "D.main.4.weight", "D.main.4.bias"}, d)
	assert.Equal(t, []int{64, 2, 4, 4}, shapes["D.main.0.weight"])
}

// TestConvInit: the convolutions are drawn N(0, 0.02) and the batch
// norms' γ N(1, 0.02) (the examples' weights_init), the label embeddings
// N(0, 1) (PyTorch's default).
func TestConvInit(t *testing.T) {
	m := newGAN(t, cpu.New(), convConfig(64))
	ck, err := model.Checkpoint(m)
	require.NoError(t, err)
	moments := func(v []float32) (mean, sd float64) {
		for _, x := range v {
			mean += float64(x)
		}
		mean /= float64(len(v))
		for _, x := range v {
			sd += (float64(x) - mean) * (float64(x) - mean)
		}
		return mean, math.Sqrt(sd / float64(len(v)))
	}
	for name, want := range map[string][2]float64{
		"G.main.0.weight": {0, 0.02}, "G.main.3.weight": {0, 0.02}, "D.main.0.weight": {0, 0.02}, "D.main.2.weight": {0, 0.02},
		"G.main.1.weight": {1, 0.02}, "D.main.3.weight": {1, 0.02},
		"G.label_emb.weight": {0, 1}, "D.label_embedding.weight": {0, 1},
	} {
		mean, sd := moments(ck.Data[name])
		n := float64(len(ck.Data[name]))
		assert.InDelta(t, want[0], mean, 5*want[1]/math.Sqrt(n)+1e-9, "%s: mean", name)
		assert.InDelta(t, want[1], sd, 0.25*want[1], "%s: standard deviation", name)
	}
	assert.Equal(t, make([]float32, 128), ck.Data["G.main.1.bias"], "β = 0")
}

// TestConvNetworksSeeTheLabel: G's forward is the DCGAN generator on the
// label's embedding and z stacked as 110 channels of a 1×1 image, and D's
// is the DCGAN discriminator on the image and the label's 28×28 plane
// stacked as 2 channels, as the package doc's PyTorch modules say:
// compared with those inputs built on the host and fed to the Sequential
// networks directly.
func TestConvNetworksSeeTheLabel(t *testing.T) {
	b := cpu.New()
	m := newGAN(t, b, convConfig(8))
	const n = 5
	labels := []int32{3, 0, 9, 3, 7}
	z := make([]float32, n*ZDim)
	x := make([]float32, n*ImageDim)
	for i := range z {
		z[i] = nn.RandKey{Seed: 4}.Normal(uint64(i))
	}
	for i := range x {
		x[i] = nn.RandKey{Seed: 5}.Normal(uint64(i)) * 0.5
	}
	down := func(mat nn.Mat) []float32 {
		v := make([]float32, mat.Rows*mat.Cols)
		require.NoError(t, b.Download(v, mat))
		return v
	}
	embG, embD := down(m.G.Emb.W.Value), down(m.D.Emb.W.Value)
	in := make([]float32, 0, n*(EmbedDim+ZDim))
	planes := make([]float32, 0, n*2*ImageDim)
	for i, y := range labels {
		in = append(in, embG[int(y)*EmbedDim:int(y+1)*EmbedDim]...)
		in = append(in, z[i*ZDim:(i+1)*ZDim]...)
		planes = append(planes, x[i*ImageDim:(i+1)*ImageDim]...)
		planes = append(planes, embD[int(y)*ImageDim:int(y+1)*ImageDim]...)
	}

	run := func(inputs map[string][]float32, shapes map[string]graph.Shape, build func(g *graph.Graph, ins map[string]*graph.Node, ix *graph.Index) *graph.Node) []float32 {
		g := graph.New()
		ins := map[string]*graph.Node{}
		for name, s := range shapes {
			ins[name] = g.Input(name, s)
		}
		ix := g.Indices("labels", n)
		out := build(g, ins, ix)
		g.Output(out)
		p, err := g.Compile(b)
		require.NoError(t, err)
		defer p.Free()
		for name, v := range inputs {
			r, c := shapes[name].Mat()
			mat, err := b.Alloc(r, c)
			require.NoError(t, err)
			defer b.Free(mat)
			require.NoError(t, b.Upload(mat, v))
			require.NoError(t, p.Bind(ins[name], mat))
		}
		require.NoError(t, p.SetIndices(ix, labels))
		require.NoError(t, p.Run(1, 0))
		return down(p.Mat(out))
	}
	eval := func(g *graph.Graph) *layer.Ctx { return &layer.Ctx{G: g} }

	gotG := run(map[string][]float32{"z": z}, map[string]graph.Shape{"z": {n, ZDim}},
		func(g *graph.Graph, ins map[string]*graph.Node, ix *graph.Index) *graph.Node {
			return m.G.Forward(eval(g), ins["z"], ix)
		})
	wantG := run(map[string][]float32{"in": in}, map[string]graph.Shape{"in": {n, EmbedDim + ZDim, 1, 1}},
		func(g *graph.Graph, ins map[string]*graph.Node, _ *graph.Index) *graph.Node {
			return g.Flatten(m.G.Model.Forward(eval(g), ins["in"]))
		})
	require.Len(t, gotG, n*ImageDim)
	assert.Equal(t, wantG, gotG, "G")

	gotD := run(map[string][]float32{"x": x}, map[string]graph.Shape{"x": {n, 1, 28, 28}},
		func(g *graph.Graph, ins map[string]*graph.Node, ix *graph.Index) *graph.Node {
			return m.D.Forward(eval(g), ins["x"], ix)
		})
	wantD := run(map[string][]float32{"planes": planes}, map[string]graph.Shape{"planes": {n, 2, 28, 28}},
		func(g *graph.Graph, ins map[string]*graph.Node, _ *graph.Index) *graph.Node {
			return g.Flatten(m.D.Model.Forward(eval(g), ins["planes"]))
		})
	require.Len(t, gotD, n)
	assert.Equal(t, wantD, gotD, "D")
	// Rows 0 and 4 are different images with label 3; row 0 under another
	// label is another logit.
	assert.NotEqual(t, gotD[0], gotD[4])
}

// TestConvLabelChangesG: from one noise vector on every row, the
// conditional DCGAN's images depend on the row's label alone: the ten
// classes give ten clearly different images, equal labels equal images,
// permuting the labels permutes the images, and Generate cycles the
// labels 0…9 row by row.
func TestConvLabelChangesG(t *testing.T) {
	m := newGAN(t, cpu.New(), convConfig(8))
	const n = 12
	z := make([]float32, n*ZDim)
	for i := range z {
		z[i] = nn.RandKey{Seed: 9}.Normal(uint64(i % ZDim))
	}
	labels := []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3, 7}
	img := make([]float32, n*ImageDim)
	require.NoError(t, m.GenerateLabels(z, labels, img))
	row := func(p []float32, i int) []float32 { return p[i*ImageDim : (i+1)*ImageDim] }
	meanAbs := func(a, b []float32) float64 {
		s := 0.0
		for i := range a {
			s += math.Abs(float64(a[i] - b[i]))
		}
		return s / float64(len(a))
	}
	zero := make([]float32, ImageDim)
	least := math.Inf(1)
	for i := range Classes {
		for j := i + 1; j < Classes; j++ {
			least = math.Min(least, meanAbs(row(img, i), row(img, j)))
		}
	}
	spread := meanAbs(row(img, 0), zero)
	t.Logf("mean |pixel| %.4g; the least mean |difference| between two classes' images %.4g", spread, least)
	// The untrained G's pixels are small; the label moves them by a
	// sizeable fraction of their size.
	assert.Greater(t, least, 0.1*spread, "the label changes the image")
	assert.Equal(t, row(img, 3), row(img, 10))
	assert.Equal(t, row(img, 7), row(img, 11))

	perm := []int32{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 7, 3}
	back := make([]float32, n*ImageDim)
	require.NoError(t, m.GenerateLabels(z, perm, back))
	for i, y := range perm {
		assert.Equal(t, row(img, int(y)), row(back, i), "row %d asked for label %d", i, y)
	}
	require.NoError(t, m.Generate(z, back))
	for i := range n {
		assert.Equal(t, row(img, i%Classes), row(back, i), "row %d", i)
	}
	labels[4] = Classes
	assert.ErrorContains(t, m.GenerateLabels(z, labels, img), "row 4")
}

// TestConvShortTrainingRun: 40 steps of batch 32 on 1000 real digits: the
// statistics stay finite (Train checks), D's loss falls from its start at
// 2·ln 2 and D tells real from generated, every tensor moves, the batch
// norms count three D passes per step, and a training step allocates
// nothing once compiled.
func TestConvShortTrainingRun(t *testing.T) {
	b := cpu.New()
	m := newGAN(t, b, convConfig(32))
	data, dev := mnistSubset(t, b, 1000)
	before, err := model.Checkpoint(m)
	require.NoError(t, err)
	var first []float64
	var late [4]float64
	require.NoError(t, model.Train(context.Background(), m, data, dev, 40, model.Hooks{OnStep: func(p model.Progress) error {
		if first == nil {
			first = append([]float64(nil), p.Stats...)
		}
		if p.Step > 30 {
			for i := range late {
				late[i] += p.Stats[i] / 10
			}
		}
		return nil
	}}))
	t.Logf("step 1: d_loss %.4f g_loss %.4f D(x) %.3f D(G(z)) %.3f; steps 31-40 mean: d_loss %.4f g_loss %.4f D(x) %.3f D(G(z)) %.3f",
		first[0], first[1], first[2], first[3], late[0], late[1], late[2], late[3])
	assert.InDelta(t, 2*math.Ln2, first[0], 0.5, "D's first loss is near 2 ln 2")
	assert.Less(t, late[0], first[0]-0.2, "D's loss falls")
	assert.Greater(t, late[2], late[3]+0.2, "D(x) above D(G(z))")
	after, err := model.Checkpoint(m)
	require.NoError(t, err)
	for _, n := range m.Nets() {
		for _, p := range n.Params.Trainable() {
			name := n.Name + "." + p.Name
			assert.NotEqual(t, before.Data[name], after.Data[name], "%s did not move", name)
		}
	}
	assert.Equal(t, []float32{40}, after.Data["G.main.1.num_batches_tracked"])
	assert.Equal(t, []float32{120}, after.Data["D.main.3.num_batches_tracked"], "three D passes per step")

	idx := make([]int32, 32)
	for i := range idx {
		idx[i] = int32(7 * i)
	}
	batch := &model.Batch{Data: data, Dev: dev, Idx: idx}
	_, err = m.TrainStep(batch)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(3, func() {
		if _, err := m.TrainStep(batch); err != nil {
			t.Fatal(err)
		}
	}), "allocations per training step")
}

// TestConvDeterminism: two models of one seed trained 4 steps on the same
// data hold the same weights, buffers and optimiser state bit for bit;
// another seed gives other weights.
func TestConvDeterminism(t *testing.T) {
	b := cpu.New()
	data, dev := mnistSubset(t, b, 48)
	run := func(seed uint64) map[string][]float32 {
		c := convConfig(8)
		c.Seed = seed
		m := newGAN(t, b, c)
		require.NoError(t, model.Train(context.Background(), m, data, dev, 4, model.Hooks{}))
		return state(t, m)
	}
	a, again, other := run(3), run(3), run(4)
	require.Equal(t, len(a), len(again))
	for name, w := range a {
		require.True(t, floatsEqual(w, again[name]), "%s differs between two runs of one seed", name)
	}
	assert.False(t, floatsEqual(a["G.main.0.weight"], other["G.main.0.weight"]), "another seed, other weights")
}

// TestConvCheckpointRoundTrip: a saved and reloaded conditional DCGAN
// keeps its architecture and step (num_batches_tracked as int64),
// generates the same images from the same noise and labels (over two
// chunks of 256 rows), and a resumed run continues bit for bit.
func TestConvCheckpointRoundTrip(t *testing.T) {
	b := cpu.New()
	c := convConfig(8)
	c.Seed = 5
	data, dev := mnistSubset(t, b, 40)
	straight := newGAN(t, b, c)
	require.NoError(t, model.Train(context.Background(), straight, data, dev, 6, model.Hooks{}))
	m := newGAN(t, b, c)
	require.NoError(t, model.Train(context.Background(), m, data, dev, 3, model.Hooks{}))
	path := filepath.Join(t.TempDir(), "c.safetensors")
	require.NoError(t, model.Save(m, path))
	saved, err := nn.ReadTensorsFile(path)
	require.NoError(t, err)
	assert.True(t, saved.Int64["G.main.1.num_batches_tracked"], "num_batches_tracked is int64")
	back, err := model.Load(b, path, "")
	require.NoError(t, err)
	defer back.Free()
	assert.Equal(t, *m.Config(), *back.Config())
	assert.Equal(t, ArchDCGAN, back.Config().Arch)
	assert.Equal(t, 3, back.Step())
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

	require.NoError(t, model.Train(context.Background(), back, data, dev, 3, model.Hooks{}))
	a, r := state(t, straight), state(t, back.(*GAN))
	require.Equal(t, len(a), len(r))
	for name, w := range a {
		require.True(t, floatsEqual(w, r[name]), "%s: the resumed run differs", name)
	}
}

// TestConvLosses: every loss the family takes trains the DCGAN
// architecture with its own statistics (finite: Train checks), G stepping
// exactly on the steps ≡ 0 mod NCritic; wgan-gp gives the generated batch
// the real batch's labels and its gradient penalty is positive.
func TestConvLosses(t *testing.T) {
	b := cpu.New()
	data, dev := mnistSubset(t, b, 48)
	for _, tc := range []struct {
		loss    string
		nCritic int
		stats   []string
	}{
		{ganloss.LSGAN, 1, []string{"d_loss", "g_loss", "D(x)", "D(G(z))"}},
		{ganloss.Hinge, 1, []string{"d_loss", "g_loss", "D(x)", "D(G(z))"}},
		{ganloss.BCE, 2, []string{"d_loss", "g_loss", "D(x)", "D(G(z))"}},
		{ganloss.WGANGP, 3, []string{"d_loss", "g_loss", "W", "gp"}},
	} {
		t.Run(tc.loss, func(t *testing.T) {
			c := convConfig(8)
			c.Loss, c.NCritic = tc.loss, tc.nCritic
			m := newGAN(t, b, c)
			var got []string
			for _, s := range m.Stats() {
				got = append(got, s.Name)
			}
			assert.Equal(t, tc.stats, got)
			prev := state(t, m)
			for step := range 4 {
				var stats []float64
				require.NoError(t, model.Train(context.Background(), m, data, dev, 1, model.Hooks{OnStep: func(p model.Progress) error {
					stats = append(stats[:0], p.Stats...)
					return nil
				}}))
				now := state(t, m)
				gMoved := !floatsEqual(prev["G.main.0.weight"], now["G.main.0.weight"])
				assert.Equal(t, step%tc.nCritic == 0, gMoved, "step %d: G stepped", step)
				assert.False(t, floatsEqual(prev["D.main.0.weight"], now["D.main.0.weight"]), "step %d: D stepped", step)
				switch tc.loss {
				case ganloss.Hinge:
					assert.GreaterOrEqual(t, stats[0], 0.0, "a hinge loss is not negative")
				case ganloss.WGANGP:
					assert.Greater(t, stats[3], 0.0, "gp")
					assert.Equal(t, m.labels[:8], m.labels[8:16], "the generated images take the real batch's labels")
				}
				prev = now
			}
		})
	}
}

// TestConvBadInput: the DCGAN architecture takes MNIST's 1×28×28 only
// and batches of at least 2 rows; an unknown architecture names both
// known ones.
func TestConvBadInput(t *testing.T) {
	for _, mod := range []func(*model.Config){
		func(c *model.Config) { c.Size = 64 },
		func(c *model.Config) { c.Channels = 3 },
		func(c *model.Config) { c.Loss = "nope" },
	} {
		c := convConfig(8)
		mod(&c)
		_, err := New(cpu.New(), c)
		assert.Error(t, err, "%+v", c)
	}
	c := convConfig(8)
	c.Arch = "resnet"
	_, err := New(cpu.New(), c)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `arch "resnet"`)
	assert.Contains(t, err.Error(), `"dcgan"`)
	assert.NotContains(t, err.Error(), "\n")

	b := cpu.New()
	m := newGAN(t, b, convConfig(8))
	data, dev := mnistSubset(t, b, 8)
	_, err = m.TrainStep(&model.Batch{Data: data, Dev: dev, Idx: []int32{3}})
	assert.ErrorContains(t, err, "at least 2")
	data.Labels[2] = 10
	_, err = m.TrainStep(&model.Batch{Data: data, Dev: dev, Idx: []int32{0, 1, 2, 3}})
	assert.ErrorContains(t, err, "label 10")
}

// TestConvNetworkGradientsMatchFiniteDifferences differentiates the
// DCGAN architecture's D (label plane gathered and stacked on the image,
// convolutions, batch norm with batch statistics, fused sigmoid-BCE) and
// G (embedding stacked on z as 1×1 channels, transposed convolutions,
// batch norm, tanh), built by the same code as the model's networks at
// 16×16, on the float64 reference backend with repeated labels, and
// compares gradients with central differences (within 1e-6 of the
// largest gradient element, as in nn/graph's checks; docs/tolerances.md):
// five elements spread over every tensor, and every element of the used
// label rows of the embeddings for G (for D, eight of each used row),
// whose other rows have no gradient.
func TestConvNetworkGradientsMatchFiniteDifferences(t *testing.T) {
	b := ref.New()
	const n, classes, emb, zdim, size = 4, 10, 3, 5, 16
	labelVals := []int32{3, 0, 3, 9}
	for _, net := range []string{"D", "G"} {
		var streams nn.InitStreams
		ps := nn.NewParamSetFrom(&streams)
		g := graph.New()
		ctx := &layer.Ctx{G: g, Train: true, Slots: &nn.StreamSlots{}}
		labels := g.Indices("labels", n)
		var x, out *graph.Node
		var embW *nn.Param
		if net == "D" {
			d := newConvDiscriminator(ps, false, classes, size)
			require.NoError(t, ps.Alloc(b))
			d.Init(b, 5)
			embW = d.Emb.W
			x = g.Input("x", graph.Shape{n, 1, size, size})
			out = d.Forward(ctx, x, labels)
		} else {
			gen := newConvGenerator(ps, classes, emb, zdim, size)
			require.NoError(t, ps.Alloc(b))
			gen.Init(b, 5)
			embW = gen.Emb.W
			x = g.Input("z", graph.Shape{n, zdim})
			out = gen.Forward(ctx, x, labels)
		}
		var loss *graph.Node
		if net == "D" {
			require.Equal(t, graph.Shape{n, 1}, out.Shape())
			loss, _ = g.SigmoidBCE(out, g.Const(graph.Shape{n, 1}, 1))
		} else {
			require.Equal(t, graph.Shape{n, size * size}, out.Shape())
			loss = g.Sum(g.Mul(out, g.RandNormal(graph.Shape{n, size * size}, 0, 1, graph.FixedStream(nn.PurposeRandom, 1))))
		}
		g.Backward(loss, ps)
		g.Output(loss)
		prog, err := g.Compile(b)
		require.NoError(t, err)
		require.NoError(t, prog.SetIndices(labels, labelVals))
		r, cols := x.Shape().Mat()
		xm, err := b.Alloc(r, cols)
		require.NoError(t, err)
		xv := make([]float64, r*cols)
		for i := range xv {
			xv[i] = math.Sin(float64(3*i+1)) * 0.9
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
		worst, checked := 0.0, 0
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
			checked++
		}
		for _, p := range ps.Trainable() {
			off := p.Slice(ps.Value).Off - ps.Value.Off
			if p == embW {
				dim := p.Shape[1]
				nonzero := 0
				for _, v := range grads[off : off+p.Len()] {
					if v != 0 {
						nonzero++
					}
				}
				// Rows 0, 3 (twice: the scatter adds) and 9 have gradients.
				assert.Equal(t, 3*dim, nonzero, "%s.%s: elements with a gradient", net, p.Name)
				step := max(1, dim/8)
				for _, row := range []int{0, 3, 9, 5} {
					for c := 0; c < dim; c += step {
						check(p.Name, off+row*dim+c)
					}
				}
				continue
			}
			for k := range 5 {
				check(p.Name, off+(k*p.Len())/5+(k*7)%max(1, p.Len()/5))
			}
		}
		t.Logf("%s: %d elements checked; worst error relative to max|grad| (%.3g) %.2g", net, checked, scale, worst)
		prog.Free()
		b.Free(xm)
		ps.Free(b)
	}
}
