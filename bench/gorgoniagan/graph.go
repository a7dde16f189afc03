package gorgoniagan

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// leakySlope is the negative slope of every LeakyReLU of the seed GAN.
const leakySlope = 0.2

// stepGraphs holds the two Gorgonia graphs of one seed-GAN training step.
//
// The D-step graph takes the concatenated batch x = [real; fake] (2B rows,
// the fake rows already computed, i.e. detached) and differentiates d_loss
// with respect to D's parameters. The G-step graph runs z through G and then
// through D and differentiates g_loss with respect to G's parameters only;
// its D parameter nodes are plain inputs bound to the very same tensors as
// the D-step graph's learnable nodes, so an in-place optimiser update of D
// is seen by the G step without copying.
//
// Linear layers are stored transposed, as In×Out matrices Wt with
// y = x·Wt + b (b is 1×Out, broadcast over the rows): this is PyTorch's
// y = x·Wᵀ + b without a transpose op in the graph. Conversion to and from
// PyTorch's Out×In layout happens only at the API boundary.
type stepGraphs struct {
	dt           tensor.Dtype
	batch        int
	gDims, dDims []int // layer widths: gDims[0] = nz, dDims[0] = nx, dDims[4] = 1

	// D step.
	dg             *G.ExprGraph
	x              *G.Node // 2B×nx: rows [0,B) real, [B,2B) fake
	maskD1, maskD2 *G.Node // 2B×dDims[1], 2B×dDims[2]
	dParams        []*G.Node
	dLogits        *G.Node // 2B×1
	dLoss          *G.Node // scalar

	// G step.
	gg             *G.ExprGraph
	z              *G.Node // B×nz
	maskG1, maskG2 *G.Node // B×dDims[1], B×dDims[2]
	gParams        []*G.Node
	gdParams       []*G.Node // D's parameters inside the G-step graph (not learnable)
	fake           *G.Node   // B×nx, G(z)
	gLogits        *G.Node   // B×1
	gLoss          *G.Node   // scalar

	// Copies of results, taken by Read nodes at the point of the program
	// where each is computed (a node's own bound value may share a register
	// that a later instruction of the tape reuses).
	fakeV, dLogitsV, dLossV, gLossV G.Value
}

// paramShape returns the shape of parameter tensor k (W0, b0, W1, b1, …) of
// an MLP with layer widths dims, in the graph's transposed layout.
func paramShape(dims []int, k int) (rows, cols int) {
	l := k / 2
	if k%2 == 0 {
		return dims[l], dims[l+1]
	}
	return 1, dims[l+1]
}

// newParams creates the 2·(len(dims)−1) parameter nodes of an MLP in graph g,
// bound to zeroed tensors, or to the tensors of share when it is not nil.
func newParams(g *G.ExprGraph, dt tensor.Dtype, prefix string, dims []int, share []*G.Node) []*G.Node {
	n := 2 * (len(dims) - 1)
	ps := make([]*G.Node, n)
	for k := range ps {
		r, c := paramShape(dims, k)
		name := fmt.Sprintf("%s.W%d", prefix, k/2)
		if k%2 == 1 {
			name = fmt.Sprintf("%s.b%d", prefix, k/2)
		}
		var v G.Value
		if share != nil {
			v = share[k].Value()
		} else {
			v = tensor.New(tensor.Of(dt), tensor.WithShape(r, c))
		}
		ps[k] = G.NewMatrix(g, dt, G.WithShape(r, c), G.WithName(name), G.WithValue(v))
	}
	return ps
}

// newInput creates a rows×cols input node bound to a zeroed tensor.
func newInput(g *G.ExprGraph, dt tensor.Dtype, name string, rows, cols int) *G.Node {
	return G.NewMatrix(g, dt, G.WithShape(rows, cols), G.WithName(name),
		G.WithValue(tensor.New(tensor.Of(dt), tensor.WithShape(rows, cols))))
}

// linear returns x·Wt + b.
func linear(x, wt, b *G.Node) (*G.Node, error) {
	y, err := G.Mul(x, wt)
	if err != nil {
		return nil, fmt.Errorf("linear: matmul: %w", err)
	}
	y, err = G.BroadcastAdd(y, b, nil, []byte{0})
	if err != nil {
		return nil, fmt.Errorf("linear: bias: %w", err)
	}
	return y, nil
}

// generator returns G(z): three Linear+LeakyReLU(0.2) layers, then Linear+Tanh.
func generator(z *G.Node, p []*G.Node) (*G.Node, error) {
	h := z
	nl := len(p) / 2
	for l := 0; l < nl; l++ {
		var err error
		if h, err = linear(h, p[2*l], p[2*l+1]); err != nil {
			return nil, fmt.Errorf("generator layer %d: %w", l, err)
		}
		if l < nl-1 {
			h, err = G.LeakyRelu(h, leakySlope)
		} else {
			h, err = G.Tanh(h)
		}
		if err != nil {
			return nil, fmt.Errorf("generator layer %d: activation: %w", l, err)
		}
	}
	return h, nil
}

// discriminator returns D's logits (n×1): three Linear+LeakyReLU(0.2) layers,
// the first two followed by dropout with the explicit masks m1 and m2
// (values 0 or 1/(1−p)), then a Linear layer without activation.
func discriminator(x, m1, m2 *G.Node, p []*G.Node) (*G.Node, error) {
	h := x
	masks := []*G.Node{m1, m2}
	nl := len(p) / 2
	for l := 0; l < nl; l++ {
		var err error
		if h, err = linear(h, p[2*l], p[2*l+1]); err != nil {
			return nil, fmt.Errorf("discriminator layer %d: %w", l, err)
		}
		if l == nl-1 {
			break
		}
		if h, err = G.LeakyRelu(h, leakySlope); err != nil {
			return nil, fmt.Errorf("discriminator layer %d: activation: %w", l, err)
		}
		if l < len(masks) {
			if h, err = G.HadamardProd(h, masks[l]); err != nil {
				return nil, fmt.Errorf("discriminator layer %d: dropout: %w", l, err)
			}
		}
	}
	return h, nil
}

