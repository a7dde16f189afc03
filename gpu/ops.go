//go:build (gancuda || cudaemu) && cgo

package gpu

// The ops of the graph engine: strided elementwise arithmetic (kernels/
// elementwise.cu), ScatterAddRows (kernels/gather.cu), layer
// normalisation (kernels/layernorm.cu) and batch normalisation (kernels/
// batchnorm.cu).

import (
	"fmt"

	"gan/nn"
)

// Axpby computes y = fl(fl(alpha·a) + fl(beta·b)) elementwise, each float32
// operation rounded on its own (bit for bit as the CPU backend). With
// beta = 0, b is not read and may be the zero Mat (y = fl(alpha·a)). All
// operands may be strided; y may be a or b.
func (b *Backend) Axpby(y, a, c nn.Mat, alpha, beta float32) {
	const op = "Axpby"
	if b.err != nil {
		return
	}
	if err := nn.CheckAxpby(y, a, c, beta); err != nil {
		b.failf(op, "%v", err)
		return
	}
	useC := beta != 0
	yp, ap := b.getStrided(op, y), b.getStrided(op, a)
	var cp uint64
	ldc := 0
	if useC {
		cp, ldc = b.getStrided(op, c), c.LD()
	}
	if b.err != nil || y.Len() == 0 {
		return
	}
	b.args.reset().i(y.Rows).i(y.Cols).p(yp).i(y.LD()).p(ap).i(a.LD()).p(cp).i(ldc).f(alpha).f(beta)
	b.launch(op, b.k.axpby, b.grid1(y.Len()), 1, threads, 1)
}

// Mul computes the elementwise product y = fl(a·b). All operands may be
// strided; y may be a or b.
func (b *Backend) Mul(y, a, c nn.Mat) {
	const op = "Mul"
	if b.err != nil || !b.same(op, y, a, c) {
		return
	}
	yp, ap, cp := b.getStrided(op, y), b.getStrided(op, a), b.getStrided(op, c)
	if b.err != nil || y.Len() == 0 {
		return
	}
	b.args.reset().i(y.Rows).i(y.Cols).p(yp).i(y.LD()).p(ap).i(a.LD()).p(cp).i(c.LD())
	b.launch(op, b.k.mul, b.grid1(y.Len()), 1, threads, 1)
}

// ScaleRows computes y[i][j] = fl(x[i][j]·s[i]) for the m×n x and the m×1
// column s. All operands may be strided (s's LD is the distance between
// its elements); y may be x.
func (b *Backend) ScaleRows(y, x, s nn.Mat) {
	const op = "ScaleRows"
	if b.err != nil {
		return
	}
	if err := nn.CheckScaleRows(y, x, s); err != nil {
		b.fail(fmt.Errorf("cuda: %w", err))
		return
	}
	yp, xp, sp := b.getStrided(op, y), b.getStrided(op, x), b.getStrided(op, s)
	if b.err != nil || y.Len() == 0 {
		return
	}
	b.args.reset().i(y.Rows).i(y.Cols).p(yp).i(y.LD()).p(xp).i(x.LD()).p(sp).i(s.LD())
	b.launch(op, b.k.scaleRows, b.grid1(y.Len()), 1, threads, 1)
}

// Map computes y = f(x) elementwise (see [nn.MapFn]): scale, add_const and
// square are one float32 operation, sqrt and recip the IEEE-rounded ones,
// exp and log are computed in float64 and rounded once. Both operands may
// be strided; y may be x.
func (b *Backend) Map(y, x nn.Mat, f nn.MapFn, c float32) {
	const op = "Map"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	if err := nn.CheckMapFn(f); err != nil {
		b.failf(op, "%v", err)
		return
	}
	yp, xp := b.getStrided(op, y), b.getStrided(op, x)
	if b.err != nil || y.Len() == 0 {
		return
	}
	b.mapFn(op, y.Rows, y.Cols, yp, y.LD(), xp, x.LD(), f, c)
}

