// Package cgan is the conditional GAN (family "cgan"): a GAN whose
// generator and discriminator both see the class label, so that the
// generator draws a requested digit. It is PyTorch-GAN's cgan on the seed
// model's networks ([Config.Arch] "mlp", the default):
//
//	class Generator(nn.Module):          # G
//	    def __init__(self):
//	        self.label_emb = nn.Embedding(10, 10)
//	        self.model = nn.Sequential(nn.Linear(110, 256), nn.LeakyReLU(0.2),
//	            nn.Linear(256, 512), nn.LeakyReLU(0.2), nn.Linear(512, 1024),
//	            nn.LeakyReLU(0.2), nn.Linear(1024, 784), nn.Tanh())
//	    def forward(self, z, labels):
//	        return self.model(torch.cat((self.label_emb(labels), z), -1))
//
//	class Discriminator(nn.Module):      # D
//	    def __init__(self):
//	        self.label_embedding = nn.Embedding(10, 10)
//	        self.model = nn.Sequential(nn.Linear(794, 1024), nn.LeakyReLU(0.2),
//	            nn.Dropout(0.3), nn.Linear(1024, 512), nn.LeakyReLU(0.2),
//	            nn.Dropout(0.3), nn.Linear(512, 256), nn.LeakyReLU(0.2),
//	            nn.Linear(256, 1))       # the sigmoid is fused into the loss
//	    def forward(self, img, labels):
//	        return self.model(torch.cat((img.view(img.size(0), -1),
//	                                     self.label_embedding(labels)), -1))
//
// so the checkpoint's tensors (G.label_emb.weight, G.model.0.weight, …,
// D.label_embedding.weight, D.model.0.weight, …) load into those modules.
// Training is the seed's: binary cross-entropy (or [model.Config.Loss]'s
// lsgan, hinge or wgan-gp through package ganloss), a D step on real
// images with their labels and on generated images with the labels they
// were generated for (as one batch of 2n rows), then a G step through the
// updated D; Adam with lr 2e-4 and PyTorch-GAN's betas (0.5, 0.999),
// batch 64. The labels of the generated images are uniform over the
// classes, drawn on the host from stream (nn.PurposeLabel, step); every
// other random number comes from nn.InitStreams and nn.StreamSlots.
//
// With [model.Config.NCritic] k above 1 the conventions are the seed
// family's: one TrainStep is one D step on its own batch, and G steps too
// on the steps with step % k == 0 (counting from 0 over the whole run), on
// that step's generated batch through the updated D; g_loss is reported at
// every step.
//
// wgan-gp trains D as a critic: the discriminator MLP without its dropout
// layers ([NewCritic]: model.0/2/4/6 are its Linear layers) and without
// sigmoid. Its gradient penalty is on the image input with the labels
// fixed: x̂ᵢ = εᵢ·xᵢ + (1−εᵢ)·G(zᵢ, yᵢ), one εᵢ per sample, and the
// penalty's gradient is that of D(x̂, y) with respect to x̂ alone (the
// label embedding is an input of D, not a direction of the norm). For
// x̂ᵢ to lie between a real and a generated image of one class, the
// generated batch of a wgan-gp step takes the real batch's labels
// (yᵢ, the label of xᵢ) instead of uniform ones; the interpolates take
// those labels too. Interpolating between images of different classes
// under either label would penalise D's gradient on points of no class.
// Its interpolation coefficients are StepStream(PurposeRandom, slot) with
// the slot after the noise's (the critic has no dropout).
//
// # The DCGAN architecture
//
// [model.Config.Arch] "dcgan" ([ArchDCGAN], gan train --model cgan --arch dcgan)
// is the conditional DCGAN: package dcgan's networks at MNIST's 28×28
// (pytorch/examples' DCGAN, from 7×7; ngf = ndf = 64) with the label fed
// to both, as the common conditional DCGANs do (e.g. the WGAN-GP cGAN of
// Aladdin Persson's "Machine-Learning-Collection", whose two embeddings
// are these):
//
//	class Generator(nn.Module):          # G
//	    def __init__(self):
//	        self.label_emb = nn.Embedding(10, 10)
//	        self.main = nn.Sequential(   # dcgan's generator, 110 inputs
//	            nn.ConvTranspose2d(110, 128, 7, 1, 0, bias=False),
//	            nn.BatchNorm2d(128), nn.ReLU(True),
//	            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),
//	            nn.BatchNorm2d(64), nn.ReLU(True),
//	            nn.ConvTranspose2d(64, 1, 4, 2, 1, bias=False), nn.Tanh())
//	    def forward(self, z, labels):    # z: n×100
//	        x = torch.cat((self.label_emb(labels), z), -1)
//	        return self.main(x.view(-1, 110, 1, 1))
//
//	class Discriminator(nn.Module):      # D
//	    def __init__(self):
//	        self.label_embedding = nn.Embedding(10, 28 * 28)
//	        self.main = nn.Sequential(   # dcgan's discriminator, 2 planes
//	            nn.Conv2d(2, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
//	            nn.Conv2d(64, 128, 4, 2, 1, bias=False),
//	            nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True),
//	            nn.Conv2d(128, 1, 7, 1, 0, bias=False))  # sigmoid in the loss
//	    def forward(self, img, labels):
//	        plane = self.label_embedding(labels).view(-1, 1, 28, 28)
//	        return self.main(torch.cat((img, plane), 1)).view(-1, 1)
//
// G's label: a 10-wide embedding (PyTorch-GAN's, the MLP's) concatenated
// to z as 10 extra channels of the 1×1 input of the first transposed
// convolution, so that the label conditions the first deconvolution, the
// usual place (the one-hot label of the original conditional DCGANs,
// concatenated to z or deconvolved beside it, enters there too). On a 1×1
// input the embedding followed by that deconvolution is a learned
// 128×7×7 map per class, which is what a one-hot label would give as
// well; the embedding keeps the MLP's names and shapes. D's label: an
// embedding of 28·28 values per class viewed as one extra image plane
// beside the digit (one learned plane rather than ten one-hot planes: the
// first convolution then takes 2 channels instead of 11, and a learned
// plane can hold any per-class pattern the ten constant planes can).
// Both embeddings are drawn by PyTorch's default, N(0, 1); the
// convolutions and batch norms by the examples' weights_init
// ([dcgan.InitWeights]: N(0, 0.02), γ N(1, 0.02)). The tensors are
// G.label_emb.weight [10 10], G.main.0.weight [110 128 7 7], …,
// D.label_embedding.weight [10 784], D.main.0.weight [64 2 4 4], ….
//
// Its training step is the DCGAN family's: D on the real batch with its
// labels and on the generated batch with theirs in two separate passes
// (batch norm has batch statistics), then G through the updated D (a
// third pass, which also updates D's running statistics, as in the
// examples); the losses, the labels of the generated images, [model.Config.NCritic]
// and the streams are those of the MLP above (the critic of wgan-gp is
// dcgan's [dcgan.NewCritic] on the 2 planes: no batch norm, biases on the
// convolutions). Batches need at least 2 rows (batch norm).
package cgan

