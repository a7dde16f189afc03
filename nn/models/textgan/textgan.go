// Package textgan is the text-gan family: seed 002's text GAN, a
// generator and a discriminator each made of an embedding, an LSTM of
// 128 units and a dense layer (the seed's Keras code: Embedding(V, 50),
// LSTM(128), Dense; Adam lr 2e-4, β₁ 0.5), trained with the
// non-saturating GAN loss on blocks of --block characters of a corpus.
//
// G generates a block of T characters from noise: z ~ N(0, 1) of ZDim
// values (PurposeNoise) passes through a Linear layer to 2H values, the
// first H (through tanh) the LSTM's initial hidden state and the other H
// its initial cell state. At step s its LSTM reads the embedding of its
// own previous output (zeros at step 0) and a dense layer gives logits
// ℓₛ over the vocabulary. The characters are discrete, so G's output
// cannot be a sampled id if D's gradient is to reach G; it is the
// Gumbel-softmax relaxation of the draw (Jang, Gu and Poole 2017;
// Maddison et al. 2017; used for GANs of sequences by Kusner and
// Hernández-Lobato 2016):
//
//	yₛ = softmax((ℓₛ + gₛ)/τ),  gₛ = −log(−log u),  u ~ U(0, 1)
//
// with u from a graph RandUniform stream (PurposeRandom) and τ = --tau.
// As τ → 0, yₛ tends to the one-hot of argmax(ℓₛ + gₛ), which is a draw
// from softmax(ℓₛ) (the Gumbel-max trick); at τ > 0 it is a point of the
// simplex, differentiable in ℓₛ. yₛ is what D sees (a soft one-hot) and
// what G's next step reads: its embedding is the product yₛ·E of the soft
// one-hot with the embedding matrix, which for a hard one-hot is exactly
// the embedding lookup. D reads real blocks by that lookup and G's blocks
// by that product, runs its LSTM over the T steps, and a dense layer maps
// the last hidden state to one logit.
//
// Why the relaxation rather than REINFORCE (SeqGAN's policy gradient):
// with it the whole step, G's sampling included, is an ordinary
// differentiable graph, so package graph's reverse mode gives G's
// gradient exactly (and a finite-difference test checks it); REINFORCE's
// gradient estimate needs per-token rewards from Monte Carlo rollouts, a
// baseline and other variance reduction, and pretraining by maximum
// likelihood to start at all. The relaxation's price is a biased
// gradient (of the relaxed, not the discrete, objective) and soft inputs
// that D can tell from one-hots by their entropy alone, the more so the
// larger τ: that is the known weakness of this approach, and what the
// measures of gan eval show. τ is fixed for a run (no annealing), and the
// straight-through variant (hard forward, soft backward) is not built.
//
// The loss is the non-saturating GAN loss with the fused SigmoidBCE: one D
// step (real blocks labelled 1, G's blocks 0), then one G step through the
// updated D (G's blocks labelled 1), each with its own Adam, in one
// compiled program per batch size.
//
// Sampling ([GAN.Sample]) runs G one character at a time: every T
// characters a new block starts from a new z; character i is
// argmax(ℓ/temperature + g) (a draw from softmax(ℓ/temperature)) and G's
// next step reads softmax((ℓ + g)/τ), the same soft one-hot as in
// training. The prompt is not used: G is unconditional, its text starts
// from noise alone. A GAN defines no probability of a given text, so it
// has no validation loss ([model.ErrNoLikelihood]); gan eval measures its
// samples only.
//
// Parameter names: G.embedding.weight [V E], G.init.weight [2H ZDim],
// G.init.bias, G.lstm.weight_ih_l0 [4H E] (PyTorch's nn.LSTM names and
// gate order), G.lstm.weight_hh_l0, G.lstm.bias_ih_l0, G.lstm.bias_hh_l0,
// G.dense.weight [V H], G.dense.bias; D.embedding.weight [V E],
// D.lstm.…, D.dense.weight [1 H], D.dense.bias. Initialisation is
// PyTorch's default of each module.
package textgan

import (
	"fmt"
	"math"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/model"
	"gan/nn/models/ganloss"
	"gan/nn/text"
)

// Name is the family's --model name.
const Name = "text-gan"

// ZDim is the width of G's noise z.
const ZDim = 100

