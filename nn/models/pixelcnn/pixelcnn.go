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
// --arch gated (Config.Arch "gated") is the Gated PixelCNN (van den Oord
// et al. 2016, "Conditional Image Generation with PixelCNN Decoders"),
// with its two stacks and no blind spot: a vertical stack that sees only
// the rows above (layer 0: a 3×7 convolution of the three rows above;
// then 2×3 convolutions of the vertical stack's row above and own row), a
// horizontal stack that sees the pixels left in the row (1×7 mask A, then
// 1×3 mask B, residual after layer 0) plus the vertical stack through a
// 1×1 link at each layer, and the gated activation tanh(f) ⊙ σ(g) on
// every convolution's 2h channels [f g]; the head reads the horizontal
// stack (h channels). --blocks counts the layers after layer 0.
//
// Sampling draws the 784 pixels in raster order, computing each layer at
// one pixel per step on the host (see fastsample.go).
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

// ArchGated is the --arch of the gated variant.
const ArchGated = "gated"

// DefaultConfig is h = 32, 5 blocks, Adam 1e-3, batch 64.
func DefaultConfig() model.Config {
	return model.Config{Model: Name, Epochs: 20, Batch: 64, LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		Seed: 1, Dataset: "mnist", Hidden: DefaultHidden, Blocks: DefaultBlocks}
}

