// Package graph is the engine every model family stands on: a static graph
// of backend ops, built once, differentiated automatically (to any order),
// compiled for a backend with every intermediate buffer planned into one
// arena, and replayed at each training step without allocating. Its model is
// ggml's compute graph.
//
// # Building
//
// A model is ordinary Go code that calls the builder methods of a [Graph]
// (MatMul, BiasAct, Dropout, SigmoidBCE, …): one method per backend op, each
// returning a [*Node] with a [Shape]. Nothing runs while building. Shapes
// are checked as each node is made; a mistake is recorded with the op's name,
// the scope (the layer being built) and the shapes, every later builder call
// does nothing, and [Graph.Compile] returns the error.
//
// # Differentiating
//
// [Graph.Grad] appends to the graph the nodes that compute the gradient of a
// scalar with respect to any nodes. Those nodes are ordinary graph ops with
// gradients of their own, so a gradient can be differentiated again: the
// gradient penalty of WGAN-GP is plain graph code,
//
//	xHat := g.Lerp(fake, real, eps)                 // per-sample interpolation
//	score := g.Sum(critic(g, xHat))                 // Σ D(x̂)
//	gx := g.Grad(score, xHat)[0]                    // ∇ₓD(x̂), n×784
//	norm := g.Sqrt(g.AddConst(g.RowSumSq(gx), 1e-12))
//	gp := g.Scale(g.Mean(g.Square(g.AddConst(norm, -1))), 10)
//	g.Backward(g.Add(wLoss, gp), critic.Params)     // second-order gradients
//
// and its gradient with respect to the critic's weights matches float64
// central differences to 1.4e-8 of the largest gradient element, for a
// LeakyReLU critic and a tanh/sigmoid one (TestGradientPenaltyMatchesFiniteDifferences;
// every other op's gradient, and ActBackward's own, are checked the same
// way in TestGradientsMatchFiniteDifferences, worst 3.8e-10).
// [Graph.Backward] binds the gradients of a network's parameters to its
// gradient arena and [Graph.Update] appends an optimiser step; nodes built
// after an update read the updated parameters, and reading a parameter's
// value from before its update is an error.
//
// # Compiling and running
//
// [Graph.Compile] keeps the nodes that fetched values, outputs, gradients
// and updates need, plans every intermediate buffer into one arena on the
// backend (a buffer is reused once its last reader has run; ops that may work
// in place take over their input's buffer when the input dies there), fills
// the constants once, and returns a [Program]. [Program.Run] replays the op
// list in the order it was built, then waits for the device once to read
// the fetched scalars; it allocates nothing. Random ops draw from the
// shared Philox generator by (seed, purpose, step, slot): see nn/streams.go.
package graph

import (
	"fmt"
	"slices"
	"strings"

	"gan/nn"
)

// Shape is the size of a tensor along each dimension, PyTorch's order: an
// n×784 batch is [n 784], an image batch [n 1 28 28], a scalar [1]. The
// backends see it as a matrix of Shape[0] rows and the product of the other
// dimensions as columns (a 1-D shape [n] is one row of n).
type Shape []int

// Len is the number of elements.
func (s Shape) Len() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Mat returns the rows and columns of the matrix that holds the tensor.
func (s Shape) Mat() (rows, cols int) { return nn.MatShape(s) }

// Rows is the number of matrix rows.
func (s Shape) Rows() int { r, _ := s.Mat(); return r }

// Cols is the number of matrix columns.
func (s Shape) Cols() int { _, c := s.Mat(); return c }

// String prints the shape as 64x784.
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "x")
}

// Equal reports whether the shapes are the same.
func (s Shape) Equal(t Shape) bool { return slices.Equal(s, t) }

// kind says where a node's value lives.
type kind uint8

const (
	kindOp       kind = iota // computed by an op, in the arena
	kindInput                // bound by the caller before each run (Program.Bind)
	kindExternal             // a matrix the caller owns, fixed at build time
	kindParam                // a parameter's value (or a buffer) in its set's arena
	kindConst                // a constant, filled once at compile time
	kindView                 // rows, columns or a reshape of another node's storage
)

