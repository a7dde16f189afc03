package graph

import (
	"fmt"
	"slices"
	"sort"

	"gan/nn"
)

// instr is one step of a program: an op with the matrices it reads and
// writes, resolved at compile time.
type instr struct {
	op   op
	node *Node
	out  nn.Mat
	aux  []nn.Mat
	in   []nn.Mat
}

// Program is a compiled graph: an op list over buffers planned in one
// arena on one backend. It is not safe for concurrent use.
type Program struct {
	b      nn.Backend
	code   []instr
	arena  nn.Mat
	fetchM nn.Mat    // the fetched values, one block of the arena
	fetchH []float32 // their host copy after a run
	fetchI map[*Node]int
	mats   map[*Node]nn.Mat

	inputs  map[*Node][]inputRef
	bound   map[*Node]bool
	unbound int
	indices []*Index

	seed, step uint64

	// Stats of the plan, for tests and tuning.
	ArenaElems, PeakElems, Instrs, Copies int
}

// inputRef is an operand of an instruction that reads an input node
// (directly or through a view), patched by Bind.
type inputRef struct {
	ci, si int   // instruction and operand index
	view   *Node // the operand (the input or a view of it)
}

// align is the alignment of every buffer in the arena, in elements (64
// bytes, the widest vector load of the backends).
const align = 16

func roundUp(n int) int { return (n + align - 1) / align * align }

// group is one buffer of the plan: a node and the nodes that took over its
// storage in place.
type group struct {
	size     int // elements
	last     int // last instruction reading any member
	off      int // offset in the arena; -1 until placed
	external *nn.Mat
	pinned   bool // fetched or an output: never reused
}

// Compile plans g for backend b and returns the program. The graph must be
// complete: nodes added afterwards are not part of the program.
func (g *Graph) Compile(b nn.Backend) (*Program, error) {
	if g.err != nil {
		return nil, g.err
	}
	c := &compiler{g: g, b: b, p: &Program{b: b, fetchI: map[*Node]int{}, mats: map[*Node]nn.Mat{},
		inputs: map[*Node][]inputRef{}, bound: map[*Node]bool{}, indices: g.indices}}
	if err := c.run(); err != nil {
		return nil, err
	}
	return c.p, nil
}

type compiler struct {
	g *Graph
	b nn.Backend
	p *Program

	live    []bool
	pos     []int // instruction index of the op that writes each node (-1: none)
	last    []int // last instruction reading each node's storage root
	grp     []*group
	order   []*Node // nodes that become instructions, in order
	binding map[*Node][]*nn.Param
	fetched map[*Node]bool
	output  map[*Node]bool
	// tail are the gradient bindings no update consumes: they are computed
	// anyway and copied to their parameter's Grad arena at the end of the
	// run (unless computed there in place), for the caller to read.
	tail []gradBinding
}

const never = 1 << 60

func (c *compiler) run() error {
	g := c.g
	n := len(g.nodes)
	c.live = make([]bool, n)
	c.pos = make([]int, n)
	c.last = make([]int, n)
	c.grp = make([]*group, n)
	c.binding = map[*Node][]*nn.Param{}
	c.fetched = map[*Node]bool{}
	c.output = map[*Node]bool{}
	for i := range c.pos {
		c.pos[i], c.last[i] = -1, -1
	}
	// Roots: fetched values, outputs, gradient bindings, updates.
	var roots []*Node
	for _, f := range g.fetch {
		c.fetched[f] = true
		roots = append(roots, f)
	}
	for _, o := range g.outputs {
		c.output[o.storageRoot()] = true
		roots = append(roots, o)
	}
	for _, bd := range g.grads {
		t := bindTarget(bd.node)
		c.binding[t] = append(c.binding[t], bd.p)
		consumed := false
		for _, u := range g.updates {
			consumed = consumed || slices.Contains(u.in, bd.node)
		}
		if !consumed {
			c.tail = append(c.tail, bd)
			roots = append(roots, bd.node)
		}
	}
	roots = append(roots, g.updates...)
	if len(roots) == 0 {
		return fmt.Errorf("graph: compile: nothing to compute (no fetch, output or update)")
	}
	stack := slices.Clone(roots)
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.live[x.id] {
			continue
		}
		c.live[x.id] = true
		stack = append(stack, x.in...)
		if x.producer != nil {
			stack = append(stack, x.producer)
		}
	}
	for _, x := range g.nodes {
		if c.live[x.id] && x.kind == kindInput {
			c.p.bound[x] = false
			c.p.unbound++
		}
	}

	// Instruction order: the live ops in creation order.
	for _, x := range g.nodes {
		if c.live[x.id] && x.kind == kindOp && x.producer == nil {
			c.pos[x.id] = len(c.order)
			for _, a := range x.aux {
				c.pos[a.id] = len(c.order)
				c.live[a.id] = true
			}
			c.order = append(c.order, x)
		}
	}
	// Last reader of each storage root.
	for i, x := range c.order {
		for _, in := range x.in {
			r := in.storageRoot()
			c.last[r.id] = max(c.last[r.id], i)
		}
	}
	for _, x := range g.nodes {
		if !c.live[x.id] || x.kind != kindOp {
			continue
		}
		if c.last[x.id] < c.pos[x.id] {
			c.last[x.id] = c.pos[x.id] // written, never read
		}
	}
	for f := range c.fetched {
		c.last[f.storageRoot().id] = never
	}
	for o := range c.output {
		c.last[o.id] = never
	}
	for _, bd := range c.tail {
		c.last[bd.node.storageRoot().id] = never
	}
	return c.plan()
}

