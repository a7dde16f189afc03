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
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat("A", a, ar, ac, lda)
	checkMat("B", b, br, bc, ldb)
	checkMat("C", c, m, n, ldc)
	mode := modeBeta
	switch beta {
	case 0:
		mode = modeStore
	case 1:
		mode = modeAdd
	}
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
