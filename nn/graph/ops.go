package graph

import (
	"fmt"
	"slices"

	"gan/nn"
)

// op is the kind of a computed node: one backend op (or a short fixed
// sequence of them) with its attributes.
type op interface {
	// name is the op's name in errors.
	name() string
	// exec queues the op on the program's backend; c holds the matrices of
	// the node's output, aux outputs and inputs.
	exec(p *Program, c *instr)
}

// gradder is an op that can be differentiated. grad returns, for each
// input of n, the contribution of n to that input's gradient (nil where
// there is none or the input needs none: need[i] says which are needed),
// given the gradient dy of n's output and daux of its aux outputs (nil
// entries where none flows).
type gradder interface {
	grad(g *Graph, n *Node, dy *Node, daux []*Node, need []bool) []*Node
}

// aliaser is an op whose output may share the buffer of its input number
// input when that input is not read afterwards. required ops (BiasAct,
// which the backends run in place) get a copy of the input when it cannot
// be shared.
type aliaser interface {
	alias() (input int, required bool)
}

// packer is an op whose output and first aux output are written as one
// block (the 1×2 stats of a fused loss).
type packer interface {
	packed() bool
}

// unary builds a node of op on x with x's shape.
func (g *Graph) unary(o op, x *Node) *Node {
	return g.add(&Node{kind: kindOp, op: o, in: []*Node{x}, shape: slices.Clone(x.shape)})
}

// contig returns x, or a contiguous copy of it when it is a strided view
// (for ops that do not take strided operands).
func (g *Graph) contig(x *Node) *Node {
	if x.contiguous() {
		return x
	}
	return g.Copy(x)
}

// sameShape records an error for op unless all nodes have one shape.
func (g *Graph) sameShape(opName string, ns ...*Node) bool {
	for _, n := range ns[1:] {
		if !n.shape.Equal(ns[0].shape) {
			g.failf(opName, "shapes %v and %v differ", ns[0].shape, n.shape)
			return false
		}
	}
	return true
}

// ---- matrix product

type matmulOp struct{ ta, tb bool }

func (o matmulOp) name() string { return "matmul" }

func (o matmulOp) exec(p *Program, c *instr) { p.b.MatMul(c.out, c.in[0], c.in[1], o.ta, o.tb, 0) }

// grad: C = op(A)·op(B).
func (o matmulOp) grad(g *Graph, n, dy *Node, _ []*Node, need []bool) []*Node {
	a, b := n.in[0], n.in[1]
	out := make([]*Node, 2)
	if need[0] {
		if !o.ta {
			out[0] = g.MatMul(dy, b, false, !o.tb) // dA = dC·op(B)ᵀ
		} else {
			out[0] = g.MatMul(b, dy, o.tb, true) // dA = op(B)·dCᵀ
		}
	}
	if need[1] {
		if !o.tb {
			out[1] = g.MatMul(a, dy, !o.ta, false) // dB = op(A)ᵀ·dC
		} else {
			out[1] = g.MatMul(dy, a, true, o.ta) // dB = dCᵀ·op(A)
		}
	}
	return out
}

// MatMul returns op(a)·op(b), where op transposes when ta (tb) is set; a
// and b are matrices ([m k] and [k n] after op).
func (g *Graph) MatMul(a, b *Node, ta, tb bool) *Node {
	if !g.check("matmul", a, b) {
		return g.dead(Shape{1, 1})
	}
	if len(a.shape) != 2 || len(b.shape) != 2 {
		g.failf("matmul", "operands %v and %v are not matrices", a.shape, b.shape)
		return g.dead(Shape{1, 1})
	}
	m, k := a.shape[0], a.shape[1]
	if ta {
		m, k = k, m
	}
	kb, nn := b.shape[0], b.shape[1]
	if tb {
		kb, nn = nn, kb
	}
	if k != kb {
		g.failf("matmul", "op(A) %dx%d · op(B) %dx%d: inner dimensions differ", m, k, kb, nn)
		return g.dead(Shape{m, nn})
	}
	return g.add(&Node{kind: kindOp, op: matmulOp{ta, tb}, in: []*Node{a, b}, shape: Shape{m, nn}})
}

// ---- bias and activations

type biasActOp struct{ act nn.Act }

func (o biasActOp) name() string { return "bias_act(" + o.act.String() + ")" }

func (o biasActOp) alias() (int, bool) { return 0, true }

func (o biasActOp) exec(p *Program, c *instr) {
	var bias nn.Mat
	if len(c.in) > 1 {
		bias = c.in[1]
	}
	p.b.BiasAct(c.out, bias, o.act)
}

func (o biasActOp) grad(g *Graph, n, dy *Node, _ []*Node, need []bool) []*Node {
	dz := dy
	if o.act.Kind != nn.ActNone {
		dz = g.ActBackward(dy, n, o.act)
	}
	out := make([]*Node, len(n.in))
	if need[0] {
		out[0] = dz
	}
	if len(n.in) > 1 && need[1] {
		out[1] = g.Reshape(g.ColSum(dz), n.in[1].shape)
	}
	return out
}

