package cpu

import (
	"fmt"
	"math"

	"gan/cpu/sgemm"
	"gan/nn"
)

// The ops of attention and transformer MLPs: BatchMatMul, CausalSoftmax
// and its backward, GELU and its backward.

// bmmSerialWork is the size (multiply-adds) of one block of a BatchMatMul
// from which the blocks run one after the other, each on every worker of
// sgemm; below it the blocks are shared out over the workers, one sgemm
// call on one goroutine per block (sgemm's own threshold for splitting a
// product, parMinGemm, is 2²²).
const bmmSerialWork = 1 << 22

// BatchMatMul computes C_i = op(A_i)·op(B_i) + beta·C_i for the batch·heads
// blocks of its operands (see [nn.Backend]) with [sgemm.SgemmWorkers], each
// block addressed in place through its operand's leading dimension. Small
// blocks (attention's T×T scores with head sizes 16 to 64) are shared out
// over the workers, each block with sgemm.Small where its shape allows;
// large ones run one after the other on all of them.
// sgemm's results do not depend on its worker count, so neither do these.
// A, B and C may be strided.
func (b *Backend) BatchMatMul(c, a, bm nn.Mat, batch, heads int, transA, transB bool, beta float32) {
	const op = "BatchMatMul"
	if b.err != nil {
		return
	}
	cd, ad, bd := b.getStrided(op, c), b.getStrided(op, a), b.getStrided(op, bm)
	if b.err != nil {
		return
	}
	m, n, k, err := nn.BatchMatMulDims(c, a, bm, batch, heads, transA, transB)
	if err != nil {
		b.fail(fmt.Errorf("cpu: %s: %w", op, err))
		return
	}
	if m == 0 || n == 0 {
		return
	}
	j := &b.jBMM
	*j = batchMatMulJob{c: cd, a: ad, b: bd, ldc: lead(c), lda: lead(a), ldb: lead(bm),
		cm: c, am: a, bm: bm, batch: batch, heads: heads, m: m, n: n, k: k,
		transA: transA, transB: transB, beta: beta, workers: 1}
	if m*n*k >= bmmSerialWork || batch*heads == 1 {
		j.workers = b.workers
		j.run(0, batch*heads)
	} else {
		b.parallel(batch*heads, m*n*max(k, 1), j)
	}
	*j = batchMatMulJob{}
}

// batchMatMulJob does blocks [lo, hi) of BatchMatMul, block i being (s, h)
// = (i / heads, i % heads).
type batchMatMulJob struct {
	c, a, b        []float32
	ldc, lda, ldb  int
	cm, am, bm     nn.Mat
	batch, heads   int
	m, n, k        int
	transA, transB bool
	beta           float32
	workers        int
}

// blockStart returns the index in x's storage of block (s, h)'s first element.
func blockStart(x nn.Mat, ld, batch, heads, s, h int) int {
	return s*(x.Rows/batch)*ld + h*(x.Cols/heads)
}

func (j *batchMatMulJob) run(lo, hi int) {
	for i := lo; i < hi; i++ {
		s, h := i/j.heads, i%j.heads
		c := j.c[blockStart(j.cm, j.ldc, j.batch, j.heads, s, h):]
		if j.k == 0 {
			// An empty sum: C = beta·C (beta = 0 clears, NaNs included).
			for r := 0; r < j.m; r++ {
				row := c[r*j.ldc : r*j.ldc+j.n]
				if j.beta == 0 {
					clear(row)
				} else {
					for q := range row {
						row[q] *= j.beta
					}
				}
			}
			continue
		}
		a := j.a[blockStart(j.am, j.lda, j.batch, j.heads, s, h):]
		b := j.b[blockStart(j.bm, j.ldb, j.batch, j.heads, s, h):]
		if j.workers == 1 && sgemm.Small(j.transA, j.transB, j.m, j.n, j.k, a, j.lda, b, j.ldb, j.beta, c, j.ldc) {
			continue
		}
		sgemm.SgemmWorkers(j.workers, j.transA, j.transB, j.m, j.n, j.k, a, j.lda, b, j.ldb, j.beta, c, j.ldc)
	}
}

// causalStack is the longest row segment whose exponentials CausalSoftmax
// keeps on the stack; longer segments compute each exponential twice.
const causalStack = 1024

// CausalSoftmax computes the causal softmax of scale·x over the t×t blocks
// of x (see [nn.Backend]). Per kept row segment (row i of a block, columns
// j ≤ i), in float64: z_j = scale·x_j (exact), m = max z_j, e_j =
// exp(z_j − m) (expShift's polynomial, within 1e-15 relative, four at a
// time; math.Exp where an argument is below −708 or NaN, and for segments
// longer than causalStack), s = Σ e_j from j = 0 up, y_j = float32(e_j/s);
// y_j = 0 for j > i, where x is not read. y may be x.
func (b *Backend) CausalSoftmax(y, x nn.Mat, t int, scale float32) {
	const op = "CausalSoftmax"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yd, xd := b.get(op, y), b.get(op, x)
	if b.err != nil || !b.check(op, nn.CheckCausalSoftmax(x, t, scale)) {
		return
	}
	j := &b.jCausal
	*j = causalSoftmaxJob{y: yd, x: xd, cols: x.Cols, t: t, scale: float64(scale)}
	b.parallel(x.Rows, x.Cols/2*costExp, j)
	*j = causalSoftmaxJob{}
}