import (
	"fmt"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/model"
	"gan/nn/models/dcgan"
	"gan/nn/models/ganloss"
)

// Name is the family's --model name.
const Name = "cgan"

// ArchMLP is the MLP architecture (the seed model's networks), the
// default of [model.Config.Arch].
const ArchMLP = "mlp"

// ArchDCGAN is the DCGAN architecture (see the package doc).
const ArchDCGAN = "dcgan"

// The model's dimensions.
const (
	// Classes is the number of labels (MNIST's digits).
	Classes = 10
	// EmbedDim is the width of both label embeddings.
	EmbedDim = 10
	// ZDim is the width of the generator's noise input.
	ZDim = 100
	// ImageDim is the width of a flattened 28×28 image.
	ImageDim = 28 * 28
	// LeakySlope is the negative slope of every LeakyReLU.
	LeakySlope = 0.2
	// DropoutP is the drop probability of D's dropout layers.
	DropoutP = 0.3
)

// DefaultConfig is 50 epochs of batch 64 with Adam at lr 2e-4 and betas
// (0.5, 0.999) on MNIST, the MLP architecture and the BCE loss.
func DefaultConfig() model.Config {
	return model.Config{Model: Name, Epochs: 50, Batch: 64, LR: 2e-4,
		Beta1: 0.5, Beta2: 0.999, Eps: 1e-8, Seed: 1, Dataset: "mnist", Arch: ArchMLP}
}

