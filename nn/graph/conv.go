package graph

import (
	"fmt"
	"slices"

	"gan/nn"
)

// Convolutions are built from two primitives, [Graph.Im2Col] and
// [Graph.Col2Im], each the other's adjoint, and MatMul:
//
//	Conv2d:          y = Im2Col(x)·Wᵀ             (W is PyTorch's [out in kh kw] as [out, in·kh·kw])
//	ConvTranspose2d: y = Col2Im(x·W)              (W is PyTorch's [in out kh kw] as [in, out·kh·kw])
//
// with W's columns in the patch order of the images' layout: PyTorch's
// (c, ky, kx) for NCHW, (ky, kx, c) for channels-last images, where the
// patches are copies of each pixel's contiguous channels (kernelMatrix
// permutes the weight, an op on the small weight rather than on the large
// patch matrix); so their gradients, and the gradients of those (a WGAN-GP critic's
// penalty), follow from the two primitives' rules. Images between
// convolution layers are channels-last matrices, (N·H·W)×C (nn.NHWC): a
// convolution's product is already in that layout, a bias is a row added
// to every pixel, and a batch norm's per-channel statistics are column
// sums. Images at the model's edges are PyTorch's [N C H W] (nn.NCHW); a
// convolution reads them directly, and [Graph.ToNCHW] / [Graph.ToNHWC]
// convert.

// Image describes a node holding a batch of images: their count, channels
// and size, and the layout of the node's matrix.
type Image struct {
	N, C, H, W int
	Layout     nn.ImageLayout
}

// ImageOf describes the [N C H W] node x as NCHW images.
func ImageOf(x *Node) (Image, error) {
	s := x.Shape()
	if len(s) != 4 {
		return Image{}, fmt.Errorf("%v is not a batch of images [N C H W]", s)
	}
	return Image{N: s[0], C: s[1], H: s[2], W: s[3], Layout: nn.NCHW}, nil
}

// Shape is the node shape of the images: [N C H W] for NCHW, [N·H·W C]
// for NHWC.
func (im Image) Shape() Shape {
	if im.Layout == nn.NCHW {
		return Shape{im.N, im.C, im.H, im.W}
	}
	return Shape{im.N * im.H * im.W, im.C}
}

// String describes the images.
func (im Image) String() string {
	return fmt.Sprintf("%d×%d×%dx%d %v", im.N, im.C, im.H, im.W, im.Layout)
}

// geom is the geometry of a kernel k, stride s and padding p over im.
func (im Image) geom(kh, kw, sh, sw, ph, pw int) (nn.ConvGeom, error) {
	oh, err := nn.ConvOut(im.H, kh, sh, ph)
	if err != nil {
		return nn.ConvGeom{}, err
	}
	ow, err := nn.ConvOut(im.W, kw, sw, pw)
	if err != nil {
		return nn.ConvGeom{}, err
	}
	return nn.ConvGeom{N: im.N, C: im.C, H: im.H, W: im.W, KH: kh, KW: kw, SH: sh, SW: sw, PH: ph, PW: pw,
		OH: oh, OW: ow, Layout: im.Layout}, nil
}

type im2colOp struct{ g nn.ConvGeom }

func (o im2colOp) name() string              { return "im2col" }
func (o im2colOp) exec(p *Program, c *instr) { p.b.Im2Col(c.out, c.in[0], o.g) }
func (o im2colOp) grad(g *Graph, n, dy *Node, _ []*Node, _ []bool) []*Node {
	return []*Node{g.col2im(dy, o.g, n.in[0].shape)}
}

type col2imOp struct{ g nn.ConvGeom }

func (o col2imOp) name() string              { return "col2im" }
func (o col2imOp) exec(p *Program, c *instr) { p.b.Col2Im(c.out, c.in[0], o.g, 0) }
func (o col2imOp) grad(g *Graph, _, dy *Node, _ []*Node, _ []bool) []*Node {
	return []*Node{g.im2col(dy, o.g)}
}

