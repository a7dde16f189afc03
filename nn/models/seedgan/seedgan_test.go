package seedgan

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
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

// randomData is n random images in [−1, 1] on b: enough for tests that
// compare runs with each other rather than judge learning.
func randomData(t testing.TB, b nn.Backend, n int, seed uint64) (*model.Dataset, nn.Mat) {
	rng := rand.New(rand.NewPCG(seed, 0))
	d := &model.Dataset{Name: "random", N: n, C: 1, H: 28, W: 28, Pixels: make([]float32, n*ImageDim)}
	for i := range d.Pixels {
		d.Pixels[i] = float32(rng.Float64()*2 - 1)
	}
	dev, err := d.Upload(b)
	require.NoError(t, err)
	t.Cleanup(func() { b.Free(dev) })
	return d, dev
}

func smallConfig() model.Config {
	c := DefaultConfig()
	c.Epochs = 10
	c.Batch = 16
	c.Seed = 11
	return c
}

func newGAN(t testing.TB, b nn.Backend, c model.Config) *GAN {
	m, err := New(b, c)
	require.NoError(t, err)
	t.Cleanup(m.Free)
	return m
}

// state returns every tensor of m's training state, by name.
func state(t testing.TB, m model.Model) map[string][]float32 {
	ck, err := model.Checkpoint(m)
	require.NoError(t, err)
	return ck.Data
}

func requireBitEqual(t testing.TB, want, got map[string][]float32) {
	require.Equal(t, len(want), len(got))
	for name, w := range want {
		g := got[name]
		require.Len(t, g, len(w), name)
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(g[i]) {
				t.Fatalf("%s[%d]: %v != %v", name, i, w[i], g[i])
			}
		}
	}
}

// TestResumeIsBitExact: 20 steps straight equal 10 steps, a checkpoint, a
// load on a fresh backend and 10 more, bit for bit. 40 images at batch 16
// give batches of 16, 16 and 8 (the last batch holds the remainder, as in
// the seed's DataLoader), so the resumed run also compiles the short step.
func TestResumeIsBitExact(t *testing.T) {
	c := smallConfig()
	ba := cpu.New()
	data, dev := randomData(t, ba, 40, 1)
	straight := newGAN(t, ba, c)
	var lastA []float64
	require.NoError(t, model.Train(context.Background(), straight, data, dev, 20, model.Hooks{OnStep: func(p model.Progress) error {
		lastA = append([]float64(nil), p.Stats...)
		return nil
	}}))
	require.Equal(t, 20, straight.Step())

	bb := cpu.New()
	dataB, devB := randomData(t, bb, 40, 1)
	first := newGAN(t, bb, c)
	require.NoError(t, model.Train(context.Background(), first, dataB, devB, 10, model.Hooks{}))
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	require.NoError(t, model.Save(first, path))
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left beside the checkpoint")

	bc := cpu.New()
	dataC, devC := randomData(t, bc, 40, 1)
	resumed, err := model.Load(bc, path, "")
	require.NoError(t, err)
	defer resumed.Free()
	require.Equal(t, 10, resumed.Step())
	var lastC []float64
	require.NoError(t, model.Train(context.Background(), resumed, dataC, devC, 10, model.Hooks{OnStep: func(p model.Progress) error {
		lastC = append([]float64(nil), p.Stats...)
		return nil
	}}))
	require.Equal(t, 20, resumed.Step())
	assert.Equal(t, lastA, lastC)
	requireBitEqual(t, state(t, straight), state(t, resumed))
}