// Validate checks the family-specific fields: the architecture, the
// loss, the critic steps and the image shape.
func Validate(c model.Config) error {
	switch c.Arch {
	case "", ArchMLP, ArchDCGAN:
	default:
		return fmt.Errorf("arch %q: the cgan has %q and %q", c.Arch, ArchMLP, ArchDCGAN)
	}
	if c.Loss != "" {
		if err := ganloss.Check(c.Loss); err != nil {
			return err
		}
	}
	if c.NCritic < 0 {
		return fmt.Errorf("n_critic %d: must be at least 1 (0 means 1)", c.NCritic)
	}
	if (c.Channels != 0 && c.Channels != 1) || (c.Size != 0 && c.Size != 28) {
		return fmt.Errorf("images %d×%d×%d: the cgan makes 1×28×28 (its labels are MNIST's)", c.Channels, c.Size, c.Size)
	}
	return nil
}

func init() {
	model.Register(model.Family{
		Name:     Name,
		Summary:  "conditional GAN (PyTorch-GAN's cgan): the seed's MLPs (--arch mlp) or the DCGAN's convolutions (--arch dcgan) with a label embedding on G's noise and D's image, BCE, Adam 2e-4 (0.5, 0.999)",
		Defaults: DefaultConfig,
		Validate: Validate,
		New:      func(b nn.Backend, cfg model.Config) (model.Model, error) { return New(b, cfg) },
	})
}

// Generator is G: a label embedding and the seed's generator MLP on
// [embedding, z], or ([NewConvGenerator]) the DCGAN's generator on them as
// 1×1 input channels.
type Generator struct {
	Emb   *layer.EmbeddingLayer
	Model *layer.Sequential
	size  int // the DCGAN architecture's image side; 0 for the MLP
	zDim  int // the DCGAN architecture's noise width
}

// NewConvGenerator builds the DCGAN architecture's G in ps: label_emb
// (10×10), then dcgan's generator for 1×28×28 images with ZDim+EmbedDim
// input channels, as "main".
func NewConvGenerator(ps *nn.ParamSet) *Generator {
	return newConvGenerator(ps, Classes, EmbedDim, ZDim, 28)
}

// newConvGenerator is [NewConvGenerator] for any number of classes,
// embedding and noise widths and image side (one dcgan takes).
func newConvGenerator(ps *nn.ParamSet, classes, emb, z, size int) *Generator {
	e := layer.NewEmbedding(ps, "label_emb", classes, emb)
	return &Generator{Emb: e, Model: dcgan.NewGeneratorIn(ps, emb+z, 1, size), size: size, zDim: z}
}

// NewGenerator builds G in ps (label_emb, then model).
func NewGenerator(ps *nn.ParamSet) *Generator {
	return newGenerator(ps, Classes, EmbedDim, ZDim, ImageDim, 256, 512, 1024)
}

// newGenerator builds a G of any widths: the embedding of classes labels
// in emb values, then Linear and LeakyReLU layers through hidden from
// emb+z inputs, and a Linear to out with Tanh.
func newGenerator(ps *nn.ParamSet, classes, emb, z, out int, hidden ...int) *Generator {
	var specs []layer.Spec
	in := emb + z
	for _, h := range hidden {
		specs = append(specs, layer.Linear(in, h), layer.LeakyReLU(LeakySlope))
		in = h
	}
	specs = append(specs, layer.Linear(in, out), layer.Tanh())
	return &Generator{Emb: layer.NewEmbedding(ps, "label_emb", classes, emb), Model: layer.NewSequential(ps, "model", specs...)}
}

// Init draws G's initial weights as PyTorch does (the DCGAN's layers by
// the examples' weights_init).
func (g *Generator) Init(b nn.Backend, seed uint64) {
	g.Emb.Init(b, seed)
	if g.size > 0 {
		dcgan.InitWeights(b, g.Model, seed)
		return
	}
	g.Model.Init(b, seed)
}

// Forward returns the n×784 images of the n×ZDim noise z and the n labels.
func (g *Generator) Forward(ctx *layer.Ctx, z *graph.Node, labels *graph.Index) *graph.Node {
	restore := ctx.G.Scope("G")
	defer restore()
	in := ctx.G.ConcatCols(g.Emb.Lookup(ctx, labels), z)
	if g.size > 0 {
		n := z.Shape()[0]
		return ctx.G.Flatten(g.Model.Forward(ctx, ctx.G.Reshape(in, graph.Shape{n, g.Emb.Dim + g.zDim, 1, 1})))
	}
	return g.Model.Forward(ctx, in)
}

