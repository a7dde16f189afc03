// Package seedgan is the model of the project's seed: the PyTorch MNIST GAN
// of seed 000, section 六, reproduced exactly. G is an MLP
// 100→256→512→1024→784 (LeakyReLU 0.2, Tanh out), D an MLP
// 784→1024→512→256→1 (LeakyReLU 0.2, Dropout 0.3 after the first two
// hidden layers; the final sigmoid is fused into the loss), trained with
// binary cross-entropy and Adam (lr 2e-4, PyTorch's default betas), batch
// 64, a D step then a G step.
//
// Its training step is one compiled graph:
//
//  1. z ~ N(0, 1), fake = G(z);
//  2. D step: d_loss = BCE(D(real), 1) + BCE(D(fake.detach()), 0) with real
//     and fake through D as one batch of 2n rows (D has no batch
//     statistics, so this equals the seed's two passes), one Adam step on D;
//  3. G step: g_loss = BCE(D(fake), 1) through the updated D with fresh
//     dropout masks, one Adam step on G.
//
// Its random streams keep the layout they had before the graph engine
// (nn/streams.go, "legacy"), so a seeded run is bit-identical to the runs
// of earlier versions; TestSeedRunIsBitIdentical checks it against losses
// and a parameter hash recorded before the engine existed.
//
// The other GAN objectives of package ganloss (Config.Loss lsgan, hinge,
// wgan-gp) and several D steps per G step (Config.NCritic) train the same
// generator with a step of their own, beside the seed's (losses.go); so
// do the WGAN-GP paper's convolutional generator and critic (Config.Arch
// "conv", paper.go and losses.go). The seed's configuration never takes it.
package seedgan

import (
	"fmt"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/model"
	"gan/nn/models/ganloss"
)

// Name is the family's --model name.
const Name = "seed-mlp-gan"

// The seed model's dimensions.
const (
	// ZDim is the width of the generator's noise input.
	ZDim = 100
	// ImageDim is the width of a flattened 28×28 image.
	ImageDim = 28 * 28
	// LeakySlope is the negative slope of every LeakyReLU.
	LeakySlope = 0.2
	// DropoutP is the drop probability of D's dropout layers.
	DropoutP = 0.3
)

// Legacy init stream bases of the two networks (see nn.PurposeInit).
const (
	initStreamG = 0
	initStreamD = 1000
)

// DefaultConfig is the seed's configuration: 50 epochs of batch 64, Adam
// with lr 2e-4 and PyTorch's default betas (0.9, 0.999) and eps 1e-8.
func DefaultConfig() model.Config {
	return model.Config{Model: Name, Epochs: 50, Batch: 64, LR: 2e-4,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Seed: 1, Dataset: "mnist"}
}

func init() {
	model.Register(model.Family{
		Name:         Name,
		Summary:      "the seed's MNIST GAN: MLP G 100-256-512-1024-784, D 784-1024-512-256-1 with dropout, BCE, Adam 2e-4",
		Defaults:     DefaultConfig,
		Validate:     validate,
		New:          func(b nn.Backend, cfg model.Config) (model.Model, error) { return New(b, cfg) },
		LossDefaults: lossDefaults,
	})
}

// NewGenerator builds the seed generator in ps: PyTorch's
// nn.Sequential(Linear(100, 256), LeakyReLU(0.2), Linear(256, 512),
// LeakyReLU(0.2), Linear(512, 1024), LeakyReLU(0.2), Linear(1024, 784),
// Tanh()) as the attribute "model".
func NewGenerator(ps *nn.ParamSet) *layer.Sequential {
	return layer.NewSequential(ps, "model",
		layer.Linear(ZDim, 256), layer.LeakyReLU(LeakySlope),
		layer.Linear(256, 512), layer.LeakyReLU(LeakySlope),
		layer.Linear(512, 1024), layer.LeakyReLU(LeakySlope),
		layer.Linear(1024, ImageDim), layer.Tanh(),
	)
}

// NewDiscriminator builds the seed discriminator in ps: PyTorch's
// nn.Sequential(Linear(784, 1024), LeakyReLU(0.2), Dropout(0.3),
// Linear(1024, 512), LeakyReLU(0.2), Dropout(0.3), Linear(512, 256),
// LeakyReLU(0.2), Linear(256, 1)) as "model"; the seed's final Sigmoid
// (model.9, no parameters) is fused into the loss.
func NewDiscriminator(ps *nn.ParamSet) *layer.Sequential {
	return layer.NewSequential(ps, "model",
		layer.Linear(ImageDim, 1024), layer.LeakyReLU(LeakySlope), layer.Dropout(DropoutP),
		layer.Linear(1024, 512), layer.LeakyReLU(LeakySlope), layer.Dropout(DropoutP),
		layer.Linear(512, 256), layer.LeakyReLU(LeakySlope),
		layer.Linear(256, 1),
	)
}