// im2col adds the patches of the images x (shaped as geometry gm says).
func (g *Graph) im2col(x *Node, gm nn.ConvGeom) *Node {
	r, c := gm.ColsShape()
	if gm.WholeImage() { // a reshape
		return g.Reshape(x, Shape{r, c})
	}
	return g.add(&Node{kind: kindOp, op: im2colOp{gm}, in: []*Node{g.contig(x)}, shape: Shape{r, c}})
}

// col2im adds the images of shape whose patches are cols.
func (g *Graph) col2im(cols *Node, gm nn.ConvGeom, shape Shape) *Node {
	if gm.WholeImage() { // a reshape
		return g.Reshape(cols, shape)
	}
	return g.add(&Node{kind: kindOp, op: col2imOp{gm}, in: []*Node{g.contig(cols)}, shape: shape.clone()})
}

func (s Shape) clone() Shape { return append(Shape(nil), s...) }

// checkImage records an error unless x holds the images im.
func (g *Graph) checkImage(op string, x *Node, im Image) bool {
	if !g.check(op, x) {
		return false
	}
	r, c := x.shape.Mat()
	if im.N < 1 || im.C < 1 || im.H < 1 || im.W < 1 || r*c != im.N*im.C*im.H*im.W {
		g.failf(op, "input %v does not hold the images %v", x.shape, im)
		return false
	}
	if sr, _ := im.Shape().Mat(); sr != r {
		g.failf(op, "input %v does not hold the images %v (as %v)", x.shape, im, im.Shape())
		return false
	}
	return true
}

// Im2Col returns the (N·OH·OW)×(C·KH·KW) patches of the images x (see
// nn.Backend's Im2Col) for a kh×kw kernel with strides sh, sw and paddings
// ph, pw, and the grid's size.
func (g *Graph) Im2Col(x *Node, im Image, kh, kw, sh, sw, ph, pw int) (cols *Node, oh, ow int) {
	return g.im2colCropped(x, im, kh, kw, sh, sw, ph, pw, 0, 0, 0)
}

// im2colCropped is Im2Col with the grid cropped to oh×ow (0: uncropped)
// and the kernel to its first taps positions (0: all).
func (g *Graph) im2colCropped(x *Node, im Image, kh, kw, sh, sw, ph, pw, oh, ow, taps int) (cols *Node, gh, gw int) {
	if !g.checkImage("im2col", x, im) {
		return g.dead(Shape{1, 1}), 0, 0
	}
	gm, err := im.geom(kh, kw, sh, sw, ph, pw)
	if err == nil && (oh < 0 || oh > gm.OH || ow < 0 || ow > gm.OW) {
		err = fmt.Errorf("grid cropped to %dx%d: at most %dx%d", oh, ow, gm.OH, gm.OW)
	}
	if err != nil {
		g.failf("im2col", "images %v: %v", im, err)
		return g.dead(Shape{1, 1}), 0, 0
	}
	if oh > 0 {
		gm.OH = oh
	}
	if ow > 0 {
		gm.OW = ow
	}
	if taps > 0 && taps < kh*kw {
		gm.Taps = taps
	}
	return g.im2col(x, gm), gm.OH, gm.OW
}

// Col2Im returns the images im (in im's layout) whose kh×kw patches, with
// strides sh, sw and paddings ph, pw, sum to cols: the adjoint of Im2Col,
// and a transposed convolution's scatter of its products.
func (g *Graph) Col2Im(cols *Node, im Image, kh, kw, sh, sw, ph, pw int) *Node {
	if !g.check("col2im", cols) {
		return g.dead(im.Shape())
	}
	gm, err := im.geom(kh, kw, sh, sw, ph, pw)
	if err != nil {
		g.failf("col2im", "images %v: %v", im, err)
		return g.dead(im.Shape())
	}
	if r, c := gm.ColsShape(); cols.shape.Len() != r*c || cols.shape.Rows() != r {
		g.failf("col2im", "patches %v, the images %v need %dx%d", cols.shape, im, r, c)
		return g.dead(im.Shape())
	}
	return g.col2im(cols, gm, im.Shape())
}