// mapFn launches map_fn on the rows×cols views at yp and xp.
func (b *Backend) mapFn(op string, rows, cols int, yp uint64, ldy int, xp uint64, ldx int, f nn.MapFn, c float32) {
	b.args.reset().i(rows).i(cols).p(yp).i(ldy).p(xp).i(ldx).i(int(f)).f(c)
	b.launch(op, b.k.mapFn, b.grid1(rows*cols), 1, threads, 1)
}

// ScatterAddRows computes dst = beta·dst, then adds row i of src into row
// idx[i] of dst for i = 0, 1, … src.Rows−1 in that order. Every index is
// checked on the host first (an error leaves dst untouched). beta = 0 is a
// memset (the old dst is ignored, NaNs included), beta = 1 leaves dst as
// it is, any other beta is map_fn's scale; then scatter_add_rows walks the
// source rows in order with one thread per column, so repeated indices sum
// in the CPU backend's order, bit for bit. The indices reach the device as
// GatherRows's do.
func (b *Backend) ScatterAddRows(dst, src nn.Mat, idx []int32, beta float32) {
	const op = "ScatterAddRows"
	if b.err != nil {
		return
	}
	dp, sp := b.get(op, dst), b.get(op, src)
	if b.err != nil {
		return
	}
	if err := nn.CheckScatterAddRows(dst, src, idx); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if dst.Len() == 0 {
		return
	}
	switch beta {
	case 0:
		if err := b.d.memsetD32(dp, 0, dst.Len()); err != nil {
			b.fail(fmt.Errorf("cuda: %s: %w", op, err))
			return
		}
		b.afterOp(op)
	case 1:
	default:
		b.mapFn(op, dst.Rows, dst.Cols, dp, dst.Cols, dp, dst.Cols, nn.MapScale, beta)
	}
	if b.err != nil || src.Rows == 0 {
		return
	}
	if err := b.stageIndices(idx[:src.Rows]); err != nil {
		b.fail(fmt.Errorf("cuda: %s: %w", op, err))
		return
	}
	b.args.reset().i(src.Rows).i(src.Cols).p(dp).p(sp).p(b.idxDev)
	b.launch(op, b.k.scatterAdd, ceilDiv(src.Cols, threads), 1, threads, 1)
}

// optional returns the device address of m for op, or 0 for the zero Mat.
func (b *Backend) optional(op string, m nn.Mat) uint64 {
	if m.Empty() {
		return 0
	}
	return b.get(op, m)
}

// LayerNorm normalises each row of the m×n x (see [nn.Backend]): one warp
// per row computes μ and r = 1/√(σ² + eps) in float64 (fixed lane order
// and butterfly), stores them rounded in the m×1 mean and rstd, and writes
// y = fl(fl(fl(fl(x − μ)·r)·γ) + β) with the rounded μ and r. gamma and
// beta are 1×n rows or zero Mats (none). y may be x; every operand must be
// contiguous.
func (b *Backend) LayerNorm(y, mean, rstd, x, gamma, beta nn.Mat, eps float32) {
	const op = "LayerNorm"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yp, mp, rp, xp := b.get(op, y), b.get(op, mean), b.get(op, rstd), b.get(op, x)
	gp, bp := b.optional(op, gamma), b.optional(op, beta)
	if b.err != nil {
		return
	}
	if err := nn.CheckLayerNorm(x, mean, rstd, gamma, beta, eps); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if x.Rows == 0 {
		return
	}
	b.args.reset().i(x.Rows).i(x.Cols).p(yp).p(mp).p(rp).p(xp).p(gp).p(bp).f(eps)
	b.launch(op, b.k.lnForward, ceilDiv(x.Rows, threads/32), 1, threads, 1)
}

