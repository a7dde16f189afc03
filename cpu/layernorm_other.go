//go:build !amd64 || purego

package cpu

// No vector kernels on this platform (or with -tags purego): each helper
// does nothing and the Go loops do all.

func lnApply(y, x, gamma, beta []float32, mf, rf float32) int { return 0 }

func lnParams16(accG, accB []float64, dy, x, mean, rstd []float32, rows, n, c0 int) bool {
	return false
}

func lnDx(dx, dy, x, gamma []float32, mf, rf float32, a, c float64) int { return 0 }
