// Package pixelcnn is PixelCNN (van den Oord et al. 2016, "Pixel
// Recurrent Neural Networks", §3.5) on dynamically binarised MNIST, in the
// form of pytorch-generative's PixelCNN: a 7×7 convolution with mask A
// (each pixel sees the pixels strictly before it in raster order) from 1
// to 2h channels, then residual blocks
//
//	x + conv1×1(h→2h)(ReLU(maskB conv3×3(h→h)(ReLU(conv1×1(2h→h)(ReLU(x))))))
//
// (mask B also lets a pixel see itself in the layer below), then ReLU,
// 1×1 to the head's 32 channels, ReLU, 1×1 to one Bernoulli logit per
// pixel. Training maximises the exact likelihood.
//
// The masks are buffers (input.mask, blocks.i.conv.mask, [out in k k] like
// the weights), saved with the checkpoint, and multiplied into the weights
// once per step in the graph (W ∘ M) before the convolution: masked
// weights get exactly zero gradient and the inner loops have no branch.
//
// Sampling draws the 784 pixels in raster order. The logit of pixel (r, c)
// depends only on the input rows r−R … r and columns c−R … c+R, R = 3 +
// blocks (the 7×7 mask reaches 3 rows up and 3 columns aside, each 3×3
// one more), so each draw runs the network on that window only (cropped
// at the image's edges, where the zero padding is the network's own),
// rather than on the whole image: (R+1)·(2R+1) of 784 pixels, 9×17 for the
// default 5 blocks.
package pixelcnn

import (
	"fmt"
	"math"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/model"
	"gan/nn/models/made/autoreg"
)

// Name is the family's --model name.
const Name = "pixelcnn"

// Side and D are the image side and pixel count.
const (
	Side = autoreg.Side
	D    = autoreg.Dim
)

// Defaults: the CPU-sized network (pytorch-generative uses h = 128 and 15
// blocks; --hidden and --blocks select it).
const (
	DefaultHidden = 32
	DefaultBlocks = 5
	HeadChannels  = 32
)

// DefaultConfig is h = 32, 5 blocks, Adam 1e-3, batch 64.
func DefaultConfig() model.Config {
	return model.Config{Model: Name, Epochs: 20, Batch: 64, LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		Seed: 1, Dataset: "mnist", Hidden: DefaultHidden, Blocks: DefaultBlocks}
}

func init() {
	model.Register(model.Family{
		Name:     Name,
		Summary:  "PixelCNN (van den Oord et al. 2016): 7x7 mask-A conv, residual blocks of 3x3 mask-B convs, Bernoulli logits on dynamically binarised MNIST, exact NLL (--hidden, --blocks)",
		Defaults: DefaultConfig,
		Validate: validate,
		New:      func(b nn.Backend, cfg model.Config) (model.Model, error) { return New(b, cfg) },
	})
}

func validate(c model.Config) error {
	if (c.Channels != 0 && c.Channels != 1) || (c.Size != 0 && c.Size != Side) {
		return fmt.Errorf("channels %d, size %d: PixelCNN models 1×28×28 binarised images", c.Channels, c.Size)
	}
	if c.Hidden < 0 || c.Hidden > 1024 {
		return fmt.Errorf("hidden %d: must be between 1 and 1024", c.Hidden)
	}
	if c.Blocks < 0 || c.Blocks > 64 {
		return fmt.Errorf("blocks %d: must be between 1 and 64", c.Blocks)
	}
	if c.Orders > 1 {
		return fmt.Errorf("orders %d: PixelCNN has the one raster order", c.Orders)
	}
	if c.Loss != "" {
		return fmt.Errorf("loss %q: PixelCNN trains by maximum likelihood", c.Loss)
	}
	if c.Arch != "" {
		return fmt.Errorf("arch %q: only the residual PixelCNN is built (the gated variant is not)", c.Arch)
	}
	return nil
}

