package chargpt

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/model"
	"gan/nn/text"
)

// tinyCorpus is a repetitive text of a few characters.
func tinyCorpus(t *testing.T) *text.Corpus {
	c, err := text.New("tiny", strings.Repeat("the cat sat on the mat. ", 40))
	require.NoError(t, err)
	return c
}

// smallConfig is a 2-layer, 2-head model of width 32 over 16 characters.
func smallConfig(vocab string) model.Config {
	cfg := DefaultConfig()
	cfg.Vocab, cfg.Layers, cfg.Heads, cfg.Embd, cfg.Context, cfg.Batch, cfg.LR = vocab, 2, 2, 32, 16, 8, 3e-3
	return cfg
}

// TestLossDecreases: on a tiny repetitive text, 40 Adam steps take the
// training loss from about ln V to less than half of it, and the
// validation loss follows.
func TestLossDecreases(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	cfg := smallConfig(c.Vocab.String())
	cfg.Dropout = 0.1
	m, err := New(b, cfg)
	require.NoError(t, err)
	defer m.Free()
	var first, last float64
	var val0 float64
	require.NoError(t, model.TrainText(context.Background(), m, c, 40, 2, model.Hooks{OnStep: func(p model.Progress) error {
		if p.Step == 1 {
			first, val0 = p.Stats[0], p.Stats[1]
		}
		last = p.Stats[0]
		return nil
	}}))
	assert.Equal(t, 40, m.Step())
	assert.InDelta(t, 2.4, first, 0.5, "the first loss is about ln V = ln %d", c.Vocab.Size())
	assert.Less(t, last, first/2)
	val, err := model.ValLoss(m, c, 2)
	require.NoError(t, err)
	assert.Less(t, val, val0/2)
}

// TestCausality: changing the character at position j changes no logit of
// an earlier position, bit for bit, and changes position j's.
func TestCausality(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	m, err := New(b, smallConfig(c.Vocab.String()))
	require.NoError(t, err)
	defer m.Free()
	ids := slices.Clone(c.Train[:m.T])
	base := make([]float32, m.T*m.V)
	require.NoError(t, m.Logits(ids, base))
	got := make([]float32, m.T*m.V)
	for _, j := range []int{0, 5, m.T - 1} {
		changed := slices.Clone(ids)
		changed[j] = (changed[j] + 1) % int32(m.V)
		require.NoError(t, m.Logits(changed, got))
		for r := range m.T {
			same := slices.Equal(got[r*m.V:(r+1)*m.V], base[r*m.V:(r+1)*m.V])
			if r < j {
				assert.True(t, same, "changing position %d changed the logits of position %d", j, r)
			}
			if r == j {
				assert.False(t, same, "changing position %d left its logits alone", j)
			}
		}
	}
}

// TestCheckpointRoundTrip: the checkpoint holds nanoGPT's names and the
// vocabulary; the loaded model gives the same logits and samples.
func TestCheckpointRoundTrip(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	m, err := New(b, smallConfig(c.Vocab.String()))
	require.NoError(t, err)
	defer m.Free()
	require.NoError(t, model.TrainText(context.Background(), m, c, 3, 1, model.Hooks{}))
	path := filepath.Join(t.TempDir(), "gpt.safetensors")
	require.NoError(t, model.Save(m, path))
	saved, err := nn.ReadTensorsFile(path)
	require.NoError(t, err)
	for _, name := range []string{"GPT.transformer.wte.weight", "GPT.transformer.wpe.weight", "GPT.transformer.h.1.attn.c_attn.weight",
		"GPT.transformer.h.0.mlp.c_proj.bias", "GPT.transformer.ln_f.weight", "GPT.lm_head.weight"} {
		assert.Contains(t, saved.Data, name)
	}
	assert.Equal(t, []int{3 * 32, 32}, saved.Shapes["GPT.transformer.h.1.attn.c_attn.weight"])
	l, err := model.Load(b, path, "")
	require.NoError(t, err)
	defer l.Free()
	g := l.(*GPT)
	assert.Equal(t, c.Vocab.String(), g.Vocab.String())
	assert.Equal(t, 3, g.Step())
	a, d := make([]float32, m.T*m.V), make([]float32, m.T*m.V)
	require.NoError(t, m.Logits(c.Val[:m.T], a))
	require.NoError(t, g.Logits(c.Val[:m.T], d))
	assert.Equal(t, a, d)
}

// sample returns n characters after prompt drawn with key.
func sample(t *testing.T, m *GPT, prompt string, n int, temp float32, key nn.RandKey) string {
	ids, err := m.Vocab.Encode(prompt)
	require.NoError(t, err)
	var out []int32
	require.NoError(t, m.Sample(ids, n, temp, key, func(id int32) error { out = append(out, id); return nil }))
	return m.Vocab.Decode(out)
}

// TestSamplingIsDeterministic: the same key draws the same text, another
// key another text; prompts longer than the context slide the window;
// bad arguments are errors.
func TestSamplingIsDeterministic(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	m, err := New(b, smallConfig(c.Vocab.String()))
	require.NoError(t, err)
	defer m.Free()
	k1 := nn.RandKey{Seed: 1, Stream: nn.StreamID(nn.PurposeSample, 0)}
	k2 := nn.RandKey{Seed: 2, Stream: nn.StreamID(nn.PurposeSample, 0)}
	a := sample(t, m, "the ", 40, 1, k1)
	assert.Equal(t, a, sample(t, m, "the ", 40, 1, k1))
	assert.NotEqual(t, a, sample(t, m, "the ", 40, 1, k2))
	assert.Len(t, []rune(a), 40)
	long := strings.Repeat("the cat ", 5) // 40 characters > T = 16
	assert.Len(t, []rune(sample(t, m, long, 5, 0.5, k1)), 5)
	require.Error(t, m.Sample(nil, 5, 1, k1, func(int32) error { return nil }))
	require.Error(t, m.Sample([]int32{0}, 5, 0, k1, func(int32) error { return nil }))
}

