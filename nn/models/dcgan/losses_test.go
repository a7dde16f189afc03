package dcgan

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/mnist"
	"gan/nn/model"
	"gan/nn/models/ganloss"
	"gan/nn/ref"
)

// wganConfig is the configuration gan train --model dcgan --loss wgan-gp
// makes: the examples', with the paper's Adam settings and 5 critic steps.
func wganConfig() model.Config {
	c := DefaultConfig()
	c.Loss = ganloss.WGANGP
	s, _ := ganloss.Defaults(ganloss.WGANGP)
	c.LR, c.Beta1, c.Beta2, c.NCritic = s.LR, s.Beta1, s.Beta2, s.NCritic
	return c
}

func newGAN(t testing.TB, b nn.Backend, c model.Config) *GAN {
	m, err := New(b, c)
	require.NoError(t, err)
	t.Cleanup(m.Free)
	return m
}

// randomData is n random 1×28×28 images on b.
func randomData(t testing.TB, b nn.Backend, n int, seed uint64) (*model.Dataset, nn.Mat) {
	data := &model.Dataset{Name: "random", N: n, C: 1, H: 28, W: 28, Pixels: make([]float32, n*784)}
	for i := range data.Pixels {
		data.Pixels[i] = nn.RandKey{Seed: seed}.Uniform(uint64(i))*2 - 1
	}
	dev, err := data.Upload(b)
	require.NoError(t, err)
	t.Cleanup(func() { b.Free(dev) })
	return data, dev
}

// state is every tensor of m's checkpoint.
func state(t testing.TB, m *GAN) map[string][]float32 {
	ck, err := model.Checkpoint(m)
	require.NoError(t, err)
	return ck.Data
}

func floatsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestLossConfigs: an unknown loss or a negative critic step count is
// refused by New with an error naming the field; the examples'
// configuration, and bce with one D step given explicitly, take the
// examples' own step with its D (batch norms at main.3), and wgan-gp takes
// the critic (convolutions main.0/2/4 with biases, no batch norm).
func TestLossConfigs(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*model.Config)
		want string
	}{
		{func(c *model.Config) { c.Loss = "wgan" }, `unknown loss "wgan"`},
		{func(c *model.Config) { c.NCritic = -1 }, "n_critic -1"},
	} {
		c := DefaultConfig()
		tc.mod(&c)
		_, err := New(cpu.New(), c)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
	b := cpu.New()
	m := newGAN(t, b, DefaultConfig())
	assert.Equal(t, "", m.loss, "the default configuration takes the examples' step")
	assert.Contains(t, state(t, m), "D.main.3.running_mean")
	c := DefaultConfig()
	c.Loss, c.NCritic = ganloss.BCE, 1
	assert.Equal(t, "", newGAN(t, b, c).loss, "explicit bce with one D step takes the examples' step")

	w := newGAN(t, b, wganConfig())
	ck := state(t, w)
	var dNames []string
	for name := range ck {
		if strings.HasPrefix(name, "D.main.") {
			dNames = append(dNames, name)
		}
	}
	assert.ElementsMatch(t, []string{"D.main.0.weight", "D.main.0.bias", "D.main.2.weight", "D.main.2.bias",
		"D.main.4.weight", "D.main.4.bias"}, dNames)
	assert.Len(t, ck["D.main.2.weight"], 128*64*16)
	assert.Len(t, ck["D.main.4.weight"], 128*49)
	var names []string
	for _, s := range w.Stats() {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"d_loss", "g_loss", "W", "gp"}, names)
}

// TestOtherLossesTrain: lsgan, hinge, bce with two D steps per G step and
// wgan-gp with five run off the examples' path with finite statistics
// (Train stops otherwise), G steps exactly on the steps ≡ 0 mod NCritic
// (its weights change there and only there), and D changes every step.
func TestOtherLossesTrain(t *testing.T) {
	for _, tc := range []struct {
		loss    string
		nCritic int
	}{{ganloss.LSGAN, 1}, {ganloss.Hinge, 3}, {ganloss.BCE, 2}, {ganloss.WGANGP, 5}} {
		t.Run(tc.loss, func(t *testing.T) {
			b := cpu.New()
			c := DefaultConfig()
			c.Batch, c.Loss, c.NCritic = 4, tc.loss, tc.nCritic
			m := newGAN(t, b, c)
			require.Equal(t, tc.loss, m.loss)
			assert.Equal(t, ganloss.Stats(tc.loss), m.Stats())
			data, dev := randomData(t, b, 16, 4)
			prev := state(t, m)
			for step := range 6 {
				require.NoError(t, model.Train(context.Background(), m, data, dev, 1, model.Hooks{OnStep: func(p model.Progress) error {
					if tc.loss == ganloss.Hinge {
						assert.GreaterOrEqual(t, p.Stats[0], 0.0, "a hinge loss is not negative")
					}
					return nil
				}}))
				now := state(t, m)
				gMoved := !floatsEqual(prev["G.main.0.weight"], now["G.main.0.weight"])
				assert.Equal(t, step%tc.nCritic == 0, gMoved, "step %d: G stepped", step)
				assert.False(t, floatsEqual(prev["D.main.0.weight"], now["D.main.0.weight"]), "step %d: D stepped", step)
				prev = now
			}
		})
	}
}

