//go:build (gancuda || cudaemu) && cgo

package gpu

// The fused ops of nn.Fused (kernels/fused.cu).

import "gan/nn"

var _ nn.Fused = (*Backend)(nil)

// MatMulBiasAct is MatMul(c, a, bm, transA, transB, 0) then BiasAct(c,
// bias, act): the two kernels back to back (see [nn.Fused]; the GEMM
// kernels have no epilogue yet).
func (b *Backend) MatMulBiasAct(c, a, bm nn.Mat, transA, transB bool, bias nn.Mat, act nn.Act) {
	b.MatMul(c, a, bm, transA, transB, 0)
	b.BiasAct(c, bias, act)
}

// AxpbyAct is Axpby(y, a, bm, alpha, beta) then Activate(z, y, act) in one
// kernel (see [nn.Fused]); strided operands run the two ops.
func (b *Backend) AxpbyAct(y, a, bm nn.Mat, alpha, beta float32, z nn.Mat, act nn.Act) {
	const op = "AxpbyAct"
	if b.err != nil || !b.checkAct(op, act) || !b.same(op, y, z) {
		return
	}
	if err := nn.CheckAxpby(y, a, bm, beta); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if !y.Contiguous() || !a.Contiguous() || !z.Contiguous() || (beta != 0 && !bm.Contiguous()) {
		b.Axpby(y, a, bm, alpha, beta)
		b.Activate(z, y, act)
		return
	}
	yp, ap, zp := b.get(op, y), b.get(op, a), b.get(op, z)
	var bp uint64
	if beta != 0 {
		bp = b.get(op, bm)
	}
	if b.err != nil || y.Len() == 0 {
		return
	}
	actArgs(b.args.reset().i(y.Len()).p(yp).p(ap).p(bp).f(alpha).f(beta).p(zp), act)
	b.launch(op, b.k.axpbyAct, b.grid1(y.Len()), 1, threads, 1)
}

// AxpbyActBackward is ActBackward(d, dy, ya, act) then Axpby(y, a, d,
// alpha, beta) in one kernel, d not stored, then ColSum(db, y, 0) unless db
// is empty (see [nn.Fused]). Contiguous operands only.
func (b *Backend) AxpbyActBackward(y, a nn.Mat, alpha, beta float32, dy, ya nn.Mat, act nn.Act, db nn.Mat) {
	const op = "AxpbyActBackward"
	if b.err != nil || !b.checkAct(op, act) || !b.same(op, y, a, dy, ya) {
		return
	}
	yp, ap, dyp, yap := b.get(op, y), b.get(op, a), b.get(op, dy), b.get(op, ya)
	if b.err != nil {
		return
	}
	if y.Len() > 0 {
		actArgs(b.args.reset().i(y.Len()).p(yp).p(ap).f(alpha).f(beta).p(dyp).p(yap), act)
		b.launch(op, b.k.axpbyActBack, b.grid1(y.Len()), 1, threads, 1)
	}
	if !db.Empty() {
		b.ColSum(db, y, 0)
	}
}

// ActBackwardColSum is ActBackward(dx, dy, y, act) then ColSum(db, dx, 0)
// in one kernel: col_sum's blocks and order, each element's dx computed
// and stored by the thread that sums it (see [nn.Fused]).
func (b *Backend) ActBackwardColSum(dx, db, dy, y nn.Mat, act nn.Act) {
	const op = "ActBackwardColSum"
	if b.err != nil || !b.checkAct(op, act) || !b.same(op, dx, dy, y) {
		return
	}
	dxp, dbp, dyp, yp := b.get(op, dx), b.get(op, db), b.get(op, dy), b.get(op, y)
	if b.err != nil {
		return
	}
	if err := nn.CheckColSum(db, dx); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if dx.Cols == 0 {
		return
	}
	actArgs(b.args.reset().i(dx.Rows).i(dx.Cols).p(dxp).p(dyp).p(yp), act).p(dbp)
	b.launch(op, b.k.actBackColSum, ceilDiv(dx.Cols, 32), 1, 32, 8)
}
