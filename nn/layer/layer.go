// Package layer holds the layers models are made of, as builders on a
// [graph.Graph]: each registers its parameters under PyTorch's state_dict
// names when the network is made, initialises them as PyTorch does, and
// adds its ops to a graph when the network is applied to a node.
//
//	ps := nn.NewParamSetFrom(&streams)
//	d := layer.NewSequential(ps, "model",
//		layer.Linear(784, 1024), layer.LeakyReLU(0.2), layer.Dropout(0.3),
//		layer.Linear(1024, 1))
//	… ps.Alloc(b); d.Init(b, seed) …
//	logits := d.Forward(&layer.Ctx{G: g, Train: true, Slots: &slots}, x)
//
// The names are those of the same nn.Sequential in PyTorch ("model.0.weight",
// "model.3.bias"), so state_dicts move between the two.
package layer

import (
	"fmt"
	"math"

	"gan/nn"
	"gan/nn/graph"
)

// Ctx is what applying a network needs besides its input.
type Ctx struct {
	G *graph.Graph
	// Train switches dropout on (PyTorch's module.train()).
	Train bool
	// Slots numbers the random ops of the graph being built (each dropout
	// gets its own stream); one per graph, so that the numbering does not
	// depend on what else was built before.
	Slots *nn.StreamSlots
	// DropoutStream, when not nil, names the stream of the dropout at
	// position i of a Sequential's fused layer list instead (the seed GAN's
	// legacy layout, see nn/streams.go).
	DropoutStream func(i int) graph.Stream
}

// Module is a layer or a network of layers.
type Module interface {
	// Forward adds the module's ops on x to ctx.G and returns its output.
	Forward(ctx *Ctx, x *graph.Node) *graph.Node
	// Init draws the module's initial parameters as PyTorch's default
	// initialisation would (from each tensor's own stream).
	Init(b nn.Backend, seed uint64)
}

// Spec is a layer not yet built: [NewSequential] builds it under its name.
type Spec interface {
	build(ps *nn.ParamSet, name string) Module
}

type specFunc func(ps *nn.ParamSet, name string) Module

func (f specFunc) build(ps *nn.ParamSet, name string) Module { return f(ps, name) }

// ---- Linear

// LinearLayer is PyTorch's nn.Linear: y = x·Wᵀ + b with W of shape
// [out in].
type LinearLayer struct {
	In, Out int
	W, B    *nn.Param
}

// Linear is a fully connected layer from in to out features, with a bias.
func Linear(in, out int) Spec {
	return specFunc(func(ps *nn.ParamSet, name string) Module {
		return NewLinear(ps, name, in, out)
	})
}

// NewLinear registers a Linear layer's weight and bias in ps as
// name.weight and name.bias.
func NewLinear(ps *nn.ParamSet, name string, in, out int) *LinearLayer {
	return &LinearLayer{In: in, Out: out, W: ps.Add(name+".weight", out, in), B: ps.Add(name+".bias", out)}
}

// Init is PyTorch's default: W and b uniform in ±1/√in (kaiming_uniform_
// with a = √5 reduces to this bound).
func (l *LinearLayer) Init(b nn.Backend, seed uint64) {
	bound := float32(1 / math.Sqrt(float64(l.In)))
	b.RandUniform(l.W.Value, -bound, bound, l.W.InitKey(seed))
	b.RandUniform(l.B.Value, -bound, bound, l.B.InitKey(seed))
}

// Forward returns x·Wᵀ + b.
func (l *LinearLayer) Forward(ctx *Ctx, x *graph.Node) *graph.Node {
	return l.ForwardAct(ctx, x, nn.Act{})
}

// ForwardAct returns act(x·Wᵀ + b), the bias add and activation fused in
// one op.
func (l *LinearLayer) ForwardAct(ctx *Ctx, x *graph.Node, act nn.Act) *graph.Node {
	g := ctx.G
	x = g.Flatten(x)
	y := g.MatMul(x, g.Param(l.W), false, true)
	return g.BiasAct(y, g.Param(l.B), act)
}

// ---- activations

// Activation is an elementwise activation layer.
type Activation struct{ Act nn.Act }

// Forward returns act(x).
func (a *Activation) Forward(ctx *Ctx, x *graph.Node) *graph.Node { return ctx.G.Act(x, a.Act) }

// Init does nothing: an activation has no parameters.
func (a *Activation) Init(nn.Backend, uint64) {}

func act(a nn.Act) Spec {
	return specFunc(func(*nn.ParamSet, string) Module { return &Activation{a} })
}