// Discriminator is D: the seed's discriminator MLP on [image, label
// embedding], or ([NewConvDiscriminator]) the DCGAN's discriminator on the
// image and the label embedding's plane.
type Discriminator struct {
	Emb   *layer.EmbeddingLayer
	Model *layer.Sequential
	size  int // the DCGAN architecture's image side; 0 for the MLP
}

// NewConvDiscriminator builds the DCGAN architecture's D in ps:
// label_embedding (10×784, one 28×28 plane per class), then dcgan's
// discriminator for 2×28×28 inputs (the image and the label's plane) as
// "main".
func NewConvDiscriminator(ps *nn.ParamSet) *Discriminator {
	return newConvDiscriminator(ps, false, Classes, 28)
}

// NewConvCritic builds wgan-gp's critic of the DCGAN architecture in ps:
// label_embedding as in [NewConvDiscriminator], then dcgan's critic
// ([dcgan.NewCritic]: no batch norm, biases) for 2×28×28 inputs as "main".
func NewConvCritic(ps *nn.ParamSet) *Discriminator {
	return newConvDiscriminator(ps, true, Classes, 28)
}

// newConvDiscriminator is [NewConvDiscriminator], or [NewConvCritic] if
// critic, for any number of classes and image side (one dcgan takes).
func newConvDiscriminator(ps *nn.ParamSet, critic bool, classes, size int) *Discriminator {
	e := layer.NewEmbedding(ps, "label_embedding", classes, size*size)
	if critic {
		return &Discriminator{Emb: e, Model: dcgan.NewCritic(ps, 2, size), size: size}
	}
	return &Discriminator{Emb: e, Model: dcgan.NewDiscriminator(ps, 2, size), size: size}
}

// NewDiscriminator builds D in ps (label_embedding, then model).
func NewDiscriminator(ps *nn.ParamSet) *Discriminator {
	return newDiscriminator(ps, true, Classes, EmbedDim, ImageDim, 1024, 512, 256)
}

// NewCritic builds wgan-gp's critic in ps: [NewDiscriminator]'s networks
// without the dropout layers, PyTorch's nn.Sequential(Linear(794, 1024),
// LeakyReLU(0.2), Linear(1024, 512), LeakyReLU(0.2), Linear(512, 256),
// LeakyReLU(0.2), Linear(256, 1)) as "model" after "label_embedding"; no
// sigmoid, no batch norm.
func NewCritic(ps *nn.ParamSet) *Discriminator {
	return newDiscriminator(ps, false, Classes, EmbedDim, ImageDim, 1024, 512, 256)
}

// newDiscriminator builds a D of any widths: the embedding of classes
// labels in emb values, then Linear and LeakyReLU layers through hidden
// from in+emb inputs, with Dropout after each but the last if dropout,
// and a Linear to one logit.
func newDiscriminator(ps *nn.ParamSet, dropout bool, classes, emb, in int, hidden ...int) *Discriminator {
	var specs []layer.Spec
	in += emb
	for i, h := range hidden {
		specs = append(specs, layer.Linear(in, h), layer.LeakyReLU(LeakySlope))
		if dropout && i < len(hidden)-1 {
			specs = append(specs, layer.Dropout(DropoutP))
		}
		in = h
	}
	specs = append(specs, layer.Linear(in, 1))
	return &Discriminator{Emb: layer.NewEmbedding(ps, "label_embedding", classes, emb), Model: layer.NewSequential(ps, "model", specs...)}
}

// Init draws D's initial weights as PyTorch does (the DCGAN's layers by
// the examples' weights_init).
func (d *Discriminator) Init(b nn.Backend, seed uint64) {
	d.Emb.Init(b, seed)
	if d.size > 0 {
		dcgan.InitWeights(b, d.Model, seed)
		return
	}
	d.Model.Init(b, seed)
}

// Forward returns the n×1 logits of the images x (n×784 or n×1×28×28)
// with their n labels.
func (d *Discriminator) Forward(ctx *layer.Ctx, x *graph.Node, labels *graph.Index) *graph.Node {
	restore := ctx.G.Scope("D")
	defer restore()
	in := ctx.G.ConcatCols(ctx.G.Flatten(x), d.Emb.Lookup(ctx, labels))
	if d.size > 0 {
		// Row i is [image i, plane of label i]: NCHW with 2 channels.
		n := x.Shape()[0]
		return ctx.G.Reshape(d.Model.Forward(ctx, ctx.G.Reshape(in, graph.Shape{n, 2, d.size, d.size})), graph.Shape{n, 1})
	}
	return d.Model.Forward(ctx, in)
}