// conv is one convolution's parameters: weight [out in k k], bias [out],
// and the mask buffer of a masked one.
type conv struct {
	In, Out, K int
	W, B, M    *nn.Param
}

func newConv(ps *nn.ParamSet, name string, in, out, k int, masked bool) *conv {
	c := &conv{In: in, Out: out, K: k, W: ps.Add(name+".weight", out, in, k, k), B: ps.Add(name+".bias", out)}
	if masked {
		c.M = ps.AddBuffer(name+".mask", out, in, k, k)
	}
	return c
}

// Mask returns the [out in k k] mask of a k×k kernel: ones at the rows
// above the centre and left of it in the centre row, and at the centre
// itself for mask B (includeCentre).
func Mask(out, in, k int, includeCentre bool) []float32 {
	m := make([]float32, out*in*k*k)
	c := k / 2
	for o := range out * in {
		for i := range k {
			for j := range k {
				if i < c || (i == c && (j < c || (j == c && includeCentre))) {
					m[(o*k+i)*k+j] = 1
				}
			}
		}
	}
	return m
}

// init is PyTorch's Conv2d default (uniform ±1/√(in·k·k)), and the mask.
func (c *conv) init(b nn.Backend, seed uint64, maskA bool) error {
	bound := float32(1 / math.Sqrt(float64(c.In*c.K*c.K)))
	b.RandUniform(c.W.Value, -bound, bound, c.W.InitKey(seed))
	b.RandUniform(c.B.Value, -bound, bound, c.B.InitKey(seed))
	if c.M != nil {
		return b.Upload(c.M.Value, Mask(c.Out, c.In, c.K, !maskA))
	}
	return nil
}

type block struct{ in, conv, out *conv }

// PixelCNN is the model on one backend.
type PixelCNN struct {
	model.Base
	H, Blocks int
	P         *nn.ParamSet
	Opt       *nn.Adam
	input     *conv
	blocks    []block
	head0     *conv
	head1     *conv

	steps   map[int]*stepProgram
	evals   map[[3]int]*evalProgram
	xDev    nn.Mat
	stats   []float64
	samples sampleBufs
}

type stepProgram struct {
	prog  *graph.Program
	data  *graph.Node
	ix    *graph.Index
	bound nn.Mat
	loss  *graph.Node
}

type evalProgram struct {
	prog      *graph.Program
	x, logits *graph.Node
}

// New builds a PixelCNN on b with weights drawn from cfg.Seed.
func New(b nn.Backend, cfg model.Config) (*PixelCNN, error) {
	if err := model.ValidateConfig(cfg); err != nil {
		return nil, err
	}
	h, nb := cfg.Hidden, cfg.Blocks
	if h == 0 {
		h = DefaultHidden
	}
	if nb == 0 {
		nb = DefaultBlocks
	}
	m := &PixelCNN{Base: model.Base{Cfg: cfg, B: b}, H: h, Blocks: nb, steps: map[int]*stepProgram{},
		evals: map[[3]int]*evalProgram{}, stats: make([]float64, 1)}
	ps := nn.NewParamSetFrom(&nn.InitStreams{})
	m.P = ps
	m.input = newConv(ps, "input", 1, 2*h, 7, true)
	for i := range nb {
		p := fmt.Sprintf("blocks.%d.", i)
		m.blocks = append(m.blocks, block{newConv(ps, p+"in", 2*h, h, 1, false), newConv(ps, p+"conv", h, h, 3, true),
			newConv(ps, p+"out", h, 2*h, 1, false)})
	}
	m.head0 = newConv(ps, "head.0", 2*h, HeadChannels, 1, false)
	m.head1 = newConv(ps, "head.1", HeadChannels, 1, 1, false)
	if err := ps.Alloc(b); err != nil {
		return nil, fmt.Errorf("PixelCNN: %w", err)
	}
	var err error
	if m.Opt, err = nn.NewAdam(b, ps, cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps); err != nil {
		m.Free()
		return nil, err
	}
	err = m.input.init(b, cfg.Seed, true)
	for _, bl := range m.blocks {
		for _, c := range []*conv{bl.in, bl.conv, bl.out} {
			if err == nil {
				err = c.init(b, cfg.Seed, false)
			}
		}
	}
	for _, c := range []*conv{m.head0, m.head1} {
		if err == nil {
			err = c.init(b, cfg.Seed, false)
		}
	}
	if err != nil {
		m.Free()
		return nil, fmt.Errorf("PixelCNN init: %w", err)
	}
	return m, b.Sync()
}

