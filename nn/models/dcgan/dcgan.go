// Package dcgan is the DCGAN of pytorch/examples (Radford et al. 2016):
// a generator of transposed convolutions with batch norm and ReLU ending
// in Tanh, a discriminator of strided convolutions with LeakyReLU 0.2 and
// batch norm on every layer but the first, weights N(0, 0.02), batch-norm
// γ N(1, 0.02), Adam 2e-4 with betas (0.5, 0.999), batch 64, BCE.
//
// The examples' networks are for 64×64 images: G grows a 1×1 noise to
// 4×4 and doubles four times, D mirrors it. This family builds the same
// pattern for any size 4·2ᵏ or 7·2ᵏ: at 64×64 it is the examples' networks
// exactly (same layer indices, names and shapes, so the weights load into
// its modules); at MNIST's 28×28 it starts from 7×7 and doubles twice
// (G: 100 → 128·7·7 → 64·14·14 → 1·28·28; D: 1·28·28 → 64·14·14 →
// 128·7·7 → 1), so that the project's 28×28 classifier evaluates its
// samples as it does the other families'. At --size 32 the command line
// pads the digits by 2 background pixels on every side (as LeNet-5 read
// MNIST) and the networks are the examples' pattern one doubling short of
// 64×64 (G: 100 → 256·4·4 → 128·8·8 → 64·16·16 → 1·32·32, D mirrored);
// the evaluation reads the central 28×28 of its samples. ngf = ndf = 64 as
// in the examples.
//
// One training step is the examples' loop: D on the real batch (label 1)
// and on G(z).detach() (label 0) in separate passes, since batch norm has
// batch statistics, one Adam step on D; then G through the updated D on
// the same fake batch (label 1), one Adam step on G. Each forward pass in
// training mode updates the batch norms' running statistics, as in
// PyTorch.
//
// The other GAN objectives of package ganloss ([model.Config.Loss] lsgan,
// hinge, wgan-gp) and several D steps per G step ([model.Config.NCritic])
// train the same generator with a step of their own (losses.go); wgan-gp
// with the critic of [NewCritic] (no batch norm, no sigmoid). The
// examples' configuration never takes that step.
package dcgan

import (
	"fmt"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/model"
	"gan/nn/models/ganloss"
)

// Name is the family's --model name.
const Name = "dcgan"

// The examples' sizes.
const (
	ZDim = 100 // nz
	NGF  = 64  // generator feature maps
	NDF  = 64  // discriminator feature maps
)

// DefaultConfig is the examples' configuration at MNIST's size, 25 epochs.
func DefaultConfig() model.Config {
	return model.Config{Model: Name, Epochs: 25, Batch: 64, LR: 2e-4, Beta1: 0.5, Beta2: 0.999, Eps: 1e-8,
		Seed: 1, Dataset: "mnist", Channels: 1, Size: 28}
}

func init() {
	model.Register(model.Family{
		Name:     Name,
		Summary:  "pytorch/examples' DCGAN: transposed-conv G with BN+ReLU, conv D with LeakyReLU+BN, Adam 2e-4 (0.5, 0.999); 28x28 or any 4·2^k / 7·2^k size",
		Defaults: DefaultConfig,
		Validate: validate,
		New:      func(b nn.Backend, cfg model.Config) (model.Model, error) { return New(b, cfg) },
	})
}