// GAN is the seed GAN on one backend: both networks, both optimisers, and
// the compiled programs of its training step (one per batch size met: the
// last batch of an epoch is smaller) and of generation.
type GAN struct {
	model.Base
	G, D          *layer.Sequential
	model.GANPair // PG, PD, OptG, OptD

	steps map[int]*stepProgram
	gens  map[int]*genProgram
	stats []float64
	zDev  nn.Mat // upload buffer of Generate's noise

	// loss is the objective of a run off the seed's path (--loss other
	// than bce, or --n-critic above 1; see losses.go), "" on it; lsteps
	// are its compiled steps by batch size and whether G steps too.
	loss      string
	lsteps    map[lossKey]*lossStep
	lossStats []model.Stat // ganloss.Stats(loss), made once

	// zDim is the width of G's noise: ZDim, or PaperZDim for the paper's
	// generator of --arch conv, whose crop is crop (nil otherwise).
	zDim int
	crop *Crop2d
}

// stepProgram is the compiled training step for batches of n rows.
type stepProgram struct {
	prog                       *graph.Program
	data                       *graph.Node
	ix                         *graph.Index
	bound                      nn.Mat
	lossR, dx, lossF, dgz, gLo *graph.Node
}

// genProgram is the compiled generator for n rows.
type genProgram struct {
	prog     *graph.Program
	z, image *graph.Node
}

// New builds the seed GAN on b with weights drawn from cfg.Seed.
func New(b nn.Backend, cfg model.Config) (*GAN, error) {
	if err := model.ValidateConfig(cfg); err != nil {
		return nil, err
	}
	m := &GAN{Base: model.Base{Cfg: cfg, B: b}, steps: map[int]*stepProgram{}, gens: map[int]*genProgram{},
		stats: make([]float64, 4), loss: pathLoss(cfg), lsteps: map[lossKey]*lossStep{}, zDim: ZDim}
	m.PG, m.PD = nn.NewParamSet(initStreamG), nn.NewParamSet(initStreamD)
	if cfg.Arch == ArchConv {
		m.G, m.crop = NewConvGenerator(m.PG, 64, PaperZDim)
		m.zDim = PaperZDim
	} else {
		m.G = NewGenerator(m.PG)
	}
	if m.loss != "" {
		m.lossStats = ganloss.Stats(m.loss)
	}
	switch {
	case cfg.Arch == ArchConv:
		m.D = NewConvCritic(m.PD, 64)
	case m.loss == ganloss.WGANGP:
		m.D = NewCritic(m.PD)
	default:
		m.D = NewDiscriminator(m.PD)
	}
	if err := m.Alloc(m.B, m.Cfg); err != nil {
		m.Free()
		return nil, err
	}
	m.G.Init(b, cfg.Seed)
	m.D.Init(b, cfg.Seed)
	return m, b.Sync()
}

// Free releases everything allocated on the backend.
func (m *GAN) Free() {
	for _, s := range m.steps {
		s.prog.Free()
	}
	for _, p := range m.gens {
		p.prog.Free()
	}
	for _, s := range m.lsteps {
		s.prog.Free()
	}
	m.steps, m.gens, m.lsteps = map[int]*stepProgram{}, map[int]*genProgram{}, map[lossKey]*lossStep{}
	m.FreePair(m.B)
	if !m.zDev.Empty() {
		m.B.Free(m.zDev)
		m.zDev = nn.Mat{}
	}
}

// Stats are the seed's printed quantities (off the seed's path, those of
// the loss: ganloss.Stats).
func (m *GAN) Stats() []model.Stat {
	if m.loss != "" {
		return m.lossStats
	}
	return []model.Stat{
		{Name: "d_loss", Format: "%.4f", Loss: true}, // BCE(D(x), 1) + BCE(D(G(z)), 0)
		{Name: "g_loss", Format: "%.4f", Loss: true}, // BCE(D(G(z)), 1) after D's update
		{Name: "D(x)", Format: "%.2f"},               // mean D(x) on the real batch
		{Name: "D(G(z))", Format: "%.2f"},            // mean D(G(z)) in the D step
	}
}

// RNG describes the random streams (the layout of the versions before the
// graph engine).
func (m *GAN) RNG() string {
	if m.loss != "" {
		return lossRNG
	}
	return "philox4x32-10; noise stream = step, dropout streams = 2*step+pass, shuffle stream = epoch"
}

// legacyDropout is the seed's dropout stream of pass (0: D step, 1: G
// step) for the dropout at position pos of D's fused layer list:
// index (2·step + pass)<<8 | pos.
func legacyDropout(pass uint64) func(int) graph.Stream {
	return func(pos int) graph.Stream {
		return graph.Stream{Purpose: nn.PurposeDropout, Slot: pass<<8 | uint64(pos), Shift: 9, PerStep: true}
	}
}