// ToNHWC returns the images x (laid out as im says) channels-last, and
// their description; it costs nothing when they already are, or when the
// two layouts coincide (one channel, or 1×1 images).
func (g *Graph) ToNHWC(x *Node, im Image) (*Node, Image) {
	out := im
	out.Layout = nn.NHWC
	if im.Layout == nn.NHWC || im.C == 1 || im.H*im.W == 1 {
		if !g.checkImage("to_nhwc", x, im) {
			return g.dead(out.Shape()), out
		}
		return g.Reshape(x, out.Shape()), out
	}
	cols, _, _ := g.Im2Col(x, im, 1, 1, 1, 1, 0, 0)
	return g.Reshape(cols, out.Shape()), out
}

// ToNCHW returns the images x (laid out as im says) as PyTorch's [N C H W],
// and their description; free where the layouts coincide.
func (g *Graph) ToNCHW(x *Node, im Image) (*Node, Image) {
	out := im
	out.Layout = nn.NCHW
	if im.Layout == nn.NCHW || im.C == 1 || im.H*im.W == 1 {
		if !g.checkImage("to_nchw", x, im) {
			return g.dead(out.Shape()), out
		}
		return g.Reshape(x, out.Shape()), out
	}
	if !g.checkImage("to_nchw", x, im) {
		return g.dead(out.Shape()), out
	}
	// The NHWC matrix is the patch matrix of 1×1 patches of the NCHW image.
	return g.Col2Im(g.Reshape(x, Shape{im.N * im.H * im.W, im.C}), out, 1, 1, 1, 1, 0, 0), out
}

// Conv2d is PyTorch's conv2d of the images x (described by im) with the
// weight w [out in kh kw] and the bias b [out] (nil for none), stride
// (sh, sw) and zero padding (ph, pw), followed by the activation act. The
// result is channels-last.
func (g *Graph) Conv2d(x *Node, im Image, w, b *Node, sh, sw, ph, pw int, act nn.Act) (*Node, Image) {
	return g.Conv2dCropped(x, im, w, b, sh, sw, ph, pw, 0, 0, 0, act)
}

// Conv2dCropped is [Graph.Conv2d] with the output grid cropped to its
// first oh rows and ow columns (0: all of them), the patches past them not
// formed, and the kernel cut to its first taps positions in raster order
// (0: all of them; the weights of the others get no gradient). With ph
// rows of padding and a kernel of ph+1 rows it is a causal convolution
// that pads the images on top only, without a padded copy of them; the
// taps drop the tail of a raster mask (PixelCNN's), whose products would
// all be by zero weights.
func (g *Graph) Conv2dCropped(x *Node, im Image, w, b *Node, sh, sw, ph, pw, oh, ow, taps int, act nn.Act) (*Node, Image) {
	ws := w.Shape()
	if len(ws) != 4 || ws[1] != im.C {
		g.failf("conv2d", "weight %v for %d input channels (want [out %d kh kw])", ws, im.C, im.C)
		return g.dead(Shape{1, 1}), Image{}
	}
	if taps < 0 || taps > ws[2]*ws[3] {
		g.failf("conv2d", "taps %d of a %dx%d kernel", taps, ws[2], ws[3])
		return g.dead(Shape{1, 1}), Image{}
	}
	cols, oh, ow := g.im2colCropped(x, im, ws[2], ws[3], sh, sw, ph, pw, oh, ow, taps)
	out := Image{N: im.N, C: ws[0], H: oh, W: ow, Layout: nn.NHWC}
	if g.err != nil {
		return g.dead(out.Shape()), out
	}
	k := g.kernelMatrix(w, im.Layout)
	if taps > 0 && taps < ws[2]*ws[3] {
		if im.Layout == nn.NCHW { // columns (c, t): the first taps of each channel
			k = g.Reshape(g.Cols(g.Reshape(k, Shape{ws[0] * ws[1], ws[2] * ws[3]}), 0, taps), Shape{ws[0], ws[1] * taps})
		} else { // columns (t, c)
			k = g.Cols(k, 0, taps*ws[1])
		}
	}
	y := g.MatMul(cols, k, false, true)
	if b != nil || act.Kind != nn.ActNone {
		y = g.BiasAct(y, b, act)
	}
	return y, out
}

