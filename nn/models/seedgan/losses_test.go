package seedgan

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
	"gan/nn/models/ganloss"
	"gan/nn/ref"
)

// wganConfig is the seed's configuration with loss wgan-gp and package
// ganloss's settings for it (the paper's Adam settings and 5 critic
// steps); gan train --loss wgan-gp trains the MLP critic with the family's
// WGANDefaults instead (TestWGANDefaults).
func wganConfig() model.Config {
	c := DefaultConfig()
	c.Loss = ganloss.WGANGP
	s, _ := ganloss.Defaults(ganloss.WGANGP)
	c.LR, c.Beta1, c.Beta2, c.NCritic = s.LR, s.Beta1, s.Beta2, s.NCritic
	return c
}

// TestCriticPenaltyMatchesFiniteDifferences differentiates wgan-gp's whole
// critic loss, E[D(G(z))] − E[D(x)] + λ·E[(‖∇ₓ̂D(x̂)‖₂ − 1)²], for the
// family's full-size critic (NewCritic, 784-512-256-1) on the float64
// reference backend, and compares the gradient with respect to sampled
// weights of every tensor (the penalty's part is a second derivative) with
// central differences; see nn/graph's tests for the error budget (1e-6 of
// the largest gradient element).
func TestCriticPenaltyMatchesFiniteDifferences(t *testing.T) {
	const n = 4
	b := ref.New()
	ps := nn.NewParamSet(initStreamD)
	critic := NewCritic(ps)
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	critic.Init(b, 5)
	g := graph.New()
	rx, fx := g.Input("real", graph.Shape{n, ImageDim}), g.Input("fake", graph.Shape{n, ImageDim})
	ctx := &layer.Ctx{G: g, Train: true}
	D := func(x *graph.Node) *graph.Node { return critic.Forward(ctx, x) }
	d := ganloss.DLoss(g, ganloss.WGANGP, ganloss.DInput{Real: D(rx), Fake: D(fx), Critic: D, RealX: rx, FakeX: fx,
		Interp: graph.StepStream(nn.PurposeRandom, 1)})
	g.Backward(d.Loss, ps)
	loss, gp := g.Copy(d.Loss), g.Copy(d.Stats[1])
	g.Output(loss, gp)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	rng := rand.New(rand.NewPCG(4, 5))
	for _, in := range []*graph.Node{rx, fx} {
		m, err := b.Alloc(n, ImageDim)
		require.NoError(t, err)
		defer b.Free(m)
		v := make([]float64, n*ImageDim)
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
		for range 6 {
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
	t.Logf("784-512-256-1 critic, batch %d: penalty %.4g, worst error of ∂loss/∂w relative to max|∂loss/∂w| (%.3g) %.2g",
		n, penalty, scale, worst)
}

// TestWGANGPStepMatchesReference trains the wgan-gp model for 6 steps (a
// critic+G step, four critic steps and another critic+G step) on the CPU
// and on the float64 reference backend from the same weights and random
// streams: every step's statistics agree within docs/tolerances.md's
// "step" tolerance (1e-5 relative, 1e-4 over the trajectory), and so do
// the weights of both networks at the end.
func TestWGANGPStepMatchesReference(t *testing.T) {
	c := wganConfig()
	c.Batch = 16
	c.Seed = 3
	var stats [2][][]float64
	var states [2]map[string][]float32
	for i, b := range []nn.Backend{cpu.New(), ref.New()} {
		data, dev := randomData(t, b, 96, 2)
		m := newGAN(t, b, c)
		require.NoError(t, model.Train(context.Background(), m, data, dev, 6, model.Hooks{OnStep: func(p model.Progress) error {
			stats[i] = append(stats[i], append([]float64(nil), p.Stats...))
			return nil
		}}))
		states[i] = state(t, m)
	}
	worst := 0.0
	for s := range stats[0] {
		for k, st := range ganloss.Stats(ganloss.WGANGP) {
			got, want := stats[0][s][k], stats[1][s][k]
			e := math.Abs(got-want) / math.Max(1, math.Abs(want))
			tol := 1e-5
			if s > 0 {
				tol = 1e-4
			}
			assert.LessOrEqual(t, e, tol, "step %d %s: cpu %v, reference %v", s+1, st.Name, got, want)
			worst = math.Max(worst, e)
		}
	}
	wWorst := 0.0
	for name, want := range states[1] {
		got := states[0][name]
		for j := range want {
			wWorst = math.Max(wWorst, math.Abs(float64(got[j]-want[j]))/math.Max(1, math.Abs(float64(want[j]))))
		}
	}
	assert.LessOrEqual(t, wWorst, 1e-4)
	t.Logf("6 steps: worst statistic difference %.2g, worst state difference %.2g (last W %.4f, gp %.4f)",
		worst, wWorst, stats[1][5][2], stats[1][5][3])
}

// stepBatch is a batch of 64 fixed rows of a random data set on b.
func stepBatch(t testing.TB, b nn.Backend) *model.Batch {
	data, dev := randomData(t, b, 256, 3)
	idx := make([]int32, 64)
	for i := range idx {
		idx[i] = int32(3 * i)
	}
	return &model.Batch{Data: data, Dev: dev, Idx: idx}
}

// TestWGANGPStepDoesNotAllocate: once both programs are compiled, a whole
// WGAN-GP cycle (5 critic steps with penalty, one of them with G's step)
// allocates nothing on the CPU backend, and neither program copies a
// buffer.
func TestWGANGPStepDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	m := newGAN(t, b, wganConfig())
	batch := stepBatch(t, b)
	cycle := func() {
		for range 5 {
			if _, err := m.TrainStep(batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	cycle()
	allocs := testing.AllocsPerRun(3, cycle)
	assert.Zero(t, allocs, "allocations per WGAN-GP cycle")
	for k, s := range m.lsteps {
		t.Logf("batch %d, G step %v: %d instructions, arena %d floats, %d copies", k.n, k.withG, s.prog.Instrs, s.prog.ArenaElems, s.prog.Copies)
		assert.Zero(t, s.prog.Copies)
	}
	assert.Len(t, m.lsteps, 2)
}

// BenchmarkStep times the seed's BCE step and a WGAN-GP cycle (5 critic
// steps with penalty + 1 generator step, i.e. 5 TrainSteps) at batch 64 on
// the CPU; the target is a ratio of at most 8.
func BenchmarkStep(b *testing.B) {
	for _, tc := range []struct {
		name  string
		cfg   model.Config
		steps int
	}{{"bce", DefaultConfig(), 1}, {"wgan-gp", wganConfig(), 5}} {
		b.Run(tc.name, func(b *testing.B) {
			be := cpu.New()
			defer be.Close()
			m := newGAN(b, be, tc.cfg)
			batch := stepBatch(b, be)
			for range tc.steps {
				_, err := m.TrainStep(batch)
				require.NoError(b, err)
			}
			b.ResetTimer()
			for range b.N {
				for range tc.steps {
					if _, err := m.TrainStep(batch); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestWGANGPShortRunOnMNIST trains wgan-gp for 40 steps (8 generator
// steps) on real digits: every statistic stays finite (TrainStep checks),
// the critic learns to separate the batches, so the Wasserstein estimate
// of the last ten steps is clearly positive and above that of the first
// step, and both losses move.
func TestWGANGPShortRunOnMNIST(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	set, err := mnist.Load("mnist", "", true)
	require.NoError(t, err)
	data := model.FromMNIST(set)
	dev, err := data.Upload(b)
	require.NoError(t, err)
	defer b.Free(dev)
	m := newGAN(t, b, wganConfig())
	var rows [][]float64
	require.NoError(t, model.Train(context.Background(), m, data, dev, 40, model.Hooks{OnStep: func(p model.Progress) error {
		rows = append(rows, append([]float64(nil), p.Stats...))
		return nil
	}}))
	require.Len(t, rows, 40)
	lateW := 0.0
	for _, r := range rows[30:] {
		lateW += r[2] / 10
	}
	first, last := rows[0], rows[39]
	t.Logf("step 1: d_loss %.4f g_loss %.4f W %.4f gp %.4f; step 40: d_loss %.4f g_loss %.4f W %.4f gp %.4f; mean W of steps 31-40 %.4f",
		first[0], first[1], first[2], first[3], last[0], last[1], last[2], last[3], lateW)
	assert.Greater(t, lateW, 0.5)
	assert.Greater(t, lateW, first[2]+0.5)
	assert.Greater(t, math.Abs(last[0]-first[0]), 0.1, "d_loss moves")
	assert.Greater(t, math.Abs(last[1]-first[1]), 0.01, "g_loss moves")
}

// TestOtherLossesTrain: lsgan, hinge, and bce with two D steps per G step
// run off the seed's path with finite statistics, G steps exactly on the
// steps ≡ 0 mod NCritic (its weights change there and only there), and
// the D steps change D every step.
func TestOtherLossesTrain(t *testing.T) {
	for _, tc := range []struct {
		loss    string
		nCritic int
	}{{ganloss.LSGAN, 1}, {ganloss.Hinge, 3}, {ganloss.BCE, 2}, {ganloss.WGANGP, 5}} {
		t.Run(tc.loss, func(t *testing.T) {
			b := cpu.New()
			c := smallConfig()
			c.Loss, c.NCritic = tc.loss, tc.nCritic
			m := newGAN(t, b, c)
			require.Equal(t, tc.loss, m.loss)
			names := []string{}
			for _, s := range m.Stats() {
				names = append(names, s.Name)
			}
			assert.Equal(t, len(ganloss.Stats(tc.loss)), len(names))
			data, dev := randomData(t, b, 64, 4)
			prev := state(t, m)
			for step := range 6 {
				require.NoError(t, model.Train(context.Background(), m, data, dev, 1, model.Hooks{}))
				now := state(t, m)
				gMoved := !floatsEqual(prev["G.model.0.weight"], now["G.model.0.weight"])
				assert.Equal(t, step%tc.nCritic == 0, gMoved, "step %d: G stepped", step)
				assert.False(t, floatsEqual(prev["D.model.0.weight"], now["D.model.0.weight"]), "step %d: D stepped", step)
				prev = now
			}
		})
	}
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

// TestWGANGPCheckpointResumes: a wgan-gp checkpoint keeps its loss and
// critic (the critic's tensors are D.model.0/2/4), and a run resumed from
// step 7 (inside a group of critic steps) continues bit for bit.
func TestWGANGPCheckpointResumes(t *testing.T) {
	c := wganConfig()
	c.Batch = 16
	b := cpu.New()
	data, dev := randomData(t, b, 48, 6)
	straight := newGAN(t, b, c)
	require.NoError(t, model.Train(context.Background(), straight, data, dev, 12, model.Hooks{}))

	first := newGAN(t, b, c)
	require.NoError(t, model.Train(context.Background(), first, data, dev, 7, model.Hooks{}))
	path := filepath.Join(t.TempDir(), "ck.safetensors")
	require.NoError(t, model.Save(first, path))
	resumed, err := model.Load(b, path, "")
	require.NoError(t, err)
	defer resumed.Free()
	assert.Equal(t, ganloss.WGANGP, resumed.Config().Loss)
	assert.Equal(t, 5, resumed.Config().NCritic)
	ck := state(t, resumed)
	assert.Contains(t, ck, "D.model.4.weight")
	assert.NotContains(t, ck, "D.model.6.weight")
	require.NoError(t, model.Train(context.Background(), resumed, data, dev, 5, model.Hooks{}))
	requireBitEqual(t, state(t, straight), state(t, resumed))
}

// TestLossConfigValidation: an unknown loss or a negative critic step
// count is refused by New with an error naming the field.
func TestLossConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*model.Config)
		want string
	}{
		{func(c *model.Config) { c.Loss = "wgan" }, `unknown loss "wgan"`},
		{func(c *model.Config) { c.NCritic = -1 }, "n_critic -1"},
		{func(c *model.Config) { c.Arch = "resnet" }, `arch "resnet"`},
	} {
		c := DefaultConfig()
		tc.mod(&c)
		_, err := New(cpu.New(), c)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
	m := newGAN(t, cpu.New(), DefaultConfig())
	assert.Equal(t, "", m.loss, "the default configuration takes the seed's own step")
	c := DefaultConfig()
	c.Loss, c.NCritic = ganloss.BCE, 1
	m = newGAN(t, cpu.New(), c)
	assert.Equal(t, "", m.loss, "explicit bce with one D step takes the seed's own step")
}

// TestConvCriticPenaltyMatchesFiniteDifferences is the finite-difference
// check of wgan-gp's critic loss (penalty included) for the convolutional
// critic preset (--arch conv), at reduced width (channels 3-6-12 instead of
// 64-128-256, the same layers, kernels, strides and 28×28 input), on the
// float64 reference backend, for sampled weights of every tensor.
func TestConvCriticPenaltyMatchesFiniteDifferences(t *testing.T) {
	const n = 2
	b := ref.New()
	ps := nn.NewParamSet(initStreamD)
	critic := NewConvCritic(ps, 3)
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	critic.Init(b, 5)
	g := graph.New()
	rx, fx := g.Input("real", graph.Shape{n, ImageDim}), g.Input("fake", graph.Shape{n, ImageDim})
	ctx := &layer.Ctx{G: g, Train: true}
	D := func(x *graph.Node) *graph.Node { return critic.Forward(ctx, x) }
	d := ganloss.DLoss(g, ganloss.WGANGP, ganloss.DInput{Real: D(rx), Fake: D(fx), Critic: D, RealX: rx, FakeX: fx,
		Interp: graph.StepStream(nn.PurposeRandom, 1)})
	g.Backward(d.Loss, ps)
	loss, gp := g.Copy(d.Loss), g.Copy(d.Stats[1])
	g.Output(loss, gp)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	rng := rand.New(rand.NewPCG(6, 7))
	for _, in := range []*graph.Node{rx, fx} {
		m, err := b.Alloc(n, ImageDim)
		require.NoError(t, err)
		defer b.Free(m)
		v := make([]float64, n*ImageDim)
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
	t.Logf("conv critic 3-6-12, batch %d: penalty %.4g, worst error of ∂loss/∂w relative to max|∂loss/∂w| (%.3g) %.2g",
		n, penalty, scale, worst)
}

// TestConvCriticTrains: --arch conv builds the paper's critic at full
// width (model.1/3/5 convolutions 64-128-256, model.8 the linear output)
// and a few wgan-gp steps with it run with finite statistics.
func TestConvCriticTrains(t *testing.T) {
	b := cpu.New()
	c := wganConfig()
	c.Arch, c.Batch = ArchConv, 4
	m := newGAN(t, b, c)
	ck := state(t, m)
	for name, n := range map[string]int{"D.model.1.weight": 64 * 25, "D.model.3.weight": 128 * 64 * 25, "D.model.5.weight": 256 * 128 * 25, "D.model.8.weight": 4096} {
		assert.Len(t, ck[name], n, name)
	}
	data, dev := randomData(t, b, 8, 2)
	require.NoError(t, model.Train(context.Background(), m, data, dev, 2, model.Hooks{OnStep: func(p model.Progress) error {
		t.Logf("step %d: d_loss %.4f g_loss %.4f W %.4f gp %.4f", p.Step, p.Stats[0], p.Stats[1], p.Stats[2], p.Stats[3])
		return nil
	}}))
}

// TestWGANDefaults: the family's own settings for wgan-gp on the MLP
// critic are WGANDefaults (the conv preset and the other losses keep the
// loss's), and a configuration's DLR is D's Adam learning rate while G
// keeps LR (DLR 0: both at LR).
func TestWGANDefaults(t *testing.T) {
	f, err := model.Lookup(Name)
	require.NoError(t, err)
	require.NotNil(t, f.LossDefaults)
	s, ok := f.LossDefaults(ganloss.WGANGP, "")
	assert.True(t, ok)
	assert.Equal(t, model.LossSettings{LR: 2e-4, Beta1: 0.5, Beta2: 0.999, DScale: 2, NCritic: 5}, s)
	_, ok = f.LossDefaults(ganloss.WGANGP, ArchConv)
	assert.False(t, ok, "the paper's networks keep the paper's settings")
	_, ok = f.LossDefaults(ganloss.Hinge, "")
	assert.False(t, ok)

	b := cpu.New()
	defer b.Close()
	c := wganConfig()
	c.LR, c.DLR = 2e-4, 4e-4
	m := newGAN(t, b, c)
	assert.Equal(t, [2]float32{2e-4, 4e-4}, [2]float32{m.OptG.LR, m.OptD.LR})
	c.DLR = 0
	m = newGAN(t, b, c)
	assert.Equal(t, [2]float32{2e-4, 2e-4}, [2]float32{m.OptG.LR, m.OptD.LR})
	c.DLR = -1
	_, err = New(b, c)
	assert.ErrorContains(t, err, "d_lr -1")
}
