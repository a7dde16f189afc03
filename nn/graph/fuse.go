package graph

import "gan/nn"

// The fusion pass: where the backend implements [nn.Fused], pairs of
// adjacent instructions that it runs in one pass are replaced by the fused
// instruction, whose results are the pair's bit for bit:
//
//	matmul c = a·b; bias_act c = act(c + bias)  →  MatMulBiasAct
//
// (every Linear layer's and convolution's forward; the bias_act works in
// place on the product, which nothing else reads).

// fuseOps turns the pass off (tests compare the two programs).
var fuseOps = true

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
		if i+1 < len(code) && fusesBiasAct(x, code[i+1]) {
			y, j := code[i+1], len(out)
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
		}
		for si := range x.in {
			moved[ref{i, si}] = ref{len(out), si}
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
