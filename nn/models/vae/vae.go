// Package vae is the variational autoencoder (Kingma and Welling 2014) in
// two families:
//
//   - "vae": pytorch/examples' VAE, an MLP 784-400-(20, 20)-400-784 with
//     ReLU, under its module names (fc1, fc21, fc22, fc3, fc4), trained
//     with Adam 1e-3, batch 128, 10 epochs;
//   - "conv-vae": a convolutional encoder (Conv 4×4 stride 2: 1→32→64
//     channels, 28→14→7, ReLU) with linear heads for the mean and the log
//     variance, and the mirror-image decoder (Linear → 64×7×7, transposed
//     convolutions 64→32→1, ReLU between).
//
// Both encode an image x to a diagonal Gaussian q(z|x) = N(μ, diag(σ²))
// (the network outputs μ and log σ²), decode a latent z to the logits l of
// independent Bernoulli pixels p(x|z), and put the prior N(0, I) on z.
//
// The training step is one compiled graph: the batch is gathered from the
// training set on the device and mapped from [−1, 1] to grey levels p in
// [0, 1]; with Config.Binarize "dynamic" each pixel becomes a fresh
// Bernoulli draw x = [u < p] (u uniform from the run's generator, a new
// draw at every step) as in the likelihood literature, otherwise x = p (the
// examples' grey-level data). Then z = μ + σ·ε with ε ~ N(0, I) from the
// shared generator (the reparameterisation), and the loss summed over the
// batch, as the examples' loss_function sums it:
//
//	K = 1:  Σᵢ [ BCE(l, x) summed over pixels + β·KL(q(z|x) ‖ N(0, I)) ],
//	        KL = −½ Σⱼ (1 + log σⱼ² − μⱼ² − σⱼ²)   (closed form);
//	K > 1:  −Σᵢ log (1/K) Σₖ wₖ,  log wₖ = log p(x|zₖ) + log p(zₖ) − log q(zₖ|x)
//	        (the IWAE bound of Burda et al., K samples per image; β is not
//	        used).
//
// BCE on logits is the stable max(l, 0) − l·x + log(1 + e^−|l|), which for
// grey-level x is the examples' binary_cross_entropy of sigmoid outputs.
// The statistics are per image: loss (the negative bound), rec (the
// reconstruction term) and kl (the closed-form KL).
//
// Likelihood evaluation (nn/likelihood) asks the model for importance
// weights ([VAE.LogWeights]); sampling decodes z ~ N(0, I) to the mean of
// the Bernoulli pixels, written as 2p − 1 ∈ [−1, 1] like every other
// family's images.
package vae

import (
	"fmt"
	"math"
	"slices"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/model"
)

// Family names.
const (
	MLPName  = "vae"
	ConvName = "conv-vae"
)

// Binarize values of Config.Binarize.
const (
	BinarizeNone    = "none"
	BinarizeDynamic = "dynamic"
)

// Image shape of both families (MNIST-style data).
const (
	Side     = 28
	ImageDim = Side * Side
)

// MaxLatent bounds --latent.
const MaxLatent = 4096

// MaxIW bounds the training bound's importance samples per image.
const MaxIW = 1024

// DefaultConfig is pytorch/examples' VAE configuration: 10 epochs of batch
// 128, Adam 1e-3 with PyTorch's default betas, latent 20, grey-level data.
func DefaultConfig() model.Config {
	return model.Config{Model: MLPName, Epochs: 10, Batch: 128, LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		Seed: 1, Dataset: "mnist", Latent: 20, KLBeta: 1, Binarize: BinarizeNone, IW: 1}
}

// DefaultConvConfig is the convolutional VAE's: as the MLP's.
func DefaultConvConfig() model.Config {
	c := DefaultConfig()
	c.Model = ConvName
	return c
}

func init() {
	for _, f := range []model.Family{
		{Name: MLPName, Summary: "pytorch/examples' VAE: MLP 784-400-(20,20)-400-784, ReLU, Bernoulli decoder, Adam 1e-3, batch 128 (--latent, --beta, --binarize, --iw)",
			Defaults: DefaultConfig},
		{Name: ConvName, Summary: "convolutional VAE: conv 1-32-64 (4x4 stride 2) encoder, mirrored transposed-conv decoder, Bernoulli decoder, Adam 1e-3, batch 128",
			Defaults: DefaultConvConfig},
	} {
		f.Validate = validate
		f.New = func(b nn.Backend, cfg model.Config) (model.Model, error) { return New(b, cfg) }
		model.Register(f)
	}
}

