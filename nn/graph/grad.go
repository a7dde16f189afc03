package graph

import (
	"slices"

	"gan/nn"
)

// contrib is one contribution to a node's gradient: the whole gradient
// (region nil) or the part of it in a region of the node's elements (the
// gradient of a view of the node).
type contrib struct {
	node   *Node
	region *piece
}

// Grad appends the nodes that compute the gradient of the scalar y with
// respect to each of xs, and returns them (a zero constant where y does not
// depend on x). The gradient nodes are ordinary ops with gradients of
// their own, so Grad can be applied to them again.
func (g *Graph) Grad(y *Node, xs ...*Node) []*Node {
	out := make([]*Node, len(xs))
	all := append([]*Node{y}, xs...)
	if !g.check("grad", all...) {
		for i, x := range xs {
			out[i] = g.dead(x.shape)
		}
		return out
	}
	if y.shape.Len() != 1 {
		g.failf("grad", "of %v: not a scalar", y)
		return out
	}
	minID := y.id
	for _, x := range xs {
		minID = min(minID, x.id)
	}
	// dep: the node depends on some x; anc: y depends on the node.
	dep := make([]bool, y.id+1)
	for _, x := range xs {
		if x.id <= y.id {
			dep[x.id] = true
		}
	}
	for id := minID; id <= y.id; id++ {
		n := g.nodes[id]
		if dep[id] {
			continue
		}
		if n.producer != nil {
			dep[id] = dep[n.producer.id]
			continue
		}
		for _, in := range n.in {
			if in.id <= y.id && dep[in.id] {
				dep[id] = true
				break
			}
		}
	}
	anc := make([]bool, y.id+1)
	anc[y.id] = true
	for id := y.id; id >= minID; id-- {
		if !anc[id] {
			continue
		}
		n := g.nodes[id]
		if n.producer != nil {
			anc[n.producer.id] = true
		}
		for _, in := range n.in {
			anc[in.id] = true
		}
	}
	need := func(n *Node) bool { return n.id <= y.id && dep[n.id] && anc[n.id] }

	contribs := map[int][]contrib{y.id: {{node: g.Const(y.shape, 1)}}}
	wanted := map[int][]int{}
	for i, x := range xs {
		wanted[x.id] = append(wanted[x.id], i)
	}
	for id := y.id; id >= minID && g.err == nil; id-- {
		n := g.nodes[id]
		if !need(n) || n.producer != nil {
			continue
		}
		dy := g.sumGrads(n, contribs[id])
		var daux []*Node
		anyAux := false
		for _, a := range n.aux {
			d := g.sumGrads(a, contribs[a.id])
			daux = append(daux, d)
			anyAux = anyAux || d != nil
		}
		for _, i := range wanted[id] {
			out[i] = dy
		}
		if dy == nil && !anyAux {
			continue
		}
		switch n.kind {
		case kindView:
			if dy != nil && need(n.in[0]) {
				in := n.in[0]
				contribs[in.id] = append(contribs[in.id], contrib{dy, viewRegion(n, in)})
			}
		case kindOp:
			gr, ok := n.op.(gradder)
			if !ok {
				g.failf("grad", "%v has no gradient", n)
				break
			}
			if dy == nil {
				dy = g.Const(n.shape, 0)
			}
			needIn := make([]bool, len(n.in))
			for i, in := range n.in {
				needIn[i] = need(in)
			}
			restore := g.Scope(n.scope + " (backward)")
			ds := gr.grad(g, n, dy, daux, needIn)
			restore()
			for i, d := range ds {
				if d != nil && needIn[i] {
					in := n.in[i]
					contribs[in.id] = append(contribs[in.id], contrib{node: d})
				}
			}
		}
	}
	for i, x := range xs {
		if out[i] == nil {
			out[i] = g.Const(x.shape, 0)
		}
	}
	return out
}

