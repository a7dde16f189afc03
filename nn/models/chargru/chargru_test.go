package chargru

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

// smallConfig is a 2-layer model of 32 units over a 16-wide embedding of
// vocab, blocks of 16.
func smallConfig(vocab, cell string) model.Config {
	cfg := DefaultConfig()
	cfg.Vocab, cfg.Cell, cfg.Layers, cfg.Hidden, cfg.Embd, cfg.Context, cfg.Batch, cfg.LR = vocab, cell, 2, 32, 16, 16, 8, 1e-2
	return cfg
}

func newSmall(t *testing.T, b nn.Backend, c *text.Corpus, cell string) *RNN {
	m, err := New(b, smallConfig(c.Vocab.String(), cell))
	require.NoError(t, err)
	t.Cleanup(m.Free)
	return m
}

// TestLossDecreases: on a tiny repetitive text, 60 Adam steps (with
// dropout) take the training loss of a GRU and an LSTM from about ln V to
// less than half of it, and the validation loss follows.
func TestLossDecreases(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	for _, cell := range []string{"gru", "lstm"} {
		cfg := smallConfig(c.Vocab.String(), cell)
		cfg.Dropout = 0.1
		m, err := New(b, cfg)
		require.NoError(t, err)
		var first, last, val0 float64
		require.NoError(t, model.TrainText(context.Background(), m, c, 60, 2, model.Hooks{OnStep: func(p model.Progress) error {
			if p.Step == 1 {
				first, val0 = p.Stats[0], p.Stats[1]
			}
			last = p.Stats[0]
			return nil
		}}))
		assert.Equal(t, 60, m.Step())
		assert.InDelta(t, 2.4, first, 0.5, "%s: the first loss is about ln V = ln %d", cell, c.Vocab.Size())
		assert.Less(t, last, first/2, cell)
		val, err := model.ValLoss(m, c, 2)
		require.NoError(t, err)
		assert.Less(t, val, val0/2, cell)
		m.Free()
	}
}

// TestCausality: changing the character at position j changes no logit of
// an earlier position, bit for bit, and changes position j's and the
// last's.
func TestCausality(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	for _, cell := range []string{"gru", "lstm"} {
		m := newSmall(t, b, c, cell)
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
					assert.True(t, same, "%s: changing position %d changed the logits of position %d", cell, j, r)
				}
				if r == j || r == m.T-1 {
					assert.False(t, same, "%s: changing position %d left the logits of position %d alone", cell, j, r)
				}
			}
		}
	}
}

// TestCheckpointRoundTrip: the checkpoint holds PyTorch's RNNModel names
// and shapes, the cell and the vocabulary; the loaded LSTM gives the same
// logits and the same samples.
func TestCheckpointRoundTrip(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	m := newSmall(t, b, c, "lstm")
	require.NoError(t, model.TrainText(context.Background(), m, c, 3, 1, model.Hooks{}))
	path := filepath.Join(t.TempDir(), "rnn.safetensors")
	require.NoError(t, model.Save(m, path))
	saved, err := nn.ReadTensorsFile(path)
	require.NoError(t, err)
	for name, shape := range map[string][]int{
		"RNN.encoder.weight": {m.V, 16}, "RNN.rnn.weight_ih_l0": {4 * 32, 16}, "RNN.rnn.weight_hh_l1": {4 * 32, 32},
		"RNN.rnn.bias_ih_l1": {4 * 32}, "RNN.rnn.bias_hh_l0": {4 * 32}, "RNN.decoder.weight": {m.V, 32}, "RNN.decoder.bias": {m.V},
	} {
		assert.Equal(t, shape, saved.Shapes[name], name)
	}
	l, err := model.Load(b, path, "")
	require.NoError(t, err)
	defer l.Free()
	r := l.(*RNN)
	assert.Equal(t, c.Vocab.String(), r.Vocab.String())
	assert.Equal(t, "lstm", r.Config().Cell)
	assert.Equal(t, 3, r.Step())
	a, d := make([]float32, m.T*m.V), make([]float32, m.T*m.V)
	require.NoError(t, m.Logits(c.Val[:m.T], a))
	require.NoError(t, r.Logits(c.Val[:m.T], d))
	assert.Equal(t, a, d)
	key := nn.RandKey{Seed: 4, Stream: nn.StreamID(nn.PurposeSample, 0)}
	assert.Equal(t, sample(t, m, "the ", 30, 1, key), sample(t, r, "the ", 30, 1, key))
}