// causalSoftmaxJob does rows [lo, hi) of CausalSoftmax.
type causalSoftmaxJob struct {
	y, x    []float32
	cols, t int
	scale   float64
}

func (j *causalSoftmaxJob) run(lo, hi int) {
	var buf [causalStack]float64
	t, sc := j.t, j.scale
	for r := lo; r < hi; r++ {
		i := r % t
		c0 := r * j.cols
		// The heads' segments of a row have the same length: four at a
		// time, their sums interleaved (each still from its first element
		// up, so the results are those of one at a time).
		if i+1 <= causalStack/4 {
			for ; c0+4*t <= (r+1)*j.cols; c0 += 4 * t {
				j.four(c0, i, buf[:])
			}
		}
		for ; c0 < (r+1)*j.cols; c0 += t {
			x, y := j.x[c0:c0+i+1], j.y[c0:c0+t]
			m := math.Inf(-1)
			for _, v := range x {
				m = maxOrNaN(m, sc*float64(v))
			}
			var s float64
			if len(x) <= causalStack {
				e := buf[:len(x)]
				if !expShift(e, x, sc, m) {
					for q, v := range x {
						e[q] = math.Exp(sc*float64(v) - m)
					}
				}
				for _, v := range e {
					s += v
				}
				for q, v := range e {
					y[q] = float32(v / s)
				}
			} else {
				for _, v := range x {
					s += math.Exp(sc*float64(v) - m)
				}
				for q, v := range x {
					y[q] = float32(math.Exp(sc*float64(v)-m) / s)
				}
			}
			clear(y[i+1:])
		}
	}
}

// four does the segments of length i+1 at c0, c0+t, c0+2t and c0+3t as run
// does one, bit for bit, with buf (at least 4(i+1) long) for the
// exponentials.
func (j *causalSoftmaxJob) four(c0, i int, buf []float64) {
	t, sc, n := j.t, j.scale, i+1
	x0, x1, x2, x3 := j.x[c0:c0+n], j.x[c0+t:c0+t+n], j.x[c0+2*t:c0+2*t+n], j.x[c0+3*t:c0+3*t+n]
	m0, m1, m2, m3 := math.Inf(-1), math.Inf(-1), math.Inf(-1), math.Inf(-1)
	for q, v := range x0 {
		m0 = maxOrNaN(m0, sc*float64(v))
		m1 = maxOrNaN(m1, sc*float64(x1[q]))
		m2 = maxOrNaN(m2, sc*float64(x2[q]))
		m3 = maxOrNaN(m3, sc*float64(x3[q]))
	}
	e0, e1, e2, e3 := buf[:n], buf[n:2*n], buf[2*n:3*n], buf[3*n:4*n]
	for k, e := range [4][]float64{e0, e1, e2, e3} {
		x, m := [4][]float32{x0, x1, x2, x3}[k], [4]float64{m0, m1, m2, m3}[k]
		if !expShift(e, x, sc, m) {
			for q, v := range x {
				e[q] = math.Exp(sc*float64(v) - m)
			}
		}
	}
	var s0, s1, s2, s3 float64
	for q, v := range e0 {
		s0 += v
		s1 += e1[q]
		s2 += e2[q]
		s3 += e3[q]
	}
	y0, y1, y2, y3 := j.y[c0:c0+t], j.y[c0+t:c0+2*t], j.y[c0+2*t:c0+3*t], j.y[c0+3*t:c0+4*t]
	for q, v := range e0 {
		y0[q] = float32(v / s0)
		y1[q] = float32(e1[q] / s1)
		y2[q] = float32(e2[q] / s2)
		y3[q] = float32(e3[q] / s3)
	}
	clear(y0[n:])
	clear(y1[n:])
	clear(y2[n:])
	clear(y3[n:])
}

// CausalSoftmaxBackward computes dx from the forward output y and dy (see
// [nn.Backend]). Per kept row segment, in float64: d = Σ_{k≤i} y_k·dy_k
// from k = 0 up, dx_j = float32(scale·y_j·(dy_j − d)) (products left to
// right); dx_j = 0 for j > i. dx may be dy.
func (b *Backend) CausalSoftmaxBackward(dx, dy, y nn.Mat, t int, scale float32) {
	const op = "CausalSoftmaxBackward"
	if b.err != nil || !b.same(op, dx, dy, y) {
		return
	}
	dxd, dyd, yd := b.get(op, dx), b.get(op, dy), b.get(op, y)
	if b.err != nil || !b.check(op, nn.CheckCausalSoftmax(y, t, scale)) {
		return
	}
	j := &b.jCausalBack
	*j = causalSoftmaxBackwardJob{dx: dxd, dy: dyd, y: yd, cols: y.Cols, t: t, scale: float64(scale)}
	b.parallel(y.Rows, y.Cols*costCheap, j)
	*j = causalSoftmaxBackwardJob{}
}

