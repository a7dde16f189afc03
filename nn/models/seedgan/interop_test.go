package seedgan

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/graph"
	"gan/nn/internal/torchtest"
	"gan/nn/layer"
	"gan/nn/mnist"
	"gan/nn/model"
)

// discriminate returns D(x) (after the seed's final sigmoid) in evaluation
// mode for the n×784 images x.
func discriminate(t *testing.T, m *GAN, x []float32) []float32 {
	t.Helper()
	n := len(x) / ImageDim
	g := graph.New()
	in := g.Input("x", graph.Shape{n, ImageDim})
	out := g.Act(m.D.Forward(&layer.Ctx{G: g}, in), nn.Act{Kind: nn.ActSigmoid})
	g.Output(out)
	prog, err := g.Compile(m.B)
	require.NoError(t, err)
	defer prog.Free()
	xm, err := m.B.Alloc(n, ImageDim)
	require.NoError(t, err)
	defer m.B.Free(xm)
	require.NoError(t, m.B.Upload(xm, x))
	require.NoError(t, prog.Bind(in, xm))
	require.NoError(t, prog.Run(0, 0))
	d := make([]float32, n)
	require.NoError(t, m.B.Download(d, prog.Mat(out)))
	return d
}

func runPython(t *testing.T, args ...string) {
	t.Helper()
	t.Logf("%s", torchtest.Run(t, "testdata/torch_interop.py", args...))
}

// maxAbsDiff is max |a−b|.
func maxAbsDiff(a, b []float32) float64 {
	worst := 0.0
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst
}

// TestPyTorchInterop checks both directions with the seed's own PyTorch
// modules: a checkpoint of ours (after 10 training steps) loads into
// Generator and Discriminator with load_state_dict(strict=True) and gives
// the outputs we give; and a state_dict saved by PyTorch loads as a bare
// state_dict (model.Load, what `gan import`, --resume and --checkpoint
// use), with a fresh optimiser, and gives PyTorch's outputs.
func TestPyTorchInterop(t *testing.T) {
	torchtest.Require(t)
	dir := t.TempDir()
	b := cpu.New()
	defer b.Close()

	// Ours into PyTorch.
	train, err := mnist.Load("mnist", "", true)
	require.NoError(t, err)
	data := model.FromMNIST(train)
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	m, err := New(b, DefaultConfig())
	require.NoError(t, err)
	defer m.Free()
	require.NoError(t, model.Train(context.Background(), m, data, dev, 10, model.Hooks{}))
	ckpt := filepath.Join(dir, "checkpoint.safetensors")
	require.NoError(t, model.Save(m, ckpt))
	const n = 16
	z := make([]float32, n*ZDim)
	for i := range z {
		z[i] = nn.RandKey{Seed: 5, Stream: 1}.Normal(uint64(i))
	}
	x := data.Pixels[:n*ImageDim]
	gOut := make([]float32, n*ImageDim)
	require.NoError(t, m.Generate(z, gOut))
	probe := nn.NewTensors()
	probe.Add("z", []int{n, ZDim}, z)
	probe.Add("x", []int{n, ImageDim}, x)
	probe.Add("g_out", []int{n, ImageDim}, gOut)
	probe.Add("d_out", []int{n, 1}, discriminate(t, m, x))
	require.NoError(t, probe.WriteFile(filepath.Join(dir, "probe.safetensors")))
	runPython(t, "load", ckpt, filepath.Join(dir, "probe.safetensors"))

	// PyTorch's into ours.
	sd, probe2 := filepath.Join(dir, "state_dict.safetensors"), filepath.Join(dir, "probe2.safetensors")
	runPython(t, "save", sd, probe2)
	loaded, err := model.Load(b, sd, Name)
	require.NoError(t, err)
	defer loaded.Free()
	m2 := loaded.(*GAN)
	require.Zero(t, m2.Step())
	require.Zero(t, m2.OptG.Step)
	require.Zero(t, m2.OptD.Step)
	p, err := nn.ReadTensorsFile(probe2)
	require.NoError(t, err)
	got := make([]float32, len(p.Data["g_out"]))
	require.NoError(t, m2.Generate(p.Data["z"], got))
	eg := maxAbsDiff(got, p.Data["g_out"])
	ed := maxAbsDiff(discriminate(t, m2, p.Data["x"]), p.Data["d_out"])
	t.Logf("PyTorch's state_dict: max |G(z) - PyTorch| = %.3g, max |D(x) - PyTorch| = %.3g", eg, ed)
	// As in torch_interop.py: float32 on both sides, summed in different
	// orders; 1e-5 is well above the few 1e-7 seen and far below any
	// layout mistake.
	require.LessOrEqual(t, eg, 1e-5)
	require.LessOrEqual(t, ed, 1e-5)
}
