// Package chargru is the char-gru family: a character-level recurrent
// language model shaped as PyTorch's word_language_model example
// (RNNModel): an embedding of the characters, a stack of GRU (or LSTM)
// layers, and a linear decoder to the vocabulary's logits, trained on the
// mean cross-entropy of the next characters with backpropagation through
// time over --block characters. Every training block starts from the zero
// state (the blocks are random, as char-gpt's).
//
// Parameter names are RNNModel's state_dict names: encoder.weight [V E],
// rnn.weight_ih_l0 [G·H E], rnn.weight_hh_l0 [G·H H], rnn.bias_ih_l0,
// rnn.bias_hh_l0 [G·H] (G = 3 gates for a GRU, 4 for an LSTM; …_l1 for
// the next layer), decoder.weight [V H], decoder.bias [V]. The
// initialisation is PyTorch's default of each module: N(0, 1) embeddings,
// recurrent weights and biases uniform in ±1/√H, decoder uniform in ±1/√H
// (RNNModel's init_weights would draw the encoder and decoder in ±0.1).
// Dropout, when set, applies where RNNModel applies it: to the embeddings,
// between the recurrent layers (nn.GRU's dropout argument) and to the last
// layer's outputs.
//
// The default (2 layers of 256 GRU units over a 64-wide embedding, blocks
// of 64 characters, batch 32) is sized for two CPU cores: a step costs
// about 4 MFLOP per character (forward and backward), 9 GFLOP per batch of
// 2048 characters, and runs in a fraction of a second; 256 units is
// karpathy's char-rnn's smallest usual width and enough for the about 100
// characters of English text, and 64 characters of context cover several
// words, which is what a character model of this size can use.
package chargru

import (
	"fmt"
	"math"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/model"
	"gan/nn/models/chargpt"
	"gan/nn/text"
)

// Name is the family's --model name.
const Name = "char-gru"

// DefaultConfig is the family's default on the default corpus: 8 epochs
// of model.TextEpochSteps (2000 steps).
func DefaultConfig() model.Config {
	return model.Config{Model: Name, Epochs: 8, Batch: 32, LR: 2e-3, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8,
		Seed: 1, Dataset: text.DefaultName, Layers: 2, Hidden: 256, Embd: 64, Context: 64, Dropout: 0, Cell: "gru"}
}

func init() {
	model.Register(model.Family{
		Name:     Name,
		Summary:  "character-level recurrent model (embedding, stacked GRU or LSTM, linear decoder; --text FILE, default the fortunes corpus; --cell, --n-layer, --hidden, --n-embd, --block, --dropout)",
		Defaults: DefaultConfig,
		Validate: validate,
		New:      func(b nn.Backend, cfg model.Config) (model.Model, error) { return New(b, cfg) },
	})
}

// MaxBlock is the longest --block: the graph unrolls every time step.
const MaxBlock = 1024

func validate(c model.Config) error {
	if _, err := layer.ParseCell(c.Cell); err != nil {
		return err
	}
	switch {
	case c.Layers < 1 || c.Layers > 64:
		return fmt.Errorf("n_layer %d: must be between 1 and 64", c.Layers)
	case c.Hidden < 1 || c.Hidden > 1<<13:
		return fmt.Errorf("hidden %d: must be between 1 and 8192", c.Hidden)
	case c.Embd < 1 || c.Embd > 1<<13:
		return fmt.Errorf("n_embd %d: must be between 1 and 8192", c.Embd)
	case c.Heads != 0:
		return fmt.Errorf("n_head %d: char-gru has no attention heads", c.Heads)
	case c.Context < 1 || c.Context > MaxBlock:
		return fmt.Errorf("block %d: must be between 1 and %d (the graph unrolls every step)", c.Context, MaxBlock)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("dropout %g: must be in [0, 1)", c.Dropout)
	case c.Loss != "" || c.Arch != "" || c.DLR != 0:
		return fmt.Errorf("loss %q, arch %q, d-lr %g: char-gru has none of them", c.Loss, c.Arch, c.DLR)
	case c.Batch*c.Context > 1<<20:
		return fmt.Errorf("batch %d × block %d: more than 2²⁰ characters per step", c.Batch, c.Context)
	}
	if c.Vocab == "" {
		return fmt.Errorf("no vocabulary: a char-gru model is built from its text (--text) or its checkpoint")
	}
	if _, err := text.NewVocab(c.Vocab); err != nil {
		return err
	}
	return nil
}

// RNN is the model on one backend.
type RNN struct {
	model.Base
	Vocab         *text.Vocab
	Cell          layer.Cell
	V, E, H, T, L int
	P             *nn.ParamSet
	Opt           *nn.Adam
	enc           *layer.EmbeddingLayer
	rnn           *layer.RNNLayer
	dec           *layer.LinearLayer
	progs         model.LMPrograms
	sampler       *stepper
	stats         []float64
	probs         []float64
}

