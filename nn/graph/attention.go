package graph

import (
	"slices"
)

// The ops of attention and transformer MLPs: batched matrix products over
// blocks of rows and columns, the causal softmax of attention scores, and
// GELU.

// ---- batched matrix product

type batchMatMulOp struct {
	batch, heads int
	ta, tb       bool
}

func (o batchMatMulOp) name() string { return "batch_matmul" }

func (o batchMatMulOp) exec(p *Program, c *instr) {
	p.b.BatchMatMul(c.out, c.in[0], c.in[1], o.batch, o.heads, o.ta, o.tb, 0)
}

// grad: C_i = op(A_i)·op(B_i) block by block, so each block's gradients
// are MatMul's, and the blocks of the gradients sit where A's and B's do.
func (o batchMatMulOp) grad(g *Graph, n, dy *Node, _ []*Node, need []bool) []*Node {
	a, b := n.in[0], n.in[1]
	bmm := func(x, y *Node, ta, tb bool) *Node { return g.BatchMatMul(x, y, o.batch, o.heads, ta, tb) }
	out := make([]*Node, 2)
	if need[0] {
		if !o.ta {
			out[0] = bmm(dy, b, false, !o.tb) // dA = dC·op(B)ᵀ
		} else {
			out[0] = bmm(b, dy, o.tb, true) // dA = op(B)·dCᵀ
		}
	}
	if need[1] {
		if !o.tb {
			out[1] = bmm(a, dy, !o.ta, false) // dB = op(A)ᵀ·dC
		} else {
			out[1] = bmm(dy, a, true, o.ta) // dB = dCᵀ·op(A)
		}
	}
	return out
}

// BatchMatMul returns the batch·heads products op(A_i)·op(B_i) of the
// blocks of the matrices a and b (see nn.Backend's BatchMatMul): block
// (s, h) of a matrix is its s-th of batch row blocks and h-th of heads
// column blocks. For a [batch·m, heads·k] (after op on each block) and
// b [batch·k, heads·n] the result is [batch·m, heads·n]. Multi-head
// attention over sequences of T tokens with heads of size d, q, k and v
// being [batch·T, heads·d] column views of one projection:
//
//	s := g.BatchMatMul(q, k, batch, heads, false, true)   // [batch·T, heads·T]
//	p := g.CausalSoftmax(s, T, 1/float32(math.Sqrt(d)))
//	y := g.BatchMatMul(p, v, batch, heads, false, false)  // [batch·T, heads·d]
//
// a and b may be strided views.
func (g *Graph) BatchMatMul(a, b *Node, batch, heads int, ta, tb bool) *Node {
	const opName = "batch_matmul"
	if !g.check(opName, a, b) {
		return g.dead(Shape{1, 1})
	}
	if len(a.shape) != 2 || len(b.shape) != 2 {
		g.failf(opName, "operands %v and %v are not matrices", a.shape, b.shape)
		return g.dead(Shape{1, 1})
	}
	if batch < 1 || heads < 1 {
		g.failf(opName, "batch %d and heads %d must be at least 1", batch, heads)
		return g.dead(Shape{1, 1})
	}
	for _, x := range []*Node{a, b} {
		if x.shape[0]%batch != 0 || x.shape[1]%heads != 0 {
			g.failf(opName, "%v does not split into %d×%d blocks", x.shape, batch, heads)
			return g.dead(Shape{1, 1})
		}
	}
	m, k := a.shape[0]/batch, a.shape[1]/heads
	if ta {
		m, k = k, m
	}
	kb, n := b.shape[0]/batch, b.shape[1]/heads
	if tb {
		kb, n = n, kb
	}
	if k != kb {
		g.failf(opName, "blocks op(A) %dx%d · op(B) %dx%d: inner dimensions differ", m, k, kb, n)
		return g.dead(Shape{batch * m, heads * n})
	}
	return g.add(&Node{kind: kindOp, op: batchMatMulOp{batch, heads, ta, tb}, in: []*Node{a, b}, shape: Shape{batch * m, heads * n}})
}

// ---- causal softmax

type causalSoftmaxOp struct {
	t     int
	scale float32
}

func (o causalSoftmaxOp) name() string       { return "causal_softmax" }
func (o causalSoftmaxOp) alias() (int, bool) { return 0, false }
func (o causalSoftmaxOp) exec(p *Program, c *instr) {
	p.b.CausalSoftmax(c.out, c.in[0], o.t, o.scale)
}
func (o causalSoftmaxOp) grad(g *Graph, n, dy *Node, _ []*Node, _ []bool) []*Node {
	return []*Node{g.causalSoftmaxBackward(dy, n, o.t, o.scale)}
}