// IsVAE reports whether name is a family of this package (the command
// line accepts the VAE flags only for these).
func IsVAE(name string) bool { return name == MLPName || name == ConvName }

func validate(c model.Config) error {
	switch {
	case c.Latent < 1 || c.Latent > MaxLatent:
		return fmt.Errorf("latent %d: must be between 1 and %d", c.Latent, MaxLatent)
	case !(c.KLBeta >= 0) || math.IsInf(float64(c.KLBeta), 0):
		return fmt.Errorf("beta %g: must be a number ≥ 0", c.KLBeta)
	case c.Binarize != BinarizeNone && c.Binarize != BinarizeDynamic:
		return fmt.Errorf("binarize %q: must be dynamic or none", c.Binarize)
	case c.IW < 1 || c.IW > MaxIW:
		return fmt.Errorf("iw %d: must be between 1 and %d", c.IW, MaxIW)
	case c.Channels > 1 || (c.Size != 0 && c.Size != Side):
		return fmt.Errorf("image shape %dx%dx%d: the VAE families take 1x28x28 (MNIST-style) images", c.Channels, c.Size, c.Size)
	case c.Loss != "" || c.NCritic > 1 || c.DLR != 0:
		return fmt.Errorf("loss %q, n-critic %d, d-lr %g: the VAE families train their own bound (use --iw, --beta)", c.Loss, c.NCritic, c.DLR)
	}
	return nil
}

// arch is one family's networks.
type arch interface {
	// encode maps [n 784] images to the [n latent] mean and log variance.
	encode(ctx *layer.Ctx, x *graph.Node) (mu, logvar *graph.Node)
	// decode maps [n latent] codes to [n 784] pixel logits.
	decode(ctx *layer.Ctx, z *graph.Node) *graph.Node
	init(b nn.Backend, seed uint64)
}

// mlp is pytorch/examples' VAE under its module names.
type mlp struct{ fc1, fc21, fc22, fc3, fc4 *layer.LinearLayer }

func newMLP(ps *nn.ParamSet, image, hidden, latent int) *mlp {
	return &mlp{
		fc1:  layer.NewLinear(ps, "fc1", image, hidden),
		fc21: layer.NewLinear(ps, "fc21", hidden, latent),
		fc22: layer.NewLinear(ps, "fc22", hidden, latent),
		fc3:  layer.NewLinear(ps, "fc3", latent, hidden),
		fc4:  layer.NewLinear(ps, "fc4", hidden, image),
	}
}

var relu = nn.Act{Kind: nn.ActLeakyReLU}

func (a *mlp) encode(ctx *layer.Ctx, x *graph.Node) (*graph.Node, *graph.Node) {
	h := a.fc1.ForwardAct(ctx, x, relu)
	return a.fc21.Forward(ctx, h), a.fc22.Forward(ctx, h)
}

func (a *mlp) decode(ctx *layer.Ctx, z *graph.Node) *graph.Node {
	return a.fc4.Forward(ctx, a.fc3.ForwardAct(ctx, z, relu))
}

func (a *mlp) init(b nn.Backend, seed uint64) {
	for _, l := range []*layer.LinearLayer{a.fc1, a.fc21, a.fc22, a.fc3, a.fc4} {
		l.Init(b, seed)
	}
}

// conv is the convolutional VAE.
type conv struct {
	enc, dec       *layer.Sequential
	fcMu, fcLogvar *layer.LinearLayer
}

// Channels of the convolutional VAE's two feature maps.
const (
	convC1 = 32
	convC2 = 64
)

func newConv(ps *nn.ParamSet, latent int) *conv {
	flat := convC2 * 7 * 7
	return &conv{
		enc: layer.NewSequential(ps, "encoder",
			layer.Conv2d(1, convC1, 4, 2, 1, true), layer.ReLU(),
			layer.Conv2d(convC1, convC2, 4, 2, 1, true), layer.ReLU(),
			layer.Flatten()),
		fcMu:     layer.NewLinear(ps, "fc_mu", flat, latent),
		fcLogvar: layer.NewLinear(ps, "fc_logvar", flat, latent),
		dec: layer.NewSequential(ps, "decoder",
			layer.Linear(latent, flat), layer.ReLU(), layer.Unflatten(convC2, 7, 7),
			layer.ConvTranspose2d(convC2, convC1, 4, 2, 1, 0, true), layer.ReLU(),
			layer.ConvTranspose2d(convC1, 1, 4, 2, 1, 0, true)),
	}
}