// MaxBlock is the longest --block: G's and D's graphs unroll every step.
const MaxBlock = 256

// MaxTau bounds --tau.
const MaxTau = 100

// gumbelLo is the lower end of the uniform draws behind the Gumbel noise:
// the uniforms are multiples of 2⁻²⁴ in [0, 1), and lo + (1 − lo)·u must
// stay above 0 and below 1 in float32, which 2⁻²⁶ does (the noise is then
// within [−2.9, 16.6], outside of which a Gumbel variable lies with
// probability below 10⁻⁷).
const gumbelLo = 1.0 / (1 << 26)

// DefaultConfig is the seed's shape and optimiser (Keras's Adam epsilon
// 1e-7) on the default corpus: blocks of 32 characters, batch 64, 8
// epochs of model.TextEpochSteps.
func DefaultConfig() model.Config {
	return model.Config{Model: Name, Epochs: 8, Batch: 64, LR: 2e-4, Beta1: 0.5, Beta2: 0.999, Eps: 1e-7,
		Seed: 1, Dataset: text.DefaultName, Layers: 1, Hidden: 128, Embd: 50, Context: 32, Tau: 1}
}

func init() {
	model.Register(model.Family{
		Name:     Name,
		Summary:  "seed 002's text GAN (embedding, LSTM 128, dense for G and D) trained through the discrete choice by the Gumbel-softmax relaxation (--text FILE, default the fortunes corpus; --tau, --hidden, --n-embd, --block)",
		Defaults: DefaultConfig,
		Validate: validate,
		New:      func(b nn.Backend, cfg model.Config) (model.Model, error) { return New(b, cfg) },
	})
}

func validate(c model.Config) error {
	switch {
	case !(c.Tau > 0) || c.Tau > MaxTau:
		return fmt.Errorf("tau %g: the Gumbel-softmax temperature must be in (0, %d]", c.Tau, MaxTau)
	case c.Layers != 1:
		return fmt.Errorf("n_layer %d: text-gan has one LSTM layer in G and in D (the seed's)", c.Layers)
	case c.Hidden < 1 || c.Hidden > 1<<12:
		return fmt.Errorf("hidden %d: must be between 1 and 4096", c.Hidden)
	case c.Embd < 1 || c.Embd > 1<<12:
		return fmt.Errorf("n_embd %d: must be between 1 and 4096", c.Embd)
	case c.Heads != 0 || c.Dropout != 0:
		return fmt.Errorf("n_head %d, dropout %g: text-gan has neither", c.Heads, c.Dropout)
	case c.Cell != "" && c.Cell != "lstm":
		return fmt.Errorf("cell %q: text-gan's cell is the seed's LSTM", c.Cell)
	case c.Context < 1 || c.Context > MaxBlock:
		return fmt.Errorf("block %d: must be between 1 and %d (the graphs unroll every step)", c.Context, MaxBlock)
	case c.Loss != "" && c.Loss != ganloss.BCE:
		return fmt.Errorf("loss %q: text-gan trains with the non-saturating bce loss", c.Loss)
	case c.Arch != "" || c.NCritic > 1:
		return fmt.Errorf("arch %q, n_critic %d: text-gan has neither", c.Arch, c.NCritic)
	case c.Batch*c.Context > 1<<18:
		return fmt.Errorf("batch %d × block %d: more than 2¹⁸ characters per step", c.Batch, c.Context)
	}
	if c.Vocab == "" {
		return fmt.Errorf("no vocabulary: a text-gan model is built from its text (--text) or its checkpoint")
	}
	if _, err := text.NewVocab(c.Vocab); err != nil {
		return err
	}
	return nil
}

// GAN is the text GAN on one backend.
type GAN struct {
	model.Base
	model.GANPair
	Vocab      *text.Vocab
	V, E, H, T int
	Tau        float32

	gEmb  *layer.EmbeddingLayer
	gInit *layer.LinearLayer
	gRNN  *layer.RNNLayer
	gOut  *layer.LinearLayer
	dEmb  *layer.EmbeddingLayer
	dRNN  *layer.RNNLayer
	dOut  *layer.LinearLayer

	steps     map[int]*stepProgram
	sampler   *sampler
	stats     []float64
	statNames []model.Stat // ganloss.Stats(bce), made once
}

