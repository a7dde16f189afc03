//go:build !purego

package cpu

//go:noescape
func leakyAVX(n int, y, x *float32, one, slope float32)

//go:noescape
func leakyBackAVX(n int, dx, dy, y *float32, one, slope float32)

// leakySlice sets y[i] = x[i]·leakyFactor(x[i]) for i < len(y) (y may be
// x): the multiple of 8 with AVX (leaky_amd64.s), the rest in Go, the same
// products either way.
func leakySlice(y, x []float32, slope float32) {
	x = x[:len(y)]
	done := 0
	if hasAVX && len(y) >= 8 {
		done = len(y) &^ 7
		leakyAVX(done, &y[0], &x[0], 1, slope)
	}
	leakySliceGo(y[done:], x[done:], slope)
}

// leakyBackSlice sets dx[i] = dy[i]·leakyFactor(y[i]) for i < len(dx) (dx
// may be dy), with AVX as leakySlice.
func leakyBackSlice(dx, dy, y []float32, slope float32) {
	dy, y = dy[:len(dx)], y[:len(dx)]
	done := 0
	if hasAVX && len(dx) >= 8 {
		done = len(dx) &^ 7
		leakyBackAVX(done, &dx[0], &dy[0], &y[0], 1, slope)
	}
	leakyBackSliceGo(dx[done:], dy[done:], y[done:], slope)
}