// buildStep compiles the training step for batches of n rows of data
// (N×784).
func (m *GAN) buildStep(n int, data nn.Mat) (*stepProgram, error) {
	g := graph.New()
	s := &stepProgram{}
	s.data = g.Input("training set", graph.Shape{data.Rows, ImageDim})
	s.ix = g.Indices("batch", n)
	real := g.GatherRows(s.data, s.ix)
	z := g.RandNormal(graph.Shape{n, ZDim}, 0, 1, graph.Stream{Purpose: nn.PurposeNoise, PerStep: true})
	fake := m.G.Forward(&layer.Ctx{G: g, Train: true}, z)

	// D step on [real; fake].
	logits := m.D.Forward(&layer.Ctx{G: g, Train: true, DropoutStream: legacyDropout(0)}, g.ConcatRows(real, fake))
	ones, zeros := g.Const(graph.Shape{n, 1}, 1), g.Const(graph.Shape{n, 1}, 0)
	s.lossR, s.dx = g.SigmoidBCE(g.Rows(logits, 0, n), ones)
	s.lossF, s.dgz = g.SigmoidBCE(g.Rows(logits, n, n), zeros)
	g.Backward(g.Add(s.lossR, s.lossF), m.PD)
	g.Update(m.OptD)

	// G step through the updated D.
	logits = m.D.Forward(&layer.Ctx{G: g, Train: true, DropoutStream: legacyDropout(1)}, fake)
	s.gLo, _ = g.SigmoidBCE(logits, ones)
	g.Backward(s.gLo, m.PG)
	g.Update(m.OptG)

	g.Fetch(s.lossR, s.dx, s.lossF, s.dgz, s.gLo)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("seed GAN training step: %w", err)
	}
	s.prog = prog
	return s, nil
}

// TrainStep does one step of the seed's training loop (see the package
// doc). It waits for the device once, to read the statistics.
func (m *GAN) TrainStep(b *model.Batch) ([]float64, error) {
	n := len(b.Idx)
	if n < 1 || n > m.Cfg.Batch {
		return nil, fmt.Errorf("train step: %d rows, batch is %d", n, m.Cfg.Batch)
	}
	if m.loss != "" {
		return m.lossTrainStep(b)
	}
	s := m.steps[n]
	if s == nil {
		var err error
		if s, err = m.buildStep(n, b.Dev); err != nil {
			return nil, err
		}
		m.steps[n] = s
	}
	if s.bound != b.Dev {
		if err := s.prog.Bind(s.data, b.Dev); err != nil {
			return nil, err
		}
		s.bound = b.Dev
	}
	if err := s.prog.SetIndices(s.ix, b.Idx); err != nil {
		return nil, err
	}
	err := s.prog.Run(m.Cfg.Seed, uint64(m.Step()))
	m.Advance()
	if err != nil {
		return nil, fmt.Errorf("train step %d: %w", m.Step(), err)
	}
	p := s.prog
	m.stats[0] = float64(p.Value(s.lossR) + p.Value(s.lossF)) // summed in float32, as the seed prints it
	m.stats[1] = float64(p.Value(s.gLo))
	m.stats[2] = float64(p.Value(s.dx))
	m.stats[3] = float64(p.Value(s.dgz))
	return m.stats, model.Finite(m.Step(), m.Stats(), m.stats)
}

// LatentDim is the width of z: ZDim, or PaperZDim with --arch conv.
func (m *GAN) LatentDim() int { return m.zDim }

// ImageShape is 1×28×28.
func (m *GAN) ImageShape() (c, h, w int) { return 1, 28, 28 }

// genChunk is the most rows Generate runs at once.
const genChunk = 256

// Generate runs G in evaluation mode on the n×LatentDim() noise z and
// writes the n×784 images, in [−1, 1], to out.
func (m *GAN) Generate(z, out []float32) error {
	zd := m.zDim
	n := len(z) / zd
	if len(z) != n*zd || len(out) != n*ImageDim {
		return fmt.Errorf("generate: %d noise values and %d outputs for %d-wide noise and %d-pixel images", len(z), len(out), zd, ImageDim)
	}
	for lo := 0; lo < n; lo += genChunk {
		k := min(genChunk, n-lo)
		p, err := m.genProgram(k)
		if err != nil {
			return err
		}
		zk := m.zDev.RowView(0, k)
		if err := m.B.Upload(zk, z[lo*zd:(lo+k)*zd]); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		if err := p.prog.Bind(p.z, zk); err != nil {
			return err
		}
		if err := p.prog.Run(m.Cfg.Seed, 0); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		if err := m.B.Download(out[lo*ImageDim:(lo+k)*ImageDim], p.prog.Mat(p.image)); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
	}
	return nil
}

func (m *GAN) genProgram(n int) (*genProgram, error) {
	if p := m.gens[n]; p != nil {
		return p, nil
	}
	if m.zDev.Empty() {
		var err error
		if m.zDev, err = m.B.Alloc(genChunk, m.zDim); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
	}
	g := graph.New()
	p := &genProgram{z: g.Input("z", graph.Shape{n, m.zDim})}
	p.image = m.G.Forward(&layer.Ctx{G: g}, p.z)
	g.Output(p.image)
	prog, err := m.compile(g)
	if err != nil {
		return nil, fmt.Errorf("seed generator: %w", err)
	}
	p.prog = prog
	m.gens[n] = p
	return p, nil
}