// place decides the storage group of every op node, aliasing in-place
// ops onto dying inputs, then lays out the arena and emits instructions.
func (c *compiler) plan() error {
	g, p := c.g, c.p
	gradPlaced := map[*nn.Param][][2]int{} // live ranges of direct placements per parameter
	placeGrad := func(x *Node) *nn.Mat {
		ps := c.binding[x]
		if len(ps) == 0 || c.fetched[x] || c.output[x] || x.producer != nil && isPacked(x.producer) {
			return nil
		}
		pr := ps[0]
		rng := [2]int{c.pos[x.id], c.last[x.id]}
		for _, r := range gradPlaced[pr] {
			if rng[0] <= r[1] && r[0] <= rng[1] {
				return nil
			}
		}
		gradPlaced[pr] = append(gradPlaced[pr], rng)
		m := pr.Grad
		return &m
	}
	newGroup := func(x *Node) *group {
		gr := &group{size: x.shape.Len(), last: c.last[x.id], off: -1}
		if c.fetched[x] || c.output[x] {
			gr.pinned = true
		}
		return gr
	}
	var code []instr
	var copies int
	type pending struct {
		at   int
		node *Node
		pr   *nn.Param
	}
	// The program: for each op, maybe a copy (in-place op on a shared
	// input), the op, and before each update the copies of its bindings
	// that could not be placed directly.
	for i, x := range c.order {
		if u, ok := x.op.(updateOp); ok {
			for _, pr := range u.opt.Params().Trainable() {
				var src *Node
				for _, bd := range g.grads {
					if bd.p == pr && slices.Contains(x.in, bd.node) {
						src = bd.node
					}
				}
				if src == nil {
					return fmt.Errorf("graph: compile: update of %s has no gradient", pr.Name)
				}
				if gr := c.grp[bindTarget(src).id]; gr != nil && gr.external != nil && gr.external.Buf == pr.Grad.Buf && gr.external.Off == pr.Grad.Off {
					continue // computed in place
				}
				code = append(code, instr{op: bindOp{pr}, node: src, in: make([]nn.Mat, 1)})
				copies++
			}
			if u.opt.Backend() != c.b {
				return fmt.Errorf("graph: compile: %v updates parameters on another backend", x)
			}
			code = append(code, instr{op: x.op, node: x})
			continue
		}
		ext := placeGrad(x)
		var gr *group
		if al, ok := x.op.(aliaser); ok {
			k, required := al.alias()
			in := x.in[k]
			share := ext == nil && !c.fetched[x] && !c.output[x] && in.kind == kindOp &&
				c.grp[in.id] != nil && !c.grp[in.id].pinned && c.grp[in.id].external == nil &&
				c.grp[in.id].last == i && in.shape.Len() == x.shape.Len() &&
				!(in.producer != nil && isPacked(in.producer))
			if share {
				gr = c.grp[in.id]
				gr.last = c.last[x.id]
			} else if required {
				gr = newGroup(x)
				code = append(code, instr{op: copyOp{}, node: x, in: make([]nn.Mat, 1)})
				copies++
			}
		}
		if gr == nil {
			gr = newGroup(x)
		}
		gr.external = ext
		c.grp[x.id] = gr
		if isPacked(x) {
			// The output and the first aux output form one block.
			gr.size = x.shape.Len() + x.aux[0].shape.Len()
			if c.fetched[x.aux[0]] {
				gr.pinned = true
			}
			gr.last = max(gr.last, c.last[x.aux[0].id])
			c.grp[x.aux[0].id] = gr
			for _, a := range x.aux[1:] {
				ag := newGroup(a)
				ag.external = placeGrad(a)
				c.grp[a.id] = ag
			}
		} else {
			for _, a := range x.aux {
				ag := newGroup(a)
				ag.external = placeGrad(a)
				c.grp[a.id] = ag
			}
		}
		code = append(code, instr{op: x.op, node: x, in: make([]nn.Mat, len(x.in)), aux: make([]nn.Mat, len(x.aux))})
	}
	for _, bd := range c.tail {
		if gr := c.grp[bindTarget(bd.node).id]; gr != nil && gr.external != nil && gr.external.Buf == bd.p.Grad.Buf && gr.external.Off == bd.p.Grad.Off {
			continue // computed in place
		}
		code = append(code, instr{op: bindOp{bd.p}, node: bd.node, in: make([]nn.Mat, 1)})
		copies++
	}

	// Lay out the arena: constants, fetched values, outputs, then the
	// intermediates by lifetime (first fit in a free list).
	off := 0
	constOff := map[*Node]int{}
	for _, x := range g.nodes {
		if c.live[x.id] && x.kind == kindConst {
			constOff[x] = off
			off += roundUp(x.shape.Len())
		}
	}
	// Fetched values: each gets its slot in one contiguous block; those
	// not computed by an op of their own are copied there at the end.
	fetchStart := off
	var fetchCopies []*Node
	fetchSlot := map[*Node]int{}
	seenGroup := map[*group]bool{}
	for _, f := range g.fetch {
		if _, dup := fetchSlot[f]; dup {
			continue
		}
		gr := c.grp[f.id]
		if f.kind == kindOp && gr != nil && gr.external == nil {
			if !seenGroup[gr] {
				seenGroup[gr] = true
				gr.off = off
				off += gr.size
			}
			base := gr.off
			if f.producer != nil && isPacked(f.producer) && f == f.producer.aux[0] {
				base += f.producer.shape.Len()
			}
			fetchSlot[f] = base - fetchStart
			continue
		}
		fetchSlot[f] = off - fetchStart
		fetchCopies = append(fetchCopies, f)
		off += f.shape.Len()
	}
	fetchEnd := off
	off = roundUp(off)
	for _, x := range c.order {
		for _, y := range append([]*Node{x}, x.aux...) {
			if gr := c.grp[y.id]; gr != nil && gr.pinned && gr.off < 0 && gr.external == nil {
				gr.off = off
				off += roundUp(gr.size)
			}
		}
	}
	planStart := off
	peak := 0
	var free []span
	var groupsByEnd []*group
	for i, x := range c.order {
		for _, y := range append([]*Node{x}, x.aux...) {
			gr := c.grp[y.id]
			if gr == nil || gr.off >= 0 || gr.external != nil {
				continue
			}
			size := roundUp(gr.size)
			var o int
			o, free = take(free, size, &off)
			gr.off = o
			peak = max(peak, off-planStart)
			groupsByEnd = append(groupsByEnd, gr)
		}
		// Release the groups whose last reader is this instruction.
		kept := groupsByEnd[:0]
		for _, gr := range groupsByEnd {
			if gr.last <= i {
				free = give(free, span{gr.off, roundUp(gr.size)})
			} else {
				kept = append(kept, gr)
			}
		}
		groupsByEnd = kept
	}
	total := max(off, 1)
	arena, err := c.b.Alloc(1, total)
	if err != nil {
		return fmt.Errorf("graph: compile: the arena of %d floats: %w", total, err)
	}
	p.arena = arena
	p.ArenaElems, p.PeakElems = total, peak
	for x, o := range constOff {
		c.b.Fill(arena.Slice(o, 1, x.shape.Len()), x.value)
	}
	if fetchEnd > fetchStart {
		p.fetchM = arena.Slice(fetchStart, 1, fetchEnd-fetchStart)
		p.fetchH = make([]float32, fetchEnd-fetchStart)
	}
	for f, s := range fetchSlot {
		p.fetchI[f] = s
	}

	// Resolve every operand.
	matOf := func(x *Node) nn.Mat {
		r := x.storageRoot()
		var base nn.Mat
		switch r.kind {
		case kindParam:
			base = r.param.Value
		case kindExternal:
			base = r.ext
		case kindConst:
			base = arena.Slice(constOff[r], 1, r.shape.Len())
		case kindInput:
			base = nn.Mat{} // patched by Bind
		case kindOp:
			gr := c.grp[r.id]
			if gr == nil {
				return nn.Mat{} // an update: no value
			}
			if gr.external != nil {
				base = *gr.external
			} else {
				o := gr.off
				if r.producer != nil && isPacked(r.producer) && r == r.producer.aux[0] {
					o += r.producer.shape.Len()
				}
				base = arena.Slice(o, 1, r.shape.Len())
			}
		}
		rr, cc := r.shape.Mat()
		if base.Buf != nil {
			base = nn.Mat{Rows: rr, Cols: cc, Off: base.Off, Buf: base.Buf}
		}
		if x.kind != kindView {
			return base
		}
		m := nn.Mat{Rows: x.rows, Cols: x.cols, Off: base.Off + x.off, Buf: base.Buf}
		if x.ld != x.cols && x.rows > 1 {
			m.Stride = x.ld
		}
		return m
	}
	for _, x := range g.nodes {
		if c.live[x.id] && x.kind != kindInput && !(x.kind == kindView && x.root.kind == kindInput) {
			p.mats[x] = matOf(x)
		}
	}
	for ci := range code {
		in := &code[ci]
		x := in.node
		switch o := in.op.(type) {
		case bindOp:
			in.out = o.p.Grad
			in.in[0] = c.operand(ci, 0, x, matOf)
			continue
		case updateOp:
			continue
		case copyOp:
			if x.op != (copyOp{}) { // the copy before an in-place op
				in.out = matOf(x)
				in.in[0] = c.operand(ci, 0, x.in[0], matOf)
				continue
			}
		}
		in.out = matOf(x)
		for k, a := range x.aux {
			in.aux[k] = matOf(a)
		}
		for k, y := range x.in {
			in.in[k] = c.operand(ci, k, y, matOf)
		}
		if al, ok := x.op.(aliaser); ok {
			if k, required := al.alias(); required && ci > 0 && code[ci-1].node == x {
				in.in[k] = in.out // the copy made the input the output
			}
		}
	}
	for _, f := range fetchCopies {
		ci := len(code)
		code = append(code, instr{op: copyOp{}, node: f, in: make([]nn.Mat, 1),
			out: arena.Slice(fetchStart+fetchSlot[f], 1, f.shape.Len())})
		code[ci].in[0] = c.operand(ci, 0, f, matOf)
		copies++
	}
	code = c.fuse(code)
	p.code = code
	p.Instrs = len(code)
	p.Copies = copies
	return c.b.Sync()
}

