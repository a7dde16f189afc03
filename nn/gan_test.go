package nn_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/mnist"
)

// mnistSubset uploads the first n MNIST training images to b.
func mnistSubset(t testing.TB, b nn.Backend, n int) nn.Mat {
	set, err := mnist.Embedded(true)
	require.NoError(t, err)
	m, err := b.Alloc(n, nn.ImageDim)
	require.NoError(t, err)
	require.NoError(t, b.Upload(m, set.Float32()[:n*nn.ImageDim]))
	return m
}

// randomImages uploads n random images in [−1, 1]: enough for tests that
// compare runs with each other rather than judge learning.
func randomImages(t testing.TB, b nn.Backend, n int, seed uint64) nn.Mat {
	rng := rand.New(rand.NewPCG(seed, 0))
	v := make([]float32, n*nn.ImageDim)
	for i := range v {
		v[i] = float32(rng.Float64()*2 - 1)
	}
	m, err := b.Alloc(n, nn.ImageDim)
	require.NoError(t, err)
	require.NoError(t, b.Upload(m, v))
	return m
}

func smallConfig() nn.Config {
	c := nn.DefaultConfig()
	c.Epochs = 10
	c.Batch = 16
	c.Seed = 11
	return c
}

func newGAN(t testing.TB, b nn.Backend, c nn.Config) *nn.GAN {
	g, err := nn.NewGAN(b, c)
	require.NoError(t, err)
	t.Cleanup(g.Free)
	return g
}

// state returns every tensor of g's training state, by name.
func state(t testing.TB, g *nn.GAN) map[string][]float32 {
	ck, err := g.Checkpoint()
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

// The last batch of an epoch holds the remainder, as in the seed's
// DataLoader: 40 images at batch 16 give batches of 16, 16 and 8.
func TestResumeIsBitExact(t *testing.T) {
	c := smallConfig()
	ba := cpu.New()
	data := randomImages(t, ba, 40, 1)
	straight := newGAN(t, ba, c)
	var lastA nn.StepStats
	require.NoError(t, straight.Train(data, 20, nn.Hooks{OnStep: func(p nn.Progress) error { lastA = p.Stats; return nil }}))
	require.Equal(t, 20, straight.Step)

	bb := cpu.New()
	dataB := randomImages(t, bb, 40, 1)
	first := newGAN(t, bb, c)
	require.NoError(t, first.Train(dataB, 10, nn.Hooks{}))
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	require.NoError(t, first.Save(path))

	bc := cpu.New()
	dataC := randomImages(t, bc, 40, 1)
	resumed, err := nn.LoadGAN(bc, path)
	require.NoError(t, err)
	defer resumed.Free()
	require.Equal(t, 10, resumed.Step)
	var lastC nn.StepStats
	require.NoError(t, resumed.Train(dataC, 10, nn.Hooks{OnStep: func(p nn.Progress) error { lastC = p.Stats; return nil }}))
	require.Equal(t, 20, resumed.Step)
	assert.Equal(t, lastA, lastC)
	requireBitEqual(t, state(t, straight), state(t, resumed))
}

func TestCheckpointRoundTrip(t *testing.T) {
	b := cpu.New()
	c := smallConfig()
	g := newGAN(t, b, c)
	require.NoError(t, g.Train(randomImages(t, b, 32, 2), 3, nn.Hooks{}))
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	require.NoError(t, g.Save(path))
	h, err := nn.LoadGAN(b, path)
	require.NoError(t, err)
	defer h.Free()
	assert.Equal(t, g.Cfg, h.Cfg)
	assert.Equal(t, 3, h.Step)
	assert.Equal(t, 3, h.OptG.Step)
	assert.Equal(t, 3, h.OptD.Step)
	requireBitEqual(t, state(t, g), state(t, h))
	// No temporary file is left beside the checkpoint.
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1)
}