// stepProgram is the compiled training step over n blocks.
type stepProgram struct {
	prog                  *graph.Program
	tok                   *graph.Index
	ids                   []int32 // time-major: row s·n+i is character s of block i
	lossR, dx, lossF, dgz *graph.Node
	gLoss                 *graph.Node
}

// New builds a text GAN on b with weights drawn from cfg.Seed.
func New(b nn.Backend, cfg model.Config) (*GAN, error) {
	if err := model.ValidateConfig(cfg); err != nil {
		return nil, err
	}
	vocab, err := text.NewVocab(cfg.Vocab)
	if err != nil {
		return nil, err
	}
	m := &GAN{Base: model.Base{Cfg: cfg, B: b}, Vocab: vocab, V: vocab.Size(), E: cfg.Embd, H: cfg.Hidden, T: cfg.Context,
		Tau: cfg.Tau, steps: map[int]*stepProgram{}, stats: make([]float64, 4), statNames: ganloss.Stats(ganloss.BCE)}
	streams := &nn.InitStreams{}
	m.PG, m.PD = nn.NewParamSetFrom(streams), nn.NewParamSetFrom(streams)
	m.gEmb = layer.NewEmbedding(m.PG, "embedding", m.V, m.E)
	m.gInit = layer.NewLinear(m.PG, "init", ZDim, 2*m.H)
	m.gRNN = layer.NewRNN(m.PG, "lstm", layer.LSTM, m.E, m.H, 1, 0)
	m.gOut = layer.NewLinear(m.PG, "dense", m.H, m.V)
	m.dEmb = layer.NewEmbedding(m.PD, "embedding", m.V, m.E)
	m.dRNN = layer.NewRNN(m.PD, "lstm", layer.LSTM, m.E, m.H, 1, 0)
	m.dOut = layer.NewLinear(m.PD, "dense", m.H, 1)
	if err := m.Alloc(b, cfg); err != nil {
		m.Free()
		return nil, fmt.Errorf("text-gan: %w", err)
	}
	m.gEmb.Init(b, cfg.Seed)
	m.gInit.Init(b, cfg.Seed)
	m.gRNN.Init(b, cfg.Seed)
	m.gOut.Init(b, cfg.Seed)
	m.dEmb.Init(b, cfg.Seed)
	m.dRNN.Init(b, cfg.Seed)
	m.dOut.Init(b, cfg.Seed)
	return m, b.Sync()
}

// Free releases everything allocated on the backend.
func (m *GAN) Free() {
	for _, s := range m.steps {
		s.prog.Free()
	}
	m.steps = map[int]*stepProgram{}
	if m.sampler != nil {
		m.sampler.free(m.B)
		m.sampler = nil
	}
	m.FreePair(m.B)
}

// Stats are the GAN statistics of the bce loss: d_loss, g_loss, and the
// batch means of σ(D) on the real blocks (before D's update) and on G's.
func (m *GAN) Stats() []model.Stat { return m.statNames }

// RNG describes the random streams.
func (m *GAN) RNG() string {
	return "philox4x32-10; blocks: PurposeTextBlocks index step; z: PurposeNoise step<<16|slot; Gumbel uniforms: PurposeRandom step<<16|slot; init: one stream per tensor from 1<<32; sampling: the sample key, uniform i·V+v for the Gumbel noise of character i, normal 1<<40 + b·ZDim + j for z of block b"
}

var tanh = nn.Act{Kind: nn.ActTanh}

// initState maps the noise z [n, ZDim] to G's initial LSTM state.
func (m *GAN) initState(ctx *layer.Ctx, z *graph.Node) *layer.RNNState {
	g := ctx.G
	hc := m.gInit.Forward(ctx, z)
	return &layer.RNNState{H: []*graph.Node{g.Act(g.Cols(hc, 0, m.H), tanh)}, C: []*graph.Node{g.Copy(g.Cols(hc, m.H, m.H))}}
}

