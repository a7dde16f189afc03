package seedgan

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/model"
	"gan/nn/ref"
)

// TestConvGeneratorShape: the paper's generator at full width (DIM 64, z
// of 128) has PyTorch's tensors under PyTorch's names (model.0 the linear
// layer, model.3/6/8 the deconvolutions, [in out 5 5]) and maps n×128
// noise to n×784 images (28×28) in (−1, 1), through 8×8 cropped to 7×7.
func TestConvGeneratorShape(t *testing.T) {
	const n = 2
	b := cpu.New()
	defer b.Close()
	ps := nn.NewParamSet(initStreamG)
	gen, crop := NewConvGenerator(ps, 64, PaperZDim)
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	gen.Init(b, 3)
	shapes := map[string][]int{}
	for _, p := range ps.Params() {
		shapes[p.Name] = p.Shape
	}
	assert.Equal(t, map[string][]int{
		"model.0.weight": {4096, 128}, "model.0.bias": {4096},
		"model.3.weight": {256, 128, 5, 5}, "model.3.bias": {128},
		"model.6.weight": {128, 64, 5, 5}, "model.6.bias": {64},
		"model.8.weight": {64, 1, 5, 5}, "model.8.bias": {1},
	}, shapes)

	g := graph.New()
	z := g.Input("z", graph.Shape{n, PaperZDim})
	img := gen.Forward(&layer.Ctx{G: g}, z)
	g.Output(img)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	require.NoError(t, crop.SetIndices(prog))
	assert.Equal(t, graph.Shape{n, ImageDim}, img.Shape())
	rng := rand.New(rand.NewPCG(1, 2))
	zm := upload32(t, b, n, PaperZDim, rng)
	require.NoError(t, prog.Bind(z, zm))
	require.NoError(t, prog.Run(1, 0))
	out := make([]float32, n*ImageDim)
	require.NoError(t, b.Download(out, prog.Mat(img)))
	distinct := map[float32]bool{}
	for _, v := range out {
		require.True(t, v > -1 && v < 1, "pixel %v", v)
		distinct[v] = true
	}
	assert.Greater(t, len(distinct), ImageDim, "the images vary")
}

func upload32(t *testing.T, b nn.Backend, rows, cols int, rng *rand.Rand) nn.Mat {
	m, err := b.Alloc(rows, cols)
	require.NoError(t, err)
	t.Cleanup(func() { b.Free(m) })
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	require.NoError(t, b.Upload(m, v))
	return m
}

// TestCropMatchesIndexing: Crop2d(7, 7) of [2 3 8 8] images equals
// x[:, :, :7, :7] by direct indexing, on the CPU and on nn/ref, and its
// gradient is the upstream gradient in the kept pixels and zero in the
// cropped-off row and column.
func TestCropMatchesIndexing(t *testing.T) {
	const n, c, h, w, ch, cw = 2, 3, 8, 8, 7, 7
	for _, b := range []nn.Backend{cpu.New(), ref.New()} {
		rng := rand.New(rand.NewPCG(3, 4))
		x := make([]float32, n*c*h*w)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		r := make([]float32, n*c*ch*cw) // the upstream gradient: ∂Σ(r⊙crop(x))/∂crop(x) = r
		for i := range r {
			r[i] = float32(rng.NormFloat64())
		}
		g := graph.New()
		xn := g.Input("x", graph.Shape{n, c, h, w})
		rn := g.Input("r", graph.Shape{n, c, ch, cw})
		crop := &Crop2d{H: ch, W: cw}
		y := crop.Forward(&layer.Ctx{G: g}, xn)
		require.Equal(t, graph.Shape{n, c, ch, cw}, y.Shape())
		dx := g.Grad(g.Sum(g.Mul(y, rn)), xn)[0]
		g.Output(y, dx)
		prog, err := g.Compile(b)
		require.NoError(t, err)
		require.NoError(t, crop.SetIndices(prog))
		for i, in := range []*graph.Node{xn, rn} {
			v := [][]float32{x, r}[i]
			m, err := b.Alloc(in.Shape()[0], len(v)/in.Shape()[0])
			require.NoError(t, err)
			require.NoError(t, b.Upload(m, v))
			require.NoError(t, prog.Bind(in, m))
		}
		require.NoError(t, prog.Run(1, 0))
		got := make([]float32, n*c*ch*cw)
		require.NoError(t, b.Download(got, prog.Mat(y)))
		grad := make([]float32, n*c*h*w)
		require.NoError(t, b.Download(grad, prog.Mat(dx)))
		for i := range n {
			for k := range c {
				for yy := range h {
					for xx := range w {
						src := ((i*c+k)*h+yy)*w + xx
						if yy < ch && xx < cw {
							dst := ((i*c+k)*ch+yy)*cw + xx
							require.Equal(t, x[src], got[dst], "y[%d,%d,%d,%d]", i, k, yy, xx)
							require.Equal(t, r[dst], grad[src], "dx[%d,%d,%d,%d]", i, k, yy, xx)
						} else {
							require.Zero(t, grad[src], "dx[%d,%d,%d,%d] (cropped off)", i, k, yy, xx)
						}
					}
				}
			}
		}
		prog.Free()
	}
	assert.Len(t, CropRows(1, 8, 8, 7, 7), 49)
	assert.Equal(t, []int32{0, 1, 3, 4, 6, 7, 9, 10}, CropRows(2, 2, 3, 2, 2))
}