// Node is a value of the graph: the output of an op, an input, a parameter,
// a constant or a view of another node.
type Node struct {
	g     *Graph
	id    int
	kind  kind
	op    op
	in    []*Node
	shape Shape
	scope string // the layer being built when the node was made

	// Aux outputs are written by the same op as their producer (a dropout
	// mask, a fused loss's gradient): producer is set on them, aux on the
	// producer.
	producer *Node
	aux      []*Node

	param   *nn.Param // kindParam
	version int       // kindParam: the parameter's version it reads
	ext     nn.Mat    // kindExternal
	value   float32   // kindConst

	// kindView: the view is rows×cols elements, ld apart, starting off
	// elements into root's (contiguous) storage; root is never a view.
	root          *Node
	off, rows, ld int
	cols          int
}

// Shape returns the node's shape.
func (n *Node) Shape() Shape { return n.shape }

// ID numbers the node in creation order.
func (n *Node) ID() int { return n.id }

// String describes the node for error messages.
func (n *Node) String() string {
	name := "?"
	switch n.kind {
	case kindOp:
		name = n.op.name()
		if n.producer != nil {
			name = n.producer.op.name() + " (second output)"
		}
	case kindInput:
		name = "input"
	case kindExternal:
		name = "external"
	case kindParam:
		name = "param " + n.param.Name
	case kindConst:
		name = fmt.Sprintf("const %g", n.value)
	case kindView:
		name = "view"
	}
	if n.scope != "" {
		name += " in " + n.scope
	}
	return fmt.Sprintf("node %d (%s, %v)", n.id, name, n.shape)
}

// isConst reports whether the node is a constant, and its value.
func (n *Node) isConst() (float32, bool) { return n.value, n.kind == kindConst }

// storageRoot is the node whose storage n lives in: n itself, or a view's
// root.
func (n *Node) storageRoot() *Node {
	if n.kind == kindView {
		return n.root
	}
	return n
}

// contiguous reports whether the node's elements are consecutive.
func (n *Node) contiguous() bool {
	return n.kind != kindView || n.rows <= 1 || n.ld == n.cols
}

// Index is an int32 index vector bound by the caller before each run: the
// batch's rows of the training set, class labels.
type Index struct {
	g    *Graph
	id   int
	name string
	n    int
	vals []int32 // bound by Program.SetIndices
}

// Len is the number of indices.
func (ix *Index) Len() int { return ix.n }

// Graph is a graph under construction. It is not safe for concurrent use.
type Graph struct {
	nodes   []*Node
	indices []*Index
	err     error
	scope   []string

	params   map[*nn.Param]*Node // the current version's value node
	versions map[*nn.Param]int   // updates so far
	updated  map[*nn.Param]int   // node id of the update that made each version > 0

	fetch   []*Node
	outputs []*Node
	grads   []gradBinding
	updates []*Node

	// kernels holds each conv weight's kernel matrix once per layout, so
	// that a weight used in several passes (a discriminator on real and
	// on fake images) is rearranged once and its gradient once.
	kernels map[kernelKey]*Node
}

// kernelKey names a weight node's kernel matrix in one layout.
type kernelKey struct {
	w      *Node
	layout nn.ImageLayout
}

// gradBinding asks the program to leave node's value in p's gradient.
type gradBinding struct {
	p    *nn.Param
	node *Node
}

// New returns an empty graph.
func New() *Graph {
	return &Graph{params: map[*nn.Param]*Node{}, versions: map[*nn.Param]int{}, updated: map[*nn.Param]int{}}
}

// Err returns the first error recorded while building.
func (g *Graph) Err() error { return g.err }

// failf records an error for op unless one is recorded.
// Errorf records an error of the op (a layer's, say) as the builder
// methods do: Compile returns it, and later builder calls do nothing.
func (g *Graph) Errorf(op string, format string, args ...any) { g.failf(op, format, args...) }