// BiasAct returns act(x + bias) for the matrix x and a bias of x's width
// (nil for none): the fused bias add and activation of a Linear layer.
func (g *Graph) BiasAct(x, bias *Node, act nn.Act) *Node {
	ins := []*Node{x}
	if bias != nil {
		ins = append(ins, bias)
	}
	if !g.check("bias_act", ins...) {
		return g.dead(x.shape)
	}
	if err := nn.CheckAct(act); err != nil {
		g.failf("bias_act", "%v", err)
		return g.dead(x.shape)
	}
	x = g.contig(x)
	ins[0] = x
	if bias != nil {
		if bias.shape.Len() != x.shape.Cols() {
			g.failf("bias_act", "bias %v for %v", bias.shape, x.shape)
			return g.dead(x.shape)
		}
		if bias.shape.Rows() != 1 {
			bias = g.Reshape(bias, Shape{x.shape.Cols()})
		}
		ins[1] = g.contig(bias)
	}
	return g.add(&Node{kind: kindOp, op: biasActOp{act}, in: ins, shape: slices.Clone(x.shape)})
}

type actOp struct{ act nn.Act }

func (o actOp) name() string              { return o.act.String() }
func (o actOp) alias() (int, bool)        { return 0, false }
func (o actOp) exec(p *Program, c *instr) { p.b.Activate(c.out, c.in[0], o.act) }
func (o actOp) grad(g *Graph, n, dy *Node, _ []*Node, _ []bool) []*Node {
	return []*Node{g.ActBackward(dy, n, o.act)}
}

// Act returns act(x) elementwise.
func (g *Graph) Act(x *Node, act nn.Act) *Node {
	if !g.check("activation", x) {
		return g.dead(x.shape)
	}
	if err := nn.CheckAct(act); err != nil {
		g.failf("activation", "%v", err)
		return g.dead(x.shape)
	}
	if act.Kind == nn.ActNone {
		return x
	}
	return g.unary(actOp{act}, g.contig(x))
}

type actBackwardOp struct{ act nn.Act }

func (o actBackwardOp) name() string       { return o.act.String() + "_backward" }
func (o actBackwardOp) alias() (int, bool) { return 0, false }
func (o actBackwardOp) exec(p *Program, c *instr) {
	p.b.ActBackward(c.out, c.in[0], c.in[1], o.act)
}

// grad of dx = dy·f′(y): linear in dy; in y, f′ is constant (LeakyReLU),
// −2y (tanh: f′ = 1 − y²) or 1 − 2y (sigmoid: f′ = y − y²).
func (o actBackwardOp) grad(g *Graph, n, dd *Node, _ []*Node, need []bool) []*Node {
	dy, y := n.in[0], n.in[1]
	out := make([]*Node, 2)
	if need[0] {
		out[0] = g.ActBackward(dd, y, o.act)
	}
	if need[1] {
		switch o.act.Kind {
		case nn.ActTanh:
			out[1] = g.Scale(g.Mul(g.Mul(dd, dy), y), -2)
		case nn.ActSigmoid:
			out[1] = g.Mul(g.Mul(dd, dy), g.AddConst(g.Scale(y, -2), 1))
		}
	}
	return out
}

// ActBackward returns dy·act′ computed from the activation's output y.
func (g *Graph) ActBackward(dy, y *Node, act nn.Act) *Node {
	if !g.check("activation backward", dy, y) || !g.sameShape("activation backward", dy, y) {
		return g.dead(dy.shape)
	}
	return g.add(&Node{kind: kindOp, op: actBackwardOp{act}, in: []*Node{g.contig(dy), g.contig(y)}, shape: slices.Clone(dy.shape)})
}

// ---- reductions and broadcasts

type colSumOp struct{}

func (colSumOp) name() string              { return "col_sum" }
func (colSumOp) exec(p *Program, c *instr) { p.b.ColSum(c.out, c.in[0], 0) }
func (colSumOp) grad(g *Graph, n, dy *Node, _ []*Node, _ []bool) []*Node {
	return []*Node{g.BroadcastRows(dy, n.in[0].shape)}
}

// ColSum returns the [1 n] sums of the columns of the matrix x (the bias
// gradient of a Linear layer).
func (g *Graph) ColSum(x *Node) *Node {
	if !g.check("col_sum", x) {
		return g.dead(Shape{1, 1})
	}
	x = g.Flatten(g.contig(x))
	return g.add(&Node{kind: kindOp, op: colSumOp{}, in: []*Node{x}, shape: Shape{1, x.shape.Cols()}})
}

type broadcastRowsOp struct{}

func (broadcastRowsOp) name() string { return "broadcast_rows" }
func (broadcastRowsOp) exec(p *Program, c *instr) {
	p.b.Fill(c.out, 0)
	p.b.AddBias(c.out, c.in[0])
}
func (broadcastRowsOp) grad(g *Graph, n, dy *Node, _ []*Node, _ []bool) []*Node {
	return []*Node{g.Reshape(g.ColSum(dy), n.in[0].shape)}
}

// BroadcastRows returns the tensor of shape whose every row is the row x
// (x has shape's column count of elements).
func (g *Graph) BroadcastRows(x *Node, shape Shape) *Node {
	if !g.check("broadcast_rows", x) {
		return g.dead(shape)
	}
	if x.shape.Len() != shape.Cols() {
		g.failf("broadcast_rows", "row %v into %v", x.shape, shape)
		return g.dead(shape)
	}
	if v, ok := x.isConst(); ok {
		return g.Const(shape, v)
	}
	row := g.contig(x)
	if row.shape.Rows() != 1 {
		row = g.Reshape(row, Shape{shape.Cols()})
	}
	return g.add(&Node{kind: kindOp, op: broadcastRowsOp{}, in: []*Node{row}, shape: slices.Clone(shape)})
}

