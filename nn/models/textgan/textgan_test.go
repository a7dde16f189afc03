package textgan

import (
	"context"
	"errors"
	"math"
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
	"gan/nn/ref"
	"gan/nn/text"
)

// tinyCorpus is a repetitive text of a few characters.
func tinyCorpus(t *testing.T) *text.Corpus {
	c, err := text.New("tiny", strings.Repeat("the cat sat on the mat. ", 40))
	require.NoError(t, err)
	return c
}

// smallConfig is G and D of 16 LSTM units over an 8-wide embedding of
// vocab, blocks of 8, batch 8.
func smallConfig(vocab string) model.Config {
	cfg := DefaultConfig()
	cfg.Vocab, cfg.Hidden, cfg.Embd, cfg.Context, cfg.Batch, cfg.LR = vocab, 16, 8, 8, 8, 2e-3
	return cfg
}

func newSmall(t *testing.T, b nn.Backend, cfg model.Config) *GAN {
	m, err := New(b, cfg)
	require.NoError(t, err)
	t.Cleanup(m.Free)
	return m
}

// TestGLossGradientMatchesFiniteDifferences: G's loss BCE(σ(D(G(z))), 1)
// through the unrolled generator, its Gumbel-softmax outputs fed back and
// to D as soft one-hots, has the gradient with respect to every weight of
// G that central differences give on the float64 reference backend with
// the noise fixed (the same seed and step each run), within 1e-6 of the
// largest element (docs/tolerances.md, "fd").
func TestGLossGradientMatchesFiniteDifferences(t *testing.T) {
	const step, tol = 1e-5, 1e-6
	b := ref.New()
	cfg := smallConfig("abcd")
	cfg.Hidden, cfg.Embd, cfg.Context, cfg.Tau = 3, 2, 3, 0.7
	m := newSmall(t, b, cfg)
	const n = 2
	g := graph.New()
	slots := &nn.StreamSlots{}
	ctx := &layer.Ctx{G: g, Train: true, Slots: slots}
	z, ng := m.Noise(g, n, slots)
	loss, _ := g.SigmoidBCE(m.DSoft(ctx, m.Generate(ctx, z, ng)), g.Const(graph.Shape{n, 1}, 1))
	var wrt []*graph.Node
	params := m.PG.Params()
	for _, p := range params {
		wrt = append(wrt, g.Param(p))
	}
	grads := g.Grad(loss, wrt...)
	for i := range grads {
		grads[i] = g.Copy(grads[i])
	}
	g.Output(loss)
	g.Output(grads...)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	value := func() float64 {
		require.NoError(t, prog.Run(7, 3))
		var v [1]float64
		require.NoError(t, b.Download64(v[:], prog.Mat(loss)))
		return v[0]
	}
	l0 := value()
	require.False(t, math.IsNaN(l0))
	analytic := make([][]float64, len(grads))
	for i, gn := range grads {
		analytic[i] = make([]float64, gn.Shape().Len())
		require.NoError(t, b.Download64(analytic[i], prog.Mat(gn)))
	}
	for i, p := range params {
		vals := make([]float64, p.Len())
		require.NoError(t, b.Download64(vals, p.Value))
		scale := 1.0
		for _, a := range analytic[i] {
			scale = math.Max(scale, math.Abs(a))
		}
		nonzero := false
		for j := range vals {
			orig := vals[j]
			vals[j] = orig + step
			require.NoError(t, b.Upload64(p.Value, vals))
			up := value()
			vals[j] = orig - step
			require.NoError(t, b.Upload64(p.Value, vals))
			down := value()
			vals[j] = orig
			require.NoError(t, b.Upload64(p.Value, vals))
			fd := (up - down) / (2 * step)
			require.InDelta(t, fd, analytic[i][j], tol*scale, "%s[%d]", p.Name, j)
			nonzero = nonzero || math.Abs(fd) > 1e-8
		}
		assert.True(t, nonzero, "%s: the loss depends on it", p.Name)
	}
	assert.InDelta(t, l0, value(), 0, "the noise is fixed")
}

// snapshot returns the values of every parameter of G and D.
func snapshot(t *testing.T, m *GAN) [][]float32 {
	var out [][]float32
	for _, ps := range []*nn.ParamSet{m.PG, m.PD} {
		for _, p := range ps.Params() {
			v := make([]float32, p.Len())
			require.NoError(t, m.B.Download(v, p.Value))
			out = append(out, v)
		}
	}
	return out
}