// operand resolves the operand y of instruction ci, recording inputs for
// Bind.
func (c *compiler) operand(ci, si int, y *Node, matOf func(*Node) nn.Mat) nn.Mat {
	if y.storageRoot().kind == kindInput {
		r := y.storageRoot()
		c.p.inputs[r] = append(c.p.inputs[r], inputRef{ci: ci, si: si, view: y})
		return nn.Mat{}
	}
	return matOf(y)
}

// bindTarget is the node a gradient binding writes: a view that covers its
// root exactly is the root itself.
func bindTarget(n *Node) *Node {
	if n.kind == kindView && n.root.kind == kindOp && n.off == 0 && n.contiguous() &&
		n.rows*n.cols == n.root.shape.Len() {
		return n.root
	}
	return n
}

func isPacked(x *Node) bool {
	pk, ok := x.op.(packer)
	return ok && pk.packed() && len(x.aux) > 0
}

// bindOp copies a gradient into its parameter's gradient arena (when it
// could not be computed there directly).
type bindOp struct{ p *nn.Param }

func (o bindOp) name() string { return "bind_grad(" + o.p.Name + ")" }
func (o bindOp) exec(p *Program, c *instr) {
	if c.in[0].Rows == c.out.Rows && c.in[0].Cols == c.out.Cols || c.in[0].Contiguous() {
		p.b.Copy(c.out, c.in[0])
		return
	}
	p.b.Copy(nn.Mat{Rows: c.in[0].Rows, Cols: c.in[0].Cols, Off: c.out.Off, Buf: c.out.Buf}, c.in[0])
}