// viewRegion is the region of in's elements (dense, row-major) that the
// view n covers.
func viewRegion(n, in *Node) *piece {
	base := 0
	if in.kind == kindView {
		base = in.off
	}
	rel := n.off - base
	_, cols0, ld0 := geometry(in)
	if n.ld == ld0 {
		r0, c0 := rel/ld0, rel%ld0
		return &piece{off: r0*cols0 + c0, rows: n.rows, cols: n.cols, ld: cols0}
	}
	return &piece{off: rel, rows: n.rows, cols: n.cols, ld: n.ld}
}

// sumGrads adds up the contributions to n's gradient; nil when there are
// none. Constants are folded.
func (g *Graph) sumGrads(n *Node, cs []contrib) *Node {
	if len(cs) == 0 {
		return nil
	}
	rows, cols := n.shape.Mat()
	var whole []*Node
	var regions []contrib
	for _, c := range cs {
		if c.region != nil && c.region.off == 0 && c.region.rows*c.region.cols == rows*cols &&
			(c.region.ld == c.region.cols || c.region.rows == 1) {
			c = contrib{node: c.node} // covers everything
		}
		if c.region == nil {
			whole = append(whole, c.node.reshapeTo(g, n.shape))
			continue
		}
		regions = append(regions, c)
	}
	var sum *Node
	if len(regions) > 0 {
		ins := make([]*Node, len(regions))
		pieces := make([]piece, len(regions))
		for i, c := range regions {
			ins[i] = c.node
			pieces[i] = *c.region
		}
		sum = g.assemble(slices.Clone(n.shape), ins, pieces)
	}
	// Fold constants, then add the rest in order.
	var cst float32
	hasConst := false
	for _, w := range whole {
		if v, ok := w.isConst(); ok {
			cst += v
			hasConst = true
			continue
		}
		if sum == nil {
			sum = w
		} else {
			sum = g.Add(sum, w)
		}
	}
	if hasConst {
		if sum == nil {
			return g.Const(n.shape, cst)
		}
		if cst != 0 {
			sum = g.AddConst(sum, cst)
		}
	}
	return sum
}

// Backward appends the gradient of the scalar loss with respect to every
// trainable parameter of the sets, and binds each to its parameter's
// gradient (the set's Grad arena), for the [Graph.Update] that follows. A
// parameter the loss does not depend on is an error (PyTorch would leave its
// gradient None and Adam would skip it; ours updates a set in one pass).
func (g *Graph) Backward(loss *Node, sets ...*nn.ParamSet) {
	var ps []*nn.Param
	var xs []*Node
	for _, s := range sets {
		for _, p := range s.Trainable() {
			n, ok := g.params[p]
			if !ok {
				g.failf("backward", "parameter %s is not used by the graph", p.Name)
				return
			}
			ps = append(ps, p)
			xs = append(xs, n)
		}
	}
	if g.err != nil {
		return
	}
	grads := g.Grad(loss, xs...)
	for i, p := range ps {
		if _, ok := grads[i].isConst(); ok {
			g.failf("backward", "the loss does not depend on parameter %s", p.Name)
			return
		}
		g.grads = append(g.grads, gradBinding{p: p, node: grads[i]})
	}
}

// Update appends one step of the optimiser opt (over its parameter set),
// which uses the gradients bound by the last [Graph.Backward] of that set.
// Nodes built afterwards read the updated parameters.
func (g *Graph) Update(opt *nn.Adam) {
	if g.err != nil {
		return
	}
	set := opt.Params()
	var ins []*Node
	for _, p := range set.Trainable() {
		var b *Node
		for i := len(g.grads) - 1; i >= 0; i-- {
			if g.grads[i].p == p {
				b = g.grads[i].node
				break
			}
		}
		if b == nil || (g.updated[p] > 0 && b.id < g.updated[p]) {
			g.failf("update", "no gradient of %s since its last update (Backward first)", p.Name)
			return
		}
		ins = append(ins, b)
	}
	n := g.add(&Node{kind: kindOp, op: updateOp{opt}, in: ins, shape: Shape{0}})
	for _, p := range set.Params() {
		g.versions[p]++
		g.updated[p] = n.id
		delete(g.params, p)
	}
	g.updates = append(g.updates, n)
}