// TestDeterminism: the same seed gives the same weights after 4 steps;
// another seed other weights.
func TestDeterminism(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	run := func(seed uint64) [][]float32 {
		cfg := smallConfig(c.Vocab.String())
		cfg.Seed = seed
		m := newSmall(t, b, cfg)
		require.NoError(t, model.TrainText(context.Background(), m, c, 4, 1, model.Hooks{}))
		require.Equal(t, 4, m.Step())
		return snapshot(t, m)
	}
	a := run(3)
	assert.Equal(t, a, run(3))
	assert.NotEqual(t, a, run(4))
}

// sample returns n characters drawn with key.
func sample(t *testing.T, m *GAN, n int, temp float32, key nn.RandKey) string {
	var out []int32
	require.NoError(t, m.Sample([]int32{0}, n, temp, key, func(id int32) error {
		require.True(t, id >= 0 && int(id) < m.V, "id %d in the vocabulary", id)
		out = append(out, id)
		return nil
	}))
	return m.Vocab.Decode(out)
}

// TestShortTraining: 150 steps on a tiny text move D's loss (D learns to
// tell the blocks apart from its start near 2 ln 2), every statistic stays
// finite, the model has no validation loss, and the samples are text of
// the vocabulary, the same for the same key and another for another.
func TestShortTraining(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	cfg := smallConfig(c.Vocab.String())
	cfg.LR = 5e-3
	m := newSmall(t, b, cfg)
	var first, last []float64
	require.NoError(t, model.TrainText(context.Background(), m, c, 150, 1, model.Hooks{OnStep: func(p model.Progress) error {
		if p.Step == 1 {
			first = append([]float64(nil), p.Stats...)
		}
		last = append(last[:0], p.Stats...)
		return nil
	}}))
	t.Logf("step 1: %v; step 150: %v", first, last)
	assert.InDelta(t, 2*math.Ln2, first[0], 0.2, "D's loss starts near 2 ln 2")
	assert.Greater(t, math.Abs(last[0]-first[0]), 0.1, "D's loss moves")
	_, err := model.ValLoss(m, c, 1)
	assert.True(t, errors.Is(err, model.ErrNoLikelihood), "%v", err)
	k1 := nn.RandKey{Seed: 1, Stream: nn.StreamID(nn.PurposeSample, 0)}
	k2 := nn.RandKey{Seed: 2, Stream: nn.StreamID(nn.PurposeSample, 0)}
	s := sample(t, m, 50, 1, k1)
	t.Logf("sample: %q", s)
	assert.Len(t, []rune(s), 50)
	assert.Equal(t, s, sample(t, m, 50, 1, k1))
	assert.NotEqual(t, s, sample(t, m, 50, 1, k2))
	distinct := map[rune]bool{}
	for _, r := range s {
		distinct[r] = true
	}
	assert.Greater(t, len(distinct), 1)
	require.Error(t, m.Sample(nil, 5, 1, k1, func(int32) error { return nil }))
	require.Error(t, m.Sample([]int32{0}, 5, 0, k1, func(int32) error { return nil }))
	require.Error(t, m.Sample([]int32{int32(m.V)}, 5, 1, k1, func(int32) error { return nil }))
}