// New builds a char-gru on b with weights drawn from cfg.Seed.
func New(b nn.Backend, cfg model.Config) (*RNN, error) {
	if err := model.ValidateConfig(cfg); err != nil {
		return nil, err
	}
	vocab, err := text.NewVocab(cfg.Vocab)
	if err != nil {
		return nil, err
	}
	cell, err := layer.ParseCell(cfg.Cell)
	if err != nil {
		return nil, err
	}
	m := &RNN{Base: model.Base{Cfg: cfg, B: b}, Vocab: vocab, Cell: cell, V: vocab.Size(), E: cfg.Embd, H: cfg.Hidden, T: cfg.Context, L: cfg.Layers,
		stats: make([]float64, 2)}
	m.P = nn.NewParamSetFrom(&nn.InitStreams{})
	m.enc = layer.NewEmbedding(m.P, "encoder", m.V, m.E)
	m.rnn = layer.NewRNN(m.P, "rnn", cell, m.E, m.H, m.L, cfg.Dropout)
	m.dec = layer.NewLinear(m.P, "decoder", m.H, m.V)
	if err := m.P.Alloc(b); err != nil {
		return nil, fmt.Errorf("char-gru: %w", err)
	}
	if m.Opt, err = nn.NewAdam(b, m.P, cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps); err != nil {
		m.Free()
		return nil, err
	}
	m.progs = model.LMPrograms{Name: "char-gru", T: m.T, V: m.V, TimeMajor: true, Forward: m.lmForward, Params: m.P, Opt: m.Opt}
	if err := m.progs.Alloc(b); err != nil {
		m.Free()
		return nil, err
	}
	m.enc.Init(b, cfg.Seed)
	m.rnn.Init(b, cfg.Seed)
	m.dec.Init(b, cfg.Seed)
	return m, b.Sync()
}

// Free releases everything allocated on the backend.
func (m *RNN) Free() {
	m.progs.Free()
	if m.sampler != nil {
		m.sampler.free(m.B)
		m.sampler = nil
	}
	if m.Opt != nil {
		m.Opt.Free()
		m.Opt = nil
	}
	m.P.Free(m.B)
}

// Nets is the one network, named "RNN" in checkpoints.
func (m *RNN) Nets() []model.Net { return []model.Net{{Name: "RNN", Params: m.P, Opt: m.Opt}} }

// Stats are the training batch's loss and the latest validation loss,
// mean nats per character.
func (m *RNN) Stats() []model.Stat {
	return []model.Stat{{Name: "loss", Format: "%.4f", Loss: true}, {Name: "val_loss", Format: "%.4f"}}
}

// SetValLoss records the latest validation loss.
func (m *RNN) SetValLoss(v float64) { m.stats[1] = v }

// RNG describes the random streams.
func (m *RNN) RNG() string {
	return "philox4x32-10; blocks: PurposeTextBlocks index step (validation 1<<40|i); dropout: step<<16|slot of PurposeDropout (embeddings, between layers, outputs); init: one stream per tensor from 1<<32; sampling: PurposeSample index 0, word i for character i"
}

// forward adds the logits ([t·n, V], time-major) of n sequences of t
// tokens from the state h0 (nil: zeros) and returns them with the state
// after the last step.
func (m *RNN) forward(g *graph.Graph, t int, tok *graph.Index, h0 *layer.RNNState, train bool) (*graph.Node, *layer.RNNState) {
	ctx := &layer.Ctx{G: g, Train: train, Slots: &nn.StreamSlots{}}
	drop := func(x *graph.Node) *graph.Node {
		if !train || m.Cfg.Dropout == 0 {
			return x
		}
		return g.Dropout(x, m.Cfg.Dropout, graph.StepStream(nn.PurposeDropout, ctx.Slots.Next()))
	}
	x := drop(m.enc.Lookup(ctx, tok))
	out, st := m.rnn.Forward(ctx, x, t, h0)
	return m.dec.Forward(ctx, drop(out)), st
}

// lmForward is the forward pass of [model.LMPrograms]: the time-major
// logits of n sequences from the zero state.
func (m *RNN) lmForward(g *graph.Graph, n int, tok *graph.Index, train bool) (*graph.Node, func(*graph.Program) error) {
	logits, _ := m.forward(g, m.T, tok, nil, train)
	return logits, nil
}

// TrainStep does one Adam step on the batch's Tokens.
func (m *RNN) TrainStep(b *model.Batch) ([]float64, error) {
	return m.progs.TrainStep(&m.Base, b.Tokens, m.stats, m.Stats())
}

// Loss is the mean next-character cross-entropy of tokens in evaluation
// mode, each sequence from the zero state.
func (m *RNN) Loss(tokens []int32) (float64, error) { return m.progs.Loss(&m.Base, tokens) }

// Logits writes the logits of the T ids (one sequence, from the zero
// state) to out (T·V values, row j predicting the character after
// ids[j]).
func (m *RNN) Logits(ids []int32, out []float32) error { return m.progs.Logits(&m.Base, ids, out) }

