// Package chargpt is the char-gpt family: a small causal Transformer over
// characters, as nanoGPT's model.py (GPT) with the shape of its
// shakespeare_char configuration as the reference: token and position
// embeddings, Layers pre-LayerNorm blocks of causal self-attention (one
// QKV projection, Heads heads) and a GELU MLP of 4·Embd, a final
// LayerNorm and a linear head, trained on the mean cross-entropy of the
// next characters.
//
// Parameter names are nanoGPT's state_dict names (transformer.wte.weight,
// transformer.wpe.weight, transformer.h.0.ln_1.weight,
// transformer.h.0.attn.c_attn.weight, …, transformer.ln_f.weight,
// lm_head.weight), with biases in every Linear and LayerNorm (nanoGPT's
// bias=True) and an untied lm_head (nanoGPT ties it to wte). The
// initialisation is nanoGPT's: N(0, 0.02) weights and embeddings, c_proj
// weights N(0, 0.02/√(2·Layers)), zero biases. The optimiser is Adam
// without weight decay (nanoGPT's AdamW decays the matrices by 0.1).
//
// nanoGPT's shakespeare_char: n_layer 6, n_head 6, n_embd 384, block_size
// 256, batch 64, dropout 0.2, lr 1e-3, betas (0.9, 0.99): about 10.7M
// parameters and a TFLOP per step, minutes per step on two CPU cores. The
// family's default is the configuration nanoGPT's README gives for a CPU
// (n_layer 4, n_head 4, n_embd 128, block_size 64, batch 12, dropout 0,
// 2000 iterations); the full shape is --n-layer 6 --n-head 6 --n-embd 384
// --block 256 --batch 64 --dropout 0.2.
package chargpt

import (
	"fmt"
	"math"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/model"
	"gan/nn/text"
)

// Name is the family's --model name.
const Name = "char-gpt"

// DefaultConfig is nanoGPT's CPU configuration of shakespeare_char
// (8 epochs of model.TextEpochSteps: 2000 steps) on the default corpus.
func DefaultConfig() model.Config {
	return model.Config{Model: Name, Epochs: 8, Batch: 12, LR: 1e-3, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8,
		Seed: 1, Dataset: text.DefaultName, Layers: 4, Heads: 4, Embd: 128, Context: 64, Dropout: 0}
}

func init() {
	model.Register(model.Family{
		Name:     Name,
		Summary:  "character-level causal Transformer (nanoGPT's GPT; --text FILE, default the fortunes corpus; --n-layer, --n-head, --n-embd, --block, --dropout)",
		Defaults: DefaultConfig,
		Validate: validate,
		New:      func(b nn.Backend, cfg model.Config) (model.Model, error) { return New(b, cfg) },
	})
}

func validate(c model.Config) error {
	switch {
	case c.Layers < 1 || c.Layers > 64:
		return fmt.Errorf("n_layer %d: must be between 1 and 64", c.Layers)
	case c.Heads < 1 || c.Embd < 1 || c.Embd > 1<<14 || c.Embd%c.Heads != 0:
		return fmt.Errorf("n_embd %d, n_head %d: the embedding must split into heads (n_embd a multiple of n_head, at most 16384)", c.Embd, c.Heads)
	case c.Context < 1 || c.Context > 4096:
		return fmt.Errorf("block %d: must be between 1 and 4096", c.Context)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("dropout %g: must be in [0, 1)", c.Dropout)
	case c.Loss != "" || c.Arch != "" || c.DLR != 0:
		return fmt.Errorf("loss %q, arch %q, d-lr %g: char-gpt has none of them", c.Loss, c.Arch, c.DLR)
	case c.Batch*c.Context > 1<<20:
		return fmt.Errorf("batch %d × block %d: more than 2²⁰ characters per step", c.Batch, c.Context)
	}
	if c.Vocab == "" {
		return fmt.Errorf("no vocabulary: a char-gpt model is built from its text (--text) or its checkpoint")
	}
	if _, err := text.NewVocab(c.Vocab); err != nil {
		return err
	}
	return nil
}

// block is one Transformer block's layers.
type block struct {
	ln1, ln2       *layer.LayerNormLayer
	attn, attnProj *layer.LinearLayer
	fc, mlpProj    *layer.LinearLayer
}

// GPT is the model on one backend.
type GPT struct {
	model.Base
	Vocab          *text.Vocab
	V, C, H, T, L  int
	P              *nn.ParamSet
	Opt            *nn.Adam
	wte, wpe, head *nn.Param
	blocks         []block
	lnf            *layer.LayerNormLayer
	progs          model.LMPrograms
	stats          []float64
	pos            []int32
	probs          []float64
}