// TestCriticPenaltyMatchesFiniteDifferences differentiates wgan-gp's whole
// critic loss, E[D(G(z))] − E[D(x)] + λ·E[(‖∇ₓ̂D(x̂)‖₂ − 1)²], for the
// family's critic at reduced width (feature maps 3-6 instead of 64-128,
// the same layers, kernels, strides and 28×28 input), built as the
// training step builds it (flattened batches, images inside the critic),
// on the float64 reference backend, and compares the gradient with
// respect to sampled weights of every tensor (the penalty's part is a
// second derivative) with central differences: within 1e-6 of the largest
// gradient element (docs/tolerances.md, as nn/graph's checks).
func TestCriticPenaltyMatchesFiniteDifferences(t *testing.T) {
	const n, dim = 3, 784
	b := ref.New()
	var streams nn.InitStreams
	ps := nn.NewParamSetFrom(&streams)
	critic := newCritic(ps, 1, 28, 3)
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	// PyTorch's default initialisation rather than the examples' N(0, 0.02):
	// its larger weights keep the LeakyReLUs' inputs away from the kink
	// that a finite-difference step of 1e-5 on a bias would cross (the
	// penalty's ∇ₓ̂D jumps there).
	critic.Init(b, 5)
	g := graph.New()
	rx, fx := g.Input("real", graph.Shape{n, dim}), g.Input("fake", graph.Shape{n, dim})
	ctx := &layer.Ctx{G: g, Train: true}
	D := func(x *graph.Node) *graph.Node {
		return g.Reshape(critic.Forward(ctx, g.Reshape(x, graph.Shape{n, 1, 28, 28})), graph.Shape{n, 1})
	}
	d := ganloss.DLoss(g, ganloss.WGANGP, ganloss.DInput{Real: D(rx), Fake: D(fx), Critic: D, RealX: rx, FakeX: fx,
		Interp: graph.StepStream(nn.PurposeRandom, 1)})
	require.Equal(t, graph.Shape{n, 1}, d.Eps.Shape(), "one interpolation coefficient per sample")
	g.Backward(d.Loss, ps)
	loss, gp := g.Copy(d.Loss), g.Copy(d.Stats[1])
	g.Output(loss, gp)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	rng := rand.New(rand.NewPCG(8, 9))
	for _, in := range []*graph.Node{rx, fx} {
		m, err := b.Alloc(n, dim)
		require.NoError(t, err)
		defer b.Free(m)
		v := make([]float64, n*dim)
		for i := range v {
			v[i] = rng.Float64()*2 - 1
		}
		require.NoError(t, b.Upload64(m, v))
		require.NoError(t, prog.Bind(in, m))
	}
	lossAt := func(out *graph.Node) float64 {
		require.NoError(t, prog.Run(7, 3))
		var v [1]float64
		require.NoError(t, b.Download64(v[:], prog.Mat(out)))
		return v[0]
	}
	penalty := lossAt(gp)
	require.Greater(t, penalty, 1e-3, "the penalty term is not negligible in the checked loss")
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
		for range 5 {
			j := off + rng.IntN(p.Len())
			orig := vals[j]
			vals[j] = orig + 1e-5
			require.NoError(t, b.Upload64(ps.Value, vals))
			up := lossAt(loss)
			vals[j] = orig - 1e-5
			require.NoError(t, b.Upload64(ps.Value, vals))
			down := lossAt(loss)
			vals[j] = orig
			require.NoError(t, b.Upload64(ps.Value, vals))
			fd := (up - down) / 2e-5
			e := math.Abs(fd-grads[j]) / scale
			require.LessOrEqual(t, e, 1e-6, "%s: analytic %v, finite difference %v", p.Name, grads[j], fd)
			worst = math.Max(worst, e)
		}
	}
	t.Logf("DCGAN critic 3-6, batch %d: penalty %.4g, worst error of ∂loss/∂w relative to max|∂loss/∂w| (%.3g) %.2g",
		n, penalty, scale, worst)
}