// Free releases everything allocated on the backend.
func (m *PixelCNN) Free() {
	for _, s := range m.steps {
		s.prog.Free()
	}
	for _, e := range m.evals {
		e.prog.Free()
	}
	m.steps, m.evals = map[int]*stepProgram{}, map[[3]int]*evalProgram{}
	if m.Opt != nil {
		m.Opt.Free()
		m.Opt = nil
	}
	m.P.Free(m.B)
	if !m.xDev.Empty() {
		m.B.Free(m.xDev)
		m.xDev = nn.Mat{}
	}
}

// Nets is the one network and its optimiser.
func (m *PixelCNN) Nets() []model.Net {
	return []model.Net{{Name: "PixelCNN", Params: m.P, Opt: m.Opt}}
}

// Stats is the batch's negative log-likelihood in nats per image.
func (m *PixelCNN) Stats() []model.Stat {
	return []model.Stat{{Name: "nll", Format: "%.3f", Loss: true}}
}

// RNG describes the random streams.
func (m *PixelCNN) RNG() string {
	return "philox4x32-10; binarisation uniforms: stream step<<16|slot of PurposeRandom; init: one stream per tensor from 1<<32; shuffle stream = epoch"
}

// Reach is how many rows up (and columns to either side) the logit of a
// pixel sees: 3 for the 7×7 mask-A convolution, 1 per block.
func (m *PixelCNN) Reach() int { return 3 + m.Blocks }

var relu = nn.Act{Kind: nn.ActLeakyReLU}

// masked is a masked convolution of the channels-last images x.
func (c *conv) masked(g *graph.Graph, x *graph.Node, im graph.Image, act nn.Act) (*graph.Node, graph.Image) {
	w := g.Mul(g.Param(c.W), g.Param(c.M))
	return g.Conv2d(x, im, w, g.Param(c.B), 1, 1, c.K/2, c.K/2, act)
}

// pointwise is a 1×1 convolution of channels-last pixels: a product with
// the [out in] weight.
func (c *conv) pointwise(g *graph.Graph, x *graph.Node, act nn.Act) *graph.Node {
	y := g.MatMul(x, g.Reshape(g.Param(c.W), graph.Shape{c.Out, c.In}), false, true)
	return g.BiasAct(y, g.Param(c.B), act)
}

// Forward adds the network on the n binary images x ([n 1 hgt wid] or
// [n hgt·wid]) and returns the logits, [n hgt·wid] in raster order. Any
// image size works (the sampler runs it on windows).
func (m *PixelCNN) Forward(g *graph.Graph, x *graph.Node, n, hgt, wid int) *graph.Node {
	x = g.Reshape(x, graph.Shape{n, 1, hgt, wid})
	im := graph.Image{N: n, C: 1, H: hgt, W: wid, Layout: nn.NCHW}
	y, _ := m.input.masked(g, x, im, nn.Act{})
	for _, bl := range m.blocks {
		t := bl.in.pointwise(g, g.Act(y, relu), relu)
		t, _ = bl.conv.masked(g, t, graph.Image{N: n, C: m.H, H: hgt, W: wid, Layout: nn.NHWC}, relu)
		y = g.Add(y, bl.out.pointwise(g, t, nn.Act{}))
	}
	t := m.head0.pointwise(g, g.Act(y, relu), relu)
	return g.Reshape(m.head1.pointwise(g, t, nn.Act{}), graph.Shape{n, hgt * wid})
}