type rowSumSqOp struct{}

func (rowSumSqOp) name() string              { return "row_sum_sq" }
func (rowSumSqOp) exec(p *Program, c *instr) { p.b.RowSumSq(c.out, c.in[0]) }
func (rowSumSqOp) grad(g *Graph, n, dy *Node, _ []*Node, _ []bool) []*Node {
	return []*Node{g.Scale(g.ScaleRows(n.in[0], dy), 2)}
}

// RowSumSq returns the [m 1] squared L2 norms of the rows of x (summed in
// float64).
func (g *Graph) RowSumSq(x *Node) *Node {
	if !g.check("row_sum_sq", x) {
		return g.dead(Shape{1, 1})
	}
	x = g.Flatten(g.contig(x))
	return g.add(&Node{kind: kindOp, op: rowSumSqOp{}, in: []*Node{x}, shape: Shape{x.shape.Rows(), 1}})
}

// RowSum returns the [m 1] sums of the rows of the matrix x.
func (g *Graph) RowSum(x *Node) *Node {
	x = g.Flatten(x)
	return g.MatMul(x, g.Const(Shape{x.shape.Cols(), 1}, 1), false, false)
}

// Sum returns the sum of all elements of x as a scalar [1].
func (g *Graph) Sum(x *Node) *Node {
	if !g.check("sum", x) {
		return g.dead(Shape{1})
	}
	col := g.Reshape(g.contig(x), Shape{x.shape.Len(), 1})
	return g.Reshape(g.ColSum(col), Shape{1})
}

// Mean returns the mean of all elements of x as a scalar [1].
func (g *Graph) Mean(x *Node) *Node { return g.Scale(g.Sum(x), 1/float32(x.shape.Len())) }

type scaleRowsOp struct{}

func (scaleRowsOp) name() string              { return "scale_rows" }
func (scaleRowsOp) alias() (int, bool)        { return 0, false }
func (scaleRowsOp) exec(p *Program, c *instr) { p.b.ScaleRows(c.out, c.in[0], c.in[1]) }
func (scaleRowsOp) grad(g *Graph, n, dy *Node, _ []*Node, need []bool) []*Node {
	x, s := n.in[0], n.in[1]
	out := make([]*Node, 2)
	if need[0] {
		out[0] = g.ScaleRows(dy, s)
	}
	if need[1] {
		out[1] = g.RowSum(g.Mul(dy, x))
	}
	return out
}

// ScaleRows returns x with row i multiplied by s[i], for the matrix x and
// the [m 1] column s.
func (g *Graph) ScaleRows(x, s *Node) *Node {
	if !g.check("scale_rows", x, s) {
		return g.dead(x.shape)
	}
	if len(x.shape) != 2 {
		x = g.Flatten(x)
	}
	if s.shape.Len() != x.shape.Rows() || (len(s.shape) == 2 && s.shape[1] != 1) {
		g.failf("scale_rows", "scales %v for %v", s.shape, x.shape)
		return g.dead(x.shape)
	}
	if len(s.shape) != 2 {
		s = g.Reshape(s, Shape{x.shape.Rows(), 1})
	}
	return g.add(&Node{kind: kindOp, op: scaleRowsOp{}, in: []*Node{x, s}, shape: slices.Clone(x.shape)})
}

// ---- elementwise arithmetic

type axpbyOp struct{ alpha, beta float32 }

func (o axpbyOp) name() string       { return "axpby" }
func (o axpbyOp) alias() (int, bool) { return 0, false }
func (o axpbyOp) exec(p *Program, c *instr) {
	p.b.Axpby(c.out, c.in[0], c.in[1], o.alpha, o.beta)
}
func (o axpbyOp) grad(g *Graph, n, dy *Node, _ []*Node, need []bool) []*Node {
	out := make([]*Node, 2)
	if need[0] {
		out[0] = g.Scale(dy, o.alpha)
	}
	if need[1] {
		out[1] = g.Scale(dy, o.beta)
	}
	return out
}

// Axpby returns alpha·a + beta·b elementwise.
func (g *Graph) Axpby(a, b *Node, alpha, beta float32) *Node {
	if !g.check("axpby", a, b) || !g.sameShape("axpby", a, b) {
		return g.dead(a.shape)
	}
	va, ca := a.isConst()
	vb, cb := b.isConst()
	if ca && cb {
		return g.Const(a.shape, alpha*va+beta*vb)
	}
	return g.add(&Node{kind: kindOp, op: axpbyOp{alpha, beta}, in: []*Node{a, b}, shape: slices.Clone(a.shape)})
}

// Add returns a + b.
func (g *Graph) Add(a, b *Node) *Node { return g.Axpby(a, b, 1, 1) }

// Sub returns a − b.
func (g *Graph) Sub(a, b *Node) *Node { return g.Axpby(a, b, 1, -1) }

// Lerp returns a + t·(b − a) with one coefficient per row: t is [m 1]
// (WGAN-GP's interpolates between fake a and real b).
func (g *Graph) Lerp(a, b, t *Node) *Node {
	shape := a.shape
	d := g.ScaleRows(g.Flatten(g.Sub(b, a)), t)
	return g.Add(g.Flatten(a), d).reshapeTo(g, shape)
}