// meanSoftplus returns mean(softplus(sign·x)). With sign = −1 it is the mean
// BCE of logits x against target 1, with sign = +1 against target 0.
func meanSoftplus(x *G.Node, negate bool) (*G.Node, error) {
	var err error
	if negate {
		if x, err = G.Neg(x); err != nil {
			return nil, fmt.Errorf("bce: negate: %w", err)
		}
	}
	sp, err := G.Softplus(x)
	if err != nil {
		return nil, fmt.Errorf("bce: softplus: %w", err)
	}
	m, err := G.Mean(sp)
	if err != nil {
		return nil, fmt.Errorf("bce: mean: %w", err)
	}
	return m, nil
}

// rows returns rows [from, to) of the 2-D node n.
func rows(n *G.Node, from, to int) (*G.Node, error) {
	return G.Slice(n, G.S(from, to))
}

// newStepGraphs builds both graphs for a batch of b rows, element type dt,
// generator widths gDims and discriminator widths dDims (5 widths each,
// gDims[4] = dDims[0], dDims[4] = 1), including the symbolic gradients.
func newStepGraphs(dt tensor.Dtype, b int, gDims, dDims []int) (*stepGraphs, error) {
	s := &stepGraphs{dt: dt, batch: b, gDims: gDims, dDims: dDims}
	nx := dDims[0]

	// D step: d_loss = BCE(D(real), 1) + BCE(D(fake), 0) on x = [real; fake].
	s.dg = G.NewGraph()
	s.x = newInput(s.dg, dt, "x", 2*b, nx)
	s.maskD1 = newInput(s.dg, dt, "maskD1", 2*b, dDims[1])
	s.maskD2 = newInput(s.dg, dt, "maskD2", 2*b, dDims[2])
	s.dParams = newParams(s.dg, dt, "D", dDims, nil)
	var err error
	if s.dLogits, err = discriminator(s.x, s.maskD1, s.maskD2, s.dParams); err != nil {
		return nil, fmt.Errorf("D step: %w", err)
	}
	realLogits, err := rows(s.dLogits, 0, b)
	if err != nil {
		return nil, fmt.Errorf("D step: real rows: %w", err)
	}
	fakeLogits, err := rows(s.dLogits, b, 2*b)
	if err != nil {
		return nil, fmt.Errorf("D step: fake rows: %w", err)
	}
	lossReal, err := meanSoftplus(realLogits, true)
	if err != nil {
		return nil, fmt.Errorf("D step: real loss: %w", err)
	}
	lossFake, err := meanSoftplus(fakeLogits, false)
	if err != nil {
		return nil, fmt.Errorf("D step: fake loss: %w", err)
	}
	if s.dLoss, err = G.Add(lossReal, lossFake); err != nil {
		return nil, fmt.Errorf("D step: loss: %w", err)
	}
	if _, err = G.Grad(s.dLoss, s.dParams...); err != nil {
		return nil, fmt.Errorf("D step: gradients: %w", err)
	}

	// G step: g_loss = BCE(D(G(z)), 1), differentiated with respect to G only.
	s.gg = G.NewGraph()
	s.z = newInput(s.gg, dt, "z", b, gDims[0])
	s.maskG1 = newInput(s.gg, dt, "maskG1", b, dDims[1])
	s.maskG2 = newInput(s.gg, dt, "maskG2", b, dDims[2])
	s.gParams = newParams(s.gg, dt, "G", gDims, nil)
	s.gdParams = newParams(s.gg, dt, "D", dDims, s.dParams)
	if s.fake, err = generator(s.z, s.gParams); err != nil {
		return nil, fmt.Errorf("G step: %w", err)
	}
	if s.gLogits, err = discriminator(s.fake, s.maskG1, s.maskG2, s.gdParams); err != nil {
		return nil, fmt.Errorf("G step: %w", err)
	}
	if s.gLoss, err = meanSoftplus(s.gLogits, true); err != nil {
		return nil, fmt.Errorf("G step: loss: %w", err)
	}
	if _, err = G.Grad(s.gLoss, s.gParams...); err != nil {
		return nil, fmt.Errorf("G step: gradients: %w", err)
	}

	G.Read(s.dLogits, &s.dLogitsV)
	G.Read(s.dLoss, &s.dLossV)
	G.Read(s.fake, &s.fakeV)
	G.Read(s.gLoss, &s.gLossV)
	return s, nil
}

// valueData returns the backing slice of v, which must be a dense tensor of
// float32 or float64.
func valueData(name string, v G.Value) (any, error) {
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%s: value is %T, not a dense tensor", name, v)
	}
	return t.Data(), nil
}

// nodeData returns the backing slice of the value bound to n, which must be
// a dense tensor of float32 or float64.
func nodeData(n *G.Node) (any, error) {
	return valueData("node "+n.Name(), n.Value())
}

// gradData returns the backing slice of n's gradient, bound by the machine.
func gradData(n *G.Node) (any, error) {
	g, err := n.Grad()
	if err != nil {
		return nil, fmt.Errorf("node %s: gradient: %w", n.Name(), err)
	}
	t, ok := g.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("node %s: gradient is %T, not a dense tensor", n.Name(), g)
	}
	return t.Data(), nil
}