// GAN is the conditional GAN on one backend.
type GAN struct {
	model.Base
	G             *Generator
	D             *Discriminator
	model.GANPair // PG, PD, OptG, OptD

	steps     map[stepKey]*stepProgram
	gens      map[int]*genProgram
	stats     []float64
	statNames []model.Stat
	zDev      nn.Mat // upload buffer of GenerateLabels' noise

	// Host label buffers of the training step (reused: a step allocates
	// nothing): the batch's real labels followed by the generated images'
	// labels, for D's 2n rows; the second half is also G's.
	labels []int32
	genLab []int32 // labels of Generate (row i: i mod Classes)
}

// stepKey names a compiled step: its batch size and whether G steps too.
type stepKey struct {
	n     int
	withG bool
}

// stepProgram is the compiled training step for batches of n rows.
type stepProgram struct {
	prog              *graph.Program
	data              *graph.Node
	ix, dLab, fakeLab *graph.Index
	bound             nn.Mat
	fetch             []*graph.Node // d_loss, g_loss and the loss's statistics, in the order of Stats
}

// genProgram is the compiled generator for n rows.
type genProgram struct {
	prog     *graph.Program
	z, image *graph.Node
	labels   *graph.Index
}

// New builds the conditional GAN on b with weights drawn from cfg.Seed.
func New(b nn.Backend, cfg model.Config) (*GAN, error) {
	if err := model.ValidateConfig(cfg); err != nil {
		return nil, err
	}
	if cfg.Arch == "" {
		cfg.Arch = ArchMLP
	}
	m := &GAN{Base: model.Base{Cfg: cfg, B: b}, steps: map[stepKey]*stepProgram{}, gens: map[int]*genProgram{},
		labels: make([]int32, 2*cfg.Batch)}
	m.statNames = ganloss.Stats(m.loss())
	m.stats = make([]float64, len(m.statNames))
	var streams nn.InitStreams
	m.PG = nn.NewParamSetFrom(&streams)
	m.PD = nn.NewParamSetFrom(&streams)
	critic := m.loss() == ganloss.WGANGP
	switch {
	case m.conv():
		m.G = NewConvGenerator(m.PG)
		if critic {
			m.D = NewConvCritic(m.PD)
		} else {
			m.D = NewConvDiscriminator(m.PD)
		}
	case critic:
		m.G, m.D = NewGenerator(m.PG), NewCritic(m.PD)
	default:
		m.G, m.D = NewGenerator(m.PG), NewDiscriminator(m.PD)
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
	m.steps, m.gens = map[stepKey]*stepProgram{}, map[int]*genProgram{}
	m.FreePair(m.B)
	if !m.zDev.Empty() {
		m.B.Free(m.zDev)
		m.zDev = nn.Mat{}
	}
}

// Stats are those of the loss (ganloss.Stats): for bce the seed's d_loss,
// g_loss, D(x) (the mean of σ(D(x|y)) on the real batch) and D(G(z)) (the
// same on the generated batch in the D step).
func (m *GAN) Stats() []model.Stat { return m.statNames }

// loss is the objective, bce unless the configuration names another.
func (m *GAN) loss() string {
	if m.Cfg.Loss == "" {
		return ganloss.BCE
	}
	return m.Cfg.Loss
}

// nCritic is the number of D steps per G step.
func (m *GAN) nCritic() int { return max(m.Cfg.NCritic, 1) }

// conv reports whether the model is the DCGAN architecture.
func (m *GAN) conv() bool { return m.Cfg.Arch == ArchDCGAN }

// RNG describes the random streams.
func (m *GAN) RNG() string {
	if m.conv() {
		labels := "stream (label, step), word i mod 10 by multiply-shift"
		if m.loss() == ganloss.WGANGP {
			labels = "the real batch's"
		}
		return "philox4x32-10; init streams from 1<<32 (nn.InitStreams); noise (slot 0) and wgan-gp's interpolation coefficients (slot 1) streams step<<16|slot; generated labels: " + labels + "; shuffle stream = epoch"
	}
	if m.loss() == ganloss.WGANGP {
		return "philox4x32-10; init streams from 1<<32 (nn.InitStreams); noise (slot 0) and interpolation coefficients (slot 1) streams step<<16|slot; generated labels: the real batch's; shuffle stream = epoch"
	}
	return "philox4x32-10; init streams from 1<<32 (nn.InitStreams); noise and dropout streams step<<16|slot; generated labels: stream (label, step), word i mod 10 by multiply-shift; shuffle stream = epoch"
}

// FakeLabels writes the labels of the generated images of training step
// step into out: element i of stream (nn.PurposeLabel, step) of seed,
// uniform over the classes.
func FakeLabels(out []int32, seed uint64, step int) {
	key := nn.RandKey{Seed: seed, Stream: nn.StreamID(nn.PurposeLabel, uint64(step))}
	for i := range out {
		out[i] = int32(nn.Uniform32n(key.Uint32(uint64(i)), Classes))
	}
}

// dRows is the number of labels of D's first pass for batches of n rows:
// the MLP's D takes [real; fake] as one batch of 2n rows, the DCGAN's the
// real batch alone.
func (m *GAN) dRows(n int) int {
	if m.conv() {
		return n
	}
	return 2 * n
}

// buildStep compiles the training step for batches of n rows of data
// (N×784): a D step and, withG, the G step after it.
func (m *GAN) buildStep(n int, data nn.Mat, withG bool) (*stepProgram, error) {
	g := graph.New()
	var slots nn.StreamSlots
	s := &stepProgram{}
	s.data = g.Input("training set", graph.Shape{data.Rows, ImageDim})
	s.ix = g.Indices("batch", n)
	s.dLab = g.Indices("labels of D's rows", m.dRows(n))
	s.fakeLab = g.Indices("labels of the generated images", n)
	real := g.GatherRows(s.data, s.ix)
	z := g.RandNormal(graph.Shape{n, ZDim}, 0, 1, graph.StepStream(nn.PurposeNoise, slots.Next()))
	fake := m.G.Forward(&layer.Ctx{G: g, Train: true, Slots: &slots}, z, s.fakeLab)

	var in ganloss.DInput
	if m.conv() {
		// D step on real and fake in separate passes (batch norm).
		ctx := &layer.Ctx{G: g, Train: true, Slots: &slots}
		in = ganloss.DInput{Real: m.D.Forward(ctx, real, s.dLab), Fake: m.D.Forward(ctx, fake, s.fakeLab)}
	} else {
		// D step on [real; fake] with [their labels; the generated labels].
		logits := m.D.Forward(&layer.Ctx{G: g, Train: true, Slots: &slots}, g.ConcatRows(real, fake), s.dLab)
		in = ganloss.DInput{Real: g.Rows(logits, 0, n), Fake: g.Rows(logits, n, n)}
	}
	if m.loss() == ganloss.WGANGP {
		// The penalty at the interpolates with the labels fixed: those of
		// the generated batch, which are the real batch's (TrainStep).
		ctx := &layer.Ctx{G: g, Train: true, Slots: &slots}
		in.Critic = func(x *graph.Node) *graph.Node { return m.D.Forward(ctx, x, s.fakeLab) }
		in.RealX, in.FakeX = real, fake
		in.Interp = graph.StepStream(nn.PurposeRandom, slots.Next())
	}
	d := ganloss.DLoss(g, m.loss(), in)
	g.Backward(d.Loss, m.PD)
	g.Update(m.OptD)

	// G's loss through the updated D, and its step.
	gLoss := ganloss.GLoss(g, m.loss(), m.D.Forward(&layer.Ctx{G: g, Train: true, Slots: &slots}, fake, s.fakeLab))
	if withG {
		g.Backward(gLoss, m.PG)
		g.Update(m.OptG)
	}

	s.fetch = append([]*graph.Node{d.Loss, gLoss}, d.Stats...)
	g.Fetch(s.fetch...)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("cgan training step: %w", err)
	}
	s.prog = prog
	return s, nil
}

