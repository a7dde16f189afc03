package layer_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/ref"
)

// TestNamesAndShapesArePyTorchs: a Sequential's tensors are named and shaped
// as PyTorch's state_dict names them (prefix.i.weight [out in], bias
// [out]; LayerNorm weight and bias of the normalised shape; Embedding
// weight [n dim]); layers without parameters take an index but no tensor.
func TestNamesAndShapesArePyTorchs(t *testing.T) {
	ps := nn.NewParamSet(0)
	layer.NewSequential(ps, "model",
		layer.Linear(10, 4), layer.LeakyReLU(0.2), layer.Dropout(0.3),
		layer.Linear(4, 1), layer.Sigmoid(), layer.LayerNorm(1e-5, 1), layer.Embedding(7, 3),
		layer.ReLU(), layer.Tanh())
	var got [][2]any
	for _, p := range ps.Params() {
		got = append(got, [2]any{p.Name, p.Shape})
	}
	assert.Equal(t, [][2]any{
		{"model.0.weight", []int{4, 10}}, {"model.0.bias", []int{4}},
		{"model.3.weight", []int{1, 4}}, {"model.3.bias", []int{1}},
		{"model.5.weight", []int{1}}, {"model.5.bias", []int{1}},
		{"model.6.weight", []int{7, 3}},
	}, got)
}

// run compiles and runs the graph of one output on the reference backend
// and returns its values.
func run(t *testing.T, b *ref.Backend, g *graph.Graph, out *graph.Node, bind map[*graph.Node][]float32) []float64 {
	t.Helper()
	g.Output(out)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	for in, v := range bind {
		r, c := in.Shape().Mat()
		m, err := b.Alloc(r, c)
		require.NoError(t, err)
		defer b.Free(m)
		require.NoError(t, b.Upload(m, v))
		require.NoError(t, prog.Bind(in, m))
	}
	require.NoError(t, prog.Run(1, 0))
	r, c := out.Shape().Mat()
	v := make([]float64, r*c)
	require.NoError(t, b.Download64(v, prog.Mat(out)))
	return v
}