// LeakyReLU is PyTorch's nn.LeakyReLU(slope).
func LeakyReLU(slope float32) Spec { return act(nn.Act{Kind: nn.ActLeakyReLU, Slope: slope}) }

// ReLU is PyTorch's nn.ReLU (a LeakyReLU of slope 0: negative inputs give
// −0, which compares equal to PyTorch's +0).
func ReLU() Spec { return act(nn.Act{Kind: nn.ActLeakyReLU, Slope: 0}) }

// Tanh is PyTorch's nn.Tanh.
func Tanh() Spec { return act(nn.Act{Kind: nn.ActTanh}) }

// Sigmoid is PyTorch's nn.Sigmoid.
func Sigmoid() Spec { return act(nn.Act{Kind: nn.ActSigmoid}) }

// ---- Dropout

// DropoutLayer is PyTorch's nn.Dropout(p): in training, each element is
// zeroed with probability P and the rest scaled by 1/(1−P); in evaluation
// it is the identity.
type DropoutLayer struct{ P float32 }

// Dropout is a dropout layer with drop probability p.
func Dropout(p float32) Spec {
	return specFunc(func(*nn.ParamSet, string) Module { return &DropoutLayer{P: p} })
}

// Forward applies a fresh mask in training mode.
func (d *DropoutLayer) Forward(ctx *Ctx, x *graph.Node) *graph.Node {
	return d.forward(ctx, x, -1)
}

func (d *DropoutLayer) forward(ctx *Ctx, x *graph.Node, pos int) *graph.Node {
	if !ctx.Train || d.P == 0 {
		return x
	}
	var s graph.Stream
	switch {
	case ctx.DropoutStream != nil && pos >= 0:
		s = ctx.DropoutStream(pos)
	case ctx.Slots != nil:
		s = graph.StepStream(nn.PurposeDropout, ctx.Slots.Next())
	default:
		panic("layer: a training-mode dropout needs Ctx.Slots")
	}
	return ctx.G.Dropout(x, d.P, s)
}

// Init does nothing.
func (d *DropoutLayer) Init(nn.Backend, uint64) {}

// ---- Embedding

// EmbeddingLayer is PyTorch's nn.Embedding: row i of the [n dim] weight
// is the vector of index i.
type EmbeddingLayer struct {
	N, Dim int
	W      *nn.Param
}

// Embedding is a lookup table of n vectors of dim elements.
func Embedding(n, dim int) Spec {
	return specFunc(func(ps *nn.ParamSet, name string) Module { return NewEmbedding(ps, name, n, dim) })
}

// NewEmbedding registers the table as name.weight.
func NewEmbedding(ps *nn.ParamSet, name string, n, dim int) *EmbeddingLayer {
	return &EmbeddingLayer{N: n, Dim: dim, W: ps.Add(name+".weight", n, dim)}
}

// Init is PyTorch's default: N(0, 1).
func (e *EmbeddingLayer) Init(b nn.Backend, seed uint64) {
	b.RandNormal(e.W.Value, 0, 1, e.W.InitKey(seed))
}

// Lookup returns the vectors of the indices ix, one row each.
func (e *EmbeddingLayer) Lookup(ctx *Ctx, ix *graph.Index) *graph.Node {
	return ctx.G.GatherRows(ctx.G.Param(e.W), ix)
}

// Forward is not defined for an embedding (its input is indices, not a
// node): use Lookup.
func (e *EmbeddingLayer) Forward(ctx *Ctx, _ *graph.Node) *graph.Node {
	panic("layer: Embedding takes indices: use Lookup")
}

// ---- LayerNorm

// LayerNormLayer is PyTorch's nn.LayerNorm over the last dimensions (all
// but the first): weight γ and bias β of the normalised shape, eps in the
// square root.
type LayerNormLayer struct {
	Shape []int
	Eps   float32
	W, B  *nn.Param // nil without elementwise_affine
}

// LayerNorm normalises over the trailing dimensions shape (PyTorch's
// normalized_shape), with γ and β.
func LayerNorm(eps float32, shape ...int) Spec {
	return specFunc(func(ps *nn.ParamSet, name string) Module {
		return &LayerNormLayer{Shape: shape, Eps: eps, W: ps.Add(name+".weight", shape...), B: ps.Add(name+".bias", shape...)}
	})
}

// Init is PyTorch's default: γ = 1, β = 0.
func (l *LayerNormLayer) Init(b nn.Backend, _ uint64) {
	if l.W != nil {
		b.Fill(l.W.Value, 1)
		b.Fill(l.B.Value, 0)
	}
}