// TrainStep does one step (see the package doc). The batch's data set
// must be labelled with labels below Classes.
func (m *GAN) TrainStep(b *model.Batch) ([]float64, error) {
	n := len(b.Idx)
	if n < 1 || n > m.Cfg.Batch {
		return nil, fmt.Errorf("train step: %d rows, batch is %d", n, m.Cfg.Batch)
	}
	if n < 2 && m.conv() {
		return nil, fmt.Errorf("train step: 1 row; the conditional DCGAN's batch norm needs at least 2")
	}
	if b.Data == nil || len(b.Data.Labels) != b.Data.N {
		return nil, fmt.Errorf("train step: the conditional GAN needs a labelled data set")
	}
	lab := m.labels[:2*n]
	for i, k := range b.Idx {
		if k < 0 || int(k) >= b.Data.N {
			return nil, fmt.Errorf("train step: image %d of a set of %d", k, b.Data.N)
		}
		y := b.Data.Labels[k]
		if int(y) >= Classes {
			return nil, fmt.Errorf("train step: image %d has label %d; the cgan has %d classes", k, y, Classes)
		}
		lab[i] = int32(y)
	}
	if m.loss() == ganloss.WGANGP {
		copy(lab[n:], lab[:n]) // the penalty's pairs share a label (see the package doc)
	} else {
		FakeLabels(lab[n:], m.Cfg.Seed, m.Step())
	}
	key := stepKey{n: n, withG: m.Step()%m.nCritic() == 0}
	s := m.steps[key]
	if s == nil {
		var err error
		if s, err = m.buildStep(n, b.Dev, key.withG); err != nil {
			return nil, err
		}
		m.steps[key] = s
	}
	if s.bound != b.Dev {
		if err := s.prog.Bind(s.data, b.Dev); err != nil {
			return nil, err
		}
		s.bound = b.Dev
	}
	for _, set := range []struct {
		ix   *graph.Index
		vals []int32
	}{{s.ix, b.Idx}, {s.dLab, lab[:m.dRows(n)]}, {s.fakeLab, lab[n:]}} {
		if err := s.prog.SetIndices(set.ix, set.vals); err != nil {
			return nil, err
		}
	}
	err := s.prog.Run(m.Cfg.Seed, uint64(m.Step()))
	m.Advance()
	if err != nil {
		return nil, fmt.Errorf("train step %d: %w", m.Step(), err)
	}
	for i, f := range s.fetch {
		m.stats[i] = float64(s.prog.Value(f))
	}
	return m.stats, model.Finite(m.Step(), m.Stats(), m.stats)
}