// gStep is one step of G from the input x ([n, V] soft one-hots; nil:
// zeros) and state st: the logits [n, V] and the new state.
func (m *GAN) gStep(ctx *layer.Ctx, x *graph.Node, n int, st *layer.RNNState) (*graph.Node, *layer.RNNState) {
	g := ctx.G
	var e *graph.Node
	if x == nil {
		e = g.Const(graph.Shape{n, m.E}, 0)
	} else {
		e = g.MatMul(x, g.Param(m.gEmb.W), false, false)
	}
	out, st := m.gRNN.Forward(ctx, e, 1, st)
	return m.gOut.Forward(ctx, out), st
}

// Generate adds G's unrolled forward pass for the noise z [n, ZDim] and
// the negated Gumbel noise ng = log(−log u) [T·n, V] (time-major): G's
// blocks as soft one-hots, time-major [T·n, V].
func (m *GAN) Generate(ctx *layer.Ctx, z, ng *graph.Node) *graph.Node {
	g := ctx.G
	n := z.Shape().Rows()
	st := m.initState(ctx, z)
	ys := make([]*graph.Node, m.T)
	var y *graph.Node
	for s := range m.T {
		var logits *graph.Node
		logits, st = m.gStep(ctx, y, n, st)
		y = g.Softmax(g.Scale(g.Sub(logits, g.Rows(ng, s*n, n)), 1/m.Tau))
		ys[s] = y
	}
	if m.T == 1 {
		return ys[0]
	}
	return g.ConcatRows(ys...)
}

// Noise adds the training step's random inputs of n blocks: z and the
// negated Gumbel noise log(−log u), each from its own stream of slots.
func (m *GAN) Noise(g *graph.Graph, n int, slots *nn.StreamSlots) (z, ng *graph.Node) {
	z = g.RandNormal(graph.Shape{n, ZDim}, 0, 1, graph.StepStream(nn.PurposeNoise, slots.Next()))
	u := g.RandUniform(graph.Shape{m.T * n, m.V}, gumbelLo, 1, graph.StepStream(nn.PurposeRandom, slots.Next()))
	return z, g.Log(g.Scale(g.Log(u), -1))
}

// Discriminate adds D on embedded blocks x ([T·n, E], time-major): one
// logit per block, [n, 1].
func (m *GAN) Discriminate(ctx *layer.Ctx, x *graph.Node) *graph.Node {
	_, st := m.dRNN.Forward(ctx, x, m.T, nil)
	return m.dOut.Forward(ctx, st.H[0])
}

// DSoft adds D on soft one-hots y ([T·n, V]): its embedding is y·E.
func (m *GAN) DSoft(ctx *layer.Ctx, y *graph.Node) *graph.Node {
	return m.Discriminate(ctx, ctx.G.MatMul(y, ctx.G.Param(m.dEmb.W), false, false))
}

func (m *GAN) buildStep(n int) (*stepProgram, error) {
	g := graph.New()
	s := &stepProgram{ids: make([]int32, n*m.T)}
	slots := &nn.StreamSlots{}
	ctx := &layer.Ctx{G: g, Train: true, Slots: slots}
	s.tok = g.Indices("tokens", n*m.T)
	z, ng := m.Noise(g, n, slots)
	fake := m.Generate(ctx, z, ng)
	ones, zeros := g.Const(graph.Shape{n, 1}, 1), g.Const(graph.Shape{n, 1}, 0)
	s.lossR, s.dx = g.SigmoidBCE(m.Discriminate(ctx, m.dEmb.Lookup(ctx, s.tok)), ones)
	s.lossF, s.dgz = g.SigmoidBCE(m.DSoft(ctx, fake), zeros)
	g.Backward(g.Add(s.lossR, s.lossF), m.PD)
	g.Update(m.OptD)
	s.gLoss, _ = g.SigmoidBCE(m.DSoft(ctx, fake), ones)
	g.Backward(s.gLoss, m.PG)
	g.Update(m.OptG)
	g.Fetch(s.lossR, s.dx, s.lossF, s.dgz, s.gLoss)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("text-gan training step: %w", err)
	}
	s.prog = prog
	return s, nil
}