// levels returns the start size s0 (4 or 7) and the number k of doublings
// for an image size, or an error.
func levels(size int) (s0, k int, err error) {
	for _, s := range []int{4, 7} {
		for k := 1; s<<k <= size; k++ {
			if s<<k == size {
				return s, k, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("size %d: DCGAN needs 4·2^k or 7·2^k (8, 14, 16, 28, 32, 56, 64, …)", size)
}

// CheckSize says why size is not an image size the DCGAN networks build
// for (nil when it is).
func CheckSize(size int) error {
	_, _, err := levels(size)
	return err
}

func validate(c model.Config) error {
	if c.Channels != 1 && c.Channels != 3 {
		return fmt.Errorf("channels %d: DCGAN takes 1 or 3", c.Channels)
	}
	if _, _, err := levels(c.Size); err != nil {
		return err
	}
	if c.Loss != "" {
		if err := ganloss.Check(c.Loss); err != nil {
			return err
		}
	}
	if c.NCritic < 0 {
		return fmt.Errorf("n_critic %d: must be at least 1 (0 means 1)", c.NCritic)
	}
	if c.Arch != "" && c.Arch != "dcgan" {
		return fmt.Errorf("arch %q: the dcgan family has one architecture (its size follows --size)", c.Arch)
	}
	return nil
}

// NewGenerator builds the examples' Generator for c×size×size images in
// ps, as the attribute "main".
func NewGenerator(ps *nn.ParamSet, c, size int) *layer.Sequential {
	return NewGeneratorIn(ps, ZDim, c, size)
}

// NewGeneratorIn is [NewGenerator] with nz input channels (the 1×1 input
// of its first transposed convolution) instead of ZDim: the conditional
// DCGAN (package cgan) feeds z and a label embedding there.
func NewGeneratorIn(ps *nn.ParamSet, nz, c, size int) *layer.Sequential {
	s0, k, _ := levels(size)
	ch := NGF << (k - 1)
	specs := []layer.Spec{layer.ConvTranspose2d(nz, ch, s0, 1, 0, 0, false), layer.BatchNorm2d(ch), layer.ReLU()}
	for ; ch > NGF; ch /= 2 {
		specs = append(specs, layer.ConvTranspose2d(ch, ch/2, 4, 2, 1, 0, false), layer.BatchNorm2d(ch/2), layer.ReLU())
	}
	specs = append(specs, layer.ConvTranspose2d(NGF, c, 4, 2, 1, 0, false), layer.Tanh())
	return layer.NewSequential(ps, "main", specs...)
}

// NewDiscriminator builds the examples' Discriminator for c×size×size
// images in ps, as "main"; its final Sigmoid is fused into the loss.
func NewDiscriminator(ps *nn.ParamSet, c, size int) *layer.Sequential {
	s0, k, _ := levels(size)
	specs := []layer.Spec{layer.Conv2d(c, NDF, 4, 2, 1, false), layer.LeakyReLU(0.2)}
	ch := NDF
	for range k - 1 {
		specs = append(specs, layer.Conv2d(ch, ch*2, 4, 2, 1, false), layer.BatchNorm2d(ch*2), layer.LeakyReLU(0.2))
		ch *= 2
	}
	specs = append(specs, layer.Conv2d(ch, 1, s0, 1, 0, false))
	return layer.NewSequential(ps, "main", specs...)
}

// InitWeights is the examples' weights_init: convolutions N(0, 0.02),
// batch norm γ N(1, 0.02) and β 0 (running statistics at PyTorch's
// defaults); other layers keep PyTorch's default initialisation.
func InitWeights(b nn.Backend, s *layer.Sequential, seed uint64) {
	s.Init(b, seed)
	for _, l := range s.Layers {
		switch l := l.(type) {
		case *layer.Conv2dLayer:
			b.RandNormal(l.W.Value, 0, 0.02, l.W.InitKey(seed))
		case *layer.ConvTranspose2dLayer:
			b.RandNormal(l.W.Value, 0, 0.02, l.W.InitKey(seed))
		case *layer.BatchNormLayer:
			b.RandNormal(l.W.Value, 1, 0.02, l.W.InitKey(seed))
		}
	}
}

// GAN is a DCGAN on one backend.
type GAN struct {
	model.Base
	G, D          *layer.Sequential
	model.GANPair // PG, PD, OptG, OptD

	steps map[int]*stepProgram
	gens  map[int]*genProgram
	stats []float64
	zDev  nn.Mat

	// loss is the objective of a run off the examples' path (--loss other
	// than bce, or --n-critic above 1; see losses.go), "" on it; lsteps
	// are its compiled steps by batch size and whether G steps too.
	loss      string
	lsteps    map[lossKey]*lossStep
	lossStats []model.Stat // ganloss.Stats(loss), made once
}

type stepProgram struct {
	prog                  *graph.Program
	data                  *graph.Node
	ix                    *graph.Index
	bound                 nn.Mat
	lossR, dx, lossF, dgz *graph.Node
	gLoss                 *graph.Node
}

type genProgram struct {
	prog     *graph.Program
	z, image *graph.Node
}

// New builds a DCGAN on b with weights drawn from cfg.Seed.
func New(b nn.Backend, cfg model.Config) (*GAN, error) {
	if err := model.ValidateConfig(cfg); err != nil {
		return nil, err
	}
	m := &GAN{Base: model.Base{Cfg: cfg, B: b}, steps: map[int]*stepProgram{}, gens: map[int]*genProgram{},
		stats: make([]float64, 4), loss: pathLoss(cfg), lsteps: map[lossKey]*lossStep{}}
	streams := &nn.InitStreams{}
	m.PG, m.PD = nn.NewParamSetFrom(streams), nn.NewParamSetFrom(streams)
	m.G = NewGenerator(m.PG, cfg.Channels, cfg.Size)
	if m.loss != "" {
		m.lossStats = ganloss.Stats(m.loss)
	}
	if m.loss == ganloss.WGANGP {
		m.D = NewCritic(m.PD, cfg.Channels, cfg.Size)
	} else {
		m.D = NewDiscriminator(m.PD, cfg.Channels, cfg.Size)
	}
	if err := m.Alloc(m.B, m.Cfg); err != nil {
		m.Free()
		return nil, err
	}
	InitWeights(b, m.G, cfg.Seed)
	InitWeights(b, m.D, cfg.Seed)
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

// Stats are the examples' printed quantities (Loss_D, Loss_G, D(x),
// D(G(z)) before D's update), under the seed model's names; off the
// examples' path, those of the loss (ganloss.Stats).
func (m *GAN) Stats() []model.Stat {
	if m.loss != "" {
		return m.lossStats
	}
	return []model.Stat{
		{Name: "d_loss", Format: "%.4f", Loss: true},
		{Name: "g_loss", Format: "%.4f", Loss: true},
		{Name: "D(x)", Format: "%.2f"},
		{Name: "D(G(z))", Format: "%.2f"},
	}
}

// RNG describes the random streams.
func (m *GAN) RNG() string {
	if m.loss != "" {
		return lossRNG
	}
	return "philox4x32-10; graph random ops: stream step<<16|slot per purpose; init: one stream per tensor from 1<<32; shuffle stream = epoch"
}

// imageShape is the NCHW shape of n images.
func (m *GAN) imageShape(n int) graph.Shape {
	return graph.Shape{n, m.Cfg.Channels, m.Cfg.Size, m.Cfg.Size}
}

func (m *GAN) buildStep(n int, data nn.Mat) (*stepProgram, error) {
	g := graph.New()
	s := &stepProgram{}
	dim := m.Cfg.Channels * m.Cfg.Size * m.Cfg.Size
	s.data = g.Input("training set", graph.Shape{data.Rows, dim})
	s.ix = g.Indices("batch", n)
	real := g.Reshape(g.GatherRows(s.data, s.ix), m.imageShape(n))
	slots := &nn.StreamSlots{}
	z := g.RandNormal(graph.Shape{n, ZDim, 1, 1}, 0, 1, graph.StepStream(nn.PurposeNoise, slots.Next()))
	ctx := &layer.Ctx{G: g, Train: true, Slots: slots}
	fake := m.G.Forward(ctx, z)
	D := func(x *graph.Node) *graph.Node { return g.Reshape(m.D.Forward(ctx, x), graph.Shape{n, 1}) }

	ones, zeros := g.Const(graph.Shape{n, 1}, 1), g.Const(graph.Shape{n, 1}, 0)
	s.lossR, s.dx = g.SigmoidBCE(D(real), ones)
	s.lossF, s.dgz = g.SigmoidBCE(D(fake), zeros)
	g.Backward(g.Add(s.lossR, s.lossF), m.PD)
	g.Update(m.OptD)

	s.gLoss, _ = g.SigmoidBCE(D(fake), ones)
	g.Backward(s.gLoss, m.PG)
	g.Update(m.OptG)

	g.Fetch(s.lossR, s.dx, s.lossF, s.dgz, s.gLoss)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("DCGAN training step: %w", err)
	}
	s.prog = prog
	return s, nil
}

// TrainStep does one step of the examples' loop; it waits for the device
// once, to read the statistics.
func (m *GAN) TrainStep(b *model.Batch) ([]float64, error) {
	n := len(b.Idx)
	if n < 2 || n > m.Cfg.Batch {
		return nil, fmt.Errorf("train step: %d rows, batch is %d (batch norm needs at least 2)", n, m.Cfg.Batch)
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
	m.stats[0] = float64(p.Value(s.lossR) + p.Value(s.lossF))
	m.stats[1] = float64(p.Value(s.gLoss))
	m.stats[2] = float64(p.Value(s.dx))
	m.stats[3] = float64(p.Value(s.dgz))
	return m.stats, model.Finite(m.Step(), m.Stats(), m.stats)
}

// LatentDim is nz.
func (m *GAN) LatentDim() int { return ZDim }

// ImageShape is the configured C×Size×Size.
func (m *GAN) ImageShape() (c, h, w int) { return m.Cfg.Channels, m.Cfg.Size, m.Cfg.Size }

const genChunk = 256

// Generate runs G in evaluation mode (batch norm by its running
// statistics) on the n×100 noise z and writes n images, NCHW in [−1, 1],
// to out.
func (m *GAN) Generate(z, out []float32) error {
	n := len(z) / ZDim
	dim := m.Cfg.Channels * m.Cfg.Size * m.Cfg.Size
	if len(z) != n*ZDim || len(out) != n*dim {
		return fmt.Errorf("generate: %d noise values and %d outputs for %d-wide noise and %d-value images", len(z), len(out), ZDim, dim)
	}
	for lo := 0; lo < n; lo += genChunk {
		k := min(genChunk, n-lo)
		p, err := m.genProgram(k)
		if err != nil {
			return err
		}
		zk := m.zDev.RowView(0, k)
		if err := m.B.Upload(zk, z[lo*ZDim:(lo+k)*ZDim]); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		if err := p.prog.Bind(p.z, zk); err != nil {
			return err
		}
		if err := p.prog.Run(m.Cfg.Seed, 0); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		if err := m.B.Download(out[lo*dim:(lo+k)*dim], p.prog.Mat(p.image)); err != nil {
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
		if m.zDev, err = m.B.Alloc(genChunk, ZDim); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
	}
	g := graph.New()
	p := &genProgram{z: g.Input("z", graph.Shape{n, ZDim})}
	p.image = g.Flatten(m.G.Forward(&layer.Ctx{G: g}, g.Reshape(p.z, graph.Shape{n, ZDim, 1, 1})))
	g.Output(p.image)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("DCGAN generator: %w", err)
	}
	p.prog = prog
	m.gens[n] = p
	return p, nil
}
