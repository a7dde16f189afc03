package cpu

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"gan/nn"
)

// MatMul computes C = op(A)·op(B) + beta·C (see [nn.Backend]). C is split
// into panels of rows (or of columns, when C is wider than tall), one per
// worker, each computed by [sgemm]; every element's result is independent of
// the split. A product with one output column (n = 1, such as the 256→1 layer
// of the discriminator) is a dot product per row of C, accumulated in float64.
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
		b.failf(op, "%v", err)
		return
	}
	if m == 0 || n == 0 {
		return
	}
	if n == 1 && k > 0 {
		j := &b.jMatVec
		*j = matvecJob{transA: transA, k: k, a: ad, lda: a.Cols, x: bd, beta: beta, c: cd}
		b.parallel(m, k, j)
		*j = matvecJob{}
		return
	}
	j := &b.jMatMul
	*j = matmulJob{
		transA: transA, transB: transB, m: m, n: n, k: k,
		a: ad, lda: a.Cols, b: bd, ldb: bm.Cols, beta: beta, c: cd, ldc: c.Cols,
		byRows: m >= n,
	}
	units := n
	if j.byRows {
		units = m
	}
	b.parallel(units, max(k, 1)*(m*n/units), j)
	*j = matmulJob{} // drop the slices so freed buffers can be collected
}

// matmulJob computes a panel of C: rows [lo, hi) when byRows, else columns.
type matmulJob struct {
	transA, transB bool
	m, n, k        int
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
	byRows         bool
}

func (j *matmulJob) run(lo, hi int) {
	a, b, c := j.a, j.b, j.c
	m, n := j.m, j.n
	if j.byRows {
		// Rows lo… of op(A): row offset of A, or column offset of Aᵀ's storage.
		if j.transA {
			a = a[lo:]
		} else {
			a = a[lo*j.lda:]
		}
		c = c[lo*j.ldc:]
		m = hi - lo
	} else {
		// Columns lo… of op(B): column offset of B, or row offset of Bᵀ's storage.
		if j.transB {
			b = b[lo*j.ldb:]
		} else {
			b = b[lo:]
		}
		c = c[lo:]
		n = hi - lo
	}
	// This is the one place where the backend calls its matrix kernel.
	sgemm(j.transA, j.transB, m, n, j.k, a, j.lda, b, j.ldb, j.beta, c, j.ldc)
}

// matvecJob computes rows [lo, hi) of the m×1 product c = op(A)·x + beta·c,
// each as a float64 dot product of length k.
type matvecJob struct {
	transA bool
	k      int
	a      []float32
	lda    int
	x      []float32 // op(B): k×1, contiguous whether B is k×1 or 1×k
	beta   float32
	c      []float32
}

func (j *matvecJob) run(lo, hi int) {
	x := j.x[:j.k]
	for i := lo; i < hi; i++ {
		var s float64
		if j.transA {
			// Row i of Aᵀ is column i of A.
			for p, xv := range x {
				s += float64(j.a[p*j.lda+i]) * float64(xv)
			}
		} else {
			row := j.a[i*j.lda : i*j.lda+j.k]
			for p, xv := range x {
				s += float64(row[p]) * float64(xv)
			}
		}
		if j.beta == 0 {
			j.c[i] = float32(s)
		} else {
			j.c[i] = float32(j.beta*j.c[i]) + float32(s)
		}
	}
}

// Tile sizes below which gonum's Sgemm runs serially (it goes parallel, with
// goroutines allocated per call, from 4 blocks of 64×64 of C).
const (
	tileRows = 64
	tileCols = 192
)

// sgemm computes C = op(A)·op(B) + beta·C on the calling goroutine, with
// op(A) m×k, op(B) k×n, C m×n, all row-major with leading dimensions lda,
// ldb, ldc (the storage of A is m×k, or k×m when transA; likewise B). With
// beta = 0, C's old contents are ignored, NaNs included.
//
// It uses gonum's pure-Go Sgemm on tiles of C small enough that gonum runs
// them serially; each element of C is a sum over k in an order that does not
// depend on the tiling. The faster gan/cpu/sgemm package has the same
// signature and is meant to replace this function.
func sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row) // 0·NaN would be NaN
			} else {
				for j := range row {
					row[j] *= beta
				}
			}
		}
	}
	if k == 0 {
		return
	}
	tA, tB := blas.NoTrans, blas.NoTrans
	if transA {
		tA = blas.Trans
	}
	if transB {
		tB = blas.Trans
	}
	var impl gonum.Implementation
	for i0 := 0; i0 < m; i0 += tileRows {
		mi := min(tileRows, m-i0)
		var ai []float32
		if transA {
			ai = a[i0:]
		} else {
			ai = a[i0*lda:]
		}
		for j0 := 0; j0 < n; j0 += tileCols {
			nj := min(tileCols, n-j0)
			var bj []float32
			if transB {
				bj = b[j0*ldb:]
			} else {
				bj = b[j0:]
			}
			impl.Sgemm(tA, tB, mi, nj, k, 1, ai, lda, bj, ldb, 1, c[i0*ldc+j0:], ldc)
		}
	}
}