// TestCheckpointRoundTrip: the checkpoint holds G's and D's tensors under
// their names and shapes, the vocabulary and τ; the loaded model draws the
// same samples and trains on identically.
func TestCheckpointRoundTrip(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	cfg := smallConfig(c.Vocab.String())
	cfg.Tau = 0.5
	m := newSmall(t, b, cfg)
	require.NoError(t, model.TrainText(context.Background(), m, c, 3, 1, model.Hooks{}))
	path := filepath.Join(t.TempDir(), "gan.safetensors")
	require.NoError(t, model.Save(m, path))
	saved, err := nn.ReadTensorsFile(path)
	require.NoError(t, err)
	for name, shape := range map[string][]int{
		"G.embedding.weight": {m.V, 8}, "G.init.weight": {32, ZDim}, "G.lstm.weight_ih_l0": {64, 8}, "G.lstm.weight_hh_l0": {64, 16},
		"G.dense.weight": {m.V, 16}, "D.embedding.weight": {m.V, 8}, "D.lstm.bias_hh_l0": {64}, "D.dense.weight": {1, 16}, "D.dense.bias": {1},
	} {
		assert.Equal(t, shape, saved.Shapes[name], name)
	}
	l, err := model.Load(b, path, "")
	require.NoError(t, err)
	defer l.Free()
	r := l.(*GAN)
	assert.Equal(t, c.Vocab.String(), r.Vocab.String())
	assert.Equal(t, float32(0.5), r.Config().Tau)
	assert.Equal(t, 3, r.Step())
	assert.Equal(t, snapshot(t, m), snapshot(t, r))
	key := nn.RandKey{Seed: 4, Stream: nn.StreamID(nn.PurposeSample, 0)}
	assert.Equal(t, sample(t, m, 30, 1, key), sample(t, r, 30, 1, key))
	require.NoError(t, model.TrainText(context.Background(), m, c, 2, 1, model.Hooks{}))
	require.NoError(t, model.TrainText(context.Background(), r, c, 2, 1, model.Hooks{}))
	assert.Equal(t, snapshot(t, m), snapshot(t, r), "resumed training continues identically")
}

// TestBadConfig: a bad τ, shape, cell or missing vocabulary are one-line
// errors.
func TestBadConfig(t *testing.T) {
	good := smallConfig("abc")
	require.NoError(t, model.ValidateConfig(good))
	for name, edit := range map[string]func(*model.Config){
		"tau 0":      func(c *model.Config) { c.Tau = 0 },
		"tau < 0":    func(c *model.Config) { c.Tau = -1 },
		"tau NaN":    func(c *model.Config) { c.Tau = float32(math.NaN()) },
		"tau huge":   func(c *model.Config) { c.Tau = 1e6 },
		"no vocab":   func(c *model.Config) { c.Vocab = "" },
		"dup vocab":  func(c *model.Config) { c.Vocab = "aba" },
		"cell":       func(c *model.Config) { c.Cell = "gru" },
		"layers":     func(c *model.Config) { c.Layers = 2 },
		"hidden":     func(c *model.Config) { c.Hidden = 0 },
		"embd":       func(c *model.Config) { c.Embd = 0 },
		"block":      func(c *model.Config) { c.Context = 0 },
		"long block": func(c *model.Config) { c.Context = MaxBlock + 1 },
		"dropout":    func(c *model.Config) { c.Dropout = 0.1 },
		"loss":       func(c *model.Config) { c.Loss = "wgan-gp" },
		"huge batch": func(c *model.Config) { c.Batch, c.Context = 4096, 256 },
		"lr":         func(c *model.Config) { c.LR = 0 },
	} {
		c := good
		edit(&c)
		err := model.ValidateConfig(c)
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), "\n", name)
	}
}

// TestTrainStepDoesNotAllocate: after the first step a training step
// allocates nothing on the CPU backend.
func TestTrainStepDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	m := newSmall(t, b, smallConfig(c.Vocab.String()))
	tokens := make([]int32, m.Cfg.Batch*(m.T+1))
	require.NoError(t, text.Blocks(tokens, c.Train, m.Cfg.Batch, m.T, text.BlocksKey(1, 0, false)))
	batch := &model.Batch{Tokens: tokens}
	_, err := m.TrainStep(batch)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(3, func() {
		if _, err := m.TrainStep(batch); err != nil {
			t.Fatal(err)
		}
	}))
}

// BenchmarkTrainStep measures a training step of the default
// configuration over a 75-character vocabulary (reported as generated
// characters/s).
func BenchmarkTrainStep(b *testing.B) {
	be := cpu.New()
	b.Cleanup(func() { be.Close() })
	cfg := DefaultConfig()
	cfg.Vocab = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"()-\n"
	m, err := New(be, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Free)
	tokens := make([]int32, m.Cfg.Batch*(m.T+1))
	for i := range tokens {
		tokens[i] = int32(i*7) % int32(m.V)
	}
	batch := &model.Batch{Tokens: tokens}
	if _, err := m.TrainStep(batch); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := m.TrainStep(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*m.Cfg.Batch*m.T)/b.Elapsed().Seconds(), "chars/s")
}