// kernelMatrix is the weight w [a b kh kw] (a Conv2d's [out in kh kw] or
// a ConvTranspose2d's [in out kh kw]) as the a×(b·kh·kw) matrix whose
// columns follow the patch order of layout (see nn.Backend's Im2Col):
// w itself for NCHW, and for NHWC w's [kh kw] planes turned channels-last,
// (ky, kx, b) — ToNHWC of w read as a batch of a images of b channels,
// free when b or kh·kw is 1.
//
// A weight's kernel matrix is made once per graph and layout and shared by
// every convolution with that weight node.
func (g *Graph) kernelMatrix(w *Node, layout nn.ImageLayout) *Node {
	key := kernelKey{w, layout}
	if k, ok := g.kernels[key]; ok {
		return k
	}
	ws := w.Shape()
	m := Shape{ws[0], ws[1] * ws[2] * ws[3]}
	var k *Node
	if layout == nn.NCHW {
		k = g.Reshape(w, m)
	} else {
		wl, _ := g.ToNHWC(w, Image{N: ws[0], C: ws[1], H: ws[2], W: ws[3], Layout: nn.NCHW})
		k = g.Reshape(wl, m)
	}
	if g.err == nil {
		if g.kernels == nil {
			g.kernels = map[kernelKey]*Node{}
		}
		g.kernels[key] = k
	}
	return k
}

// ConvTranspose2d is PyTorch's conv_transpose2d of the images x with the
// weight w [in out kh kw], bias b [out] (nil for none), stride (sh, sw),
// padding (ph, pw) and output padding (oph, opw), followed by act. The
// result is channels-last, of size (H−1)·s − 2p + k + op.
func (g *Graph) ConvTranspose2d(x *Node, im Image, w, b *Node, sh, sw, ph, pw, oph, opw int, act nn.Act) (*Node, Image) {
	ws := w.Shape()
	if len(ws) != 4 || ws[0] != im.C {
		g.failf("conv_transpose2d", "weight %v for %d input channels (want [%d out kh kw])", ws, im.C, im.C)
		return g.dead(Shape{1, 1}), Image{}
	}
	oh := (im.H-1)*sh - 2*ph + ws[2] + oph
	ow := (im.W-1)*sw - 2*pw + ws[3] + opw
	out := Image{N: im.N, C: ws[1], H: oh, W: ow, Layout: nn.NHWC}
	if oph < 0 || opw < 0 || oph >= max(sh, 1) || opw >= max(sw, 1) || oh < 1 || ow < 1 {
		g.failf("conv_transpose2d", "images %v, kernel %dx%d, stride %dx%d, padding %dx%d, output padding %dx%d give %dx%d",
			im, ws[2], ws[3], sh, sw, ph, pw, oph, opw, oh, ow)
		return g.dead(out.Shape()), out
	}
	xm, xin := g.ToNHWC(x, im)
	if g.err != nil {
		return g.dead(out.Shape()), out
	}
	prod := g.MatMul(xm, g.kernelMatrix(w, out.Layout), false, false)
	y := g.Col2Im(prod, out, ws[2], ws[3], sh, sw, ph, pw)
	if g.err == nil {
		// The grid of the adjoint convolution must be the input's size.
		if gm, err := out.geom(ws[2], ws[3], sh, sw, ph, pw); err != nil || gm.OH != xin.H || gm.OW != xin.W {
			g.failf("conv_transpose2d", "images %v and output %v do not match the kernel's geometry", im, out)
			return g.dead(out.Shape()), out
		}
	}
	if b != nil || act.Kind != nn.ActNone {
		y = g.BiasAct(y, b, act)
	}
	return y, out
}

// assignOp copies its input into a buffer parameter's storage.
type assignOp struct{ p *nn.Param }

func (o assignOp) name() string              { return "assign(" + o.p.Name + ")" }
func (o assignOp) exec(p *Program, c *instr) { p.b.Copy(o.p.Value, c.in[0]) }