func (m *RNN) checkIDs(ids []int32) error {
	for _, id := range ids {
		if id < 0 || int(id) >= m.V {
			return fmt.Errorf("char-gru: token id %d outside the vocabulary of %d", id, m.V)
		}
	}
	return nil
}

// stepper is the one-character program of the sampler: it reads the
// recurrent state of every layer from the state matrices, and after each
// run the new state is copied back into them, so that a character costs
// one step of the network whatever the length of the text before it.
type stepper struct {
	prog       *graph.Program
	tok        *graph.Index
	logits     *graph.Node
	next       []*graph.Node // new h of each layer, then new c (LSTM)
	state      []nn.Mat      // what next is copied into: the inputs
	id         []int32
	logitsHost []float32
}

func (m *RNN) newStepper() (*stepper, error) {
	g := graph.New()
	s := &stepper{id: make([]int32, 1), logitsHost: make([]float32, m.V)}
	s.tok = g.Indices("token", 1)
	h0 := &layer.RNNState{}
	var ins []*graph.Node
	for l := range m.L {
		h0.H = append(h0.H, g.Input(fmt.Sprintf("h%d", l), graph.Shape{1, m.H}))
	}
	ins = append(ins, h0.H...)
	if m.Cell == layer.LSTM {
		for l := range m.L {
			h0.C = append(h0.C, g.Input(fmt.Sprintf("c%d", l), graph.Shape{1, m.H}))
		}
		ins = append(ins, h0.C...)
	}
	logits, st := m.forward(g, 1, s.tok, h0, false)
	s.logits = logits
	s.next = append(append(s.next, st.H...), st.C...)
	g.Output(logits)
	g.Output(s.next...)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("char-gru sampler: %w", err)
	}
	s.prog = prog
	for _, in := range ins {
		mat, err := m.B.Alloc(1, m.H)
		if err != nil {
			s.free(m.B)
			return nil, fmt.Errorf("char-gru sampler: %w", err)
		}
		s.state = append(s.state, mat)
		if err := prog.Bind(in, mat); err != nil {
			s.free(m.B)
			return nil, err
		}
	}
	return s, nil
}

func (s *stepper) free(b nn.Backend) {
	for _, mat := range s.state {
		b.Free(mat)
	}
	s.state = nil
	if s.prog != nil {
		s.prog.Free()
	}
}

// reset sets the state to zeros.
func (s *stepper) reset(b nn.Backend) {
	for _, mat := range s.state {
		b.Fill(mat, 0)
	}
}

// push feeds the character id, carries the state forward and returns the
// logits of the character after it (valid until the next push).
func (m *RNN) push(s *stepper, id int32) ([]float32, error) {
	s.id[0] = id
	if err := s.prog.SetIndices(s.tok, s.id); err != nil {
		return nil, err
	}
	if err := s.prog.Run(m.Cfg.Seed, uint64(m.Step())); err != nil {
		return nil, fmt.Errorf("char-gru sampler: %w", err)
	}
	for i, n := range s.next {
		m.B.Copy(s.state[i], s.prog.Mat(n))
	}
	if err := m.B.Download(s.logitsHost, s.prog.Mat(s.logits)); err != nil {
		return nil, fmt.Errorf("char-gru sampler: %w", err)
	}
	return s.logitsHost, nil
}

// Sample draws n characters after prompt: the prompt is fed one character
// at a time from the zero state, then each character drawn (by
// [chargpt.Draw]: the inverse CDF of softmax(logits/temperature) at word i
// of key for character i) is fed back, the recurrent state carried forward
// (the prompt is never recomputed). The text has no length limit: the
// state summarises everything before.
func (m *RNN) Sample(prompt []int32, n int, temperature float32, key nn.RandKey, emit func(id int32) error) error {
	if len(prompt) < 1 {
		return fmt.Errorf("char-gru sample: an empty prompt")
	}
	if !(temperature > 0) || math.IsInf(float64(temperature), 0) {
		return fmt.Errorf("char-gru sample: temperature %g must be positive", temperature)
	}
	if err := m.checkIDs(prompt); err != nil {
		return err
	}
	if m.sampler == nil {
		s, err := m.newStepper()
		if err != nil {
			return err
		}
		m.sampler = s
	}
	if m.probs == nil {
		m.probs = make([]float64, m.V)
	}
	s := m.sampler
	s.reset(m.B)
	var logits []float32
	var err error
	for _, id := range prompt {
		if logits, err = m.push(s, id); err != nil {
			return err
		}
	}
	for i := range n {
		id := chargpt.Draw(logits, temperature, key.Uniform(uint64(i)), m.probs)
		if err := emit(id); err != nil {
			return err
		}
		if i+1 < n {
			if logits, err = m.push(s, id); err != nil {
				return err
			}
		}
	}
	return nil
}