func (n *Node) reshapeTo(g *Graph, shape Shape) *Node {
	if n.shape.Equal(shape) {
		return n
	}
	return g.Reshape(n, shape)
}

type mulOp struct{}

func (mulOp) name() string              { return "mul" }
func (mulOp) alias() (int, bool)        { return 0, false }
func (mulOp) exec(p *Program, c *instr) { p.b.Mul(c.out, c.in[0], c.in[1]) }
func (mulOp) grad(g *Graph, n, dy *Node, _ []*Node, need []bool) []*Node {
	out := make([]*Node, 2)
	if need[0] {
		out[0] = g.Mul(dy, n.in[1])
	}
	if need[1] {
		out[1] = g.Mul(dy, n.in[0])
	}
	return out
}

// Mul returns the elementwise product a ⊙ b.
func (g *Graph) Mul(a, b *Node) *Node {
	if !g.check("mul", a, b) || !g.sameShape("mul", a, b) {
		return g.dead(a.shape)
	}
	if v, ok := a.isConst(); ok {
		return g.Scale(b, v)
	}
	if v, ok := b.isConst(); ok {
		return g.Scale(a, v)
	}
	return g.add(&Node{kind: kindOp, op: mulOp{}, in: []*Node{a, b}, shape: slices.Clone(a.shape)})
}

type mapOp struct {
	f nn.MapFn
	c float32
}

func (o mapOp) name() string              { return o.f.String() }
func (o mapOp) alias() (int, bool)        { return 0, false }
func (o mapOp) exec(p *Program, c *instr) { p.b.Map(c.out, c.in[0], o.f, o.c) }
func (o mapOp) grad(g *Graph, n, dy *Node, _ []*Node, _ []bool) []*Node {
	x := n.in[0]
	var dx *Node
	switch o.f {
	case nn.MapScale:
		dx = g.Scale(dy, o.c)
	case nn.MapAddConst:
		dx = dy
	case nn.MapSquare:
		dx = g.Scale(g.Mul(dy, x), 2)
	case nn.MapSqrt:
		dx = g.Scale(g.Mul(dy, g.Recip(n)), 0.5)
	case nn.MapRecip:
		dx = g.Scale(g.Mul(dy, g.Square(n)), -1)
	case nn.MapExp:
		dx = g.Mul(dy, n)
	case nn.MapLog:
		dx = g.Mul(dy, g.Recip(x))
	default:
		g.failf("map", "no gradient for %v", o.f)
		return []*Node{nil}
	}
	return []*Node{dx}
}

// Map returns f(x) elementwise (see nn.MapFn), with the constant c where f
// has one.
func (g *Graph) Map(x *Node, f nn.MapFn, c float32) *Node {
	if !g.check("map", x) {
		return g.dead(x.shape)
	}
	if err := nn.CheckMapFn(f); err != nil {
		g.failf("map", "%v", err)
		return g.dead(x.shape)
	}
	return g.unary(mapOp{f, c}, x)
}

// Scale returns c·x (x itself when c is 1; a constant stays a constant).
func (g *Graph) Scale(x *Node, c float32) *Node {
	if c == 1 && g.err == nil {
		return x
	}
	if v, ok := x.isConst(); ok && g.err == nil {
		return g.Const(x.shape, c*v)
	}
	return g.Map(x, nn.MapScale, c)
}

// AddConst returns x + c.
func (g *Graph) AddConst(x *Node, c float32) *Node { return g.Map(x, nn.MapAddConst, c) }

// Square returns x² elementwise.
func (g *Graph) Square(x *Node) *Node { return g.Map(x, nn.MapSquare, 0) }

// Sqrt returns √x elementwise.
func (g *Graph) Sqrt(x *Node) *Node { return g.Map(x, nn.MapSqrt, 0) }

// Recip returns 1/x elementwise.
func (g *Graph) Recip(x *Node) *Node { return g.Map(x, nn.MapRecip, 0) }

// Exp returns exp(x) elementwise.
func (g *Graph) Exp(x *Node) *Node { return g.Map(x, nn.MapExp, 0) }

// Log returns ln(x) elementwise.
func (g *Graph) Log(x *Node) *Node { return g.Map(x, nn.MapLog, 0) }

// ---- copies and concatenation

type copyOp struct{}

func (copyOp) name() string              { return "copy" }
func (copyOp) exec(p *Program, c *instr) { p.b.Copy(c.out, c.in[0]) }
func (copyOp) grad(_ *Graph, _, dy *Node, _ []*Node, _ []bool) []*Node {
	return []*Node{dy}
}

// Copy returns a contiguous copy of x.
func (g *Graph) Copy(x *Node) *Node {
	if !g.check("copy", x) {
		return g.dead(x.shape)
	}
	return g.unary(copyOp{}, x)
}

// piece is one input of a concatenation or one contribution to an
// assembled gradient: its value goes to the region off/rows/cols/ld of the
// output.
type piece struct {
	off, rows, cols, ld int
}

type assembleOp struct {
	pieces []piece
	fill   bool // zero the output first: the pieces do not cover it
	accum  []bool
}

func (o *assembleOp) name() string { return "assemble" }