// Assign appends the copy of value into the buffer p (a running statistic):
// every run performs it. Like an optimiser's update, it gives p a new
// version: nodes built afterwards read the new value, and reading the old
// node afterwards is an error.
func (g *Graph) Assign(p *nn.Param, value *Node) {
	if !g.check("assign", value) {
		return
	}
	if !p.Buffer {
		g.failf("assign", "%s is a trainable parameter (only buffers are assigned)", p.Name)
		return
	}
	if value.shape.Len() != p.Len() {
		g.failf("assign", "%v into %s of shape %v", value.shape, p.Name, p.Shape)
		return
	}
	n := g.add(&Node{kind: kindOp, op: assignOp{p}, in: []*Node{g.contig(value)}, shape: Shape{0}})
	g.versions[p]++
	g.updated[p] = n.id
	delete(g.params, p)
	g.updates = append(g.updates, n)
}

// BatchNormStats are the buffers of a batch norm: the running mean and
// variance ([C] each) and the number of batches seen ([] , int64 in
// PyTorch's state_dict). Momentum and Eps are PyTorch's (0.1, 1e-5).
type BatchNormStats struct {
	Mean, Var, Count *nn.Param
	Momentum, Eps    float32
}

// BatchNorm normalises each column of the M×C matrix x (C channels of
// channels-last pixels, or C features of a batch), as PyTorch's
// BatchNorm1d/2d: in training, by the batch's mean and biased variance,
// updating the running statistics (running = (1−momentum)·running +
// momentum·batch, the variance unbiased, M/(M−1)) and counting the batch;
// in evaluation, by the running statistics. gamma and beta ([C]; nil for
// affine=False) scale and shift the result. In training it is one fused
// backend op (BatchNorm, with BatchNormBackward as its gradient); in
// evaluation it is composed of graph ops.
func (g *Graph) BatchNorm(x, gamma, beta *Node, st BatchNormStats, train bool) *Node {
	if !g.check("batch_norm", x) {
		return g.dead(x.shape)
	}
	if len(x.shape) != 2 {
		g.failf("batch_norm", "input %v is not a matrix of channels", x.shape)
		return g.dead(x.shape)
	}
	m, c := x.shape[0], x.shape[1]
	if st.Mean == nil || st.Mean.Len() != c || st.Var == nil || st.Var.Len() != c {
		g.failf("batch_norm", "input %v: running statistics for %d channels needed", x.shape, c)
		return g.dead(x.shape)
	}
	row := Shape{1, c}
	if !train {
		mu := g.Reshape(g.Param(st.Mean), row)
		v := g.Reshape(g.Param(st.Var), row)
		xc := g.Sub(x, g.BroadcastRows(mu, x.shape))
		scale := g.Recip(g.Sqrt(g.AddConst(v, st.Eps)))
		if gamma != nil {
			scale = g.Mul(scale, g.Reshape(gamma, row))
		}
		y := g.Mul(xc, g.BroadcastRows(scale, x.shape))
		if beta != nil {
			y = g.BiasAct(y, beta, nn.Act{})
		}
		return y
	}
	if m < 2 {
		g.failf("batch_norm", "input %v: training needs more than one value per channel", x.shape)
		return g.dead(x.shape)
	}
	y, mu, v := g.batchNormTrain(x, gamma, beta, st.Eps)
	mom := st.Momentum
	g.Assign(st.Mean, g.Axpby(g.Reshape(g.Param(st.Mean), row), mu, 1-mom, mom))
	g.Assign(st.Var, g.Axpby(g.Reshape(g.Param(st.Var), row), g.Scale(v, float32(m)/float32(m-1)), 1-mom, mom))
	if st.Count != nil {
		g.Assign(st.Count, g.AddConst(g.Param(st.Count), 1))
	}
	return y
}

// batchNormOp is the training-mode batch norm of one backend call
// (nn.Backend's BatchNorm): its aux outputs are the batch's mean and
// biased variance, [1 C] each.
type batchNormOp struct {
	eps             float32
	hasGamma, hasBe bool
}