func (m *PixelCNN) buildStep(n int, data nn.Mat) (*stepProgram, error) {
	g := graph.New()
	s := &stepProgram{}
	s.data = g.Input("training set", graph.Shape{data.Rows, D})
	s.ix = g.Indices("batch", n)
	x := autoreg.Dynamic(g, g.GatherRows(s.data, s.ix), &nn.StreamSlots{})
	bce, _ := g.SigmoidBCE(m.Forward(g, x, n, Side, Side), x)
	s.loss = g.Scale(bce, D)
	g.Backward(s.loss, m.P)
	g.Update(m.Opt)
	g.Fetch(s.loss)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("PixelCNN training step: %w", err)
	}
	s.prog = prog
	return s, nil
}

// TrainStep does one Adam step on the batch's negative log-likelihood.
func (m *PixelCNN) TrainStep(b *model.Batch) ([]float64, error) {
	n := len(b.Idx)
	if n < 1 || n > m.Cfg.Batch {
		return nil, fmt.Errorf("train step: %d rows, batch is %d", n, m.Cfg.Batch)
	}
	if b.Dev.Cols != D {
		return nil, fmt.Errorf("train step: images of %d values, PixelCNN models %d pixels", b.Dev.Cols, D)
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
	m.stats[0] = float64(s.prog.Value(s.loss))
	return m.stats, model.Finite(m.Step(), m.Stats(), m.stats)
}

// evalChunk is the number of images per likelihood program run.
const evalChunk = 100

// program returns the evaluation program of n images of hgt×wid.
func (m *PixelCNN) program(n, hgt, wid int) (*evalProgram, error) {
	key := [3]int{n, hgt, wid}
	if e := m.evals[key]; e != nil {
		return e, nil
	}
	if m.xDev.Empty() {
		var err error
		if m.xDev, err = m.B.Alloc(max(evalChunk, sampleChunk), D); err != nil {
			return nil, fmt.Errorf("PixelCNN: %w", err)
		}
	}
	g := graph.New()
	e := &evalProgram{x: g.Input("x", graph.Shape{n, hgt * wid})}
	e.logits = m.Forward(g, e.x, n, hgt, wid)
	g.Output(e.logits)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("PixelCNN %dx%d: %w", hgt, wid, err)
	}
	e.prog = prog
	m.evals[key] = e
	return e, nil
}

// run uploads the n images x of hgt×wid, runs the network and downloads
// the logits into out.
func (m *PixelCNN) run(x []float32, n, hgt, wid int, out []float32) error {
	e, err := m.program(n, hgt, wid)
	if err != nil {
		return err
	}
	xd := m.xDev.Slice(0, n, hgt*wid)
	if err := m.B.Upload(xd, x); err != nil {
		return fmt.Errorf("PixelCNN: %w", err)
	}
	if err := e.prog.Bind(e.x, xd); err != nil {
		return err
	}
	if err := e.prog.Run(m.Cfg.Seed, 0); err != nil {
		return fmt.Errorf("PixelCNN: %w", err)
	}
	if err := m.B.Download(out, e.prog.Mat(e.logits)); err != nil {
		return fmt.Errorf("PixelCNN: %w", err)
	}
	return nil
}

// Logits writes the logits of the binary images x (n×784) to out.
func (m *PixelCNN) Logits(x, out []float32) error {
	n := len(x) / D
	if n < 1 || len(x) != n*D || len(out) != len(x) {
		return fmt.Errorf("PixelCNN logits: %d values and %d outputs for %d-pixel images", len(x), len(out), D)
	}
	for lo := 0; lo < n; lo += evalChunk {
		k := min(evalChunk, n-lo)
		if err := m.run(x[lo*D:(lo+k)*D], k, Side, Side, out[lo*D:(lo+k)*D]); err != nil {
			return err
		}
	}
	return nil
}