// TrainStep does one D step and one G step on the batch's Tokens (blocks
// of T+1 ids; D reads the first T of each).
func (m *GAN) TrainStep(b *model.Batch) ([]float64, error) {
	t := m.T
	n := len(b.Tokens) / (t + 1)
	if n < 1 || n > m.Cfg.Batch || len(b.Tokens) != n*(t+1) {
		return nil, fmt.Errorf("train step: %d token ids: want 1 to %d blocks of %d", len(b.Tokens), m.Cfg.Batch, t+1)
	}
	s := m.steps[n]
	if s == nil {
		var err error
		if s, err = m.buildStep(n); err != nil {
			return nil, err
		}
		m.steps[n] = s
	}
	for i := range n {
		for j := range t {
			id := b.Tokens[i*(t+1)+j]
			if id < 0 || int(id) >= m.V {
				return nil, fmt.Errorf("train step: token id %d outside the vocabulary of %d", id, m.V)
			}
			s.ids[j*n+i] = id
		}
	}
	if err := s.prog.SetIndices(s.tok, s.ids); err != nil {
		return nil, err
	}
	err := s.prog.Run(m.Cfg.Seed, uint64(m.Step()))
	m.Advance()
	if err != nil {
		return nil, fmt.Errorf("train step %d: %w", m.Step(), err)
	}
	p := s.prog
	m.stats[0] = float64(p.Value(s.lossR) + p.Value(s.lossF))
	m.stats[1] = float64(p.Value(s.gLoss))
	m.stats[2] = float64(p.Value(s.dx))
	m.stats[3] = float64(p.Value(s.dgz))
	return m.stats, model.Finite(m.Step(), m.Stats(), m.stats)
}

// Loss is [model.ErrNoLikelihood]: a GAN has no validation loss.
func (m *GAN) Loss([]int32) (float64, error) { return 0, model.ErrNoLikelihood }

// SetValLoss does nothing (there is no validation loss).
func (m *GAN) SetValLoss(float64) {}

// sampler is G's one-character program: the state matrices are its
// inputs, copied from its outputs after each step.
type sampler struct {
	init, step      *graph.Program
	z, x, h, c      *graph.Node // inputs
	h0, c0          *graph.Node // init's outputs
	logits, h1, c1  *graph.Node // step's outputs
	zMat, xMat      nn.Mat
	hMat, cMat      nn.Mat
	zHost, xHost    []float32
	logitsHost, gum []float32
	probs           []float64
}

func (m *GAN) newSampler() (*sampler, error) {
	s := &sampler{zHost: make([]float32, ZDim), xHost: make([]float32, m.V), logitsHost: make([]float32, m.V),
		gum: make([]float32, m.V), probs: make([]float64, m.V)}
	gi := graph.New()
	ctx := &layer.Ctx{G: gi}
	s.z = gi.Input("z", graph.Shape{1, ZDim})
	st := m.initState(ctx, s.z)
	s.h0, s.c0 = gi.Copy(st.H[0]), gi.Copy(st.C[0])
	gi.Output(s.h0, s.c0)
	gs := graph.New()
	ctx = &layer.Ctx{G: gs}
	s.x = gs.Input("x", graph.Shape{1, m.V})
	s.h, s.c = gs.Input("h", graph.Shape{1, m.H}), gs.Input("c", graph.Shape{1, m.H})
	logits, st2 := m.gStep(ctx, s.x, 1, &layer.RNNState{H: []*graph.Node{s.h}, C: []*graph.Node{s.c}})
	s.logits, s.h1, s.c1 = logits, st2.H[0], st2.C[0]
	gs.Output(s.logits, s.h1, s.c1)
	var err error
	fail := func(e error) (*sampler, error) {
		s.free(m.B)
		return nil, fmt.Errorf("text-gan sampler: %w", e)
	}
	if s.init, err = gi.Compile(m.B); err != nil {
		return fail(err)
	}
	if s.step, err = gs.Compile(m.B); err != nil {
		return fail(err)
	}
	for _, a := range []struct {
		mat  *nn.Mat
		cols int
	}{{&s.zMat, ZDim}, {&s.xMat, m.V}, {&s.hMat, m.H}, {&s.cMat, m.H}} {
		if *a.mat, err = m.B.Alloc(1, a.cols); err != nil {
			return fail(err)
		}
	}
	for _, bnd := range []struct {
		p   *graph.Program
		n   *graph.Node
		mat nn.Mat
	}{{s.init, s.z, s.zMat}, {s.step, s.x, s.xMat}, {s.step, s.h, s.hMat}, {s.step, s.c, s.cMat}} {
		if err := bnd.p.Bind(bnd.n, bnd.mat); err != nil {
			return fail(err)
		}
	}
	return s, nil
}