// span is a free range of the arena.
type span struct{ off, size int }

// take returns the offset of a free range of size elements (best fit from
// the free list, else the end of the arena, which grows).
func take(free []span, size int, end *int) (int, []span) {
	best := -1
	for i, s := range free {
		if s.size >= size && (best < 0 || s.size < free[best].size) {
			best = i
		}
	}
	if best < 0 {
		// Grow, extending a free range that ends at the arena's end.
		if n := len(free); n > 0 && free[n-1].off+free[n-1].size == *end {
			o := free[n-1].off
			*end = o + size
			return o, free[:n-1]
		}
		o := *end
		*end += size
		return o, free
	}
	o := free[best].off
	if free[best].size == size {
		return o, slices.Delete(free, best, best+1)
	}
	free[best] = span{o + size, free[best].size - size}
	return o, free
}

// give returns a range to the free list, merging it with its neighbours;
// the list stays sorted by offset.
func give(free []span, s span) []span {
	i := sort.Search(len(free), func(i int) bool { return free[i].off > s.off })
	free = slices.Insert(free, i, s)
	if i+1 < len(free) && free[i].off+free[i].size == free[i+1].off {
		free[i].size += free[i+1].size
		free = slices.Delete(free, i+1, i+2)
	}
	if i > 0 && free[i-1].off+free[i-1].size == free[i].off {
		free[i-1].size += free[i].size
		free = slices.Delete(free, i, i+1)
	}
	return free
}

