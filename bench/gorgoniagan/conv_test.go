package gorgoniagan_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/bench/gorgoniagan"
	"gan/cpu"
	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
)

// convNet is the oracle's network at a size where every case of the
// geometry shows: stride 2 with padding, a 3×3 kernel, a transposed
// convolution with output padding, and non-square images (8×6 → 4×3 → 4×3
// → 8×6), so that a swapped height and width would show.
var convNet = gorgoniagan.ConvNet{
	N: 4, C: 3, H: 8, W: 6,
	C1: 8, K1: 4, S1: 2, P1: 1,
	C2: 6, K2: 3, S2: 1, P2: 1,
	C3: 2, K3: 3, S3: 2, P3: 1, OP3: 1,
	Slope: 0.2, Momentum: 0.1, Eps: 1e-5,
}

// randomValues draws n float32 values, uniform in [lo, hi), from stream.
func randomValues(stream uint64, n int, lo, hi float32) []float32 {
	k := nn.RandKey{Seed: 77, Stream: stream}
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + (hi-lo)*k.Uniform(uint64(i))
	}
	return v
}

func widen32(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// requireCloseTensor compares a float32 tensor of ours with the float64
// oracle's: the largest elementwise difference must stay below rtol of the
// tensor's largest entry (see TestConvNetMatchesGorgonia for the figure).
func requireCloseTensor(t *testing.T, what string, want []float64, got []float32, rtol float64) {
	t.Helper()
	require.Len(t, got, len(want), what)
	var maxAbs, maxDiff float64
	for i := range want {
		maxAbs = math.Max(maxAbs, math.Abs(want[i]))
		maxDiff = math.Max(maxDiff, math.Abs(want[i]-float64(got[i])))
	}
	require.Greater(t, maxAbs, 0.0, "%s: the oracle's tensor is zero", what)
	assert.LessOrEqual(t, maxDiff, rtol*maxAbs, "%s: max diff %g, max |x| %g (%.1e relative)", what, maxDiff, maxAbs, maxDiff/maxAbs)
	t.Logf("%-22s max |x| %-10.4g max diff %.2e relative", what, maxAbs, maxDiff/maxAbs)
}

// TestConvNetMatchesGorgonia checks our Conv2d, BatchNorm2d (training mode,
// running statistics), LeakyReLU and ConvTranspose2d layers, composed as
// a network on the CPU backend, against Gorgonia's differentiation of the
// same network in float64 (gorgoniagan.ConvNet: Gorgonia's own Conv2d and
// BatchNorm, and a transposed convolution built from its definition): the
// output, the loss, the gradients with respect to the input and to every
// weight, and the running statistics after the pass.
//
// Tolerance: each tensor's largest difference ≤ 1e-4 of its largest
// entry, as for the seed model's oracle (docs/tolerances.md, "matmul"):
// the float32 dot products here have K ≤ 72 terms (about √K·2⁻²⁴ ≈ 6e-7
// relative each) through five layers and the batch norm's sums of 48
// values per channel, so errors of 1e-6 relative are expected (the test
// logs the measured ones) and 1e-4 leaves a wide margin, while a wrong
// index, a missing term or a transposed kernel errs by order 1.
func TestConvNetMatchesGorgonia(t *testing.T) {
	n := convNet
	b := cpu.New()
	defer b.Close()
	ps := nn.NewParamSet(0)
	net := layer.NewSequential(ps, "net",
		layer.Conv2d(n.C, n.C1, n.K1, n.S1, n.P1, false),
		layer.BatchNorm2d(n.C1),
		layer.LeakyReLU(float32(n.Slope)),
		layer.Conv2d(n.C1, n.C2, n.K2, n.S2, n.P2, true),
		layer.ConvTranspose2d(n.C2, n.C3, n.K3, n.S3, n.P3, n.OP3, true))
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)

	// Values: the same float32 numbers on both sides.
	byName := map[string][]float32{}
	for i, p := range ps.Params() {
		v := randomValues(uint64(100+i), p.Len(), -0.5, 0.5)
		switch p.Name {
		case "net.1.weight":
			v = randomValues(uint64(100+i), p.Len(), 0.5, 1.5) // γ
		case "net.1.running_var":
			v = randomValues(uint64(100+i), p.Len(), 0.5, 2)
		case "net.1.num_batches_tracked":
			v = []float32{0}
		}
		require.NoError(t, b.Upload(p.Value, v), p.Name)
		byName[p.Name] = v
	}
	x := randomValues(1, n.N*n.C*n.H*n.W, -1, 1)
	outShape := n.OutShape()
	r := randomValues(2, outShape[0]*outShape[1]*outShape[2]*outShape[3], -1, 1)

	g := graph.New()
	xin := g.Input("x", graph.Shape{n.N, n.C, n.H, n.W})
	rin := g.Input("r", graph.Shape(outShape))
	y := net.Forward(&layer.Ctx{G: g, Train: true}, xin)
	require.Equal(t, graph.Shape(outShape), y.Shape())
	loss := g.Sum(g.Mul(y, rin))
	wrt := []*graph.Node{xin}
	var names []string
	for _, p := range ps.Trainable() {
		wrt = append(wrt, g.Param(p))
		names = append(names, p.Name)
	}
	require.Equal(t, []string{"net.0.weight", "net.1.weight", "net.1.bias", "net.3.weight", "net.3.bias", "net.4.weight", "net.4.bias"}, names)
	grads := g.Grad(loss, wrt...)
	g.Output(append([]*graph.Node{y}, grads...)...)
	g.Fetch(loss)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	bindInput := func(node *graph.Node, v []float32, rows, cols int) {
		m, err := b.Alloc(rows, cols)
		require.NoError(t, err)
		t.Cleanup(func() { b.Free(m) })
		require.NoError(t, b.Upload(m, v))
		require.NoError(t, prog.Bind(node, m))
	}
	bindInput(xin, x, n.N, n.C*n.H*n.W)
	bindInput(rin, r, outShape[0], len(r)/outShape[0])
	require.NoError(t, prog.Run(1, 0))
	download := func(m nn.Mat) []float32 {
		v := make([]float32, m.Len())
		require.NoError(t, b.Download(v, m))
		return v
	}

	want, err := n.Grads64(gorgoniagan.ConvNetValues{
		X: widen32(x), W1: widen32(byName["net.0.weight"]),
		Gamma: widen32(byName["net.1.weight"]), Beta: widen32(byName["net.1.bias"]),
		RunMean: widen32(byName["net.1.running_mean"]), RunVar: widen32(byName["net.1.running_var"]),
		W2: widen32(byName["net.3.weight"]), B2: widen32(byName["net.3.bias"]),
		W3: widen32(byName["net.4.weight"]), B3: widen32(byName["net.4.bias"]),
		R: widen32(r),
	})
	require.NoError(t, err)

	const rtol = 1e-4
	requireCloseTensor(t, "output", want.Y, download(prog.Mat(y)), rtol)
	assert.InEpsilon(t, want.Loss, float64(prog.Value(loss)), 1e-5, "loss")
	wg := want.Grads
	for i, w := range [][]float64{wg.X, wg.W1, wg.Gamma, wg.Beta, wg.W2, wg.B2, wg.W3, wg.B3} {
		what := "d/d input"
		if i > 0 {
			what = "d/d " + names[i-1]
		}
		requireCloseTensor(t, what, w, download(prog.Mat(grads[i])), rtol)
	}
	params := map[string]*nn.Param{}
	for _, p := range ps.Params() {
		params[p.Name] = p
	}
	requireCloseTensor(t, "running_mean", wg.RunMean, download(params["net.1.running_mean"].Value), rtol)
	requireCloseTensor(t, "running_var", wg.RunVar, download(params["net.1.running_var"].Value), rtol)
	assert.Equal(t, []float32{1}, download(params["net.1.num_batches_tracked"].Value), "num_batches_tracked")
}
