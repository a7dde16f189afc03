//go:build (gancuda || cudaemu) && cgo

package gpu

// The ops of attention and transformer MLPs (kernels/attention.cu):
// BatchMatMul, CausalSoftmax and its backward, GELU and its backward.

import "gan/nn"

// bgemmTiles are the tile sizes of the bgemm_{s,m}_* kernels: rows and
// columns of C per block, threads per block.
var bgemmTiles = [2]tile{{32, 32, 64}, {64, 64, 256}}

// BatchMatMul computes C_i = op(A_i)·op(B_i) + beta·C_i for the batch·heads
// blocks of its operands (see [nn.Backend]) with the batched tiled kernels:
// one launch covers as many blocks as gridDim.y allows, each CUDA block one
// tile of one product. The 64×64 tile is used when it still gives every
// SM a block, the 32×32 one otherwise (attention's small products). A, B
// and C may be strided (their LD is the kernels' leading dimension).
func (b *Backend) BatchMatMul(c, a, bm nn.Mat, batch, heads int, transA, transB bool, beta float32) {
	const op = "BatchMatMul"
	if b.err != nil {
		return
	}
	cp, ap, bp := b.getStrided(op, c), b.getStrided(op, a), b.getStrided(op, bm)
	if b.err != nil {
		return
	}
	m, n, k, err := nn.BatchMatMulDims(c, a, bm, batch, heads, transA, transB)
	if err != nil {
		b.failf(op, "%v", err)
		return
	}
	if m == 0 || n == 0 {
		return
	}
	count := batch * heads
	t := 0
	if ceilDiv(m, bgemmTiles[1].bm)*ceilDiv(n, bgemmTiles[1].bn)*count >= b.info.SMs {
		t = 1
	}
	ti := bgemmTiles[t]
	mt := ceilDiv(m, ti.bm)
	if mt > 65535 {
		b.failf(op, "blocks of %d rows: more than 65535 tiles of %d rows (gridDim.y)", m, ti.bm)
		return
	}
	per := max(1, 65535/mt) // blocks per launch: gridDim.y ≤ 65535
	f := b.k.bgemm[t][b2i(transA)][b2i(transB)]
	for i0 := 0; i0 < count; i0 += per {
		nb := min(per, count-i0)
		b.args.reset().i(m).i(n).i(k).p(ap).i(a.LD()).p(bp).i(bm.LD()).f(beta).p(cp).i(c.LD()).i(heads).i(i0)
		b.launch(op, f, ceilDiv(n, ti.bn), nb*mt, ti.threads, 1)
	}
}

// CausalSoftmax computes the causal row softmax of scale·x in t×t blocks
// (see [nn.Backend]): one warp per row segment of a block, the maximum and
// the sum of exponentials in float64, y = float32(exp(z − m)/Σ), exactly 0
// in the masked columns (not read). y may be x; both contiguous.
func (b *Backend) CausalSoftmax(y, x nn.Mat, t int, scale float32) {
	const op = "CausalSoftmax"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yp, xp := b.get(op, y), b.get(op, x)
	if b.err != nil {
		return
	}
	if err := nn.CheckCausalSoftmax(x, t, scale); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if x.Len() == 0 {
		return
	}
	b.args.reset().i(x.Rows).i(x.Cols).i(t).p(yp).p(xp).f(scale)
	b.launch(op, b.k.causal, ceilDiv(x.Rows*(x.Cols/t), threads/32), 1, threads, 1)
}

// CausalSoftmaxBackward computes dx = scale·y ⊙ (dy − Σ_{k≤i} y_k·dy_k) in
// the kept entries, 0 in the masked ones (see [nn.Backend]): one warp per
// row segment, the dot product in float64. dx may be dy; all contiguous.
func (b *Backend) CausalSoftmaxBackward(dx, dy, y nn.Mat, t int, scale float32) {
	const op = "CausalSoftmaxBackward"
	if b.err != nil || !b.same(op, dx, dy, y) {
		return
	}
	dxp, dyp, yp := b.get(op, dx), b.get(op, dy), b.get(op, y)
	if b.err != nil {
		return
	}
	if err := nn.CheckCausalSoftmax(y, t, scale); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if y.Len() == 0 {
		return
	}
	b.args.reset().i(y.Rows).i(y.Cols).i(t).p(dxp).p(dyp).p(yp).f(scale)
	b.launch(op, b.k.causalBack, ceilDiv(y.Rows*(y.Cols/t), threads/32), 1, threads, 1)
}

// GELU computes y = x·Φ(x) elementwise in float32 with the CPU backend's
// operations in its order, so with its bits (see [nn.Backend]); y may be
// x, both contiguous.
func (b *Backend) GELU(y, x nn.Mat) {
	const op = "GELU"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yp, xp := b.get(op, y), b.get(op, x)
	if b.err != nil || y.Len() == 0 {
		return
	}
	b.args.reset().i(y.Len()).p(yp).p(xp)
	b.launch(op, b.k.geluForward, b.grid1(y.Len()), 1, threads, 1)
}

// GELUBackward computes dx = dy·(Φ(x) + x·φ(x)) elementwise in float32
// with the CPU backend's operations in its order (see [nn.Backend]); dx
// may be dy, all contiguous.
func (b *Backend) GELUBackward(dx, dy, x nn.Mat) {
	const op = "GELUBackward"
	if b.err != nil || !b.same(op, dx, dy, x) {
		return
	}
	dxp, dyp, xp := b.get(op, dx), b.get(op, dy), b.get(op, x)
	if b.err != nil || dx.Len() == 0 {
		return
	}
	b.args.reset().i(dx.Len()).p(dxp).p(dyp).p(xp)
	b.launch(op, b.k.geluBackward, b.grid1(dx.Len()), 1, threads, 1)
}

// GELUAndGrad computes y = GELU(x) and d = GELU′(x) elementwise in one
// kernel, with GELU's and GELUBackward's bits (see [nn.Backend]); y or d
// may be x, all contiguous.
func (b *Backend) GELUAndGrad(y, d, x nn.Mat) {
	const op = "GELUAndGrad"
	if b.err != nil || !b.same(op, y, d, x) {
		return
	}
	yp, dp, xp := b.get(op, y), b.get(op, d), b.get(op, x)
	if b.err != nil || y.Len() == 0 {
		return
	}
	b.args.reset().i(y.Len()).p(yp).p(dp).p(xp)
	b.launch(op, b.k.geluForwardGrad, b.grid1(y.Len()), 1, threads, 1)
}