func (a *conv) encode(ctx *layer.Ctx, x *graph.Node) (*graph.Node, *graph.Node) {
	n := x.Shape()[0]
	h := a.enc.Forward(ctx, ctx.G.Reshape(x, graph.Shape{n, 1, Side, Side}))
	return a.fcMu.Forward(ctx, h), a.fcLogvar.Forward(ctx, h)
}

func (a *conv) decode(ctx *layer.Ctx, z *graph.Node) *graph.Node {
	return ctx.G.Flatten(a.dec.Forward(ctx, z))
}

func (a *conv) init(b nn.Backend, seed uint64) {
	a.enc.Init(b, seed)
	a.fcMu.Init(b, seed)
	a.fcLogvar.Init(b, seed)
	a.dec.Init(b, seed)
}

// VAE is a variational autoencoder of either family on one backend.
type VAE struct {
	model.Base
	P   *nn.ParamSet
	Opt *nn.Adam
	net arch

	image, latent int // pixels per image, latent width

	steps  map[int]*stepProgram
	gens   map[int]*genProgram
	weighs map[[2]int]*weightProgram
	encs   map[int]*encProgram
	stats  []float64
	zDev   nn.Mat // upload buffer of Generate's codes
	xDev   nn.Mat // upload buffer of LogWeights' and Encode's images
}

// New builds a VAE of cfg's family on b with weights drawn from cfg.Seed.
func New(b nn.Backend, cfg model.Config) (*VAE, error) {
	if err := model.ValidateConfig(cfg); err != nil {
		return nil, err
	}
	if !IsVAE(cfg.Model) {
		return nil, fmt.Errorf("vae: model %q is not a VAE family", cfg.Model)
	}
	ps := nn.NewParamSetFrom(&nn.InitStreams{})
	var net arch
	if cfg.Model == ConvName {
		net = newConv(ps, cfg.Latent)
	} else {
		net = newMLP(ps, ImageDim, 400, cfg.Latent)
	}
	return build(b, cfg, ps, net, ImageDim)
}

// build allocates and initialises a VAE with the networks net (whose
// parameters are in ps) on images of image pixels.
func build(b nn.Backend, cfg model.Config, ps *nn.ParamSet, net arch, image int) (*VAE, error) {
	m := &VAE{Base: model.Base{Cfg: cfg, B: b}, P: ps, net: net, image: image, latent: cfg.Latent,
		steps: map[int]*stepProgram{}, gens: map[int]*genProgram{}, weighs: map[[2]int]*weightProgram{},
		encs: map[int]*encProgram{}, stats: make([]float64, 3)}
	if err := ps.Alloc(b); err != nil {
		return nil, fmt.Errorf("VAE: %w", err)
	}
	var err error
	if m.Opt, err = nn.NewAdam(b, ps, cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps); err != nil {
		m.Free()
		return nil, err
	}
	net.init(b, cfg.Seed)
	return m, b.Sync()
}

// Free releases everything allocated on the backend.
func (m *VAE) Free() {
	for _, s := range m.steps {
		s.prog.Free()
	}
	for _, p := range m.gens {
		p.prog.Free()
	}
	for _, p := range m.weighs {
		p.prog.Free()
	}
	for _, p := range m.encs {
		p.prog.Free()
	}
	m.steps, m.gens, m.weighs, m.encs = map[int]*stepProgram{}, map[int]*genProgram{}, map[[2]int]*weightProgram{}, map[int]*encProgram{}
	if m.Opt != nil {
		m.Opt.Free()
		m.Opt = nil
	}
	m.P.Free(m.B)
	for _, x := range []*nn.Mat{&m.zDev, &m.xDev} {
		if !x.Empty() {
			m.B.Free(*x)
			*x = nn.Mat{}
		}
	}
}

// Nets is the one network, "VAE" (encoder and decoder), with its
// optimiser.
func (m *VAE) Nets() []model.Net { return []model.Net{{Name: "VAE", Params: m.P, Opt: m.Opt}} }