func (o *assembleOp) exec(p *Program, c *instr) {
	if o.fill {
		p.b.Fill(c.out, 0)
	}
	for i, pc := range o.pieces {
		dst := nn.Mat{Rows: pc.rows, Cols: pc.cols, Off: c.out.Off + pc.off, Stride: pc.ld, Buf: c.out.Buf}
		if pc.ld == pc.cols {
			dst.Stride = 0
		}
		src := c.in[i]
		if !src.Contiguous() || !dst.Contiguous() {
			src.Stride = src.LD()
		}
		if o.accum[i] {
			p.b.Axpby(dst, dst, reshapeMat(src, dst), 1, 1)
		} else {
			p.b.Copy(dst, reshapeMat(src, dst))
		}
	}
}

// reshapeMat gives the contiguous src dst's shape when dst is strided
// (Copy of a strided matrix needs equal shapes).
func reshapeMat(src, dst nn.Mat) nn.Mat {
	if dst.Contiguous() && src.Contiguous() {
		return src
	}
	if src.Rows == dst.Rows && src.Cols == dst.Cols {
		return src
	}
	return nn.Mat{Rows: dst.Rows, Cols: dst.Cols, Off: src.Off, Buf: src.Buf}
}

func (o *assembleOp) grad(g *Graph, n, dy *Node, _ []*Node, need []bool) []*Node {
	out := make([]*Node, len(n.in))
	for i, pc := range o.pieces {
		if need[i] {
			out[i] = g.view(dy, n.in[i].shape, pc.off, pc.rows, pc.cols, pc.ld)
		}
	}
	return out
}

// assemble makes a node of shape from pieces placed at their regions
// (later pieces overlapping earlier ones are added).
func (g *Graph) assemble(shape Shape, ins []*Node, pieces []piece) *Node {
	o := &assembleOp{pieces: pieces, accum: make([]bool, len(pieces))}
	r, c := shape.Mat()
	covered := make([]int, r*c)
	for i, pc := range pieces {
		overlap := false
		for y := 0; y < pc.rows; y++ {
			for x := 0; x < pc.cols; x++ {
				k := pc.off + y*pc.ld + x
				if covered[k] > 0 {
					overlap = true
				}
				covered[k]++
			}
		}
		o.accum[i] = overlap
	}
	o.fill = slices.Contains(covered, 0)
	for i, in := range ins {
		ins[i] = g.contig(in)
	}
	return g.add(&Node{kind: kindOp, op: o, in: ins, shape: slices.Clone(shape)})
}

// ConcatRows stacks tensors of equal trailing dimensions along the first.
func (g *Graph) ConcatRows(xs ...*Node) *Node {
	if !g.check("concat_rows", xs...) || len(xs) == 0 {
		g.failf("concat_rows", "nothing to concatenate")
		return g.dead(nil)
	}
	shape := slices.Clone(xs[0].shape)
	shape[0] = 0
	var pieces []piece
	cols := xs[0].shape.Cols()
	for _, x := range xs {
		if len(x.shape) != len(shape) || !slices.Equal(x.shape[1:], shape[1:]) {
			g.failf("concat_rows", "shapes %v and %v", xs[0].shape, x.shape)
			return g.dead(nil)
		}
		pieces = append(pieces, piece{off: shape[0] * cols, rows: x.shape[0], cols: cols, ld: cols})
		shape[0] += x.shape[0]
	}
	return g.assemble(shape, slices.Clone(xs), pieces)
}

// ConcatCols places matrices of equal row counts side by side.
func (g *Graph) ConcatCols(xs ...*Node) *Node {
	if !g.check("concat_cols", xs...) || len(xs) == 0 {
		g.failf("concat_cols", "nothing to concatenate")
		return g.dead(nil)
	}
	rows := xs[0].shape.Rows()
	width := 0
	for _, x := range xs {
		if len(x.shape) != 2 || x.shape[0] != rows {
			g.failf("concat_cols", "shapes %v and %v", xs[0].shape, x.shape)
			return g.dead(nil)
		}
		width += x.shape[1]
	}
	var pieces []piece
	col := 0
	for _, x := range xs {
		pieces = append(pieces, piece{off: col, rows: rows, cols: x.shape[1], ld: width})
		col += x.shape[1]
	}
	return g.assemble(Shape{rows, width}, slices.Clone(xs), pieces)
}

// ---- random numbers

// Stream names the random stream of a random op: element i of a run's
// draw is element i of nn.RandKey{Seed: seed, Stream:
// nn.StreamID(Purpose, index)} with index = step<<Shift | Slot when
// PerStep, else Slot (see nn/streams.go).
type Stream struct {
	Purpose uint64
	Slot    uint64
	Shift   uint
	PerStep bool
}

// StepStream is the stream of a random op that draws afresh at every
// step: index step<<16 | slot, slot from the model family's
// nn.StreamSlots.
func StepStream(purpose, slot uint64) Stream {
	return Stream{Purpose: purpose, Slot: slot, Shift: nn.StepShift, PerStep: true}
}

// FixedStream is a stream that does not change with the step.
func FixedStream(purpose, index uint64) Stream { return Stream{Purpose: purpose, Slot: index} }

// key is the stream's key at a run.
func (s Stream) key(seed, step uint64) nn.RandKey {
	index := s.Slot
	if s.PerStep {
		index |= step << s.Shift
	}
	return nn.RandKey{Seed: seed, Stream: nn.StreamID(s.Purpose, index)}
}

type randOp struct {
	normal bool
	a, b   float32 // mean, std or lo, hi
	stream Stream
}