// New builds a char-gpt on b with weights drawn from cfg.Seed.
func New(b nn.Backend, cfg model.Config) (*GPT, error) {
	if err := model.ValidateConfig(cfg); err != nil {
		return nil, err
	}
	vocab, err := text.NewVocab(cfg.Vocab)
	if err != nil {
		return nil, err
	}
	m := &GPT{Base: model.Base{Cfg: cfg, B: b}, Vocab: vocab, V: vocab.Size(), C: cfg.Embd, H: cfg.Heads, T: cfg.Context, L: cfg.Layers,
		stats: make([]float64, 2)}
	m.P = nn.NewParamSetFrom(&nn.InitStreams{})
	ln := func(name string) *layer.LayerNormLayer {
		return &layer.LayerNormLayer{Shape: []int{m.C}, Eps: 1e-5, W: m.P.Add(name+".weight", m.C), B: m.P.Add(name+".bias", m.C)}
	}
	m.wte = m.P.Add("transformer.wte.weight", m.V, m.C)
	m.wpe = m.P.Add("transformer.wpe.weight", m.T, m.C)
	for i := range m.L {
		p := fmt.Sprintf("transformer.h.%d.", i)
		m.blocks = append(m.blocks, block{
			ln1:      ln(p + "ln_1"),
			attn:     layer.NewLinear(m.P, p+"attn.c_attn", m.C, 3*m.C),
			attnProj: layer.NewLinear(m.P, p+"attn.c_proj", m.C, m.C),
			ln2:      ln(p + "ln_2"),
			fc:       layer.NewLinear(m.P, p+"mlp.c_fc", m.C, 4*m.C),
			mlpProj:  layer.NewLinear(m.P, p+"mlp.c_proj", 4*m.C, m.C),
		})
	}
	m.lnf = ln("transformer.ln_f")
	m.head = m.P.Add("lm_head.weight", m.V, m.C)
	if err := m.P.Alloc(b); err != nil {
		return nil, fmt.Errorf("char-gpt: %w", err)
	}
	if m.Opt, err = nn.NewAdam(b, m.P, cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps); err != nil {
		m.Free()
		return nil, err
	}
	m.progs = model.LMPrograms{Name: "char-gpt", T: m.T, V: m.V, Forward: m.lmForward, Params: m.P, Opt: m.Opt}
	if err := m.progs.Alloc(b); err != nil {
		m.Free()
		return nil, err
	}
	m.init(cfg.Seed)
	return m, b.Sync()
}

// init is nanoGPT's _init_weights.
func (m *GPT) init(seed uint64) {
	b := m.B
	normal := func(p *nn.Param, std float32) { b.RandNormal(p.Value, 0, std, p.InitKey(seed)) }
	linear := func(l *layer.LinearLayer, std float32) { normal(l.W, std); b.Fill(l.B.Value, 0) }
	projStd := float32(0.02 / math.Sqrt(2*float64(m.L)))
	normal(m.wte, 0.02)
	normal(m.wpe, 0.02)
	for _, bl := range m.blocks {
		bl.ln1.Init(b, seed)
		bl.ln2.Init(b, seed)
		linear(bl.attn, 0.02)
		linear(bl.attnProj, projStd)
		linear(bl.fc, 0.02)
		linear(bl.mlpProj, projStd)
	}
	m.lnf.Init(b, seed)
	normal(m.head, 0.02)
}

// Free releases everything allocated on the backend.
func (m *GPT) Free() {
	m.progs.Free()
	if m.Opt != nil {
		m.Opt.Free()
		m.Opt = nil
	}
	m.P.Free(m.B)
}

// Nets is the one network, named "GPT" in checkpoints.
func (m *GPT) Nets() []model.Net { return []model.Net{{Name: "GPT", Params: m.P, Opt: m.Opt}} }

// Stats are the training batch's loss and the latest validation loss,
// mean nats per character.
func (m *GPT) Stats() []model.Stat {
	return []model.Stat{{Name: "loss", Format: "%.4f", Loss: true}, {Name: "val_loss", Format: "%.4f"}}
}

// SetValLoss records the latest validation loss.
func (m *GPT) SetValLoss(v float64) { m.stats[1] = v }

// RNG describes the random streams.
func (m *GPT) RNG() string {
	return "philox4x32-10; blocks: PurposeTextBlocks index step (validation 1<<40|i); dropout: step<<16|slot of PurposeDropout; init: one stream per tensor from 1<<32; sampling: PurposeSample index 0, word i for character i"
}

