package cpu

import "gan/nn"

var _ nn.Fused = (*Backend)(nil)

// MatMulBiasAct is MatMul(c, a, bm, transA, transB, 0) then BiasAct(c,
// bias, act) (see [nn.Fused]): package sgemm hands each block of C to the
// bias and activation as soon as its sums are complete, while it is in
// cache, and they do per element what BiasAct does.
func (b *Backend) MatMulBiasAct(c, a, bm nn.Mat, transA, transB bool, bias nn.Mat, act nn.Act) {
	const op = "MatMulBiasAct"
	if b.err != nil || !b.checkAct(op, act) {
		return
	}
	if !c.Contiguous() {
		b.failf(op, "strided output %v", c)
		return
	}
	var bd []float32
	if !bias.Empty() {
		bd = b.get(op, bias)
		if err := nn.CheckBias(bias, c); b.err == nil && err != nil {
			b.failf(op, "%v", err)
		}
	}
	if b.err != nil {
		return
	}
	e := &b.epi
	*e = biasActEpilogue{bias: bd, act: act}
	b.matMul(op, c, a, bm, transA, transB, 0, e)
	*e = biasActEpilogue{}
}

// biasActEpilogue is BiasAct as an sgemm.Epilogue: each row of a finished
// block gets the bias added (addTo) and the activation applied (applyAct),
// the float32 operations of biasActJob.
type biasActEpilogue struct {
	bias []float32
	act  nn.Act
}

func (e *biasActEpilogue) Finish(c []float32, ldc, i0, i1, j0, j1 int) {
	if e.bias == nil && e.act.Kind == nn.ActNone {
		return
	}
	for i := i0; i < i1; i++ {
		row := c[i*ldc+j0 : i*ldc+j1]
		if e.bias != nil {
			addTo(row, e.bias[j0:j1])
		}
		if j1-j0 != ldc {
			applyAct(row, row, e.act)
		}
	}
	if j1-j0 == ldc { // whole rows: one contiguous run
		block := c[i0*ldc : i1*ldc]
		applyAct(block, block, e.act)
	}
}