func (g *Graph) failf(op string, format string, args ...any) {
	if g.err != nil {
		return
	}
	where := ""
	if len(g.scope) > 0 {
		where = " in " + strings.Join(g.scope, "/")
	}
	g.err = fmt.Errorf("graph: %s%s: %s", op, where, fmt.Sprintf(format, args...))
}

// Scope names the layer being built: nodes made until the returned
// function is called carry it, and so do error messages.
//
//	defer g.Scope("D.model.3")()
func (g *Graph) Scope(name string) func() {
	g.scope = append(g.scope, name)
	return func() { g.scope = g.scope[:len(g.scope)-1] }
}

func (g *Graph) scopeName() string { return strings.Join(g.scope, "/") }

// add appends a node.
func (g *Graph) add(n *Node) *Node {
	n.g = g
	n.id = len(g.nodes)
	n.scope = g.scopeName()
	g.nodes = append(g.nodes, n)
	return n
}

// dead is the node builder methods return after an error: a scalar input
// that compiles to nothing, so that model code needs no error checks.
func (g *Graph) dead(shape Shape) *Node {
	if shape == nil {
		shape = Shape{1}
	}
	return g.add(&Node{kind: kindInput, shape: slices.Clone(shape)})
}

// check records an error unless every node belongs to g and reads no
// parameter value from before its last update.
func (g *Graph) check(op string, ins ...*Node) bool {
	if g.err != nil {
		return false
	}
	for _, n := range ins {
		if n == nil {
			g.failf(op, "missing operand")
			return false
		}
		if n.g != g {
			g.failf(op, "%v belongs to another graph", n)
			return false
		}
		r := n.storageRoot()
		if r.kind == kindParam && r.version != g.versions[r.param] {
			g.failf(op, "reads %s as it was before the update at node %d; build what needs the old value before the update",
				r.param.Name, g.updated[r.param])
			return false
		}
	}
	return true
}

// Input adds a tensor the caller binds before each run with
// [Program.Bind] (a batch uploaded from the host, say).
func (g *Graph) Input(name string, shape Shape) *Node {
	if g.err != nil {
		return g.dead(shape)
	}
	if shape.Len() < 0 || len(shape) == 0 {
		g.failf("input "+name, "bad shape %v", shape)
		return g.dead(shape)
	}
	return g.add(&Node{kind: kindInput, shape: slices.Clone(shape), scope: name})
}

// External adds a matrix the caller owns and keeps alive while programs
// that use it exist (the training set on the device, say); shape must have
// m's rows and columns, and m must be contiguous.
func (g *Graph) External(m nn.Mat, shape Shape) *Node {
	if g.err != nil {
		return g.dead(shape)
	}
	if r, c := shape.Mat(); r != m.Rows || c != m.Cols || !m.Contiguous() || m.Empty() {
		g.failf("external", "shape %v for matrix %v", shape, m)
		return g.dead(shape)
	}
	return g.add(&Node{kind: kindExternal, shape: slices.Clone(shape), ext: m})
}

// Param returns the node of p's current value (its storage in the set's
// arena). Calling it again before an update returns the same node.
func (g *Graph) Param(p *nn.Param) *Node {
	if g.err != nil {
		return g.dead(p.Shape)
	}
	if p.Value.Empty() {
		g.failf("param "+p.Name, "not allocated (ParamSet.Alloc first)")
		return g.dead(p.Shape)
	}
	if n, ok := g.params[p]; ok {
		return n
	}
	n := g.add(&Node{kind: kindParam, shape: slices.Clone(Shape(p.Shape)), param: p, version: g.versions[p]})
	g.params[p] = n
	return n
}

// Const adds a tensor of shape whose every element is v, filled once when
// the graph is compiled.
func (g *Graph) Const(shape Shape, v float32) *Node {
	if g.err != nil {
		return g.dead(shape)
	}
	return g.add(&Node{kind: kindConst, shape: slices.Clone(shape), value: v})
}

