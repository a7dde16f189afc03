package graph

import "gan/nn"

// The fusion pass: where the backend implements [nn.Fused], pairs of
// adjacent instructions that it runs in one pass are replaced by the fused
// instruction, whose results are the pair's bit for bit:
//
//	matmul c = a·b; bias_act c = act(c + bias)  →  MatMulBiasAct
//	axpby y = αa + βb; act z = act(y)            →  AxpbyAct
//	act_backward d = dy·act′(ya); axpby y = αa + βd [; col_sum Σ y]
//	                                             →  AxpbyActBackward
//	act_backward dx = dy·act′(y); col_sum Σ dx   →  ActBackwardColSum
//
// The first is every Linear layer's and convolution's forward (the
// bias_act works in place on the product, which nothing else reads); the
// second a residual sum and the activation the next layer reads; the
// third a residual stream's gradient (and the bias gradient of the layer
// that wrote the sum), fused only where nothing reads d afterwards (it is
// not stored); the fourth the input and bias gradients of a BiasAct.
//
// The planner may place a later instruction's output in the memory of an
// earlier one's input that dies there; a fused op reads and writes them
// together, so a pair is fused only when every such output is disjoint from
// those inputs, or is one of them exactly (in place, element for element).

// fuseOps turns the pass off (tests compare the two programs).
var fuseOps = true

type axpbyActOp struct {
	f           nn.Fused
	alpha, beta float32
	act         nn.Act
}

func (o axpbyActOp) name() string { return "axpby+" + o.act.String() }
func (o axpbyActOp) exec(p *Program, c *instr) {
	o.f.AxpbyAct(c.out, c.in[0], c.in[1], o.alpha, o.beta, c.aux[0], o.act)
}

type axpbyActBackwardOp struct {
	f           nn.Fused
	alpha, beta float32
	act         nn.Act
}

func (o axpbyActBackwardOp) name() string { return "axpby+" + o.act.String() + "_backward" }
func (o axpbyActBackwardOp) exec(p *Program, c *instr) {
	var db nn.Mat
	if len(c.aux) > 0 {
		db = c.aux[0]
	}
	o.f.AxpbyActBackward(c.out, c.in[0], o.alpha, o.beta, c.in[1], c.in[2], o.act, db)
}

type actBackwardColSumOp struct {
	f   nn.Fused
	act nn.Act
}

func (o actBackwardColSumOp) name() string { return o.act.String() + "_backward+col_sum" }
func (o actBackwardColSumOp) exec(p *Program, c *instr) {
	o.f.ActBackwardColSum(c.out, c.aux[0], c.in[0], c.in[1], o.act)
}

type matmulBiasActOp struct {
	f      nn.Fused
	ta, tb bool
	act    nn.Act
}

func (o matmulBiasActOp) name() string { return "matmul+bias_act(" + o.act.String() + ")" }
func (o matmulBiasActOp) exec(p *Program, c *instr) {
	var bias nn.Mat
	if len(c.in) > 2 {
		bias = c.in[2]
	}
	o.f.MatMulBiasAct(c.out, c.in[0], c.in[1], o.ta, o.tb, bias, o.act)
}

