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

// fusedChunk is the number of elements the elementwise fused ops take
// through both of their stages at a time (16 KB of float32 per operand:
// the second stage reads the first's output from L1).
const fusedChunk = 4096

// AxpbyAct is Axpby(y, a, bm, alpha, beta) then Activate(z, y, act) (see
// [nn.Fused]), chunk by chunk with the two ops' kernels. Strided operands
// run the two ops.
func (b *Backend) AxpbyAct(y, a, bm nn.Mat, alpha, beta float32, z nn.Mat, act nn.Act) {
	const op = "AxpbyAct"
	if b.err != nil || !b.checkAct(op, act) || !b.check(op, nn.CheckAxpby(y, a, bm, beta)) || !b.same(op, y, z) {
		return
	}
	if !y.Contiguous() || !a.Contiguous() || !z.Contiguous() || (beta != 0 && !bm.Contiguous()) {
		b.Axpby(y, a, bm, alpha, beta)
		b.Activate(z, y, act)
		return
	}
	yd, ad, zd := b.get(op, y), b.get(op, a), b.get(op, z)
	var bd []float32
	if beta != 0 {
		bd = b.get(op, bm)
	}
	if b.err != nil {
		return
	}
	j := &b.jAxpbyAct
	*j = axpbyActJob{y: yd, a: ad, b: bd, z: zd, alpha: alpha, beta: beta, act: act}
	b.parallel(len(yd), costCheap+actCost(act), j)
	*j = axpbyActJob{}
}

// axpbyActJob does elements [lo, hi) of AxpbyAct.
type axpbyActJob struct {
	y, a, b, z  []float32
	alpha, beta float32
	act         nn.Act
}

func (j *axpbyActJob) run(lo, hi int) {
	for c0 := lo; c0 < hi; c0 += fusedChunk {
		c1 := min(hi, c0+fusedChunk)
		var bs []float32
		if j.b != nil {
			bs = j.b[c0:c1]
		}
		axpbySlice(j.y[c0:c1], j.a[c0:c1], bs, j.alpha, j.beta)
		applyAct(j.z[c0:c1], j.y[c0:c1], j.act)
	}
}

// AxpbyActBackward is ActBackward(d, dy, ya, act) then Axpby(y, a, d,
// alpha, beta), d kept chunk by chunk on the stack, then ColSum(db, y, 0)
// unless db is empty (see [nn.Fused]); the sums over row blocks as
// ColSum's. Contiguous operands only; y may be a.
func (b *Backend) AxpbyActBackward(y, a nn.Mat, alpha, beta float32, dy, ya nn.Mat, act nn.Act, db nn.Mat) {
	const op = "AxpbyActBackward"
	if b.err != nil || !b.checkAct(op, act) || !b.same(op, y, a, dy, ya) {
		return
	}
	yd, ad, dyd, yad := b.get(op, y), b.get(op, a), b.get(op, dy), b.get(op, ya)
	var dbd []float32
	if !db.Empty() {
		dbd = b.get(op, db)
		if err := nn.CheckColSum(db, y); b.err == nil && err != nil {
			b.failf(op, "%v", err)
		}
	}
	if b.err != nil {
		return
	}
	if dbd != nil {
		j := &b.jRowSums
		*j = rowBlockSumJob{stage: stageAxpbyActBackward, out: yd, a: ad, dy: dyd, ya: yad, alpha: alpha, beta: beta,
			act: act, rows: y.Rows, cols: y.Cols}
		b.rowBlockSums(j, dbd, 0)
		*j = rowBlockSumJob{}
		return
	}
	j := &b.jAxpbyActBack
	*j = axpbyActBackwardJob{y: yd, a: ad, dy: dyd, ya: yad, alpha: alpha, beta: beta, act: act}
	b.parallel(len(yd), 2*costCheap, j)
	*j = axpbyActBackwardJob{}
}

// axpbyActBackwardJob does elements [lo, hi) of AxpbyActBackward.
type axpbyActBackwardJob struct {
	y, a, dy, ya []float32
	alpha, beta  float32
	act          nn.Act
}

func (j *axpbyActBackwardJob) run(lo, hi int) {
	var d [fusedChunk]float32
	axpbyActBackSlice(j.y[lo:hi], j.a[lo:hi], j.dy[lo:hi], j.ya[lo:hi], j.alpha, j.beta, j.act, &d)
}

// axpbyActBackSlice sets y = Axpby(a, d, alpha, beta) for d =
// ActBackward(dy, ya, act), d computed fusedChunk elements at a time into
// the scratch and never stored; with beta = 0 dy and ya are not read, as
// Axpby does not read d. y may be a.
func axpbyActBackSlice(y, a, dy, ya []float32, alpha, beta float32, act nn.Act, d *[fusedChunk]float32) {
	if beta == 0 {
		axpbySlice(y, a, nil, alpha, 0)
		return
	}
	for c0 := 0; c0 < len(y); c0 += fusedChunk {
		c1 := min(len(y), c0+fusedChunk)
		dc := d[:c1-c0]
		actBackSlice(dc, dy[c0:c1], ya[c0:c1], act)
		axpbySlice(y[c0:c1], a[c0:c1], dc, alpha, beta)
	}
}

// ActBackwardColSum is ActBackward(dx, dy, y, act) then ColSum(db, dx, 0)
// (see [nn.Fused]): each block of ColSum's rows gets its dx written and
// summed while in cache. Contiguous operands only; dx may be dy.
func (b *Backend) ActBackwardColSum(dx, db, dy, y nn.Mat, act nn.Act) {
	const op = "ActBackwardColSum"
	if b.err != nil || !b.checkAct(op, act) || !b.same(op, dx, dy, y) {
		return
	}
	dxd, dbd, dyd, yd := b.get(op, dx), b.get(op, db), b.get(op, dy), b.get(op, y)
	if b.err != nil {
		return
	}
	if err := nn.CheckColSum(db, dx); err != nil {
		b.failf(op, "%v", err)
		return
	}
	j := &b.jRowSums
	*j = rowBlockSumJob{stage: stageActBackward, out: dxd, dy: dyd, ya: yd, act: act, rows: dx.Rows, cols: dx.Cols}
	b.rowBlockSums(j, dbd, 0)
	*j = rowBlockSumJob{}
}