// LatentDim is the width of z.
func (m *GAN) LatentDim() int { return ZDim }

// ImageShape is 1×28×28.
func (m *GAN) ImageShape() (c, h, w int) { return 1, 28, 28 }

// Classes is the number of labels.
func (m *GAN) Classes() int { return Classes }

// genChunk is the most rows one generator program runs at once.
const genChunk = 256

// Generate runs G in evaluation mode on the n×100 noise z with the labels
// cycling through the classes row by row (row i draws digit i mod 10) and
// writes the n×784 images, in [−1, 1], to out. Use [GAN.GenerateLabels]
// to choose the labels.
func (m *GAN) Generate(z, out []float32) error {
	n := len(z) / ZDim
	if cap(m.genLab) < n {
		m.genLab = make([]int32, n)
	}
	lab := m.genLab[:n]
	for i := range lab {
		lab[i] = int32(i % Classes)
	}
	return m.GenerateLabels(z, lab, out)
}

// GenerateLabels runs G in evaluation mode on the n×100 noise z with
// labels[i] the class of row i, and writes the n×784 images, in [−1, 1],
// to out.
func (m *GAN) GenerateLabels(z []float32, labels []int32, out []float32) error {
	n := len(z) / ZDim
	if len(z) != n*ZDim || len(out) != n*ImageDim || len(labels) != n {
		return fmt.Errorf("generate: %d noise values, %d labels and %d outputs for %d-wide noise and %d-pixel images",
			len(z), len(labels), len(out), ZDim, ImageDim)
	}
	for i, y := range labels {
		if y < 0 || y >= Classes {
			return fmt.Errorf("generate: label %d (row %d) is outside 0–%d", y, i, Classes-1)
		}
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
		if err := p.prog.SetIndices(p.labels, labels[lo:lo+k]); err != nil {
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
		if m.zDev, err = m.B.Alloc(genChunk, ZDim); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
	}
	g := graph.New()
	p := &genProgram{z: g.Input("z", graph.Shape{n, ZDim}), labels: g.Indices("labels", n)}
	p.image = m.G.Forward(&layer.Ctx{G: g}, p.z, p.labels)
	g.Output(p.image)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("cgan generator: %w", err)
	}
	p.prog = prog
	m.gens[n] = p
	return p, nil
}

// The conditional GAN is a conditional generator.
var _ model.ConditionalGenerator = (*GAN)(nil)