// TestCorruptCheckpointsAreRejected: every kind of damage is refused with
// an error naming the file, never a panic or a silently different model.
func TestCorruptCheckpointsAreRejected(t *testing.T) {
	b := cpu.New()
	m := newGAN(t, b, smallConfig())
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	require.NoError(t, model.Save(m, good))
	raw, err := os.ReadFile(good)
	require.NoError(t, err)

	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		return p
	}
	edit := func(name string, f func(ck *nn.Tensors)) string {
		ck, err := model.Checkpoint(m)
		require.NoError(t, err)
		f(ck)
		p := filepath.Join(dir, name)
		require.NoError(t, ck.WriteFile(p))
		return p
	}
	cases := map[string]string{
		"empty":         write("empty", nil),
		"truncated-8":   write("t8", raw[:8]),
		"truncated-mid": write("tmid", raw[:len(raw)/2]),
		"truncated-1":   write("t1", raw[:len(raw)-1]),
		"trailing":      write("trail", append(append([]byte{}, raw...), 0)),
		"huge-header":   write("huge", append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, raw[8:]...)),
		"not-json":      write("notjson", append(append([]byte{}, raw[:8]...), append([]byte("["), raw[9:]...)...)),
		"missing": edit("missing", func(ck *nn.Tensors) {
			delete(ck.Data, ck.Names[0])
			ck.Names = ck.Names[1:]
		}),
		"extra": edit("extra", func(ck *nn.Tensors) { ck.Add("G.model.9.weight", []int{2}, []float32{1, 2}) }),
		"shape": edit("shape", func(ck *nn.Tensors) {
			n := ck.Names[0]
			s := ck.Shapes[n]
			ck.Shapes[n] = []int{s[1], s[0]}
		}),
		"vector-in-v2": edit("vector", func(ck *nn.Tensors) { ck.Shapes["D.model.8.weight"] = []int{256} }),
		"unknown-model": edit("model", func(ck *nn.Tensors) {
			ck.Meta["config"] = `{"model":"dcgan-typo","epochs":1,"batch":16,"lr":0.0002,"beta1":0.9,"beta2":0.999,"eps":1e-8,"seed":1}`
		}),
		"bad-config": edit("config", func(ck *nn.Tensors) { ck.Meta["config"] = `{"model":` }),
		"no-format":  edit("format", func(ck *nn.Tensors) { delete(ck.Meta, "format") }),
		"bad-step":   edit("step", func(ck *nn.Tensors) { ck.Meta["step"] = "-4" }),
		"bad-adam":   edit("adam", func(ck *nn.Tensors) { ck.Meta["adam_step.G"] = "x" }),
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := model.Load(b, path, "")
			require.Error(t, err)
			assert.Contains(t, err.Error(), path)
		})
	}
	// A flipped byte anywhere in the header is either rejected or, where it
	// only touches JSON whitespace, harmless; it never panics.
	hl := int(raw[0]) | int(raw[1])<<8 | int(raw[2])<<16
	for i := 8; i < 8+hl; i += 53 { // a prime stride: every field, ~100 loads
		bad := append([]byte{}, raw...)
		bad[i] ^= 0x5a
		p := write("flip", bad)
		if h, err := model.Load(b, p, ""); err == nil {
			h.Free()
		}
	}
}

// TestDeterministicAcrossWorkers: a seeded run is bit-for-bit the same
// whatever the number of CPU workers.
func TestDeterministicAcrossWorkers(t *testing.T) {
	c := smallConfig()
	var states []map[string][]float32
	for _, workers := range []int{1, 2, 3} {
		b := cpu.NewWithWorkers(workers)
		data, dev := randomData(t, b, 40, 3)
		m := newGAN(t, b, c)
		require.NoError(t, model.Train(context.Background(), m, data, dev, 4, model.Hooks{}))
		states = append(states, state(t, m))
	}
	requireBitEqual(t, states[0], states[1])
	requireBitEqual(t, states[0], states[2])
}