// LogProb writes log p(x) in nats for each binary image of x (n×784) to
// out, summed in float64.
func (m *PixelCNN) LogProb(x []float32, out []float64) error {
	n := len(x) / D
	if n < 1 || len(x) != n*D || len(out) != n {
		return fmt.Errorf("PixelCNN log-likelihood: %d values and %d outputs for %d-pixel images", len(x), len(out), D)
	}
	logits := make([]float32, len(x))
	if err := m.Logits(x, logits); err != nil {
		return err
	}
	clear(out)
	autoreg.LogProbRows(x, logits, D, out)
	return nil
}

// LatentDim is one normal per pixel: the noise of the 784 sequential
// Bernoulli draws.
func (m *PixelCNN) LatentDim() int { return D }

// ImageShape is 1×28×28.
func (m *PixelCNN) ImageShape() (c, h, w int) { return 1, Side, Side }

// sampleChunk is the number of images drawn together.
const sampleChunk = 64

type sampleBufs struct {
	img, crop, logits []float32
}

// Generate draws n images pixel by pixel in raster order, pixel d of
// image i from the normal z[i·784+d]; out gets ±1.
func (m *PixelCNN) Generate(z, out []float32) error { return m.sample(z, nil, 0, out) }

// Complete keeps the first rows rows of each known image (values 0 or 1)
// and draws the rest.
func (m *PixelCNN) Complete(z, known []float32, rows int, out []float32) error {
	if rows < 0 || rows > Side || len(known) != len(z) {
		return fmt.Errorf("complete: %d known values for %d noise values, %d rows", len(known), len(z), rows)
	}
	return m.sample(z, known, rows, out)
}

// Window returns the crop the sampler evaluates for pixel (r, c): rows
// r0 … r, columns c0 … c0+w−1.
func (m *PixelCNN) Window(r, c int) (r0, c0, w int) {
	R := m.Reach()
	w = min(Side, 2*R+1)
	r0 = max(0, r-R)
	c0 = min(max(0, c-R), Side-w)
	return r0, c0, w
}

func (m *PixelCNN) sample(z, known []float32, rows int, out []float32) error {
	n := len(z) / D
	if len(z) != n*D || len(out) != n*D {
		return fmt.Errorf("generate: %d noise values and %d outputs for %d-pixel images", len(z), len(out), D)
	}
	s := &m.samples
	if s.img == nil {
		s.img = make([]float32, sampleChunk*D)
		s.crop = make([]float32, sampleChunk*D)
		s.logits = make([]float32, sampleChunk*D)
	}
	for lo := 0; lo < n; lo += sampleChunk {
		k := min(sampleChunk, n-lo)
		img := s.img[:k*D]
		clear(img)
		for r := range Side {
			if known != nil && r < rows {
				for i := range k {
					copy(img[i*D+r*Side:i*D+(r+1)*Side], known[(lo+i)*D+r*Side:(lo+i)*D+(r+1)*Side])
				}
				continue
			}
			for c := range Side {
				r0, c0, w := m.Window(r, c)
				hh := r - r0 + 1
				crop := s.crop[:k*hh*w]
				for i := range k {
					for y := range hh {
						copy(crop[(i*hh+y)*w:(i*hh+y+1)*w], img[i*D+(r0+y)*Side+c0:])
					}
				}
				lg := s.logits[:k*hh*w]
				if err := m.run(crop, k, hh, w, lg); err != nil {
					return err
				}
				for i := range k {
					img[i*D+r*Side+c] = autoreg.Draw(z[(lo+i)*D+r*Side+c], lg[(i*hh+hh-1)*w+c-c0])
				}
			}
		}
		for j, v := range img {
			out[lo*D+j] = 2*v - 1
		}
	}
	return nil
}
