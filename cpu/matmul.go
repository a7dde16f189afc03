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
// discriminator). A, B and C may be strided: their leading dimensions
// ([nn.Mat.LD]) are sgemm's. Every element of C is summed in an order fixed
// by the shape alone, so the result does not depend on the worker count.
func (b *Backend) MatMul(c, a, bm nn.Mat, transA, transB bool, beta float32) {
	b.matMul("MatMul", c, a, bm, transA, transB, beta, nil)
}

// matMul is MatMul followed by the epilogue epi (nil for none) on every
// element of C, reporting errors as op.
func (b *Backend) matMul(op string, c, a, bm nn.Mat, transA, transB bool, beta float32, epi sgemm.Epilogue) {
	if b.err != nil {
		return
	}
	cd, ad, bd := b.getStrided(op, c), b.getStrided(op, a), b.getStrided(op, bm)
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
		ldc := c.LD()
		for i := 0; i < m; i++ {
			row := cd[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
			} else {
				for j := range row {
					row[j] *= beta
				}
			}
		}
		if epi != nil {
			epi.Finish(cd, ldc, 0, m, 0, n)
		}
		return
	}
	sgemm.SgemmEpilogue(b.workers, transA, transB, m, n, k, ad, lead(a), bd, lead(bm), beta, cd, lead(c), epi)
}

// lead is m's leading dimension as sgemm takes it: [nn.Mat.LD], which
// addresses nothing for a single row and then need not reach the width
// (sgemm wants at least max(1, Cols)).
func lead(m nn.Mat) int { return max(m.LD(), m.Cols, 1) }