// TestNonFiniteLossStops: a NaN statistic is an error naming it, and the
// step that produced it is counted.
func TestNonFiniteLossStops(t *testing.T) {
	b := cpu.New()
	m := newGAN(t, b, smallConfig())
	p := m.PD.Params()[0]
	nan := make([]float32, p.Len())
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	require.NoError(t, b.Upload(p.Value, nan))
	data, dev := randomData(t, b, 32, 5)
	err := model.Train(context.Background(), m, data, dev, 2, model.Hooks{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not finite")
	assert.Equal(t, 1, m.Step())
}

// TestShortRunDiscriminatorLearns: on real digits the discriminator learns
// to tell them apart, so D(x) stays above D(G(z)) on average. (Step to step
// the two oscillate, as GAN training does, so the test averages over steps
// 11–150.)
func TestShortRunDiscriminatorLearns(t *testing.T) {
	b := cpu.New()
	m := newGAN(t, b, DefaultConfig())
	set, err := mnist.Load("mnist", "", true)
	require.NoError(t, err)
	data := model.FromMNIST(set)
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	var dx, dgz float64
	require.NoError(t, model.Train(context.Background(), m, data, dev, 150, model.Hooks{OnStep: func(p model.Progress) error {
		if p.Step > 10 {
			dx += p.Stats[2] / 140
			dgz += p.Stats[3] / 140
		}
		return nil
	}}))
	t.Logf("steps 11-150: mean D(x) %.3f, mean D(G(z)) %.3f", dx, dgz)
	assert.Greater(t, dx, dgz+0.1)
}

// TestConfigValidation: every unusable configuration is refused by New.
func TestConfigValidation(t *testing.T) {
	for _, mod := range []func(*model.Config){
		func(c *model.Config) { c.Batch = 0 },
		func(c *model.Config) { c.Epochs = 0 },
		func(c *model.Config) { c.LR = float32(math.NaN()) },
		func(c *model.Config) { c.LR = -1 },
		func(c *model.Config) { c.Beta1 = 1 },
		func(c *model.Config) { c.Model = "x" },
	} {
		c := DefaultConfig()
		mod(&c)
		_, err := New(cpu.New(), c)
		assert.Error(t, err)
	}
}

// TestNetworkGradientsMatchFiniteDifferences differentiates the seed's
// whole D (dropout in training mode, LeakyReLU, the fused sigmoid-BCE) and
// whole G (through tanh) as the training step does, on the float64
// reference backend, and compares the gradient of sampled weights of every
// tensor with central differences (see nn/graph's tests for the error
// budget: 1e-6 of the largest gradient element leaves a wide margin).
func TestNetworkGradientsMatchFiniteDifferences(t *testing.T) {
	b := ref.New()
	const n = 3
	for _, net := range []string{"D", "G"} {
		ps := nn.NewParamSet(0)
		var seq *layer.Sequential
		in := ImageDim
		if net == "D" {
			seq = NewDiscriminator(ps)
		} else {
			seq, in = NewGenerator(ps), ZDim
		}
		require.NoError(t, ps.Alloc(b))
		seq.Init(b, 5)
		g := graph.New()
		x := g.Input("x", graph.Shape{n, in})
		out := seq.Forward(&layer.Ctx{G: g, Train: true, DropoutStream: legacyDropout(0)}, x)
		var loss *graph.Node
		if net == "D" {
			loss, _ = g.SigmoidBCE(out, g.Const(graph.Shape{n, 1}, 1))
		} else {
			// L = Σ w ⊙ G(z) with fixed random weights w.
			loss = g.Sum(g.Mul(out, g.RandNormal(graph.Shape{n, ImageDim}, 0, 1, graph.FixedStream(nn.PurposeRandom, 1))))
		}
		g.Backward(loss, ps)
		g.Output(loss)
		prog, err := g.Compile(b)
		require.NoError(t, err)
		rng := rand.New(rand.NewPCG(1, 2))
		xm, err := b.Alloc(n, in)
		require.NoError(t, err)
		xv := make([]float64, n*in)
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
		for _, p := range ps.Trainable() {
			off := p.Slice(ps.Value).Off - ps.Value.Off
			for range 4 {
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
				require.LessOrEqual(t, e, 1e-6, "%s.%s: analytic %v, finite difference %v", net, p.Name, grads[j], fd)
				worst = math.Max(worst, e)
			}
		}
		t.Logf("%s: worst error relative to max|grad| (%.3g) %.2g", net, scale, worst)
		prog.Free()
		b.Free(xm)
		ps.Free(b)
	}
}
