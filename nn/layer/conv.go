package layer

import (
	"math"

	"gan/nn"
	"gan/nn/graph"
)

// ImageModule is a layer that works on batches of images (convolutions,
// BatchNorm2d, Flatten): it takes the images' description with the node,
// and returns the description of its output (the zero Image once the
// output is no longer images, after Flatten). [Sequential] passes images
// between such layers channels-last and converts at its edges, so that a
// network maps PyTorch's [N C H W] to [N C H W].
type ImageModule interface {
	Module
	ForwardImage(ctx *Ctx, x *graph.Node, im graph.Image) (*graph.Node, graph.Image)
}

// imageForward applies an image module to a plain node, which must be
// [N C H W]; the result is [N C H W] again (or flat, after Flatten).
func imageForward(ctx *Ctx, m ImageModule, x *graph.Node, op string) *graph.Node {
	im, err := graph.ImageOf(x)
	if err != nil {
		ctx.G.Errorf(op, "%v", err)
		return x
	}
	y, out := m.ForwardImage(ctx, x, im)
	if out.N == 0 {
		return y
	}
	y, _ = ctx.G.ToNCHW(y, out)
	return y
}

// ---- Conv2d

// Conv2dLayer is PyTorch's nn.Conv2d (square kernel, equal strides and
// padding, no dilation or groups): weight [out in k k], optional bias
// [out].
type Conv2dLayer struct {
	In, Out, K, Stride, Pad int
	W, B                    *nn.Param // B nil without bias
}

// Conv2d is a convolution from in to out channels with a k×k kernel.
func Conv2d(in, out, k, stride, pad int, bias bool) Spec {
	return specFunc(func(ps *nn.ParamSet, name string) Module {
		l := &Conv2dLayer{In: in, Out: out, K: k, Stride: stride, Pad: pad, W: ps.Add(name+".weight", out, in, k, k)}
		if bias {
			l.B = ps.Add(name+".bias", out)
		}
		return l
	})
}

// Init is PyTorch's default: weight and bias uniform in ±1/√(in·k·k).
func (l *Conv2dLayer) Init(b nn.Backend, seed uint64) {
	bound := float32(1 / math.Sqrt(float64(l.In*l.K*l.K)))
	b.RandUniform(l.W.Value, -bound, bound, l.W.InitKey(seed))
	if l.B != nil {
		b.RandUniform(l.B.Value, -bound, bound, l.B.InitKey(seed))
	}
}

// Forward convolves the [N C H W] images x.
func (l *Conv2dLayer) Forward(ctx *Ctx, x *graph.Node) *graph.Node {
	return imageForward(ctx, l, x, "conv2d")
}

// ForwardImage convolves the images; the result is channels-last.
func (l *Conv2dLayer) ForwardImage(ctx *Ctx, x *graph.Node, im graph.Image) (*graph.Node, graph.Image) {
	return l.forwardAct(ctx, x, im, nn.Act{})
}

func (l *Conv2dLayer) forwardAct(ctx *Ctx, x *graph.Node, im graph.Image, act nn.Act) (*graph.Node, graph.Image) {
	var b *graph.Node
	if l.B != nil {
		b = ctx.G.Param(l.B)
	}
	return ctx.G.Conv2d(x, im, ctx.G.Param(l.W), b, l.Stride, l.Stride, l.Pad, l.Pad, act)
}

// ---- ConvTranspose2d

// ConvTranspose2dLayer is PyTorch's nn.ConvTranspose2d (square kernel,
// equal strides, padding and output padding): weight [in out k k],
// optional bias [out].
type ConvTranspose2dLayer struct {
	In, Out, K, Stride, Pad, OutPad int
	W, B                            *nn.Param
}

// ConvTranspose2d is a transposed convolution from in to out channels.
func ConvTranspose2d(in, out, k, stride, pad, outPad int, bias bool) Spec {
	return specFunc(func(ps *nn.ParamSet, name string) Module {
		l := &ConvTranspose2dLayer{In: in, Out: out, K: k, Stride: stride, Pad: pad, OutPad: outPad,
			W: ps.Add(name+".weight", in, out, k, k)}
		if bias {
			l.B = ps.Add(name+".bias", out)
		}
		return l
	})
}

// Init is PyTorch's default: uniform in ±1/√(out·k·k) (its fan-in is
// computed from the weight's second dimension).
func (l *ConvTranspose2dLayer) Init(b nn.Backend, seed uint64) {
	bound := float32(1 / math.Sqrt(float64(l.Out*l.K*l.K)))
	b.RandUniform(l.W.Value, -bound, bound, l.W.InitKey(seed))
	if l.B != nil {
		b.RandUniform(l.B.Value, -bound, bound, l.B.InitKey(seed))
	}
}

// Forward applies the layer to the [N C H W] images x.
func (l *ConvTranspose2dLayer) Forward(ctx *Ctx, x *graph.Node) *graph.Node {
	return imageForward(ctx, l, x, "conv_transpose2d")
}

// ForwardImage applies the layer; the result is channels-last.
func (l *ConvTranspose2dLayer) ForwardImage(ctx *Ctx, x *graph.Node, im graph.Image) (*graph.Node, graph.Image) {
	return l.forwardAct(ctx, x, im, nn.Act{})
}