// causalSoftmaxBackwardJob does rows [lo, hi) of CausalSoftmaxBackward.
type causalSoftmaxBackwardJob struct {
	dx, dy, y []float32
	cols, t   int
	scale     float64
}

func (j *causalSoftmaxBackwardJob) run(lo, hi int) {
	t, sc := j.t, j.scale
	for r := lo; r < hi; r++ {
		i := r % t
		c0 := r * j.cols
		for ; c0+4*t <= (r+1)*j.cols; c0 += 4 * t {
			j.four(c0, i)
		}
		for ; c0 < (r+1)*j.cols; c0 += t {
			y, dy, dx := j.y[c0:c0+i+1], j.dy[c0:c0+i+1], j.dx[c0:c0+t]
			var d float64
			for q, v := range y {
				d += float64(v) * float64(dy[q])
			}
			for q, v := range y {
				dx[q] = float32(sc * float64(v) * (float64(dy[q]) - d))
			}
			clear(dx[i+1:])
		}
	}
}

// four does the segments of length i+1 at c0, c0+t, c0+2t and c0+3t as run
// does one, bit for bit, the four sums d interleaved.
func (j *causalSoftmaxBackwardJob) four(c0, i int) {
	t, sc, n := j.t, j.scale, i+1
	y0, y1, y2, y3 := j.y[c0:c0+n], j.y[c0+t:c0+t+n], j.y[c0+2*t:c0+2*t+n], j.y[c0+3*t:c0+3*t+n]
	g0, g1, g2, g3 := j.dy[c0:c0+n], j.dy[c0+t:c0+t+n], j.dy[c0+2*t:c0+2*t+n], j.dy[c0+3*t:c0+3*t+n]
	var d0, d1, d2, d3 float64
	for q, v := range y0 {
		d0 += float64(v) * float64(g0[q])
		d1 += float64(y1[q]) * float64(g1[q])
		d2 += float64(y2[q]) * float64(g2[q])
		d3 += float64(y3[q]) * float64(g3[q])
	}
	for k, d := range [4]float64{d0, d1, d2, d3} {
		c := c0 + k*t
		y, dy, dx := j.y[c:c+n], j.dy[c:c+n], j.dx[c:c+t]
		for q, v := range y {
			dx[q] = float32(sc * float64(v) * (float64(dy[q]) - d))
		}
		clear(dx[n:])
	}
}

// GELU computes y = GELU(x) elementwise (see [nn.Backend]) in float32 as
// gelu32 defines it (gelu.go). y may be x.
func (b *Backend) GELU(y, x nn.Mat) {
	const op = "GELU"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yd, xd := b.get(op, y), b.get(op, x)
	if b.err != nil {
		return
	}
	j := &b.jGELU
	*j = geluJob{y: yd, x: xd}
	b.parallel(len(yd), costExp, j)
	*j = geluJob{}
}

// GELUAndGrad computes y = GELU(x) and d = GELU′(x) elementwise (see
// [nn.Backend]) in float32 as gelu32 and geluDeriv32 define them
// (gelu.go), in one pass. y or d may be x.
func (b *Backend) GELUAndGrad(y, d, x nn.Mat) {
	const op = "GELUAndGrad"
	if b.err != nil || !b.same(op, y, d, x) {
		return
	}
	yd, dd, xd := b.get(op, y), b.get(op, d), b.get(op, x)
	if b.err != nil {
		return
	}
	j := &b.jGELU
	*j = geluJob{y: yd, d: dd, x: xd}
	b.parallel(len(yd), 2*costExp, j)
	*j = geluJob{}
}

// geluJob does elements [lo, hi) of GELU (dy and d nil), GELUAndGrad (d
// set) or GELUBackward (dy set).
type geluJob struct {
	y, dy, d, x []float32
}

func (j *geluJob) run(lo, hi int) {
	switch {
	case j.d != nil:
		geluBothSlice(j.y[lo:hi], j.d[lo:hi], j.x[lo:hi])
	case j.dy != nil:
		geluGradSlice(j.y[lo:hi], j.dy[lo:hi], j.x[lo:hi])
	default:
		geluSlice(j.y[lo:hi], j.x[lo:hi])
	}
}

// GELUBackward computes dx = dy·(Φ(x) + x·φ(x)) from the forward input x
// (see [nn.Backend]) in float32 as geluGrad32 defines it (gelu.go). dx may
// be dy.
func (b *Backend) GELUBackward(dx, dy, x nn.Mat) {
	const op = "GELUBackward"
	if b.err != nil || !b.same(op, dx, dy, x) {
		return
	}
	dxd, dyd, xd := b.get(op, dx), b.get(op, dy), b.get(op, x)
	if b.err != nil {
		return
	}
	j := &b.jGELU
	*j = geluJob{y: dxd, dy: dyd, x: xd}
	b.parallel(len(dxd), 2*costExp, j)
	*j = geluJob{}
}