func (s *sampler) free(b nn.Backend) {
	for _, p := range []*graph.Program{s.init, s.step} {
		if p != nil {
			p.Free()
		}
	}
	s.init, s.step = nil, nil
	for _, mat := range []*nn.Mat{&s.zMat, &s.xMat, &s.hMat, &s.cMat} {
		if !mat.Empty() {
			b.Free(*mat)
			*mat = nn.Mat{}
		}
	}
}

// Sample draws n characters from G (the prompt, which must be valid ids,
// is not used: G is unconditional). Every T characters a new block
// starts from a new z (normals 1<<40 + b·ZDim + j of key for block b);
// character i is argmax(ℓ/temperature + g) with the Gumbel noise g from
// uniforms i·V … i·V+V−1 of key, a draw from softmax(ℓ/temperature), and
// G's next step reads softmax((ℓ + g)/τ) as in training.
func (m *GAN) Sample(prompt []int32, n int, temperature float32, key nn.RandKey, emit func(id int32) error) error {
	if len(prompt) < 1 {
		return fmt.Errorf("text-gan sample: an empty prompt")
	}
	if !(temperature > 0) || math.IsInf(float64(temperature), 0) {
		return fmt.Errorf("text-gan sample: temperature %g must be positive", temperature)
	}
	for _, id := range prompt {
		if id < 0 || int(id) >= m.V {
			return fmt.Errorf("text-gan sample: token id %d outside the vocabulary of %d", id, m.V)
		}
	}
	if m.sampler == nil {
		s, err := m.newSampler()
		if err != nil {
			return err
		}
		m.sampler = s
	}
	s := m.sampler
	b := m.B
	for i := range n {
		if i%m.T == 0 {
			blk := uint64(i / m.T)
			for j := range ZDim {
				s.zHost[j] = key.Normal(1<<40 + blk*ZDim + uint64(j))
			}
			if err := b.Upload(s.zMat, s.zHost); err != nil {
				return fmt.Errorf("text-gan sample: %w", err)
			}
			if err := s.init.Run(m.Cfg.Seed, 0); err != nil {
				return fmt.Errorf("text-gan sample: %w", err)
			}
			b.Copy(s.hMat, s.init.Mat(s.h0))
			b.Copy(s.cMat, s.init.Mat(s.c0))
			clear(s.xHost) // step 0 reads zeros
		}
		if err := b.Upload(s.xMat, s.xHost); err != nil {
			return fmt.Errorf("text-gan sample: %w", err)
		}
		if err := s.step.Run(m.Cfg.Seed, 0); err != nil {
			return fmt.Errorf("text-gan sample: %w", err)
		}
		b.Copy(s.hMat, s.step.Mat(s.h1))
		b.Copy(s.cMat, s.step.Mat(s.c1))
		if err := b.Download(s.logitsHost, s.step.Mat(s.logits)); err != nil {
			return fmt.Errorf("text-gan sample: %w", err)
		}
		best, bestV := int32(0), math.Inf(-1)
		for v := range m.V {
			u := gumbelLo + (1-gumbelLo)*float64(key.Uniform(uint64(i)*uint64(m.V)+uint64(v)))
			g := -math.Log(-math.Log(u))
			s.gum[v] = float32(g)
			if x := float64(s.logitsHost[v])/float64(temperature) + g; x > bestV {
				best, bestV = int32(v), x
			}
		}
		softmaxInto(s.xHost, s.logitsHost, s.gum, m.Tau, s.probs)
		if err := emit(best); err != nil {
			return err
		}
	}
	return nil
}

// softmaxInto writes softmax((logits + gum)/tau) to dst (probs: scratch).
func softmaxInto(dst, logits, gum []float32, tau float32, probs []float64) {
	hi := math.Inf(-1)
	for v := range logits {
		probs[v] = (float64(logits[v]) + float64(gum[v])) / float64(tau)
		hi = math.Max(hi, probs[v])
	}
	sum := 0.0
	for v := range probs {
		probs[v] = math.Exp(probs[v] - hi)
		sum += probs[v]
	}
	for v := range probs {
		dst[v] = float32(probs[v] / sum)
	}
}
