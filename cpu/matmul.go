package cpu

import (
	"fmt"

	"gan/cpu/sgemm"
	"gan/nn"
)

// MatMul computes C = op(A)·op(B) + beta·C (see [nn.Backend]) with
// [sgemm.SgemmWorkers] on the backend's workers: packed panels, an
// AVX-512, AVX2 or portable micro-kernel, and a matrix-vector path for
// products with one output row or column (such as the 256→1 layer of the
// discriminator). Every element of C is summed in an order fixed by the
// shape alone, so the result does not depend on the worker count.
func (b *Backend) MatMul(c, a, bm nn.Mat, transA, transB bool, beta float32) {
	const op = "MatMul"
	if b.err != nil {
		return
	}
	cd, ad, bd := b.get(op, c), b.get(op, a), b.get(op, bm)
	if b.err != nil {
		return
	}
	m, n, k, err := nn.MatMulDims(c, a, bm, transA, transB)
	if err != nil {
		b.fail(fmt.Errorf("cpu: %s: %w", op, err))
		return
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		// An empty sum: C = beta·C (beta = 0 clears, NaNs included). Package
		// sgemm would reject the 0-wide operands' leading dimensions.
		for i := 0; i < m; i++ {
			row := cd[i*c.Cols : i*c.Cols+n]
			if beta == 0 {
				clear(row)
			} else {
				for j := range row {
					row[j] *= beta
				}
			}
		}
		return
	}
	sgemm.SgemmWorkers(b.workers, transA, transB, m, n, k, ad, a.Cols, bd, bm.Cols, beta, cd, c.Cols)
}