// Stats are the per-image negative bound, its reconstruction term and the
// closed-form KL.
func (m *VAE) Stats() []model.Stat {
	return []model.Stat{
		{Name: "loss", Format: "%.4f", Loss: true}, // −ELBO (K = 1, β = 1) or −IWAE bound, nats per image
		{Name: "rec", Format: "%.4f"},              // BCE summed over pixels, mean over images and samples
		{Name: "kl", Format: "%.4f"},               // KL(q(z|x) ‖ N(0, I)), closed form
	}
}

// RNG describes the random streams.
func (m *VAE) RNG() string {
	return "philox4x32-10; graph random ops (binarisation uniforms, reparameterisation noise): stream step<<16|slot per purpose; init: one stream per tensor from 1<<32; shuffle stream = epoch"
}

// LatentDim is the latent width.
func (m *VAE) LatentDim() int { return m.latent }

// ImageShape is 1×28×28.
func (m *VAE) ImageShape() (c, h, w int) { return 1, Side, Side }

// binarizeScale maps every positive difference of two grey levels in
// [0, 1] (at least 2⁻⁴⁸ apart) far past tanh's saturation, and 1 to a
// finite float32.
const binarizeScale = 0x1p100

// Binarize returns the Bernoulli draws [u < p] of the grey levels p given
// the uniforms u in [0, 1), as exact zeros and ones from existing ops:
// tanh(2¹⁰⁰·relu(p − u)). The sign of p − u is exact in floating point,
// relu sends u ≥ p to 0, and any positive difference scaled by 2¹⁰⁰ is
// beyond where tanh rounds to 1. No gradient flows through it (it is data).
func Binarize(g *graph.Graph, p, u *graph.Node) *graph.Node {
	return g.Act(g.Scale(g.Act(g.Sub(p, u), relu), binarizeScale), nn.Act{Kind: nn.ActTanh})
}

// softplusBCE returns the per-element BCE of sigmoid(l) against t,
// softplus(l) − t·l = relu(l) + log(1 + exp(−|l|)) − t·l, from
// differentiable ops (stable for any l).
func softplusBCE(g *graph.Graph, l, t *graph.Node) *graph.Node {
	pos := g.Act(l, relu)
	neg := g.Act(g.Scale(l, -1), relu)
	soft := g.Log(g.AddConst(g.Exp(g.Axpby(pos, neg, -1, -1)), 1))
	return g.Sub(g.Add(pos, soft), g.Mul(t, l))
}

// klRows returns the [n 1] closed-form KL(N(μ, e^lv) ‖ N(0, I)) of each
// row: −½ Σⱼ (1 + lvⱼ − μⱼ² − e^lvⱼ).
func klRows(g *graph.Graph, mu, lv *graph.Node) *graph.Node {
	return g.Scale(g.RowSum(g.Sub(g.Sub(g.AddConst(lv, 1), g.Square(mu)), g.Exp(lv))), -0.5)
}

// bound is the graph of the objective on a batch of targets x ([n image],
// values in [0, 1]) with k samples per image; eps draws the [n·k latent]
// reparameterisation noise.
type bound struct {
	loss     *graph.Node // summed over the batch: what is differentiated
	rec, kl  *graph.Node // scalar means per image
	logw     *graph.Node // [n·k 1] log importance weights (k > 1 or when asked)
	logpx    *graph.Node // [n·k 1] log p(x|z)
	klRow    *graph.Node // [n 1]
	mu, lv   *graph.Node // [n latent]
	rep      *graph.Index
	repeated bool
}