// Forward normalises each row of x.
func (l *LayerNormLayer) Forward(ctx *Ctx, x *graph.Node) *graph.Node {
	g := ctx.G
	shape := x.Shape()
	flat := g.Flatten(x)
	var gamma, beta *graph.Node
	if l.W != nil {
		gamma, beta = g.Param(l.W), g.Param(l.B)
	}
	y := g.LayerNorm(flat, gamma, beta, l.Eps)
	if len(shape) != 2 {
		y = g.Reshape(y, shape)
	}
	return y
}

// ---- Sequential

// Sequential applies its layers one after another, like PyTorch's
// nn.Sequential: layer i's parameters are named prefix.i.*. A Linear
// followed by an activation is applied as one fused op.
type Sequential struct {
	Prefix string
	Layers []Module
}

// NewSequential builds the layers in ps under the names prefix.0,
// prefix.1, …
func NewSequential(ps *nn.ParamSet, prefix string, specs ...Spec) *Sequential {
	s := &Sequential{Prefix: prefix}
	for i, sp := range specs {
		s.Layers = append(s.Layers, sp.build(ps, fmt.Sprintf("%s.%d", prefix, i)))
	}
	return s
}

// Init initialises every layer.
func (s *Sequential) Init(b nn.Backend, seed uint64) {
	for _, l := range s.Layers {
		l.Init(b, seed)
	}
}

// Forward applies the layers in order. Positions in the fused layer list
// (a Linear and its activation count as one) name the legacy dropout
// streams of [Ctx.DropoutStream].
func (s *Sequential) Forward(ctx *Ctx, x *graph.Node) *graph.Node {
	return s.ForwardRange(ctx, x, 0, len(s.Layers))
}

// ForwardRange applies layers [lo, hi) only (a Linear at hi−1 is applied
// without the activation at hi): the classifier's feature space is the
// output of its first five layers.
func (s *Sequential) ForwardRange(ctx *Ctx, x *graph.Node, lo, hi int) *graph.Node {
	// im describes x while it holds images between image layers (N = 0
	// otherwise); they stay channels-last until a layer needs otherwise.
	var im graph.Image
	pos := 0
	for i := 0; i < hi; i++ {
		l := s.Layers[i]
		lin, isLin := l.(*LinearLayer)
		imgL, isImg := l.(ImageModule)
		var a nn.Act
		fused := false
		if (isLin || isConv(l)) && i+1 < hi {
			if next, ok := s.Layers[i+1].(*Activation); ok {
				a, fused = next.Act, true
			}
		}
		if i >= lo {
			restore := ctx.G.Scope(fmt.Sprintf("%s.%d", s.Prefix, i))
			_, elementwise := l.(*Activation)
			_, isDrop := l.(*DropoutLayer)
			switch {
			case isImg:
				if im.N == 0 {
					var err error
					if im, err = graph.ImageOf(x); err != nil {
						ctx.G.Errorf("sequential", "layer %s.%d takes images: %v", s.Prefix, i, err)
						restore()
						return x
					}
				}
				x, im = forwardImage(ctx, imgL, x, im, a)
			case im.N != 0 && !elementwise && !isDrop:
				// A layer of rows after images: PyTorch's [N C H W] for it.
				x, _ = ctx.G.ToNCHW(x, im)
				im = graph.Image{}
				fallthrough
			default:
				switch {
				case isLin:
					x = lin.ForwardAct(ctx, x, a)
				case isDrop:
					x = l.(*DropoutLayer).forward(ctx, x, pos)
				default:
					x = l.Forward(ctx, x)
				}
			}
			restore()
		}
		if fused {
			i++
		}
		pos++
	}
	if im.N != 0 {
		x, _ = ctx.G.ToNCHW(x, im)
	}
	return x
}

// isConv reports whether l is a convolution (which fuses a following
// activation, as Linear does).
func isConv(l Module) bool {
	switch l.(type) {
	case *Conv2dLayer, *ConvTranspose2dLayer:
		return true
	}
	return false
}

// forwardImage applies an image layer, with the fused activation a for a
// convolution.
func forwardImage(ctx *Ctx, l ImageModule, x *graph.Node, im graph.Image, a nn.Act) (*graph.Node, graph.Image) {
	switch c := l.(type) {
	case *Conv2dLayer:
		return c.forwardAct(ctx, x, im, a)
	case *ConvTranspose2dLayer:
		return c.forwardAct(ctx, x, im, a)
	}
	return l.ForwardImage(ctx, x, im)
}