// LayerNormBackward computes the input gradient dx = r·(g − mean(g) −
// x̂·mean(g·x̂)) with g = fl(dy·γ) and x̂ = fl(fl(x − μ)·r) from the
// forward pass's x, mean and rstd (one warp per row, row means in float64,
// dx rounded once), and, when dgamma or dbeta is not the zero Mat, the 1×n
// parameter gradients Σ_rows dy·x̂ and Σ_rows dy in float64 (col_sum's
// fixed order), overwriting them; those are computed first, so dx may be
// dy. gamma is a 1×n row or the zero Mat; every operand must be contiguous.
func (b *Backend) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma nn.Mat) {
	const op = "LayerNormBackward"
	if b.err != nil {
		return
	}
	dxp, dyp, xp := b.get(op, dx), b.get(op, dy), b.get(op, x)
	mp, rp, gp := b.get(op, mean), b.get(op, rstd), b.optional(op, gamma)
	dgp, dbp := b.optional(op, dgamma), b.optional(op, dbeta)
	if b.err != nil {
		return
	}
	if err := nn.CheckLayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma); err != nil {
		b.failf(op, "%v", err)
		return
	}
	// The parameter gradients first: they read dy, which dx may be.
	if dgp != 0 || dbp != 0 {
		b.args.reset().i(x.Rows).i(x.Cols).p(dyp).p(xp).p(mp).p(rp).p(dgp).p(dbp)
		b.launch(op, b.k.lnParamGrad, ceilDiv(x.Cols, 32), 1, 32, 8)
	}
	if x.Rows > 0 {
		b.args.reset().i(x.Rows).i(x.Cols).p(dxp).p(dyp).p(xp).p(mp).p(rp).p(gp)
		b.launch(op, b.k.lnBackward, ceilDiv(x.Rows, threads/32), 1, threads, 1)
	}
}

// Batch norm launches: the m rows are cut into chunks of at least
// bnMinRows rows, one block row each, with at most bnMaxBlocks blocks of 32
// columns in all (unless the columns alone need more).
const (
	bnMinRows   = 256
	bnMaxBlocks = 1024
)

// bnChunks returns the number p of row chunks of a batch norm of an m×n x
// (m ≥ 1) and their size rows (the last may be shorter, none is empty).
// They depend on m and n alone, so the order of the sums, and with it the
// results, are the same on every device.
func bnChunks(m, n int) (p, rows int) {
	p = min(ceilDiv(m, bnMinRows), max(1, bnMaxBlocks/ceilDiv(n, 32)))
	rows = ceilDiv(m, p)
	return ceilDiv(m, rows), rows
}

// bnScratch returns the device buffer of the batch norms' partial sums,
// grown to hold at least n float64 values. Growing waits for the device
// first: queued kernels may still use the old buffer.
func (b *Backend) bnScratch(op string, n int) uint64 {
	if n <= b.bnCap {
		return b.bnPart
	}
	if b.bnPart != 0 {
		if err := b.d.sync(); err != nil {
			b.fail(fmt.Errorf("cuda: %s: %w", op, err))
			return 0
		}
		if err := b.d.free(b.bnPart); err != nil {
			b.fail(fmt.Errorf("cuda: %s: %w", op, err))
			return 0
		}
		b.bnPart, b.bnCap = 0, 0
	}
	p, err := b.d.alloc(8 * n)
	if err != nil {
		b.fail(fmt.Errorf("cuda: %s: scratch of %d KiB: %w", op, 8*n>>10, err))
		return 0
	}
	b.bnPart, b.bnCap = p, n
	return p
}

