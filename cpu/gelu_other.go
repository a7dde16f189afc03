//go:build !amd64 || purego

package cpu

// geluSlice sets y[i] = gelu32(x[i]); y may be x. No vector kernels on this
// platform (or with -tags purego).
func geluSlice(y, x []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] = gelu32(v)
	}
}

// geluGradSlice sets dx[i] = geluGrad32(dy[i], x[i]); dx may be dy.
func geluGradSlice(dx, dy, x []float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	for i, v := range x {
		dx[i] = geluGrad32(dy[i], v)
	}
}

// geluBothSlice sets y[i] = gelu32(x[i]) and d[i] = geluDeriv32(x[i]); y
// or d may be x.
func geluBothSlice(y, d, x []float32) {
	d, x = d[:len(y)], x[:len(y)]
	for i, v := range x {
		y[i], d[i] = gelu32(v), geluDeriv32(v)
	}
}
