//go:build !amd64 || purego

package cpu

// axpbySlice sets y[i] = fl(fl(alpha·a[i]) + fl(beta·b[i])), or fl(alpha·a[i])
// when b is nil. y may be a or b.
func axpbySlice(y, a, b []float32, alpha, beta float32) {
	axpbyGo(y, a, b, alpha, beta)
}