// forward adds the logits ([n·T, V]) of n sequences of T tokens.
func (m *GPT) forward(g *graph.Graph, n int, tok, pos *graph.Index, train bool) *graph.Node {
	ctx := &layer.Ctx{G: g, Train: train, Slots: &nn.StreamSlots{}}
	drop := func(x *graph.Node) *graph.Node {
		if !train || m.Cfg.Dropout == 0 {
			return x
		}
		return g.Dropout(x, m.Cfg.Dropout, graph.StepStream(nn.PurposeDropout, ctx.Slots.Next()))
	}
	x := drop(g.Add(g.GatherRows(g.Param(m.wte), tok), g.GatherRows(g.Param(m.wpe), pos)))
	d := m.C / m.H
	scale := 1 / float32(math.Sqrt(float64(d)))
	for _, bl := range m.blocks {
		qkv := bl.attn.Forward(ctx, bl.ln1.Forward(ctx, x))
		q, k, v := g.Cols(qkv, 0, m.C), g.Cols(qkv, m.C, m.C), g.Cols(qkv, 2*m.C, m.C)
		p := drop(g.CausalSoftmax(g.BatchMatMul(q, k, n, m.H, false, true), m.T, scale))
		y := g.BatchMatMul(p, v, n, m.H, false, false)
		x = g.Add(x, drop(bl.attnProj.Forward(ctx, y)))
		h := g.GELU(bl.fc.Forward(ctx, bl.ln2.Forward(ctx, x)))
		x = g.Add(x, drop(bl.mlpProj.Forward(ctx, h)))
	}
	x = m.lnf.Forward(ctx, x)
	return g.MatMul(x, g.Param(m.head), false, true)
}

// lmForward is the forward pass of [model.LMPrograms]: the logits of n
// sequences and, to finish the compiled program, the positions of their
// tokens.
func (m *GPT) lmForward(g *graph.Graph, n int, tok *graph.Index, train bool) (*graph.Node, func(*graph.Program) error) {
	posIdx := g.Indices("positions", n*m.T)
	logits := m.forward(g, n, tok, posIdx, train)
	return logits, func(prog *graph.Program) error {
		pos := make([]int32, n*m.T)
		for i := range pos {
			pos[i] = int32(i % m.T)
		}
		return prog.SetIndices(posIdx, pos)
	}
}

// TrainStep does one Adam step on the batch's Tokens.
func (m *GPT) TrainStep(b *model.Batch) ([]float64, error) {
	return m.progs.TrainStep(&m.Base, b.Tokens, m.stats, m.Stats())
}

// Loss is the mean next-character cross-entropy of tokens in evaluation
// mode.
func (m *GPT) Loss(tokens []int32) (float64, error) { return m.progs.Loss(&m.Base, tokens) }

// Logits writes the logits of the T ids (one sequence) to out (T·V
// values, row j predicting the character after ids[j]).
func (m *GPT) Logits(ids []int32, out []float32) error { return m.progs.Logits(&m.Base, ids, out) }

// Sample draws n characters after prompt with the key/value cache of
// [GPT.SampleCached].
func (m *GPT) Sample(prompt []int32, n int, temperature float32, key nn.RandKey, emit func(id int32) error) error {
	return m.SampleCached(prompt, n, temperature, key, emit)
}

// SampleRecompute draws n characters after prompt as nanoGPT's generate
// does, recomputing the whole context window on the backend for each (no
// key/value cache): the window is the last T ids, padded at its end
// (causal attention makes the padding invisible to the position read).
func (m *GPT) SampleRecompute(prompt []int32, n int, temperature float32, key nn.RandKey, emit func(id int32) error) error {
	if len(prompt) < 1 {
		return fmt.Errorf("char-gpt sample: an empty prompt")
	}
	if !(temperature > 0) || math.IsInf(float64(temperature), 0) {
		return fmt.Errorf("char-gpt sample: temperature %g must be positive", temperature)
	}
	ctx := append([]int32(nil), prompt...)
	window := make([]int32, m.T)
	logits := make([]float32, m.T*m.V)
	if m.probs == nil {
		m.probs = make([]float64, m.V)
	}
	for i := range n {
		lo := max(0, len(ctx)-m.T)
		last := copy(window, ctx[lo:]) - 1
		clear(window[last+1:])
		if err := m.Logits(window, logits); err != nil {
			return err
		}
		id := Draw(logits[last*m.V:(last+1)*m.V], temperature, key.Uniform(uint64(i)), m.probs)
		ctx = append(ctx, id)
		if err := emit(id); err != nil {
			return err
		}
	}
	return nil
}

// Draw returns the id drawn from softmax(logits/temperature) by the
// uniform u in [0, 1) (inverse CDF, in float64); probs is scratch of
// len(logits).
func Draw(logits []float32, temperature float32, u float32, probs []float64) int32 {
	mx := math.Inf(-1)
	for _, l := range logits {
		mx = max(mx, float64(l)/float64(temperature))
	}
	sum := 0.0
	for j, l := range logits {
		probs[j] = math.Exp(float64(l)/float64(temperature) - mx)
		sum += probs[j]
	}
	target := float64(u) * sum
	acc := 0.0
	for j, p := range probs[:len(logits)] {
		acc += p
		if target < acc {
			return int32(j)
		}
	}
	return int32(len(logits) - 1)
}