// ---- running

// Bind sets the matrix an input node reads in the following runs; its
// shape must be the node's.
func (p *Program) Bind(in *Node, m nn.Mat) error {
	if _, ok := p.bound[in]; !ok {
		return fmt.Errorf("graph: bind: %v is not an input of this program", in)
	}
	if r, c := in.shape.Mat(); m.Rows != r || m.Cols != c || !m.Contiguous() || m.Empty() {
		return fmt.Errorf("graph: bind: %v for input %v", m, in)
	}
	for _, ref := range p.inputs[in] {
		v := m
		if ref.view.kind == kindView {
			v = nn.Mat{Rows: ref.view.rows, Cols: ref.view.cols, Off: m.Off + ref.view.off, Buf: m.Buf}
			if ref.view.ld != ref.view.cols && ref.view.rows > 1 {
				v.Stride = ref.view.ld
			}
		}
		c := &p.code[ref.ci]
		c.in[ref.si] = v
	}
	if !p.bound[in] {
		p.bound[in] = true
		p.unbound--
	}
	p.mats[in] = m
	return nil
}

// SetIndices sets the values of an index vector for the following runs;
// the program reads vals during Run, so the caller must not change them
// while a run is in progress.
func (p *Program) SetIndices(ix *Index, vals []int32) error {
	if len(vals) != ix.n {
		return fmt.Errorf("graph: indices %s: %d values, want %d", ix.name, len(vals), ix.n)
	}
	ix.vals = vals
	return nil
}

// Run executes the program once with the random streams of seed at step,
// then waits for the device and reads the fetched values back. It
// allocates nothing.
func (p *Program) Run(seed, step uint64) error {
	if p.unbound > 0 {
		for in, ok := range p.bound {
			if !ok {
				return fmt.Errorf("graph: run: input %v is not bound", in)
			}
		}
	}
	p.seed, p.step = seed, step
	for i := range p.code {
		c := &p.code[i]
		c.op.exec(p, c)
	}
	if len(p.fetchH) > 0 {
		return p.b.Download(p.fetchH, p.fetchM)
	}
	return p.b.Sync()
}

// Value returns a fetched scalar (the first element of a fetched tensor)
// from the last run.
func (p *Program) Value(n *Node) float32 {
	i, ok := p.fetchI[n]
	if !ok {
		panic(fmt.Sprintf("graph: %v is not fetched", n))
	}
	return p.fetchH[i]
}

// Values returns the elements of a fetched tensor from the last run (a
// view of the program's host buffer, overwritten by the next run).
func (p *Program) Values(n *Node) []float32 {
	i, ok := p.fetchI[n]
	if !ok {
		panic(fmt.Sprintf("graph: %v is not fetched", n))
	}
	return p.fetchH[i : i+n.shape.Len()]
}

// Mat returns the matrix holding a node's value: an output's after a run,
// or any node's storage (which later ops may reuse unless it is an
// output).
func (p *Program) Mat(n *Node) nn.Mat { return p.mats[n] }

// Backend returns the backend the program runs on.
func (p *Program) Backend() nn.Backend { return p.b }

// Free releases the arena. The program must not be run afterwards.
func (p *Program) Free() {
	if !p.arena.Empty() {
		p.b.Free(p.arena)
		p.arena = nn.Mat{}
	}
}

// String lists the program, an instruction per line, for debugging.
func (p *Program) String() string {
	s := ""
	for i, c := range p.code {
		s += fmt.Sprintf("%3d %-28s %v <- %v\n", i, c.op.name(), c.out, c.in)
	}
	return s
}