func (o batchNormOp) name() string { return "batch_norm" }
func (o batchNormOp) exec(p *Program, c *instr) {
	gamma, beta := affineOperands(c, o.hasGamma, o.hasBe)
	p.b.BatchNorm(c.out, c.aux[0], c.aux[1], c.in[0], gamma, beta, o.eps)
}

func (o batchNormOp) grad(g *Graph, n, dy *Node, daux []*Node, need []bool) []*Node {
	if daux[0] != nil || daux[1] != nil {
		g.failf("batch_norm", "its batch statistics have no gradient")
		return make([]*Node, len(n.in))
	}
	var gamma *Node
	if o.hasGamma {
		gamma = n.in[1]
	}
	dx, dgamma, dbeta := g.batchNormBackward(dy, n.in[0], n.aux[0], n.aux[1], gamma, o)
	return affineGrads(g, n, dx, dgamma, dbeta, o.hasGamma, o.hasBe, need)
}

// batchNormTrain normalises the columns of the M×C x by the batch's
// statistics (one fused op on the backend) and returns the result with
// the batch's mean and biased variance ([1 C] each, without gradients).
func (g *Graph) batchNormTrain(x, gamma, beta *Node, eps float32) (y, mean, variance *Node) {
	o := batchNormOp{eps: eps}
	x = g.contig(x)
	ins := []*Node{x}
	c := x.shape.Cols()
	if gamma != nil {
		o.hasGamma = true
		ins = append(ins, g.contig(g.Reshape(gamma, Shape{c})))
	}
	if beta != nil {
		o.hasBe = true
		ins = append(ins, g.contig(g.Reshape(beta, Shape{c})))
	}
	if !g.check("batch_norm", ins...) {
		return g.dead(x.shape), g.dead(Shape{1, c}), g.dead(Shape{1, c})
	}
	if !(eps > 0) {
		g.failf("batch_norm", "eps %g must be positive", eps)
		return g.dead(x.shape), g.dead(Shape{1, c}), g.dead(Shape{1, c})
	}
	n := g.add(&Node{kind: kindOp, op: o, in: ins, shape: slices.Clone(x.shape)})
	mean = g.add(&Node{kind: kindOp, producer: n, shape: Shape{1, c}})
	variance = g.add(&Node{kind: kindOp, producer: n, shape: Shape{1, c}})
	n.aux = []*Node{mean, variance}
	return n, mean, variance
}

type batchNormBackwardOp struct {
	eps      float32
	hasGamma bool
}

func (o batchNormBackwardOp) name() string { return "batch_norm_backward" }
func (o batchNormBackwardOp) exec(p *Program, c *instr) {
	var gamma nn.Mat
	if o.hasGamma {
		gamma = c.in[4]
	}
	var dg, db nn.Mat
	if len(c.aux) > 0 {
		dg, db = c.aux[0], c.aux[1]
	}
	p.b.BatchNormBackward(c.out, dg, db, c.in[0], c.in[1], c.in[2], c.in[3], gamma, o.eps)
}

// batchNormBackward returns dx and, when the norm is affine, dgamma and
// dbeta as [1 C] rows.
func (g *Graph) batchNormBackward(dy, x, mean, variance, gamma *Node, o batchNormOp) (dx, dgamma, dbeta *Node) {
	ins := []*Node{g.contig(dy), x, mean, variance}
	if o.hasGamma {
		ins = append(ins, gamma)
	}
	n := g.add(&Node{kind: kindOp, op: batchNormBackwardOp{o.eps, o.hasGamma}, in: ins, shape: slices.Clone(x.shape)})
	if o.hasGamma || o.hasBe {
		c := x.shape.Cols()
		dgamma = g.add(&Node{kind: kindOp, producer: n, shape: Shape{1, c}})
		dbeta = g.add(&Node{kind: kindOp, producer: n, shape: Shape{1, c}})
		n.aux = []*Node{dgamma, dbeta}
	}
	return n, dgamma, dbeta
}