// CausalSoftmax returns the causal softmax of scale·x over the t×t blocks
// of the matrix x ([batch·t, heads·t]): row i of each block is the softmax
// of its columns j ≤ i, and exactly 0 in the columns j > i (see
// nn.Backend's CausalSoftmax). scale is 1/√d for attention scores.
func (g *Graph) CausalSoftmax(x *Node, t int, scale float32) *Node {
	const opName = "causal_softmax"
	if !g.check(opName, x) {
		return g.dead(x.shape)
	}
	if len(x.shape) != 2 || t < 1 || x.shape[0]%t != 0 || x.shape[1]%t != 0 {
		g.failf(opName, "%v does not split into %d×%d blocks", x.shape, t, t)
		return g.dead(x.shape)
	}
	if !(scale > 0 && scale <= 0x1.fffffep127) {
		g.failf(opName, "scale %g must be positive and finite", scale)
		return g.dead(x.shape)
	}
	return g.unary(causalSoftmaxOp{t, scale}, g.contig(x))
}

type causalSoftmaxBackwardOp struct {
	t     int
	scale float32
}

func (o causalSoftmaxBackwardOp) name() string       { return "causal_softmax_backward" }
func (o causalSoftmaxBackwardOp) alias() (int, bool) { return 0, false }
func (o causalSoftmaxBackwardOp) exec(p *Program, c *instr) {
	p.b.CausalSoftmaxBackward(c.out, c.in[0], c.in[1], o.t, o.scale)
}

// grad: dx = J·dy with J = scale·(diag(y) − y·yᵀ) per kept row segment,
// a symmetric matrix, so the gradient with respect to dy is J·dd: the op
// itself. The gradient with respect to y is not provided.
func (o causalSoftmaxBackwardOp) grad(g *Graph, n, dd *Node, _ []*Node, need []bool) []*Node {
	if need[1] {
		g.failf("causal_softmax_backward", "no gradient with respect to the softmax output (a third derivative of the scores)")
		return make([]*Node, 2)
	}
	return []*Node{g.causalSoftmaxBackward(dd, n.in[1], o.t, o.scale), nil}
}

// causalSoftmaxBackward returns the gradient of CausalSoftmax's input from
// dy and the output y.
func (g *Graph) causalSoftmaxBackward(dy, y *Node, t int, scale float32) *Node {
	if !g.check("causal_softmax_backward", dy, y) || !g.sameShape("causal_softmax_backward", dy, y) {
		return g.dead(y.shape)
	}
	return g.add(&Node{kind: kindOp, op: causalSoftmaxBackwardOp{t, scale}, in: []*Node{g.contig(dy), y}, shape: slices.Clone(y.shape)})
}

// ---- GELU

// invSqrt2Pi is 1/√(2π).
const invSqrt2Pi = 0.3989422804014327

// geluOp is y = GELU(x). Once its gradient is taken it has one aux
// output, d = GELU′(x): the forward pass computes both (GELUAndGrad) and
// the backward pass is the product dy ⊙ d, which is GELUBackward's result
// bit for bit, without computing the derivative a second time.
type geluOp struct{}

func (geluOp) name() string       { return "gelu" }
func (geluOp) alias() (int, bool) { return 0, false }
func (geluOp) exec(p *Program, c *instr) {
	if len(c.aux) > 0 {
		p.b.GELUAndGrad(c.out, c.aux[0], c.in[0])
		return
	}
	p.b.GELU(c.out, c.in[0])
}

// grad gives the node its aux output d (the first time) and returns
// dy ⊙ d; a gradient reaching d itself (a second derivative) goes on to
// x through GELU″(x) = φ(x)·(2 − x²), φ(x) = exp(−x²/2)/√(2π), built from
// Map and Mul.
func (geluOp) grad(g *Graph, n, dy *Node, daux []*Node, _ []bool) []*Node {
	if len(n.aux) == 0 {
		n.aux = []*Node{g.add(&Node{kind: kindOp, producer: n, shape: slices.Clone(n.shape)})}
	}
	dx := g.Mul(dy, n.aux[0])
	if len(daux) > 0 && daux[0] != nil {
		x2 := g.Square(n.in[0])
		phi := g.Scale(g.Exp(g.Scale(x2, -0.5)), invSqrt2Pi)
		dx = g.Add(dx, g.Mul(daux[0], g.Mul(phi, g.AddConst(g.Scale(x2, -1), 2))))
	}
	return []*Node{dx}
}

// GELU returns x·Φ(x) elementwise, Φ the standard normal CDF: PyTorch's
// default (exact, erf-based) GELU, the activation of a Transformer's MLP.
func (g *Graph) GELU(x *Node) *Node {
	if !g.check("gelu", x) {
		return g.dead(x.shape)
	}
	return g.unary(geluOp{}, g.contig(x))
}