// TestWGANGPStepDoesNotAllocate: once both programs are compiled, a whole
// WGAN-GP cycle (5 critic steps with penalty, one of them with G's step)
// allocates nothing on the CPU backend, and neither program copies a
// buffer.
func TestWGANGPStepDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := wganConfig()
	c.Batch = 4
	m := newGAN(t, b, c)
	data, dev := randomData(t, b, 16, 3)
	batch := &model.Batch{Data: data, Dev: dev, Idx: []int32{0, 5, 9, 13}}
	cycle := func() {
		for range 5 {
			if _, err := m.TrainStep(batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	cycle()
	assert.Zero(t, testing.AllocsPerRun(2, cycle), "allocations per WGAN-GP cycle")
	for k, s := range m.lsteps {
		t.Logf("batch %d, G step %v: %d instructions, arena %d floats, %d copies", k.n, k.withG, s.prog.Instrs, s.prog.ArenaElems, s.prog.Copies)
		assert.Zero(t, s.prog.Copies)
	}
	assert.Len(t, m.lsteps, 2)
}

// TestWGANGPCheckpointResumes: a wgan-gp checkpoint keeps its loss and
// critic steps, and a run resumed from step 7 (inside a group of critic
// steps) continues bit for bit.
func TestWGANGPCheckpointResumes(t *testing.T) {
	c := wganConfig()
	c.Batch = 4
	b := cpu.New()
	data, dev := randomData(t, b, 12, 6)
	straight := newGAN(t, b, c)
	require.NoError(t, model.Train(context.Background(), straight, data, dev, 10, model.Hooks{}))

	first := newGAN(t, b, c)
	require.NoError(t, model.Train(context.Background(), first, data, dev, 7, model.Hooks{}))
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	require.NoError(t, model.Save(first, path))
	loaded, err := model.Load(b, path, "")
	require.NoError(t, err)
	resumed := loaded.(*GAN)
	defer resumed.Free()
	assert.Equal(t, ganloss.WGANGP, resumed.Config().Loss)
	assert.Equal(t, 5, resumed.Config().NCritic)
	assert.Equal(t, ganloss.WGANGP, resumed.loss)
	require.NoError(t, model.Train(context.Background(), resumed, data, dev, 3, model.Hooks{}))
	want, got := state(t, straight), state(t, resumed)
	require.Equal(t, len(want), len(got))
	for name, w := range want {
		require.True(t, floatsEqual(w, got[name]), name)
	}
}

// TestWGANGPShortRunOnMNIST trains wgan-gp for 20 critic steps (4 generator
// steps) of batch 16 on real digits: every statistic stays finite (Train
// checks), and the critic learns to separate the batches, so the
// Wasserstein estimate of the last five steps is clearly positive and above
// that of the first step (≈ 0.45 against ≈ 0.005 when written).
func TestWGANGPShortRunOnMNIST(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	set, err := mnist.Load("mnist", "", true)
	require.NoError(t, err)
	data := model.FromMNIST(set)
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	c := wganConfig()
	c.Batch = 16
	m := newGAN(t, b, c)
	var rows [][]float64
	require.NoError(t, model.Train(context.Background(), m, data, dev, 20, model.Hooks{OnStep: func(p model.Progress) error {
		rows = append(rows, append([]float64(nil), p.Stats...))
		return nil
	}}))
	require.Len(t, rows, 20)
	lateW := 0.0
	for _, r := range rows[15:] {
		lateW += r[2] / 5
	}
	first, last := rows[0], rows[19]
	t.Logf("step 1: d_loss %.4f g_loss %.4f W %.4f gp %.4f; step 20: d_loss %.4f g_loss %.4f W %.4f gp %.4f; mean W of steps 16-20 %.4f",
		first[0], first[1], first[2], first[3], last[0], last[1], last[2], last[3], lateW)
	assert.Greater(t, lateW, 0.25)
	assert.Greater(t, lateW, first[2]+0.25)
}

// BenchmarkWGANGPCycle times a WGAN-GP cycle (5 critic steps with penalty
// + 1 generator step, i.e. 5 TrainSteps) at batch 64 on 28×28 images on
// the CPU, to compare with BenchmarkTrainStep.
func BenchmarkWGANGPCycle(b *testing.B) {
	be := cpu.New()
	defer be.Close()
	data, dev := randomData(b, be, 256, 1)
	m := newGAN(b, be, wganConfig())
	idx := make([]int32, 64)
	for i := range idx {
		idx[i] = int32(i * 3)
	}
	batch := &model.Batch{Data: data, Dev: dev, Idx: idx}
	for range 5 {
		_, err := m.TrainStep(batch)
		require.NoError(b, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for range 5 {
			if _, err := m.TrainStep(batch); err != nil {
				b.Fatal(err)
			}
		}
	}
}