// sample returns n characters after prompt drawn with key.
func sample(t *testing.T, m *RNN, prompt string, n int, temp float32, key nn.RandKey) string {
	ids, err := m.Vocab.Encode(prompt)
	require.NoError(t, err)
	var out []int32
	require.NoError(t, m.Sample(ids, n, temp, key, func(id int32) error { out = append(out, id); return nil }))
	return m.Vocab.Decode(out)
}

// TestSamplingIsDeterministic: the same key draws the same text, another
// key another text; prompts and texts longer than the block are fine (the
// state carries everything); bad arguments are errors.
func TestSamplingIsDeterministic(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	m := newSmall(t, b, c, "gru")
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
	require.Error(t, m.Sample([]int32{int32(m.V)}, 5, 1, k1, func(int32) error { return nil }))
}

// TestSamplerCarriesTheState: the one-character sampler program, carrying
// the state forward, gives the logits of the whole-block graph at every
// position of a window (float32 products of other shapes: within 1e-5),
// for both cells.
func TestSamplerCarriesTheState(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	for _, cell := range []string{"gru", "lstm"} {
		m := newSmall(t, b, c, cell)
		require.NoError(t, model.TrainText(context.Background(), m, c, 5, 1, model.Hooks{}))
		ids := c.Val[:m.T]
		want := make([]float32, m.T*m.V)
		require.NoError(t, m.Logits(ids, want))
		s, err := m.newStepper()
		require.NoError(t, err)
		s.reset(b)
		for j, id := range ids {
			got, err := m.push(s, id)
			require.NoError(t, err)
			for k := range m.V {
				require.InDelta(t, want[j*m.V+k], got[k], 1e-5, "%s: position %d, logit %d", cell, j, k)
			}
		}
		s.free(b)
	}
}

// TestBadConfig: bad shapes, a bad cell and a missing vocabulary are
// one-line errors.
func TestBadConfig(t *testing.T) {
	good := smallConfig("abc", "gru")
	require.NoError(t, model.ValidateConfig(good))
	for name, edit := range map[string]func(*model.Config){
		"no vocab":        func(c *model.Config) { c.Vocab = "" },
		"dup vocab":       func(c *model.Config) { c.Vocab = "aba" },
		"cell":            func(c *model.Config) { c.Cell = "rnn" },
		"no cell":         func(c *model.Config) { c.Cell = "" },
		"heads":           func(c *model.Config) { c.Heads = 4 },
		"layers":          func(c *model.Config) { c.Layers = 0 },
		"hidden":          func(c *model.Config) { c.Hidden = 0 },
		"embd":            func(c *model.Config) { c.Embd = 0 },
		"block":           func(c *model.Config) { c.Context = 0 },
		"long block":      func(c *model.Config) { c.Context = MaxBlock + 1 },
		"dropout":         func(c *model.Config) { c.Dropout = 1 },
		"loss":            func(c *model.Config) { c.Loss = "bce" },
		"huge batch":      func(c *model.Config) { c.Batch, c.Context = 4096, 1024 },
		"bad lr (common)": func(c *model.Config) { c.LR = 0 },
	} {
		c := good
		edit(&c)
		err := model.ValidateConfig(c)
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), "\n", name)
	}
	lstm := good
	lstm.Cell = "lstm"
	require.NoError(t, model.ValidateConfig(lstm))
}

// TestTrainStepDoesNotAllocate: after the first step a training step
// allocates nothing on the CPU backend (the batch's ids are reused).
func TestTrainStepDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	m := newSmall(t, b, c, "gru")
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

// defaultModel is the default configuration over a 75-character
// vocabulary (about the fortunes corpus's size).
func defaultModel(b *testing.B, cell string) *RNN {
	be := cpu.New()
	b.Cleanup(func() { be.Close() })
	cfg := DefaultConfig()
	cfg.Cell = cell
	cfg.Vocab = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"()-\n"
	m, err := New(be, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Free)
	return m
}

// BenchmarkTrainStep measures a training step of the default
// configuration (reported as characters/s).
func BenchmarkTrainStep(b *testing.B) {
	m := defaultModel(b, "gru")
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

// BenchmarkSample measures the state-carrying sampler of the default
// configuration (reported as characters/s).
func BenchmarkSample(b *testing.B) {
	m := defaultModel(b, "gru")
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