// BatchNorm normalises each column of the m×n x (see [nn.Backend]) in
// three launches over blocks of 32 columns by one chunk of rows
// (bnChunks): batch_norm_col_sum and batch_norm_col_sqdev leave each
// chunk's float64 Σx and Σ(x − μ)² in the backend's scratch buffer, and
// batch_norm_forward adds them up per column in a fixed order (so μ̃ and σ̃²
// are identical from run to run and within 1 ulp of the CPU's), stores μ̃
// and σ̃² in mean and variance, and writes y = fl(fl(fl(fl(x − μ̃)·r)·γ) + β)
// with r = 1/√(σ̃² + eps) computed in float64 and rounded once. gamma and
// beta are 1×n rows or zero Mats (none). y may be x; every operand must be
// contiguous.
func (b *Backend) BatchNorm(y, mean, variance, x, gamma, beta nn.Mat, eps float32) {
	const op = "BatchNorm"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yp, mp, vp, xp := b.get(op, y), b.get(op, mean), b.get(op, variance), b.get(op, x)
	gp, bp := b.optional(op, gamma), b.optional(op, beta)
	if b.err != nil {
		return
	}
	if err := nn.CheckBatchNorm(x, mean, variance, gamma, beta, eps); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if x.Cols == 0 {
		return
	}
	m, n := x.Rows, x.Cols
	p, rows := bnChunks(m, n)
	part := b.bnScratch(op, 2*p*n)
	if b.err != nil {
		return
	}
	gx := ceilDiv(n, 32)
	b.args.reset().i(m).i(n).i(rows).p(xp).p(part)
	b.launch(op, b.k.bnColSum, gx, p, 32, 8)
	b.args.reset().i(m).i(n).i(rows).p(xp).p(part)
	b.launch(op, b.k.bnColSqdev, gx, p, 32, 8)
	b.args.reset().i(m).i(n).i(rows).p(yp).p(mp).p(vp).p(xp).p(gp).p(bp).p(part).f(eps)
	b.launch(op, b.k.bnForward, gx, p, 32, 8)
}

// BatchNormBackward computes, from dy and the forward pass's x, mean,
// variance and gamma (zero Mat: none), the input gradient dx =
// float32(r·((g − a) − x̂·c)) with r and x̂ = fl(fl(x − μ̃)·r) as in
// BatchNorm, g = fl(dy·γ) and per column a = Σg/m, c = Σg·x̂/m in float64;
// and, when dgamma or dbeta is not the zero Mat, the 1×n parameter
// gradients Σ dy·x̂ and Σ dy (float64, overwriting them).
// batch_norm_grad_sums leaves each row chunk's four float64 sums in the
// scratch buffer, then batch_norm_backward adds them up per column in a
// fixed order and writes the gradients; every sum is taken before dx is
// written, so dx may be dy. Every operand must be contiguous.
func (b *Backend) BatchNormBackward(dx, dgamma, dbeta, dy, x, mean, variance, gamma nn.Mat, eps float32) {
	const op = "BatchNormBackward"
	if b.err != nil {
		return
	}
	dxp, dyp, xp := b.get(op, dx), b.get(op, dy), b.get(op, x)
	mp, vp, gp := b.get(op, mean), b.get(op, variance), b.optional(op, gamma)
	dgp, dbp := b.optional(op, dgamma), b.optional(op, dbeta)
	if b.err != nil {
		return
	}
	if err := nn.CheckBatchNormBackward(dx, dgamma, dbeta, dy, x, mean, variance, gamma, eps); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if x.Cols == 0 {
		return
	}
	m, n := x.Rows, x.Cols
	p, rows := bnChunks(m, n)
	part := b.bnScratch(op, 4*p*n)
	if b.err != nil {
		return
	}
	gx := ceilDiv(n, 32)
	b.args.reset().i(m).i(n).i(rows).p(dyp).p(xp).p(mp).p(vp).p(gp).f(eps).p(part)
	b.launch(op, b.k.bnGradSums, gx, p, 32, 8)
	b.args.reset().i(m).i(n).i(rows).p(dxp).p(dgp).p(dbp).p(dyp).p(xp).p(mp).p(vp).p(gp).f(eps).p(part)
	b.launch(op, b.k.bnBackward, gx, p, 32, 8)
}