func (o randOp) name() string { return "rand" }
func (o randOp) exec(p *Program, c *instr) {
	k := o.stream.key(p.seed, p.step)
	if o.normal {
		p.b.RandNormal(c.out, o.a, o.b, k)
	} else {
		p.b.RandUniform(c.out, o.a, o.b, k)
	}
}

// RandNormal returns a tensor of normal draws with the given mean and
// standard deviation.
func (g *Graph) RandNormal(shape Shape, mean, std float32, s Stream) *Node {
	if g.err != nil {
		return g.dead(shape)
	}
	return g.add(&Node{kind: kindOp, op: randOp{true, mean, std, s}, shape: slices.Clone(shape)})
}

// RandUniform returns a tensor of uniform draws in [lo, hi).
func (g *Graph) RandUniform(shape Shape, lo, hi float32, s Stream) *Node {
	if g.err != nil {
		return g.dead(shape)
	}
	return g.add(&Node{kind: kindOp, op: randOp{false, lo, hi, s}, shape: slices.Clone(shape)})
}

type dropoutOp struct {
	p      float32
	stream Stream
}

func (o dropoutOp) name() string { return fmt.Sprintf("dropout(%g)", o.p) }
func (o dropoutOp) exec(p *Program, c *instr) {
	p.b.Dropout(c.out, c.aux[0], c.in[0], o.p, o.stream.key(p.seed, p.step))
}
func (o dropoutOp) grad(g *Graph, n, dy *Node, _ []*Node, _ []bool) []*Node {
	return []*Node{g.dropoutBackward(dy, n.aux[0])}
}

// Dropout zeroes each element of x with probability p and scales the rest
// by 1/(1−p), as PyTorch's training-mode dropout, with the keep mask drawn
// from stream s.
func (g *Graph) Dropout(x *Node, p float32, s Stream) *Node {
	if !g.check("dropout", x) {
		return g.dead(x.shape)
	}
	if !(p >= 0 && p < 1) {
		g.failf("dropout", "probability %g outside [0, 1)", p)
		return g.dead(x.shape)
	}
	x = g.contig(x)
	n := g.add(&Node{kind: kindOp, op: dropoutOp{p, s}, in: []*Node{x}, shape: slices.Clone(x.shape)})
	mask := g.add(&Node{kind: kindOp, producer: n, shape: slices.Clone(x.shape)})
	n.aux = []*Node{mask}
	return n
}

type dropoutBackwardOp struct{}

func (dropoutBackwardOp) name() string       { return "dropout_backward" }
func (dropoutBackwardOp) alias() (int, bool) { return 0, false }
func (dropoutBackwardOp) exec(p *Program, c *instr) {
	p.b.DropoutBackward(c.out, c.in[0], c.in[1])
}
func (dropoutBackwardOp) grad(g *Graph, n, dy *Node, _ []*Node, need []bool) []*Node {
	out := make([]*Node, 2)
	if need[0] {
		out[0] = g.dropoutBackward(dy, n.in[1])
	}
	return out
}

func (g *Graph) dropoutBackward(dy, mask *Node) *Node {
	if !g.check("dropout_backward", dy, mask) {
		return g.dead(dy.shape)
	}
	return g.add(&Node{kind: kindOp, op: dropoutBackwardOp{}, in: []*Node{g.contig(dy), mask}, shape: slices.Clone(dy.shape)})
}

// ---- fused losses

// lossOp is a fused loss (sigmoid + BCE, softmax + CE): one backend call
// writes the mean loss and a second statistic (packed as the node and its
// first aux output) and the gradient of the loss with respect to the
// logits, scaled, into the second aux output.
type lossOp struct {
	softmax  bool
	scale    float32 // the gradient's scale: weight / element count
	weighted bool    // scale was set by a gradient
}

func (o *lossOp) name() string {
	if o.softmax {
		return "softmax_cross_entropy"
	}
	return "sigmoid_bce"
}

func (o *lossOp) packed() bool { return true }

func (o *lossOp) exec(p *Program, c *instr) {
	stats := nn.Mat{Rows: 1, Cols: 2, Off: c.out.Off, Buf: c.out.Buf}
	if o.softmax {
		p.b.SoftmaxCE(c.aux[1], stats, c.in[0], c.in[1], o.scale)
	} else {
		p.b.SigmoidBCE(c.aux[1], stats, c.in[0], c.in[1], o.scale)
	}
}

// grad: the loss's gradient was computed in the forward pass with the
// scale 1/count; a constant upstream gradient c becomes its scale
// (c/count), any other is applied by a multiplication.
func (o *lossOp) grad(g *Graph, n, dy *Node, daux []*Node, need []bool) []*Node {
	if daux[0] != nil {
		g.failf(o.name(), "its second statistic (mean sigmoid or accuracy) has no gradient")
		return make([]*Node, 2)
	}
	if need[1] {
		g.failf(o.name(), "no gradient with respect to the targets")
		return make([]*Node, 2)
	}
	x := n.in[0]
	count := float32(x.shape.Len())
	if o.softmax {
		count = float32(x.shape.Rows())
	}
	gradNode := n.aux[1]
	if c, ok := dy.isConst(); ok {
		if o.weighted && o.scale != c/count {
			g.failf(o.name(), "differentiated twice with different weights (%g and %g)", o.scale*count, c)
			return make([]*Node, 2)
		}
		o.scale, o.weighted = c/count, true
		return []*Node{gradNode, nil}
	}
	if !o.weighted {
		o.scale, o.weighted = 1/count, true
	} else if o.scale != 1/count {
		g.failf(o.name(), "differentiated with a constant and a computed weight")
		return make([]*Node, 2)
	}
	flat := g.Reshape(gradNode, Shape{1, x.shape.Len()})
	return []*Node{g.Reshape(g.ScaleRows(flat, g.Reshape(dy, Shape{1, 1})), x.shape), nil}
}