// objective builds the bound. With weights set it also forms the per-row
// log weights (always, for k > 1). rep, when k > 1, must be set to
// i/k for row i (see repIndices).
func (m *VAE) objective(ctx *layer.Ctx, x *graph.Node, k int, eps graph.Stream, weights bool) *bound {
	g := ctx.G
	n := x.Shape()[0]
	bd := &bound{}
	bd.mu, bd.lv = m.net.encode(ctx, x)
	bd.klRow = klRows(g, bd.mu, bd.lv)
	klSum := g.Sum(bd.klRow)
	bd.kl = g.Scale(klSum, 1/float32(n))
	mu, lv, t := bd.mu, bd.lv, x
	if k > 1 {
		bd.rep = g.Indices("samples", n*k)
		mu, lv, t = g.GatherRows(mu, bd.rep), g.GatherRows(lv, bd.rep), g.GatherRows(x, bd.rep)
		bd.repeated = true
	}
	e := g.RandNormal(graph.Shape{n * k, m.latent}, 0, 1, eps)
	z := g.Add(mu, g.Mul(g.Exp(g.Scale(lv, 0.5)), e))
	logits := m.net.decode(ctx, z)
	if k == 1 && !weights {
		bce, _ := g.SigmoidBCE(logits, t) // mean over n·image elements
		recSum := g.Scale(bce, float32(n*m.image))
		bd.rec = g.Scale(recSum, 1/float32(n))
		bd.loss = g.Add(recSum, g.Scale(klSum, m.Cfg.KLBeta))
		return bd
	}
	recRow := g.RowSum(softplusBCE(g, logits, t))
	bd.logpx = g.Scale(recRow, -1)
	bd.rec = g.Scale(g.Sum(recRow), 1/float32(n*k))
	// log p(z) − log q(z|x) = −½|z|² + ½|ε|² + ½ Σ lv (the 2π terms cancel).
	prior := g.Axpby(g.RowSumSq(z), g.RowSumSq(e), -0.5, 0.5)
	bd.logw = g.Add(g.Add(bd.logpx, prior), g.Scale(g.RowSum(lv), 0.5))
	if k == 1 {
		bd.loss = g.Scale(g.Sum(bd.logw), -1)
		return bd
	}
	// Σᵢ log Σₖ exp(log wᵢₖ) = n·CE(W, e₀) + Σᵢ Wᵢ₀, with the fused and
	// stable softmax cross-entropy against the first column.
	w := g.Reshape(bd.logw, graph.Shape{n, k})
	onehot := g.ConcatCols(g.Const(graph.Shape{n, 1}, 1), g.Const(graph.Shape{n, k - 1}, 0))
	ce, _ := g.SoftmaxCE(w, onehot)
	lse := g.Add(g.Scale(ce, float32(n)), g.Sum(g.Cols(w, 0, 1)))
	bd.loss = g.AddConst(g.Scale(lse, -1), float32(float64(n)*math.Log(float64(k))))
	return bd
}

// repIndices returns row i ↦ i/k for n images of k samples each.
func repIndices(n, k int) []int32 {
	ix := make([]int32, n*k)
	for i := range ix {
		ix[i] = int32(i / k)
	}
	return ix
}

// stepProgram is the compiled training step for batches of n rows.
type stepProgram struct {
	prog  *graph.Program
	data  *graph.Node
	ix    *graph.Index
	bound nn.Mat
	bd    *bound
	n     float32
}

// targets maps [−1, 1] pixels to the training targets: grey levels in
// [0, 1], or their Bernoulli draws with dynamic binarisation.
func (m *VAE) targets(g *graph.Graph, x *graph.Node, slots *nn.StreamSlots) *graph.Node {
	p := g.AddConst(g.Scale(x, 0.5), 0.5)
	if m.Cfg.Binarize != BinarizeDynamic {
		return p
	}
	u := g.RandUniform(x.Shape(), 0, 1, graph.StepStream(nn.PurposeRandom, slots.Next()))
	return Binarize(g, p, u)
}

func (m *VAE) buildStep(n int, data nn.Mat) (*stepProgram, error) {
	g := graph.New()
	s := &stepProgram{n: float32(n)}
	s.data = g.Input("training set", graph.Shape{data.Rows, m.image})
	s.ix = g.Indices("batch", n)
	slots := &nn.StreamSlots{}
	x := m.targets(g, g.GatherRows(s.data, s.ix), slots)
	ctx := &layer.Ctx{G: g, Train: true, Slots: slots}
	s.bd = m.objective(ctx, x, m.Cfg.IW, graph.StepStream(nn.PurposeNoise, slots.Next()), false)
	g.Backward(s.bd.loss, m.P)
	g.Update(m.Opt)
	g.Fetch(s.bd.loss, s.bd.rec, s.bd.kl)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("%s training step: %w", m.Cfg.Model, err)
	}
	if s.bd.repeated {
		if err := prog.SetIndices(s.bd.rep, repIndices(n, m.Cfg.IW)); err != nil {
			prog.Free()
			return nil, err
		}
	}
	s.prog = prog
	return s, nil
}