// TestDrawFollowsTheDistribution: the inverse CDF picks the id whose
// cumulative probability interval holds u; a low temperature sharpens.
func TestDrawFollowsTheDistribution(t *testing.T) {
	probs := make([]float64, 3)
	logits := []float32{0, 0, 0}
	assert.Equal(t, int32(0), Draw(logits, 1, 0.1, probs))
	assert.Equal(t, int32(1), Draw(logits, 1, 0.5, probs))
	assert.Equal(t, int32(2), Draw(logits, 1, 0.9, probs))
	assert.Equal(t, int32(2), Draw([]float32{0, 1, 2}, 0.01, 0.001, probs))
}

// TestBadConfig: bad shapes and a missing vocabulary are one-line errors.
func TestBadConfig(t *testing.T) {
	good := smallConfig("abc")
	require.NoError(t, model.ValidateConfig(good))
	for name, edit := range map[string]func(*model.Config){
		"no vocab":        func(c *model.Config) { c.Vocab = "" },
		"dup vocab":       func(c *model.Config) { c.Vocab = "aba" },
		"heads":           func(c *model.Config) { c.Heads = 3 },
		"layers":          func(c *model.Config) { c.Layers = 0 },
		"block":           func(c *model.Config) { c.Context = 0 },
		"dropout":         func(c *model.Config) { c.Dropout = 1 },
		"loss":            func(c *model.Config) { c.Loss = "bce" },
		"huge batch":      func(c *model.Config) { c.Batch, c.Context = 4096, 4096 },
		"bad lr (common)": func(c *model.Config) { c.LR = 0 },
	} {
		c := good
		edit(&c)
		err := model.ValidateConfig(c)
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), "\n", name)
	}
}

// TestTrainStepDoesNotAllocate: after the first step a training step
// allocates nothing on the CPU backend (the batch's ids are reused).
func TestTrainStepDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	m, err := New(b, smallConfig(c.Vocab.String()))
	require.NoError(t, err)
	defer m.Free()
	tokens := make([]int32, m.Cfg.Batch*(m.T+1))
	require.NoError(t, text.Blocks(tokens, c.Train, m.Cfg.Batch, m.T, text.BlocksKey(1, 0, false)))
	batch := &model.Batch{Tokens: tokens}
	_, err = m.TrainStep(batch)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(3, func() {
		if _, err := m.TrainStep(batch); err != nil {
			t.Fatal(err)
		}
	}))
}

// TestCachedLogitsMatchTheGraph: the host forward pass with its key/value
// cache gives the logits of the compiled graph at every position of a
// window (float32 sums in another order: within 1e-4), and the cached and
// recomputing samplers agree on a short text.
func TestCachedLogitsMatchTheGraph(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	m, err := New(b, smallConfig(c.Vocab.String()))
	require.NoError(t, err)
	defer m.Free()
	require.NoError(t, model.TrainText(context.Background(), m, c, 5, 1, model.Hooks{}))
	ids := c.Val[:m.T]
	want := make([]float32, m.T*m.V)
	require.NoError(t, m.Logits(ids, want))
	hg, err := newHostGPT(m)
	require.NoError(t, err)
	for j, id := range ids {
		got := hg.push(id)
		for k := range m.V {
			require.InDelta(t, want[j*m.V+k], got[k], 1e-4, "position %d, logit %d", j, k)
		}
	}
	key := nn.RandKey{Seed: 3, Stream: nn.StreamID(nn.PurposeSample, 0)}
	var a, r []int32
	require.NoError(t, m.SampleCached(ids[:3], m.T-3, 1, key, func(id int32) error { a = append(a, id); return nil }))
	require.NoError(t, m.SampleRecompute(ids[:3], m.T-3, 1, key, func(id int32) error { r = append(r, id); return nil }))
	assert.Equal(t, r, a)
}

// benchModel is the default configuration over a 75-character vocabulary
// on the CPU backend, freed when the benchmark ends.
func benchModel(b *testing.B) *GPT {
	be := cpu.New()
	b.Cleanup(func() { be.Close() })
	cfg := DefaultConfig()
	cfg.Vocab = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"()-\n"
	m, err := New(be, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Free)
	return m
}

// BenchmarkSampleCached measures the key/value-cache sampler of the
// default configuration (reported as characters/s).
func BenchmarkSampleCached(b *testing.B) {
	m := benchModel(b)
	key := nn.RandKey{Seed: 1, Stream: nn.StreamID(nn.PurposeSample, 0)}
	const chars = 500
	b.ResetTimer()
	for range b.N {
		if err := m.Sample([]int32{0}, chars, 1, key, func(int32) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*chars)/b.Elapsed().Seconds(), "chars/s")
}

// BenchmarkTrainStep measures one training step of the default
// configuration (batch 12, block 64, 4 layers of width 128) on random
// tokens of a 75-character vocabulary.
func BenchmarkTrainStep(b *testing.B) {
	m := benchModel(b)
	cfg := m.Config()
	tokens := make([]int32, cfg.Batch*(cfg.Context+1))
	for i := range tokens {
		tokens[i] = int32(i*7919) % int32(m.V)
	}
	batch := &model.Batch{Tokens: tokens}
	if _, err := m.TrainStep(batch); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := m.TrainStep(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}