func (g *Graph) loss(softmax bool, x, t *Node) (loss, stat *Node) {
	opName := "sigmoid_bce"
	if softmax {
		opName = "softmax_cross_entropy"
	}
	if !g.check(opName, x, t) || !g.sameShape(opName, x, t) {
		return g.dead(Shape{1}), g.dead(Shape{1})
	}
	if softmax && len(x.shape) != 2 {
		g.failf(opName, "logits %v are not a matrix", x.shape)
		return g.dead(Shape{1}), g.dead(Shape{1})
	}
	x, t = g.contig(x), g.contig(t)
	scale := 1 / float32(x.shape.Len())
	if softmax {
		scale = 1 / float32(x.shape.Rows())
	}
	n := g.add(&Node{kind: kindOp, op: &lossOp{softmax: softmax, scale: scale}, in: []*Node{x, t}, shape: Shape{1}})
	stat = g.add(&Node{kind: kindOp, producer: n, shape: Shape{1}})
	grad := g.add(&Node{kind: kindOp, producer: n, shape: slices.Clone(x.shape)})
	n.aux = []*Node{stat, grad}
	return n, stat
}

// SigmoidBCE returns the mean binary cross-entropy of sigmoid(x) against
// targets t (PyTorch's BCEWithLogitsLoss, stable on logits up to ±100),
// and the mean of sigmoid(x).
func (g *Graph) SigmoidBCE(x, t *Node) (loss, meanSigmoid *Node) { return g.loss(false, x, t) }

// SoftmaxCE returns the mean over rows of the cross-entropy of softmax(x)
// against the target distributions t, and the fraction of rows whose arg
// max of x is that of t.
func (g *Graph) SoftmaxCE(x, t *Node) (loss, accuracy *Node) { return g.loss(true, x, t) }

type softmaxOp struct{}

func (softmaxOp) name() string              { return "softmax" }
func (softmaxOp) alias() (int, bool)        { return 0, false }
func (softmaxOp) exec(p *Program, c *instr) { p.b.Softmax(c.out, c.in[0]) }

// grad: dx = y ⊙ (dy − Σ_row dy⊙y).
func (softmaxOp) grad(g *Graph, n, dy *Node, _ []*Node, _ []bool) []*Node {
	gy := g.Mul(dy, n)
	return []*Node{g.Sub(gy, g.ScaleRows(n, g.RowSum(gy)))}
}

// Softmax returns the softmax of each row of the matrix x.
func (g *Graph) Softmax(x *Node) *Node {
	if !g.check("softmax", x) {
		return g.dead(x.shape)
	}
	if len(x.shape) != 2 {
		g.failf("softmax", "%v is not a matrix", x.shape)
		return g.dead(x.shape)
	}
	return g.unary(softmaxOp{}, g.contig(x))
}

// ---- gathers

type gatherOp struct{ ix *Index }

func (o gatherOp) name() string              { return "gather_rows" }
func (o gatherOp) exec(p *Program, c *instr) { p.b.GatherRows(c.out, c.in[0], o.ix.vals) }
func (o gatherOp) grad(g *Graph, n, dy *Node, _ []*Node, _ []bool) []*Node {
	return []*Node{g.scatterAddRows(dy, o.ix, n.in[0].shape)}
}

// GatherRows returns rows ix[0], ix[1], … of src (the batch's images, an
// embedding's vectors).
func (g *Graph) GatherRows(src *Node, ix *Index) *Node {
	if !g.check("gather_rows", src) {
		return g.dead(Shape{ix.n, 1})
	}
	if ix.g != g {
		g.failf("gather_rows", "indices %s belong to another graph", ix.name)
		return g.dead(Shape{ix.n, 1})
	}
	shape := slices.Clone(src.shape)
	if len(shape) < 2 {
		g.failf("gather_rows", "source %v has no rows", src.shape)
		return g.dead(Shape{ix.n, 1})
	}
	shape[0] = ix.n
	return g.add(&Node{kind: kindOp, op: gatherOp{ix}, in: []*Node{g.contig(src)}, shape: shape})
}

type scatterAddOp struct{ ix *Index }

func (o scatterAddOp) name() string { return "scatter_add_rows" }
func (o scatterAddOp) exec(p *Program, c *instr) {
	p.b.ScatterAddRows(c.out, c.in[0], o.ix.vals, 0)
}
func (o scatterAddOp) grad(g *Graph, _, dy *Node, _ []*Node, _ []bool) []*Node {
	return []*Node{g.GatherRows(dy, o.ix)}
}

// scatterAddRows returns the tensor of shape whose row r is the sum of the
// rows i of src with ix[i] = r.
func (g *Graph) scatterAddRows(src *Node, ix *Index, shape Shape) *Node {
	if !g.check("scatter_add_rows", src) {
		return g.dead(shape)
	}
	return g.add(&Node{kind: kindOp, op: scatterAddOp{ix}, in: []*Node{g.contig(src)}, shape: slices.Clone(shape)})
}

// ---- layer norm