// TestConvGeneratorMatchesFiniteDifferences differentiates
// Σ r ⊙ G(z) (r fixed random weights) for the paper's generator at reduced
// width (DIM 2, z of 8: the same layers, kernels, strides, padding, crop
// and 28×28 output) on the float64 reference backend, and compares the
// gradient with respect to sampled weights of every tensor with central
// differences, within 1e-6 of the largest gradient element (the error
// budget of nn/graph's tests).
func TestConvGeneratorMatchesFiniteDifferences(t *testing.T) {
	const n, zd = 2, 8
	b := ref.New()
	ps := nn.NewParamSet(initStreamG)
	gen, crop := NewConvGenerator(ps, 2, zd)
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	gen.Init(b, 5)
	g := graph.New()
	z, r := g.Input("z", graph.Shape{n, zd}), g.Input("r", graph.Shape{n, ImageDim})
	loss := g.Sum(g.Mul(gen.Forward(&layer.Ctx{G: g, Train: true}, z), r))
	g.Backward(loss, ps)
	out := g.Copy(loss)
	g.Output(out)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	require.NoError(t, crop.SetIndices(prog))
	rng := rand.New(rand.NewPCG(8, 9))
	for _, in := range []*graph.Node{z, r} {
		s := in.Shape()
		m, err := b.Alloc(s[0], s[1])
		require.NoError(t, err)
		defer b.Free(m)
		v := make([]float64, s[0]*s[1])
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		require.NoError(t, b.Upload64(m, v))
		require.NoError(t, prog.Bind(in, m))
	}
	lossAt := func() float64 {
		require.NoError(t, prog.Run(1, 0))
		var v [1]float64
		require.NoError(t, b.Download64(v[:], prog.Mat(out)))
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
	require.Positive(t, scale)
	worst := 0.0
	for _, p := range ps.Trainable() {
		off := p.Slice(ps.Value).Off - ps.Value.Off
		nonzero := 0
		for range 6 {
			j := off + rng.IntN(p.Len())
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
			require.LessOrEqual(t, e, 1e-6, "%s: analytic %v, finite difference %v", p.Name, grads[j], fd)
			worst = math.Max(worst, e)
			if grads[j] != 0 {
				nonzero++
			}
		}
		assert.Positive(t, nonzero, "%s: some sampled gradient is not zero", p.Name)
	}
	t.Logf("generator DIM 2, z %d, batch %d: worst error of ∂loss/∂w relative to max|∂loss/∂w| (%.3g) %.2g", zd, n, scale, worst)
}

// convConfig is gan train --loss wgan-gp --arch conv at batch n.
func convConfig(n int) model.Config {
	c := wganConfig()
	c.Arch, c.Batch = ArchConv, n
	return c
}

// TestConvArchTrains: --arch conv with wgan-gp builds the paper's generator
// and critic at full width (z of 128), trains 6 steps (G steps at 0 and 5)
// with finite statistics, G's weights changing exactly at its steps, and
// then generates 28×28 images from 128-wide noise.
func TestConvArchTrains(t *testing.T) {
	b := cpu.New()
	m := newGAN(t, b, convConfig(4))
	require.Equal(t, PaperZDim, m.LatentDim())
	ck := state(t, m)
	for name, n := range map[string]int{"G.model.0.weight": 4096 * 128, "G.model.3.weight": 256 * 128 * 25,
		"G.model.6.weight": 128 * 64 * 25, "G.model.8.weight": 64 * 25, "D.model.1.weight": 64 * 25} {
		assert.Len(t, ck[name], n, name)
	}
	data, dev := randomData(t, b, 16, 2)
	prev := ck
	for step := range 6 {
		require.NoError(t, model.Train(context.Background(), m, data, dev, 1, model.Hooks{OnStep: func(p model.Progress) error {
			t.Logf("step %d: d_loss %.4f g_loss %.4f W %.4f gp %.4f", p.Step, p.Stats[0], p.Stats[1], p.Stats[2], p.Stats[3])
			return nil
		}}))
		now := state(t, m)
		assert.Equal(t, step%5 == 0, !floatsEqual(prev["G.model.8.weight"], now["G.model.8.weight"]), "step %d: G stepped", step)
		prev = now
	}
	z := make([]float32, 3*PaperZDim)
	for i := range z {
		z[i] = float32(i%7) - 3
	}
	img := make([]float32, 3*ImageDim)
	require.NoError(t, m.Generate(z, img))
	for _, v := range img {
		require.True(t, v >= -1 && v <= 1)
	}
	require.Error(t, m.Generate(make([]float32, 3*ZDim), img), "100-wide noise is refused")
}

// TestConvArchStepDoesNotAllocate: with --arch conv (wgan-gp) a whole
// cycle of 5 critic steps, one with G's step, allocates nothing once both
// programs are compiled (the crop's indices are set at compile time).
func TestConvArchStepDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	m := newGAN(t, b, convConfig(4))
	data, dev := randomData(t, b, 16, 3)
	batch := &model.Batch{Data: data, Dev: dev, Idx: []int32{1, 5, 9, 13}}
	cycle := func() {
		for range 5 {
			if _, err := m.TrainStep(batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	cycle()
	assert.Zero(t, testing.AllocsPerRun(1, cycle), "allocations per WGAN-GP cycle with --arch conv")
	assert.Len(t, m.lsteps, 2)
}
