//go:build !purego

package cpu

// axpbyAVX sets y[i] = fl(fl(alpha·a[i]) + fl(beta·b[i])) for i < n, n a
// multiple of 8 (see axpby_amd64.s).
//
//go:noescape
func axpbyAVX(n int, y, a, b *float32, alpha, beta float32)

// scaleAVX sets y[i] = fl(alpha·a[i]) for i < n, n a multiple of 8.
//
//go:noescape
func scaleAVX(n int, y, a *float32, alpha float32)

// axpbySlice sets y[i] = fl(fl(alpha·a[i]) + fl(beta·b[i])), or fl(alpha·a[i])
// when b is nil: the multiple of 8 with AVX, the rest in Go; the same
// float32 operations either way. y may be a or b.
func axpbySlice(y, a, b []float32, alpha, beta float32) {
	a = a[:len(y)]
	done := 0
	if hasAVX && len(y) >= 8 {
		done = len(y) &^ 7
		if b == nil {
			scaleAVX(done, &y[0], &a[0], alpha)
		} else {
			axpbyAVX(done, &y[0], &a[0], &b[:len(y)][0], alpha, beta)
		}
	}
	if b != nil {
		b = b[done:]
	}
	axpbyGo(y[done:], a[done:], b, alpha, beta)
}

// mulAVX sets z[i] = fl(x[i]·y[i]) for i < n, n a multiple of 8.
//
//go:noescape
func mulAVX(n int, z, x, y *float32)

// mulSlice sets z[i] = fl(x[i]·y[i]): the multiple of 8 with AVX, the
// rest in Go. z may be x or y.
func mulSlice(z, x, y []float32) {
	x, y = x[:len(z)], y[:len(z)]
	done := 0
	if hasAVX && len(z) >= 8 {
		done = len(z) &^ 7
		mulAVX(done, &z[0], &x[0], &y[0])
	}
	for i := done; i < len(z); i++ {
		z[i] = x[i] * y[i]
	}
}