type layerNormOp struct {
	eps             float32
	hasGamma, hasBe bool
}

func (o layerNormOp) name() string { return "layer_norm" }
func (o layerNormOp) exec(p *Program, c *instr) {
	gamma, beta := affineOperands(c, o.hasGamma, o.hasBe)
	p.b.LayerNorm(c.out, c.aux[0], c.aux[1], c.in[0], gamma, beta, o.eps)
}

// affineOperands returns the gamma and beta operands of a norm op's
// instruction: inputs 1 and 2 where present (zero Mats for none).
func affineOperands(c *instr, hasGamma, hasBeta bool) (gamma, beta nn.Mat) {
	i := 1
	if hasGamma {
		gamma = c.in[i]
		i++
	}
	if hasBeta {
		beta = c.in[i]
	}
	return gamma, beta
}

// affineGrads returns a norm op's input gradients in its input order: dx,
// then dgamma and dbeta (reshaped to their parameters) where the op has
// them and they are needed.
func affineGrads(g *Graph, n, dx, dgamma, dbeta *Node, hasGamma, hasBeta bool, need []bool) []*Node {
	out := make([]*Node, len(n.in))
	out[0] = dx
	i := 1
	if hasGamma {
		if need[i] {
			out[i] = g.Reshape(dgamma, n.in[i].shape)
		}
		i++
	}
	if hasBeta && need[i] {
		out[i] = g.Reshape(dbeta, n.in[i].shape)
	}
	return out
}

func (o layerNormOp) grad(g *Graph, n, dy *Node, daux []*Node, need []bool) []*Node {
	if daux[0] != nil || daux[1] != nil {
		g.failf("layer_norm", "its statistics have no gradient")
		return make([]*Node, len(n.in))
	}
	var gamma *Node
	if o.hasGamma {
		gamma = n.in[1]
	}
	dx, dgamma, dbeta := g.layerNormBackward(dy, n.in[0], n.aux[0], n.aux[1], gamma, o.hasGamma, o.hasBe)
	return affineGrads(g, n, dx, dgamma, dbeta, o.hasGamma, o.hasBe, need)
}

// LayerNorm normalises each row of x to zero mean and unit variance, then
// scales by gamma and shifts by beta (each nil for none): PyTorch's
// LayerNorm over the last dimensions, with eps inside the square root.
func (g *Graph) LayerNorm(x, gamma, beta *Node, eps float32) *Node {
	ins := []*Node{x}
	o := layerNormOp{eps: eps}
	for _, p := range []*Node{gamma, beta} {
		if p != nil {
			ins = append(ins, p)
		}
	}
	if !g.check("layer_norm", ins...) {
		return g.dead(x.shape)
	}
	x = g.contig(x)
	ins[0] = x
	cols := x.shape.Cols()
	i := 1
	if gamma != nil {
		o.hasGamma = true
		ins[i] = g.contig(g.Reshape(gamma, Shape{cols}))
		i++
	}
	if beta != nil {
		o.hasBe = true
		ins[i] = g.contig(g.Reshape(beta, Shape{cols}))
	}
	if g.err != nil {
		return g.dead(x.shape)
	}
	if !(eps > 0) {
		g.failf("layer_norm", "eps %g must be positive", eps)
		return g.dead(x.shape)
	}
	n := g.add(&Node{kind: kindOp, op: o, in: ins, shape: slices.Clone(x.shape)})
	rows := x.shape.Rows()
	mean := g.add(&Node{kind: kindOp, producer: n, shape: Shape{rows, 1}})
	rstd := g.add(&Node{kind: kindOp, producer: n, shape: Shape{rows, 1}})
	n.aux = []*Node{mean, rstd}
	return n
}

type layerNormBackwardOp struct{ hasGamma bool }

func (o layerNormBackwardOp) name() string { return "layer_norm_backward" }
func (o layerNormBackwardOp) exec(p *Program, c *instr) {
	var gamma nn.Mat
	if o.hasGamma {
		gamma = c.in[4]
	}
	var dg, db nn.Mat
	if len(c.aux) > 0 {
		dg, db = c.aux[0], c.aux[1]
	}
	p.b.LayerNormBackward(c.out, dg, db, c.in[0], c.in[1], c.in[2], c.in[3], gamma)
}

// layerNormBackward returns dx and, when the norm is affine, dgamma and
// dbeta as [1 n] rows.
func (g *Graph) layerNormBackward(dy, x, mean, rstd, gamma *Node, hasGamma, hasBeta bool) (dx, dgamma, dbeta *Node) {
	ins := []*Node{g.contig(dy), x, mean, rstd}
	if hasGamma {
		ins = append(ins, gamma)
	}
	n := g.add(&Node{kind: kindOp, op: layerNormBackwardOp{hasGamma}, in: ins, shape: slices.Clone(x.shape)})
	if hasGamma || hasBeta {
		cols := x.shape.Cols()
		dgamma = g.add(&Node{kind: kindOp, producer: n, shape: Shape{1, cols}})
		dbeta = g.add(&Node{kind: kindOp, producer: n, shape: Shape{1, cols}})
		n.aux = []*Node{dgamma, dbeta}
	}
	return n, dgamma, dbeta
}

// ---- optimiser updates

type updateOp struct{ opt *nn.Adam }

func (o updateOp) name() string              { return "adam" }
func (o updateOp) exec(_ *Program, _ *instr) { o.opt.Update() }
