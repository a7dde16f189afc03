package sgemm

// smallMaxK is the longest sum Small takes: the avx2 kernel set's K block,
// so that Sgemm sums the same products in one block, in the same order.
const smallMaxK = 256

// Small computes C = op(A)·op(B) + beta·C as [Sgemm] does, bit for bit, on
// the calling goroutine, for the small products of a batched matrix
// multiply (attention's T×T and T×d blocks): m a multiple of 4, n of 16,
// k at most 256, not both transposed. Its 4×16 kernels read op(A) in
// place, and op(B) too unless transB (then Bᵀ is packed once): no A
// panels to pack, and no 6-row tiles to cut 64 rows into. It reports whether it did the product: false, touching nothing,
// for any other shape, or on a machine whose kernels are not avx2 (where
// Small is not known to match Sgemm).
func Small(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	if !smallKernels || impl.name != "avx2" || m < 4 || n < 16 || m%4 != 0 || n%16 != 0 ||
		k < 1 || k > smallMaxK || (transA && transB) {
		return false
	}
	checkOperands(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	mode := betaMode(beta)
	var ctx *callCtx
	if transB {
		// op(B) = Bᵀ, k×n, packed with row stride n.
		ctx = getCtx()
		ctx.x = grow(ctx.x, k*n)
		packTransPanel(impl, ctx.x, b, ldb, k, n, n)
		b, ldb = ctx.x, n
	}
	for i0 := 0; i0 < m; i0 += 4 {
		for j0 := 0; j0 < n; j0 += 16 {
			if transA {
				small4x16Cols(k, &a[i0], lda, &b[j0], ldb, &c[i0*ldc+j0], ldc, beta, mode)
			} else {
				small4x16Rows(k, &a[i0*lda], lda, &b[j0], ldb, &c[i0*ldc+j0], ldc, beta, mode)
			}
		}
	}
	if ctx != nil {
		putCtx(ctx)
	}
	return true
}

// The weight-gradient path of Sgemm takes outputs of at most
// weightGradMaxMN elements summed over at least weightGradMinK terms: on
// the 2-core Zen machine it is 10–40% faster than the packed path for
// PixelCNN's weight gradients (K = 50,176) and 4% slower over a char-gpt
// step (K = 768).
const (
	weightGradMaxMN = 1 << 16
	weightGradMinK  = 4096
)

// weightGrad reports whether Sgemm takes p by the weight-gradient path: a
// product Aᵀ·B with a small m×n output and a long sum (a layer's weight
// gradient, K the batch's rows or a convolution's output pixels), m a
// multiple of 4 and n of 16. The packed path copies all of B, K×n, into
// panels for an output it then updates K/256 times; this path reads A and
// B in place with Small's 4×16 kernels instead, in the packed path's K
// blocks and modes, so the results are the same bit for bit.
func weightGrad(ks *kernelSet, p *problem) bool {
	return smallKernels && ks.name == "avx2" && p.transA && !p.transB && p.k >= weightGradMinK &&
		p.m%4 == 0 && p.n%16 == 0 && p.m*p.n <= weightGradMaxMN
}

// weightGrad runs the weight-gradient path: the columns of C cut into
// chunks of whole 16-column panels, one chunk per participant, each chunk
// summed over every K block (kBlocks) in order, its tiles of 4 rows then
// 16 columns within a block.
func (ctx *callCtx) weightGrad() {
	p := &ctx.p
	panels := p.n / 16
	w := ctx.numWorkers()
	if int64(p.m)*int64(p.n)*int64(p.k) < parMinGemm {
		w = 1
	}
	w = min(w, panels)
	ctx.nchunks = w
	ctx.run(w, weightGradChunk)
}

// weightGradChunk computes chunk c of the weight-gradient path.
func weightGradChunk(pt *part, c int) {
	ctx := pt.ctx
	p := &ctx.p
	panels := p.n / 16
	j0, j1 := c*panels/ctx.nchunks*16, (c+1)*panels/ctx.nchunks*16
	kcb := kBlocks(p.k, ctx.ks.kcMax)
	firstMode := betaMode(p.beta)
	for pc := 0; pc < p.k; pc += kcb {
		kc := min(kcb, p.k-pc)
		mode := modeAdd
		if pc == 0 {
			mode = firstMode
		}
		for j := j0; j < j1; j += 16 {
			b := &p.b[pc*p.ldb+j]
			for i0 := 0; i0 < p.m; i0 += 4 {
				small4x16Cols(kc, &p.a[pc*p.lda+i0], p.lda, b, p.ldb, &p.c[i0*p.ldc+j], p.ldc, p.beta, mode)
			}
		}
	}
}
