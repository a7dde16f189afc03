//go:build !purego

package cpu

// LayerNorm's vector kernels (see layernorm_amd64.s), each bit for bit the
// Go loop it stands for.

// lnApplyAVX writes n (a multiple of 8) elements of a row's y with gamma
// and beta.
//
//go:noescape
func lnApplyAVX(n int, y, x, gamma, beta *float32, mean, rstd float32)

// lnParams16AVX2 sums dgamma's and dbeta's float64 terms over rows for 16
// columns.
//
//go:noescape
func lnParams16AVX2(rows, n int, dy, x, mean, rstd *float32, accG, accB *float64)

// lnDxAVX writes n (a multiple of 4) elements of a row's dx with gamma.
//
//go:noescape
func lnDxAVX(n int, dx, dy, x, gamma *float32, mean, rstd float32, r, a, c float64)

// lnApply writes y[i] = fl(fl(fl(x[i] − μ)·r)·γ[i]) + β[i] for the multiple
// of 8 of the row with AVX and returns how many it wrote.
func lnApply(y, x, gamma, beta []float32, mf, rf float32) int {
	n := len(x) &^ 7
	if !hasAVX || n == 0 {
		return 0
	}
	lnApplyAVX(n, &y[0], &x[0], &gamma[0], &beta[0], mf, rf)
	return n
}

// lnParams16 fills accG and accB (16 each) for the 16 columns from c0 with
// AVX2 and reports whether it did.
func lnParams16(accG, accB []float64, dy, x, mean, rstd []float32, rows, n, c0 int) bool {
	if !hasAVX2 || rows == 0 {
		return false
	}
	lnParams16AVX2(rows, n, &dy[c0], &x[c0], &mean[0], &rstd[0], &accG[0], &accB[0])
	return true
}

// lnDx writes the multiple of 4 of a row's dx with AVX and returns how
// many it wrote.
func lnDx(dx, dy, x, gamma []float32, mf, rf float32, a, c float64) int {
	n := len(x) &^ 3
	if !hasAVX || n == 0 {
		return 0
	}
	lnDxAVX(n, &dx[0], &dy[0], &x[0], &gamma[0], mf, rf, float64(rf), a, c)
	return n
}