func init() {
	model.Register(model.Family{
		Name:     Name,
		Summary:  "PixelCNN (van den Oord et al. 2016): 7x7 mask-A conv, residual blocks of 3x3 mask-B convs, Bernoulli logits on dynamically binarised MNIST, exact NLL (--hidden, --blocks; --arch gated: the Gated PixelCNN's vertical and horizontal stacks)",
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
	if c.Loss != "" || c.DLR != 0 {
		return fmt.Errorf("loss %q, d-lr %g: PixelCNN trains by maximum likelihood", c.Loss, c.DLR)
	}
	if c.Arch != "" && c.Arch != ArchGated {
		return fmt.Errorf("arch %q: PixelCNN's architectures are the default (residual ReLU blocks) and %q", c.Arch, ArchGated)
	}
	return nil
}

// conv is one convolution's parameters: weight [out in k k], bias [out],
// and the mask buffer of a masked one.
// K is the kernel's width, KH its height (K for the square kernels).
type conv struct {
	In, Out, K, KH int
	W, B, M        *nn.Param
}

func newConv(ps *nn.ParamSet, name string, in, out, k int, masked bool) *conv {
	return newConvHW(ps, name, in, out, k, k, masked)
}

func newConvHW(ps *nn.ParamSet, name string, in, out, kh, kw int, masked bool) *conv {
	c := &conv{In: in, Out: out, K: kw, KH: kh, W: ps.Add(name+".weight", out, in, kh, kw), B: ps.Add(name+".bias", out)}
	if masked {
		c.M = ps.AddBuffer(name+".mask", out, in, kh, kw)
	}
	return c
}

// RowMask returns the [out in 1 k] mask of a 1×k kernel: ones left of the
// centre, and at the centre for mask B (includeCentre).
func RowMask(out, in, k int, includeCentre bool) []float32 {
	m := make([]float32, out*in*k)
	for o := range out * in {
		for j := range k {
			if j < k/2 || (j == k/2 && includeCentre) {
				m[o*k+j] = 1
			}
		}
	}
	return m
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
	bound := float32(1 / math.Sqrt(float64(c.In*c.KH*c.K)))
	b.RandUniform(c.W.Value, -bound, bound, c.W.InitKey(seed))
	b.RandUniform(c.B.Value, -bound, bound, c.B.InitKey(seed))
	if c.M != nil && c.KH == 1 {
		return b.Upload(c.M.Value, RowMask(c.Out, c.In, c.K, !maskA))
	}
	if c.M != nil {
		return b.Upload(c.M.Value, Mask(c.Out, c.In, c.K, !maskA))
	}
	return nil
}

type block struct{ in, conv, out *conv }

// stackLayer is one layer of the gated stacks: the vertical convolution
// (3×7 over the three rows above for layer 0, 2×3 over the row above and
// its own row of the vertical stack after), the masked horizontal one
// (1×7 mask A, then 1×3 mask B), the 1×1 link from the vertical stack's
// pre-activation to the horizontal one, and (after layer 0) the
// horizontal stack's residual 1×1.
type stackLayer struct{ vconv, hconv, link, out *conv }

// PixelCNN is the model on one backend.
type PixelCNN struct {
	model.Base
	H, Blocks int
	gated     bool
	P         *nn.ParamSet
	Opt       *nn.Adam
	input     *conv
	blocks    []block
	stack     []stackLayer
	head0     *conv
	head1     *conv

	steps map[int]*stepProgram
	evals map[[3]int]*evalProgram
	xDev  nn.Mat
	stats []float64
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
		evals: map[[3]int]*evalProgram{}, stats: make([]float64, 1), gated: cfg.Arch == ArchGated}
	ps := nn.NewParamSetFrom(&nn.InitStreams{})
	m.P = ps
	headIn := 2 * h
	if m.gated {
		headIn = h
		m.stack = append(m.stack, stackLayer{vconv: newConvHW(ps, "stack.0.vconv", 1, 2*h, 3, 7, false),
			hconv: newConvHW(ps, "stack.0.hconv", 1, 2*h, 1, 7, true), link: newConv(ps, "stack.0.link", 2*h, 2*h, 1, false)})
		for i := 1; i <= nb; i++ {
			p := fmt.Sprintf("stack.%d.", i)
			m.stack = append(m.stack, stackLayer{vconv: newConvHW(ps, p+"vconv", h, 2*h, 2, 3, false),
				hconv: newConvHW(ps, p+"hconv", h, 2*h, 1, 3, true), link: newConv(ps, p+"link", 2*h, 2*h, 1, false),
				out: newConv(ps, p+"out", h, h, 1, false)})
		}
	} else {
		m.input = newConv(ps, "input", 1, 2*h, 7, true)
		for i := range nb {
			p := fmt.Sprintf("blocks.%d.", i)
			m.blocks = append(m.blocks, block{newConv(ps, p+"in", 2*h, h, 1, false), newConv(ps, p+"conv", h, h, 3, true),
				newConv(ps, p+"out", h, 2*h, 1, false)})
		}
	}
	m.head0 = newConv(ps, "head.0", headIn, HeadChannels, 1, false)
	m.head1 = newConv(ps, "head.1", HeadChannels, 1, 1, false)
	if err := ps.Alloc(b); err != nil {
		return nil, fmt.Errorf("PixelCNN: %w", err)
	}
	var err error
	if m.Opt, err = nn.NewAdam(b, ps, cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps); err != nil {
		m.Free()
		return nil, err
	}
	if m.input != nil {
		err = m.input.init(b, cfg.Seed, true)
	}
	for i, l := range m.stack {
		for _, c := range []*conv{l.vconv, l.hconv, l.link, l.out} {
			if c != nil && err == nil {
				err = c.init(b, cfg.Seed, i == 0)
			}
		}
	}
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

// fullKernels (for benchmarks only) makes masked convolutions use every
// kernel row.
var fullKernels = false

// masked is the masked convolution of the images x (described by im),
// with mask B (includeCentre) or A. The rows of a raster mask below its
// centre are all zero, so only the kernel's top K/2+1 rows are used, on
// the images padded with K/2 zero rows on top and none below (the grid of
// K/2 rows of padding on both sides, cropped to the image's size), and of
// the centre row only the taps left of the centre (and the centre for
// mask B): the same sums without the products by masked weights (5 taps
// of 3×3, 24 of 7×7). The weight and mask stay [out in K K] (the
// checkpoint's and PyTorch's shape); the unused taps get a zero gradient,
// as masked taps do.
func (c *conv) masked(g *graph.Graph, x *graph.Node, im graph.Image, includeCentre bool, act nn.Act) (*graph.Node, graph.Image) {
	ctr := c.K / 2
	w := g.Mul(g.Param(c.W), g.Param(c.M))
	if fullKernels {
		return g.Conv2d(x, im, w, g.Param(c.B), 1, 1, ctr, ctr, act)
	}
	w = g.Cols(g.Reshape(w, graph.Shape{c.Out * c.In, c.K * c.K}), 0, (ctr+1)*c.K)
	w = g.Reshape(w, graph.Shape{c.Out, c.In, ctr + 1, c.K})
	taps := ctr*c.K + ctr // mask A: the rows above and the pixels left
	if includeCentre {
		taps++
	}

	return g.Conv2dCropped(x, im, w, g.Param(c.B), 1, 1, ctr, ctr, im.H, im.W, taps, act)
}

// gate is tanh(f) ⊙ σ(g) of the channels-last [f g] (2h columns).
func (m *PixelCNN) gate(g *graph.Graph, fg *graph.Node) *graph.Node {
	return g.Mul(g.Act(g.Cols(fg, 0, m.H), nn.Act{Kind: nn.ActTanh}), g.Act(g.Cols(fg, m.H, m.H), nn.Act{Kind: nn.ActSigmoid}))
}

// padRows returns the images x (channels-last, or one channel) with top
// zero rows added above and their last drop rows removed, and their
// description.
func padRows(g *graph.Graph, x *graph.Node, im graph.Image, top, drop int) (*graph.Node, graph.Image) {
	row := im.W * im.C
	xs := g.Reshape(x, graph.Shape{im.N, im.H * row})
	if drop > 0 {
		xs = g.Cols(xs, 0, (im.H-drop)*row)
	}
	xs = g.ConcatCols(g.Const(graph.Shape{im.N, top * row}, 0), xs)
	out := im
	out.H += top - drop
	return g.Reshape(xs, out.Shape()), out
}

// forwardStacks is the gated network's forward on the images x: the
// vertical stack v sees only the rows above (layer 0's 3×7 convolution
// reads rows r−3 … r−1; each later 2×3 one reads v at rows r−1 and r),
// the horizontal stack the pixels left of (r, c) in its row (1×7 mask A,
// then 1×3 mask B) plus, through the 1×1 links, the vertical stack at
// (r, c): together every pixel before (r, c), with no blind spot.
func (m *PixelCNN) forwardStacks(g *graph.Graph, x *graph.Node, im graph.Image) *graph.Node {
	n, hgt, wid := im.N, im.H, im.W
	xv, xvi := padRows(g, x, im, 3, 1)
	l0 := m.stack[0]
	vf, _ := g.Conv2d(xv, xvi, g.Param(l0.vconv.W), g.Param(l0.vconv.B), 1, 1, 0, 3, nn.Act{})
	hf, _ := g.Conv2d(x, im, g.Mul(g.Param(l0.hconv.W), g.Param(l0.hconv.M)), g.Param(l0.hconv.B), 1, 1, 0, 3, nn.Act{})
	hs := m.gate(g, g.Add(hf, l0.link.pointwise(g, vf, nn.Act{})))
	v := m.gate(g, vf)
	sim := graph.Image{N: n, C: m.H, H: hgt, W: wid, Layout: nn.NHWC}
	for i, l := range m.stack[1:] {
		if i > 0 {
			v = m.gate(g, vf)
		}
		vp, vpi := padRows(g, v, sim, 1, 0)
		vf, _ = g.Conv2d(vp, vpi, g.Param(l.vconv.W), g.Param(l.vconv.B), 1, 1, 0, 1, nn.Act{})
		hf, _ := g.Conv2d(hs, sim, g.Mul(g.Param(l.hconv.W), g.Param(l.hconv.M)), g.Param(l.hconv.B), 1, 1, 0, 1, nn.Act{})
		hs = g.Add(hs, l.out.pointwise(g, m.gate(g, g.Add(hf, l.link.pointwise(g, vf, nn.Act{}))), nn.Act{}))
	}
	t := m.head0.pointwise(g, g.Act(hs, relu), relu)
	return g.Reshape(m.head1.pointwise(g, t, nn.Act{}), graph.Shape{n, hgt * wid})
}

// pointwise is a 1×1 convolution of channels-last pixels: a product with
// the [out in] weight.
func (c *conv) pointwise(g *graph.Graph, x *graph.Node, act nn.Act) *graph.Node {
	y := g.MatMul(x, g.Reshape(g.Param(c.W), graph.Shape{c.Out, c.In}), false, true)
	return g.BiasAct(y, g.Param(c.B), act)
}

// Forward adds the network on the n binary images x ([n 1 hgt wid] or
// [n hgt·wid]) and returns the logits, [n hgt·wid] in raster order. Any
// image size works (the causality and gradient tests use small ones).
func (m *PixelCNN) Forward(g *graph.Graph, x *graph.Node, n, hgt, wid int) *graph.Node {
	x = g.Reshape(x, graph.Shape{n, 1, hgt, wid})
	im := graph.Image{N: n, C: 1, H: hgt, W: wid, Layout: nn.NCHW}
	if m.gated {
		return m.forwardStacks(g, x, im)
	}
	y, _ := m.input.masked(g, x, im, false, nn.Act{})
	for _, bl := range m.blocks {
		t := bl.in.pointwise(g, g.Act(y, relu), relu)
		im := graph.Image{N: n, C: m.H, H: hgt, W: wid, Layout: nn.NHWC}
		t, _ = bl.conv.masked(g, t, im, true, relu)
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

// Generate draws n images pixel by pixel in raster order, pixel d of
// image i from the normal z[i·784+d]; out gets ±1.
func (m *PixelCNN) Generate(z, out []float32) error { return m.sample(z, nil, 0, out, nil) }

// Complete keeps the first rows rows of each known image (values 0 or 1)
// and draws the rest.
func (m *PixelCNN) Complete(z, known []float32, rows int, out []float32) error {
	if rows < 0 || rows > Side || len(known) != len(z) {
		return fmt.Errorf("complete: %d known values for %d noise values, %d rows", len(known), len(z), rows)
	}
	return m.sample(z, known, rows, out, nil)
}