// Every kind of damage is refused with an error naming the file, never a
// panic or a silently different model.
func TestCorruptCheckpointsAreRejected(t *testing.T) {
	b := cpu.New()
	g := newGAN(t, b, smallConfig())
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	require.NoError(t, g.Save(good))
	raw, err := os.ReadFile(good)
	require.NoError(t, err)

	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		return p
	}
	edit := func(name string, f func(ck *nn.Tensors)) string {
		ck, err := g.Checkpoint()
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
		"other-model": edit("model", func(ck *nn.Tensors) {
			ck.Meta["config"] = `{"model":"dcgan","epochs":1,"batch":16,"lr":0.0002,"beta1":0.9,"beta2":0.999,"eps":1e-8,"seed":1}`
		}),
		"no-format": edit("format", func(ck *nn.Tensors) { delete(ck.Meta, "format") }),
		"bad-step":  edit("step", func(ck *nn.Tensors) { ck.Meta["step"] = "-4" }),
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := nn.LoadGAN(b, path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), path)
		})
	}
	// A flipped byte anywhere in the header is either rejected or, where it
	// only touches JSON whitespace, harmless; it never panics.
	hl := int(raw[0]) | int(raw[1])<<8 | int(raw[2])<<16
	for i := 8; i < 8+hl; i += 7 {
		bad := append([]byte{}, raw...)
		bad[i] ^= 0x5a
		p := write("flip", bad)
		if h, err := nn.LoadGAN(b, p); err == nil {
			h.Free()
		}
	}
}

// A seeded run is bit-for-bit the same whatever the number of CPU workers.
func TestDeterministicAcrossWorkers(t *testing.T) {
	c := smallConfig()
	var states []map[string][]float32
	for _, workers := range []int{1, 2, 3} {
		b := cpu.NewWithWorkers(workers)
		g := newGAN(t, b, c)
		require.NoError(t, g.Train(randomImages(t, b, 40, 3), 4, nn.Hooks{}))
		states = append(states, state(t, g))
	}
	requireBitEqual(t, states[0], states[1])
	requireBitEqual(t, states[0], states[2])
}

func TestTrainStepAllocatesNothing(t *testing.T) {
	b := cpu.New()
	c := nn.DefaultConfig()
	g := newGAN(t, b, c)
	data := randomImages(t, b, 64, 4)
	idx := make([]int32, 64)
	for i := range idx {
		idx[i] = int32(i)
	}
	_, err := g.TrainStep(data, idx) // warm up pools
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := g.TrainStep(data, idx); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestNonFiniteLossStops(t *testing.T) {
	b := cpu.New()
	g := newGAN(t, b, smallConfig())
	p := g.D.Params.Params()[0]
	nan := make([]float32, p.Value.Len())
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	require.NoError(t, b.Upload(p.Value, nan))
	err := g.Train(randomImages(t, b, 32, 5), 2, nn.Hooks{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not finite")
	assert.Equal(t, 1, g.Step)
}

// A short run on real digits: the discriminator learns to tell them apart,
// so D(x) stays above D(G(z)) on average. (Step to step the two oscillate,
// as GAN training does, so the test averages over steps 11–150.)
func TestShortRunDiscriminatorLearns(t *testing.T) {
	b := cpu.New()
	c := nn.DefaultConfig()
	c.Epochs = 1
	g := newGAN(t, b, c)
	data := mnistSubset(t, b, 64*150)
	var dx, dgz float64
	require.NoError(t, g.Train(data, 150, nn.Hooks{OnStep: func(p nn.Progress) error {
		if p.Step > 10 {
			dx += float64(p.Stats.DX) / 140
			dgz += float64(p.Stats.DGZ) / 140
		}
		return nil
	}}))
	t.Logf("steps 11-150: mean D(x) %.3f, mean D(G(z)) %.3f", dx, dgz)
	assert.Greater(t, dx, dgz+0.1)
}

func TestConfigValidation(t *testing.T) {
	for _, mod := range []func(*nn.Config){
		func(c *nn.Config) { c.Batch = 0 },
		func(c *nn.Config) { c.Epochs = 0 },
		func(c *nn.Config) { c.LR = float32(math.NaN()) },
		func(c *nn.Config) { c.LR = -1 },
		func(c *nn.Config) { c.Beta1 = 1 },
		func(c *nn.Config) { c.Model = "x" },
	} {
		c := nn.DefaultConfig()
		mod(&c)
		_, err := nn.NewGAN(cpu.New(), c)
		assert.Error(t, err)
	}
}