func (l *ConvTranspose2dLayer) forwardAct(ctx *Ctx, x *graph.Node, im graph.Image, act nn.Act) (*graph.Node, graph.Image) {
	var b *graph.Node
	if l.B != nil {
		b = ctx.G.Param(l.B)
	}
	return ctx.G.ConvTranspose2d(x, im, ctx.G.Param(l.W), b, l.Stride, l.Stride, l.Pad, l.Pad, l.OutPad, l.OutPad, act)
}

// ---- BatchNorm

// BatchNormLayer is PyTorch's nn.BatchNorm1d (features, or a [N C]
// batch) and nn.BatchNorm2d (channels of images): weight γ and bias β
// [C], buffers running_mean, running_var [C] and num_batches_tracked []
// (int64 in the state_dict).
type BatchNormLayer struct {
	C             int
	Momentum, Eps float32
	W, B          *nn.Param
	Mean, Var     *nn.Param
	Count         *nn.Param
	images        bool
}

func batchNorm(c int, images bool) Spec {
	return specFunc(func(ps *nn.ParamSet, name string) Module {
		l := &BatchNormLayer{C: c, Momentum: 0.1, Eps: 1e-5, images: images,
			W: ps.Add(name+".weight", c), B: ps.Add(name+".bias", c),
			Mean: ps.AddBuffer(name+".running_mean", c), Var: ps.AddBuffer(name+".running_var", c),
			Count: ps.AddBuffer(name + ".num_batches_tracked")}
		l.Count.Int64 = true
		return l
	})
}

// BatchNorm1d normalises the c features of a batch.
func BatchNorm1d(c int) Spec { return batchNorm(c, false) }

// BatchNorm2d normalises the c channels of a batch of images.
func BatchNorm2d(c int) Spec { return batchNorm(c, true) }

// Init is PyTorch's default: γ = 1, β = 0, running mean 0, variance 1,
// count 0.
func (l *BatchNormLayer) Init(b nn.Backend, _ uint64) {
	b.Fill(l.W.Value, 1)
	b.Fill(l.B.Value, 0)
	b.Fill(l.Mean.Value, 0)
	b.Fill(l.Var.Value, 1)
	b.Fill(l.Count.Value, 0)
}

func (l *BatchNormLayer) stats() graph.BatchNormStats {
	return graph.BatchNormStats{Mean: l.Mean, Var: l.Var, Count: l.Count, Momentum: l.Momentum, Eps: l.Eps}
}

// Forward normalises the [N C] batch x (BatchNorm1d) or the [N C H W]
// images x (BatchNorm2d).
func (l *BatchNormLayer) Forward(ctx *Ctx, x *graph.Node) *graph.Node {
	if l.images {
		return imageForward(ctx, l, x, "batch_norm2d")
	}
	g := ctx.G
	if s := x.Shape(); len(s) != 2 || s[1] != l.C {
		g.Errorf("batch_norm1d", "input %v, want [N %d]", s, l.C)
		return x
	}
	return g.BatchNorm(x, g.Param(l.W), g.Param(l.B), l.stats(), ctx.Train)
}

// ForwardImage normalises each channel of the images (channels-last).
func (l *BatchNormLayer) ForwardImage(ctx *Ctx, x *graph.Node, im graph.Image) (*graph.Node, graph.Image) {
	g := ctx.G
	if im.C != l.C {
		g.Errorf("batch_norm2d", "images %v, want %d channels", im, l.C)
		return x, im
	}
	x, im = g.ToNHWC(x, im)
	return g.BatchNorm(x, g.Param(l.W), g.Param(l.B), l.stats(), ctx.Train), im
}

// ---- Flatten

// FlattenLayer is PyTorch's nn.Flatten: [N C H W] images to [N C·H·W]
// rows, channel-major (so that a following Linear has PyTorch's weight
// layout).
type FlattenLayer struct{}

// Flatten flattens images to rows.
func Flatten() Spec { return specFunc(func(*nn.ParamSet, string) Module { return FlattenLayer{} }) }

// Init does nothing.
func (FlattenLayer) Init(nn.Backend, uint64) {}

// Forward flattens x to rows.
func (FlattenLayer) Forward(ctx *Ctx, x *graph.Node) *graph.Node { return ctx.G.Flatten(x) }

// ForwardImage converts the images to NCHW and flattens them.
func (FlattenLayer) ForwardImage(ctx *Ctx, x *graph.Node, im graph.Image) (*graph.Node, graph.Image) {
	y, _ := ctx.G.ToNCHW(x, im)
	return ctx.G.Flatten(y), graph.Image{}
}

// ---- Unflatten

// UnflattenLayer is PyTorch's nn.Unflatten(1, (C, H, W)): rows of C·H·W
// values to [N C H W] images.
type UnflattenLayer struct{ C, H, W int }

// Unflatten views rows as c×h×w images.
func Unflatten(c, h, w int) Spec {
	return specFunc(func(*nn.ParamSet, string) Module { return UnflattenLayer{c, h, w} })
}

// Init does nothing.
func (UnflattenLayer) Init(nn.Backend, uint64) {}

// Forward reshapes x.
func (u UnflattenLayer) Forward(ctx *Ctx, x *graph.Node) *graph.Node {
	s := x.Shape()
	if s.Len() != s[0]*u.C*u.H*u.W {
		ctx.G.Errorf("unflatten", "%v is not rows of %dx%dx%d", s, u.C, u.H, u.W)
		return x
	}
	return ctx.G.Reshape(x, graph.Shape{s[0], u.C, u.H, u.W})
}