// Indices adds an index vector of n entries, bound before each run with
// [Program.SetIndices].
func (g *Graph) Indices(name string, n int) *Index {
	ix := &Index{g: g, id: len(g.indices), name: name, n: n}
	g.indices = append(g.indices, ix)
	if n < 0 {
		g.failf("indices "+name, "negative length %d", n)
	}
	return ix
}

// Fetch asks every run to read these scalars (or small tensors) back to the
// host: they are packed into one block that [Program.Run] downloads with a
// single wait for the device.
func (g *Graph) Fetch(ns ...*Node) {
	if !g.check("fetch", ns...) {
		return
	}
	g.fetch = append(g.fetch, ns...)
}

// Output keeps a tensor's value valid after a run, for the caller to read
// with [Program.Mat] (generated images, say).
func (g *Graph) Output(ns ...*Node) {
	if !g.check("output", ns...) {
		return
	}
	g.outputs = append(g.outputs, ns...)
}

// ---- views

// view makes a view node of x's storage.
func (g *Graph) view(x *Node, shape Shape, off, rows, cols, ld int) *Node {
	if v, ok := x.isConst(); ok {
		return g.Const(shape, v)
	}
	root, base := x, 0
	if x.kind == kindView {
		root, base = x.root, x.off
	}
	return g.add(&Node{kind: kindView, in: []*Node{x}, shape: shape, root: root, off: base + off, rows: rows, cols: cols, ld: ld})
}

// geometry returns x's matrix geometry: rows, cols, leading dimension.
func geometry(x *Node) (rows, cols, ld int) {
	if x.kind == kindView {
		return x.rows, x.cols, x.ld
	}
	r, c := x.shape.Mat()
	return r, c, c
}

// Rows returns rows [i, i+n) of x (along its first dimension), without a
// copy.
func (g *Graph) Rows(x *Node, i, n int) *Node {
	if !g.check("rows", x) {
		return g.dead(Shape{n, 1})
	}
	r, c, ld := geometry(x)
	if len(x.shape) < 2 || i < 0 || n < 0 || i+n > r {
		g.failf("rows", "rows [%d, %d) of %v", i, i+n, x.shape)
		return g.dead(Shape{max(n, 0), 1})
	}
	if i == 0 && n == r {
		return x
	}
	shape := slices.Clone(x.shape)
	shape[0] = n
	return g.view(x, shape, i*ld, n, c, ld)
}

// Cols returns columns [j, j+n) of the matrix x, without a copy (a strided
// view unless it spans every column): the mean and log-variance halves of
// an encoder's output, say.
func (g *Graph) Cols(x *Node, j, n int) *Node {
	if !g.check("cols", x) {
		return g.dead(Shape{1, n})
	}
	r, c, ld := geometry(x)
	if len(x.shape) != 2 || j < 0 || n < 0 || j+n > c {
		g.failf("cols", "columns [%d, %d) of %v", j, j+n, x.shape)
		return g.dead(Shape{1, max(n, 0)})
	}
	if j == 0 && n == c {
		return x
	}
	return g.view(x, Shape{r, n}, j, r, n, ld)
}

// Reshape returns x seen with another shape of the same size, without a
// copy (a strided x is copied first).
func (g *Graph) Reshape(x *Node, shape Shape) *Node {
	if !g.check("reshape", x) {
		return g.dead(shape)
	}
	if shape.Len() != x.shape.Len() {
		g.failf("reshape", "%v to %v: sizes differ", x.shape, shape)
		return g.dead(shape)
	}
	if !x.contiguous() {
		x = g.Copy(x)
	}
	r, c := shape.Mat()
	return g.view(x, slices.Clone(shape), 0, r, c, c)
}

// Flatten returns x as a matrix of its rows: [n C H W] becomes [n C·H·W].
func (g *Graph) Flatten(x *Node) *Node {
	r, c := x.shape.Mat()
	if len(x.shape) == 2 {
		return x
	}
	return g.Reshape(x, Shape{r, c})
}
