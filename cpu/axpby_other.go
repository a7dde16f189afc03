//go:build !amd64 || purego

package cpu

// axpbySlice sets y[i] = fl(fl(alpha·a[i]) + fl(beta·b[i])), or fl(alpha·a[i])
// when b is nil. y may be a or b.
func axpbySlice(y, a, b []float32, alpha, beta float32) {
	axpbyGo(y, a, b, alpha, beta)
}

// mulSlice sets z[i] = fl(x[i]·y[i]). z may be x or y.
func mulSlice(z, x, y []float32) {
	x, y = x[:len(z)], y[:len(z)]
	for i, v := range x {
		z[i] = v * y[i]
	}
}