// TrainStep does one Adam step on the batch's bound; it waits for the
// device once, to read the statistics.
func (m *VAE) TrainStep(b *model.Batch) ([]float64, error) {
	n := len(b.Idx)
	if n < 1 || n > m.Cfg.Batch {
		return nil, fmt.Errorf("train step: %d rows, batch is %d", n, m.Cfg.Batch)
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
	m.stats[0] = float64(p.Value(s.bd.loss)) / float64(n)
	m.stats[1] = float64(p.Value(s.bd.rec))
	m.stats[2] = float64(p.Value(s.bd.kl))
	return m.stats, model.Finite(m.Step(), m.Stats(), m.stats)
}

// chunk is the most rows Generate and Encode run at once.
const chunk = 256

// genProgram decodes n codes to images 2σ(l) − 1 = tanh(l/2).
type genProgram struct {
	prog     *graph.Program
	z, image *graph.Node
}

// Generate decodes the n×latent codes z to the means of the Bernoulli
// pixels, written as 2p − 1 (n×784 values in [−1, 1]) to out.
func (m *VAE) Generate(z, out []float32) error {
	d := m.latent
	n := len(z) / d
	if len(z) != n*d || len(out) != n*m.image {
		return fmt.Errorf("generate: %d code values and %d outputs for %d-wide codes and %d-pixel images", len(z), len(out), d, m.image)
	}
	if m.zDev.Empty() {
		var err error
		if m.zDev, err = m.B.Alloc(chunk, d); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
	}
	for lo := 0; lo < n; lo += chunk {
		k := min(chunk, n-lo)
		p := m.gens[k]
		if p == nil {
			g := graph.New()
			p = &genProgram{z: g.Input("z", graph.Shape{k, d})}
			p.image = g.Act(g.Scale(m.net.decode(&layer.Ctx{G: g}, p.z), 0.5), nn.Act{Kind: nn.ActTanh})
			g.Output(p.image)
			prog, err := g.Compile(m.B)
			if err != nil {
				return fmt.Errorf("%s decoder: %w", m.Cfg.Model, err)
			}
			p.prog = prog
			m.gens[k] = p
		}
		zk := m.zDev.RowView(0, k)
		if err := m.B.Upload(zk, z[lo*d:(lo+k)*d]); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		if err := p.prog.Bind(p.z, zk); err != nil {
			return err
		}
		if err := p.prog.Run(m.Cfg.Seed, 0); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		if err := m.B.Download(out[lo*m.image:(lo+k)*m.image], p.prog.Mat(p.image)); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
	}
	return nil
}

// encProgram maps n images to their codes' means and log variances.
type encProgram struct {
	prog      *graph.Program
	x, mu, lv *graph.Node
}

// ensureX allocates the image upload buffer for rows images.
func (m *VAE) ensureX(rows int) error {
	if !m.xDev.Empty() && m.xDev.Rows >= rows {
		return nil
	}
	if !m.xDev.Empty() {
		m.B.Free(m.xDev)
		m.xDev = nn.Mat{}
	}
	var err error
	m.xDev, err = m.B.Alloc(rows, m.image)
	return err
}

// Encode writes the means (n×latent, to mu) and log variances (to logvar;
// nil to skip) of q(z|x) for the n images x, given as targets in [0, 1]
// (n×784).
func (m *VAE) Encode(x, mu, logvar []float32) error {
	d := m.latent
	n := len(x) / m.image
	if len(x) != n*m.image || len(mu) != n*d || (logvar != nil && len(logvar) != n*d) {
		return fmt.Errorf("encode: %d pixel values, %d means and %d log variances for %d-pixel images and %d-wide codes", len(x), len(mu), len(logvar), m.image, d)
	}
	if err := m.ensureX(chunk); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	for lo := 0; lo < n; lo += chunk {
		k := min(chunk, n-lo)
		p := m.encs[k]
		if p == nil {
			g := graph.New()
			p = &encProgram{x: g.Input("x", graph.Shape{k, m.image})}
			p.mu, p.lv = m.net.encode(&layer.Ctx{G: g}, p.x)
			p.mu, p.lv = g.Copy(p.mu), g.Copy(p.lv)
			g.Output(p.mu, p.lv)
			prog, err := g.Compile(m.B)
			if err != nil {
				return fmt.Errorf("%s encoder: %w", m.Cfg.Model, err)
			}
			p.prog = prog
			m.encs[k] = p
		}
		xk := m.xDev.RowView(0, k)
		if err := m.B.Upload(xk, x[lo*m.image:(lo+k)*m.image]); err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if err := p.prog.Bind(p.x, xk); err != nil {
			return err
		}
		if err := p.prog.Run(m.Cfg.Seed, 0); err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if err := m.B.Download(mu[lo*d:(lo+k)*d], p.prog.Mat(p.mu)); err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if logvar != nil {
			if err := m.B.Download(logvar[lo*d:(lo+k)*d], p.prog.Mat(p.lv)); err != nil {
				return fmt.Errorf("encode: %w", err)
			}
		}
	}
	return nil
}

// weightProgram computes log weights for n images with k samples each.
type weightProgram struct {
	prog *graph.Program
	x    *graph.Node
	bd   *bound
}

// WeightRows is the most rows (images × samples) one run of LogWeights
// decodes.
const WeightRows = 1024

// LogWeights draws k samples zₖ ~ q(z|x) for each of the n images x
// (n×784 targets in [0, 1]) and writes, image-major (row i·k + j),
// logw = log p(x|zₖ) + log p(zₖ) − log q(zₖ|x) and logpx = log p(x|zₖ)
// (n·k values each, nil to skip logpx), and the closed-form
// KL(q(z|x) ‖ p(z)) of each image to kl (n values, nil to skip). The noise
// of the i-th program run of the call is the stream {seed,
// PurposeLikelihood, (run+i)<<16}; it returns run plus the number of runs
// made, the run number for a following call.
func (m *VAE) LogWeights(x []float32, k int, seed, run uint64, logw, logpx, kl []float32) (uint64, error) {
	n := len(x) / m.image
	if k < 1 || len(x) != n*m.image || len(logw) != n*k || (logpx != nil && len(logpx) != n*k) || (kl != nil && len(kl) != n) {
		return run, fmt.Errorf("log weights: %d pixel values, k %d, %d/%d/%d outputs for %d-pixel images", len(x), k, len(logw), len(logpx), len(kl), m.image)
	}
	// Images per run and samples per image per run.
	per, kc := max(1, WeightRows/k), min(k, WeightRows)
	if err := m.ensureX(per); err != nil {
		return run, fmt.Errorf("log weights: %w", err)
	}
	for lo := 0; lo < n; lo += per {
		ni := min(per, n-lo)
		xk := m.xDev.RowView(0, ni)
		if err := m.B.Upload(xk, x[lo*m.image:(lo+ni)*m.image]); err != nil {
			return run, fmt.Errorf("log weights: %w", err)
		}
		for s := 0; s < k; s += kc {
			ks := min(kc, k-s)
			p, err := m.weightProgram(ni, ks)
			if err != nil {
				return run, err
			}
			if err := p.prog.Bind(p.x, xk); err != nil {
				return run, err
			}
			if err := p.prog.Run(seed, run); err != nil {
				return run, fmt.Errorf("log weights: %w", err)
			}
			run++
			lw := p.prog.Values(p.bd.logw)
			var lp []float32
			if logpx != nil {
				lp = p.prog.Values(p.bd.logpx)
			}
			for i := range ni {
				copy(logw[(lo+i)*k+s:(lo+i)*k+s+ks], lw[i*ks:(i+1)*ks])
				if lp != nil {
					copy(logpx[(lo+i)*k+s:(lo+i)*k+s+ks], lp[i*ks:(i+1)*ks])
				}
			}
			if kl != nil && s == 0 {
				copy(kl[lo:lo+ni], p.prog.Values(p.bd.klRow))
			}
		}
	}
	return run, nil
}

func (m *VAE) weightProgram(n, k int) (*weightProgram, error) {
	key := [2]int{n, k}
	if p := m.weighs[key]; p != nil {
		return p, nil
	}
	g := graph.New()
	p := &weightProgram{x: g.Input("x", graph.Shape{n, m.image})}
	p.bd = m.objective(&layer.Ctx{G: g, Slots: &nn.StreamSlots{}}, p.x, k, graph.StepStream(nn.PurposeLikelihood, 0), true)
	g.Fetch(p.bd.logw, p.bd.logpx, p.bd.klRow)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("%s log weights: %w", m.Cfg.Model, err)
	}
	if p.bd.repeated {
		if err := prog.SetIndices(p.bd.rep, repIndices(n, k)); err != nil {
			prog.Free()
			return nil, err
		}
	}
	p.prog = prog
	m.weighs[key] = p
	return p, nil
}

// Sizes returns the pixels per image and the latent width (for callers
// that size buffers).
func (m *VAE) Sizes() (image, latent int) { return m.image, m.latent }

// paramNames lists the parameter names, for tests.
func (m *VAE) paramNames() []string {
	var out []string
	for _, p := range m.P.Params() {
		out = append(out, p.Name)
	}
	return slices.Clip(out)
}