// fuse returns code with the fusable pairs replaced, and moves the
// program's input references to the new instructions and operands.
func (c *compiler) fuse(code []instr) []instr {
	f, ok := c.b.(nn.Fused)
	if !ok || !fuseOps {
		return code
	}
	// moved[ci][si] is the new (instruction, operand) of an old operand.
	type ref struct{ ci, si int }
	moved := map[ref]ref{}
	out := code[:0:0]
	for i := 0; i < len(code); i++ {
		x := code[i]
		j := len(out)
		if i+1 < len(code) {
			y := code[i+1]
			switch {
			case fusesBiasAct(x, y):
				in := []nn.Mat{x.in[0], x.in[1]}
				if len(y.in) > 1 {
					in = append(in, y.in[1])
					moved[ref{i + 1, 1}] = ref{j, 2}
				}
				moved[ref{i, 0}], moved[ref{i, 1}] = ref{j, 0}, ref{j, 1}
				mm := x.op.(matmulOp)
				out = append(out, instr{op: matmulBiasActOp{f, mm.ta, mm.tb, y.op.(biasActOp).act}, node: y.node, out: x.out, in: in})
				i++
				continue
			case fusesAxpbyAct(x, y):
				ax := x.op.(axpbyOp)
				moved[ref{i, 0}], moved[ref{i, 1}] = ref{j, 0}, ref{j, 1}
				out = append(out, instr{op: axpbyActOp{f, ax.alpha, ax.beta, y.op.(actOp).act}, node: y.node, out: x.out,
					in: []nn.Mat{x.in[0], x.in[1]}, aux: []nn.Mat{y.out}})
				i++
				continue
			}
			if k, ok := c.fusesActBackward(x, y); ok {
				ax := x.op.(actBackwardOp)
				ab := y.op.(axpbyOp)
				alpha, beta := ab.alpha, ab.beta // of the other operand, and of d
				if k == 0 {
					alpha, beta = beta, alpha
				}
				moved[ref{i + 1, 1 - k}], moved[ref{i, 0}], moved[ref{i, 1}] = ref{j, 0}, ref{j, 1}, ref{j, 2}
				fused := instr{op: axpbyActBackwardOp{f, alpha, beta, ax.act}, node: y.node, out: y.out,
					in: []nn.Mat{y.in[1-k], x.in[0], x.in[1]}}
				i++
				if i+1 < len(code) && sumsOf(code[i+1], y.out) && apart(code[i+1].out, y.out, y.in[1-k], x.in[0], x.in[1]) {
					fused.aux = []nn.Mat{code[i+1].out}
					i++
				}
				out = append(out, fused)
				continue
			}
			if _, ab := x.op.(actBackwardOp); ab && sumsOf(y, x.out) && apart(y.out, x.out, x.in[0], x.in[1]) {
				moved[ref{i, 0}], moved[ref{i, 1}] = ref{j, 0}, ref{j, 1}
				out = append(out, instr{op: actBackwardColSumOp{f, x.op.(actBackwardOp).act}, node: x.node, out: x.out,
					in: []nn.Mat{x.in[0], x.in[1]}, aux: []nn.Mat{y.out}})
				i++
				continue
			}
		}
		for si := range x.in {
			moved[ref{i, si}] = ref{j, si}
		}
		out = append(out, x)
	}
	for in, refs := range c.p.inputs {
		for k, r := range refs {
			to := moved[ref{r.ci, r.si}]
			refs[k].ci, refs[k].si = to.ci, to.si
		}
		c.p.inputs[in] = refs
	}
	return out
}

// fusesBiasAct says whether y is a bias_act in place on the product that
// the matmul x has just written.
func fusesBiasAct(x, y instr) bool {
	_, mm := x.op.(matmulOp)
	_, ba := y.op.(biasActOp)
	return mm && ba && y.in[0] == x.out && y.out == x.out && x.out.Contiguous()
}

// fusesAxpbyAct says whether y is an activation of the sum that the axpby
// x has just written.
func fusesAxpbyAct(x, y instr) bool {
	_, ax := x.op.(axpbyOp)
	_, ac := y.op.(actOp)
	return ax && ac && y.in[0] == x.out && x.out.Contiguous() && y.out.Contiguous() &&
		x.in[0].Contiguous() && x.in[1].Contiguous() && apart(y.out, x.in...)
}

// apart says whether the output o is disjoint from each of the inputs, or
// is that input exactly (see the fusion pass's comment).
func apart(o nn.Mat, ins ...nn.Mat) bool {
	for _, in := range ins {
		if in == o || in.Buf == nil || in.Buf != o.Buf {
			continue
		}
		if in.Off < o.Off+o.Extent() && o.Off < in.Off+in.Extent() {
			return false
		}
	}
	return true
}

// fusesActBackward says whether y is an axpby of the gradient d that the
// act_backward x has just written (operand k of y) and nothing reads d
// afterwards: its storage is neither pinned, nor a parameter's gradient,
// nor read after y.
func (c *compiler) fusesActBackward(x, y instr) (k int, ok bool) {
	_, ab := x.op.(actBackwardOp)
	_, ax := y.op.(axpbyOp)
	if !ab || !ax {
		return 0, false
	}
	switch x.out {
	case y.in[0]:
		k = 0
	case y.in[1]:
		k = 1
	default:
		return 0, false
	}
	if y.in[1-k] == x.out { // d + d
		return 0, false
	}
	gr := c.grp[x.node.id]
	if gr == nil || gr.pinned || gr.external != nil || gr.last > c.pos[y.node.id] {
		return 0, false
	}
	for _, m := range []nn.Mat{y.out, y.in[1-k], x.in[0], x.in[1]} {
		if !m.Contiguous() {
			return 0, false
		}
	}
	return k, apart(y.out, x.in...)
}

// sumsOf says whether y is a col_sum of the matrix m.
func sumsOf(y instr, m nn.Mat) bool {
	_, cs := y.op.(colSumOp)
	return cs && y.in[0] == m && m.Contiguous()
}
