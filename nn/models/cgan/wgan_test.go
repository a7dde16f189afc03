package cgan

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
	"gan/nn/model"
	"gan/nn/models/ganloss"
	"gan/nn/ref"
)

// wganConfig is the configuration gan train --model cgan --loss wgan-gp
// makes: the family's, with the paper's Adam settings and 5 critic steps.
func wganConfig() model.Config {
	c := DefaultConfig()
	c.Loss = ganloss.WGANGP
	s, _ := ganloss.Defaults(ganloss.WGANGP)
	c.LR, c.Beta1, c.Beta2, c.NCritic = s.LR, s.Beta1, s.Beta2, s.NCritic
	return c
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

// TestWGANGPCritic: wgan-gp builds the critic (D's Linear layers at
// model.0/2/4/6 after the label embedding: no dropout) and reports W and
// gp; its generated batch takes the real batch's labels.
func TestWGANGPCritic(t *testing.T) {
	b := cpu.New()
	c := wganConfig()
	c.Batch = 8
	m := newGAN(t, b, c)
	var dNames []string
	for name := range state(t, m) {
		if strings.HasPrefix(name, "D.") && !strings.HasPrefix(name, "D.adam") {
			dNames = append(dNames, name)
		}
	}
	assert.ElementsMatch(t, []string{"D.label_embedding.weight", "D.model.0.weight", "D.model.0.bias",
		"D.model.2.weight", "D.model.2.bias", "D.model.4.weight", "D.model.4.bias", "D.model.6.weight", "D.model.6.bias"}, dNames)
	var names []string
	for _, s := range m.Stats() {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"d_loss", "g_loss", "W", "gp"}, names)
	data, dev := mnistSubset(t, b, 32)
	require.NoError(t, model.Train(context.Background(), m, data, dev, 2, model.Hooks{}))
	assert.Equal(t, m.labels[:8], m.labels[8:16], "the generated images take the real batch's labels")
}

// TestLossesWithCriticSteps: bce with two D steps per G step, hinge with
// three and wgan-gp with five train with finite statistics (Train stops
// otherwise), G steps exactly on the steps ≡ 0 mod NCritic (its weights
// change there and only there), and D changes every step.
func TestLossesWithCriticSteps(t *testing.T) {
	b := cpu.New()
	data, dev := mnistSubset(t, b, 64)
	for _, tc := range []struct {
		loss    string
		nCritic int
	}{{ganloss.BCE, 2}, {ganloss.Hinge, 3}, {ganloss.WGANGP, 5}} {
		t.Run(tc.loss, func(t *testing.T) {
			c := DefaultConfig()
			c.Batch, c.Loss, c.NCritic = 8, tc.loss, tc.nCritic
			m := newGAN(t, b, c)
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

// TestCriticPenaltyMatchesFiniteDifferences differentiates wgan-gp's whole
// critic loss, E[D(G(z), y)] − E[D(x, y)] + λ·E[(‖∇ₓ̂D(x̂, y)‖₂ − 1)²],
// for a critic built by the same code as the model's (label embedding,
// concatenation, LeakyReLU MLP, no dropout) at small widths, with the
// penalty's gradient taken with respect to the image input only, on the
// float64 reference backend with repeated labels, and compares the
// gradient with respect to every element of every tensor (the label
// embedding included; the penalty's part is a second derivative) with
// central differences: within 1e-6 of the largest gradient element
// (docs/tolerances.md).
func TestCriticPenaltyMatchesFiniteDifferences(t *testing.T) {
	const n, classes, emb, pixels = 4, 10, 3, 12
	b := ref.New()
	var streams nn.InitStreams
	ps := nn.NewParamSetFrom(&streams)
	critic := newDiscriminator(ps, false, classes, emb, pixels, 7, 6, 4)
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	critic.Init(b, 5)
	g := graph.New()
	labels := g.Indices("labels", n)
	rx, fx := g.Input("real", graph.Shape{n, pixels}), g.Input("fake", graph.Shape{n, pixels})
	ctx := &layer.Ctx{G: g, Train: true}
	D := func(x *graph.Node) *graph.Node { return critic.Forward(ctx, x, labels) }
	d := ganloss.DLoss(g, ganloss.WGANGP, ganloss.DInput{Real: D(rx), Fake: D(fx), Critic: D, RealX: rx, FakeX: fx,
		Interp: graph.StepStream(nn.PurposeRandom, 1)})
	require.Equal(t, graph.Shape{n, 1}, d.Eps.Shape(), "one interpolation coefficient per sample")
	g.Backward(d.Loss, ps)
	loss, gp := g.Copy(d.Loss), g.Copy(d.Stats[1])
	g.Output(loss, gp)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	require.NoError(t, prog.SetIndices(labels, []int32{3, 0, 3, 9}))
	rng := rand.New(rand.NewPCG(3, 4))
	for _, in := range []*graph.Node{rx, fx} {
		m, err := b.Alloc(n, pixels)
		require.NoError(t, err)
		defer b.Free(m)
		v := make([]float64, n*pixels)
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
		for j := off; j < off+p.Len(); j++ {
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
			require.LessOrEqual(t, e, 1e-6, "%s[%d]: analytic %v, finite difference %v", p.Name, j-off, grads[j], fd)
			worst = math.Max(worst, e)
		}
	}
	t.Logf("critic 12+3-7-6-4-1, batch %d: penalty %.4g, worst error of ∂loss/∂w relative to max|∂loss/∂w| (%.3g) %.2g",
		n, penalty, scale, worst)
}

// TestWGANGPStepDoesNotAllocate: once both programs are compiled, a whole
// WGAN-GP cycle (5 critic steps with penalty, one of them with G's step)
// allocates nothing on the CPU backend.
func TestWGANGPStepDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	c := wganConfig()
	c.Batch = 16
	m := newGAN(t, b, c)
	data, dev := mnistSubset(t, b, 64)
	idx := make([]int32, c.Batch)
	for i := range idx {
		idx[i] = int32(3 * i)
	}
	batch := &model.Batch{Data: data, Dev: dev, Idx: idx}
	cycle := func() {
		for range 5 {
			if _, err := m.TrainStep(batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	cycle()
	assert.Zero(t, testing.AllocsPerRun(2, cycle), "allocations per WGAN-GP cycle")
	assert.Len(t, m.steps, 2)
}

// TestWGANGPCheckpointResumes: a wgan-gp checkpoint keeps its loss and
// critic steps, and a run resumed from step 7 (inside a group of critic
// steps) continues bit for bit.
func TestWGANGPCheckpointResumes(t *testing.T) {
	c := wganConfig()
	c.Batch = 8
	b := cpu.New()
	data, dev := mnistSubset(t, b, 24)
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
	require.NoError(t, model.Train(context.Background(), resumed, data, dev, 5, model.Hooks{}))
	want, got := state(t, straight), state(t, resumed.(*GAN))
	require.Equal(t, len(want), len(got))
	for name, w := range want {
		require.True(t, floatsEqual(w, got[name]), name)
	}
}

// TestWGANGPShortRunOnMNIST trains wgan-gp for 40 critic steps (8
// generator steps) of batch 32 on 2000 real digits: every statistic stays
// finite (Train checks), and the critic learns to separate the batches, so
// the Wasserstein estimate of the last ten steps is clearly positive and
// above that of the first step.
func TestWGANGPShortRunOnMNIST(t *testing.T) {
	b := cpu.New()
	c := wganConfig()
	c.Batch = 32
	m := newGAN(t, b, c)
	data, dev := mnistSubset(t, b, 2000)
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
}