// TestLayersComputeWhatPyTorchDoes checks each layer's forward pass and
// default initialisation against a direct float64 computation.
func TestLayersComputeWhatPyTorchDoes(t *testing.T) {
	b := ref.New()
	ps := nn.NewParamSet(0)
	lin := layer.NewLinear(ps, "lin", 50, 3)
	emb := layer.NewEmbedding(ps, "emb", 5, 4)
	ln := layer.NewSequential(ps, "ln", layer.LayerNorm(1e-5, 4))
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	lin.Init(b, 9)
	emb.Init(b, 9)
	ln.Init(b, 9)
	down := func(m nn.Mat) []float64 {
		v := make([]float64, m.Len())
		require.NoError(t, b.Download64(v, m))
		return v
	}

	// Linear: PyTorch's default init is uniform in ±1/√in, and it spreads
	// over the range.
	w, bias := down(lin.W.Value), down(lin.B.Value)
	bound := 1 / math.Sqrt(50)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range append(append([]float64{}, w...), bias...) {
		require.LessOrEqual(t, math.Abs(v), bound)
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	assert.Less(t, lo, -0.8*bound)
	assert.Greater(t, hi, 0.8*bound)
	// Forward: y = x·Wᵀ + b.
	g := graph.New()
	x := g.Input("x", graph.Shape{2, 50})
	xv := make([]float32, 100)
	for i := range xv {
		xv[i] = float32(i%7) - 3
	}
	y := run(t, b, g, lin.Forward(&layer.Ctx{G: g}, x), map[*graph.Node][]float32{x: xv})
	for i := range 2 {
		for j := range 3 {
			want := bias[j]
			for k := range 50 {
				want += float64(xv[i*50+k]) * w[j*50+k]
			}
			assert.InDelta(t, want, y[i*3+j], 1e-12)
		}
	}

	// Embedding: N(0, 1) init, and Lookup returns the rows asked for.
	table := down(emb.W.Value)
	g = graph.New()
	ix := g.Indices("ix", 3)
	out := emb.Lookup(&layer.Ctx{G: g}, ix)
	g.Output(out)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	require.NoError(t, prog.SetIndices(ix, []int32{4, 0, 4}))
	require.NoError(t, prog.Run(1, 0))
	got := down(prog.Mat(out))
	prog.Free()
	for r, i := range []int{4, 0, 4} {
		assert.Equal(t, table[i*4:(i+1)*4], got[r*4:(r+1)*4])
	}

	// LayerNorm with γ = 1, β = 0: each row to zero mean, unit variance
	// (biased variance, eps inside the square root, as PyTorch).
	g = graph.New()
	x = g.Input("x", graph.Shape{2, 4})
	xv = []float32{1, 2, 3, 4, -1, 0, 0, 5}
	y = run(t, b, g, ln.Forward(&layer.Ctx{G: g}, x), map[*graph.Node][]float32{x: xv})
	for r := range 2 {
		mean, vr := 0.0, 0.0
		for _, v := range xv[r*4 : r*4+4] {
			mean += float64(v) / 4
		}
		for _, v := range xv[r*4 : r*4+4] {
			vr += (float64(v) - mean) * (float64(v) - mean) / 4
		}
		for j, v := range xv[r*4 : r*4+4] {
			assert.InDelta(t, (float64(v)-mean)/math.Sqrt(vr+1e-5), y[r*4+j], 1e-6)
		}
	}
}

// TestActivationsAndDropout checks ReLU, LeakyReLU, Tanh and Sigmoid
// elementwise, and that Dropout is the identity in evaluation mode and
// drops about p of the elements in training mode, scaling the rest.
func TestActivationsAndDropout(t *testing.T) {
	xv := []float32{-2, -0.5, 0, 0.5, 2, 3}
	for _, tc := range []struct {
		spec layer.Spec
		f    func(float64) float64
	}{
		{layer.ReLU(), func(x float64) float64 { return math.Max(x, 0) }},
		{layer.LeakyReLU(0.2), func(x float64) float64 {
			if x < 0 {
				return 0.2 * x
			}
			return x
		}},
		{layer.Tanh(), math.Tanh},
		{layer.Sigmoid(), func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
	} {
		b := ref.New()
		s := layer.NewSequential(nn.NewParamSet(0), "act", tc.spec)
		g := graph.New()
		x := g.Input("x", graph.Shape{1, 6})
		y := run(t, b, g, s.Forward(&layer.Ctx{G: g}, x), map[*graph.Node][]float32{x: xv})
		for i, v := range xv {
			assert.InDelta(t, tc.f(float64(v)), y[i], 1e-7) // the slope is the float32 0.2
		}
	}

	drop := layer.NewSequential(nn.NewParamSet(0), "drop", layer.Dropout(0.3))
	g := graph.New()
	x := g.Input("x", graph.Shape{100, 100})
	assert.Same(t, x, drop.Forward(&layer.Ctx{G: g}, x), "evaluation mode")
	ones := make([]float32, 10000)
	for i := range ones {
		ones[i] = 1
	}
	y := run(t, ref.New(), g, drop.Forward(&layer.Ctx{G: g, Train: true, Slots: &nn.StreamSlots{}}, x), map[*graph.Node][]float32{x: ones})
	zeros := 0
	for _, v := range y {
		if v == 0 {
			zeros++
		} else {
			require.InDelta(t, 1/0.7, v, 1e-7) // p is the float32 0.3
		}
	}
	// 10,000 Bernoulli(0.3) draws: σ = 46, so ±200 is over 4σ.
	assert.InDelta(t, 3000, zeros, 200)
}

// TestConvLayersArePyTorchs: convolution and batch-norm layers register
// PyTorch's names, shapes and buffers (num_batches_tracked a 0-d int64),
// and a Sequential maps [N C H W] images to [N C H W] outputs through
// channels-last layers.
func TestConvLayersArePyTorchs(t *testing.T) {
	ps := nn.NewParamSet(0)
	s := layer.NewSequential(ps, "main",
		layer.Conv2d(3, 8, 4, 2, 1, false), layer.LeakyReLU(0.2),
		layer.Conv2d(8, 16, 3, 1, 1, true), layer.BatchNorm2d(16), layer.ReLU(),
		layer.ConvTranspose2d(16, 2, 4, 2, 1, 0, false), layer.Tanh())
	var got [][2]any
	for _, p := range ps.Params() {
		got = append(got, [2]any{p.Name, p.Shape})
		assert.Equal(t, p.Name == "main.3.num_batches_tracked", p.Int64, p.Name)
		assert.Equal(t, p.Name == "main.3.running_mean" || p.Name == "main.3.running_var" || p.Int64, p.Buffer, p.Name)
	}
	assert.Equal(t, [][2]any{
		{"main.0.weight", []int{8, 3, 4, 4}},
		{"main.2.weight", []int{16, 8, 3, 3}}, {"main.2.bias", []int{16}},
		{"main.3.weight", []int{16}}, {"main.3.bias", []int{16}},
		{"main.3.running_mean", []int{16}}, {"main.3.running_var", []int{16}},
		{"main.3.num_batches_tracked", []int(nil)},
		{"main.5.weight", []int{16, 2, 4, 4}},
	}, got)

	b := ref.New()
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	s.Init(b, 1)
	g := graph.New()
	x := g.Input("x", graph.Shape{2, 3, 8, 6})
	y := s.Forward(&layer.Ctx{G: g, Train: true}, x)
	require.NoError(t, g.Err())
	assert.Equal(t, graph.Shape{2, 2, 8, 6}, y.Shape(), "8×6 → 4×3 → 4×3 → 8×6")
	flat := layer.NewSequential(nn.NewParamSet(0), "f", layer.Flatten())
	assert.Equal(t, graph.Shape{2, 96}, flat.Forward(&layer.Ctx{G: g}, y).Shape())
}
