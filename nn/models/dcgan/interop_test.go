package dcgan

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/graph"
	"gan/nn/internal/torchtest"
	"gan/nn/layer"
	"gan/nn/model"
)

// TestPyTorchLoadsOurDCGAN trains our 3×64×64 DCGAN (pytorch/examples'
// own setting) for two steps, so that the batch norms' running statistics
// and counts are not their defaults, saves it, and has
// testdata/torch_dcgan.py load it into the examples' Generator and
// Discriminator with strict=True and compare their evaluation-mode
// outputs with ours.
func TestPyTorchLoadsOurDCGAN(t *testing.T) {
	torchtest.Require(t)
	b := cpu.New()
	defer b.Close()
	cfg := DefaultConfig()
	cfg.Channels, cfg.Size, cfg.Batch = 3, 64, 4
	m, err := New(b, cfg)
	require.NoError(t, err)
	defer m.Free()
	const n = 8
	data := &model.Dataset{Name: "random", N: n, C: 3, H: 64, W: 64, Pixels: make([]float32, n*3*64*64)}
	for i := range data.Pixels {
		data.Pixels[i] = nn.RandKey{Seed: 2}.Uniform(uint64(i))*2 - 1
	}
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	require.NoError(t, model.Train(context.Background(), m, data, dev, 2, model.Hooks{}))
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "dcgan.safetensors")
	require.NoError(t, model.Save(m, ckpt))

	z := make([]float32, 4*ZDim)
	for i := range z {
		z[i] = nn.RandKey{Seed: 3}.Normal(uint64(i))
	}
	gOut := make([]float32, 4*3*64*64)
	require.NoError(t, m.Generate(z, gOut))
	x := data.Pixels[:4*3*64*64]

	g := graph.New()
	in := g.Input("x", graph.Shape{4, 3, 64, 64})
	out := g.Act(g.Reshape(m.D.Forward(&layer.Ctx{G: g}, in), graph.Shape{4, 1}), nn.Act{Kind: nn.ActSigmoid})
	g.Output(out)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	xm, err := b.Alloc(4, 3*64*64)
	require.NoError(t, err)
	defer b.Free(xm)
	require.NoError(t, b.Upload(xm, x))
	require.NoError(t, prog.Bind(in, xm))
	require.NoError(t, prog.Run(0, 0))
	dOut := make([]float32, 4)
	require.NoError(t, b.Download(dOut, prog.Mat(out)))

	t.Logf("our D(x) in evaluation mode: %v; G(z)[:4]: %v", dOut, gOut[:4])
	probe := nn.NewTensors()
	probe.Add("z", []int{4, ZDim}, z)
	probe.Add("x", []int{4, 3 * 64 * 64}, x)
	probe.Add("g_out", []int{4, 3 * 64 * 64}, gOut)
	probe.Add("d_out", []int{4}, dOut)
	probePath := filepath.Join(dir, "probe.safetensors")
	require.NoError(t, probe.WriteFile(probePath))
	t.Logf("%s", torchtest.Run(t, "testdata/torch_dcgan.py", ckpt, probePath))
}
