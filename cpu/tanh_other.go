//go:build !amd64 || purego

package cpu

// tanhSlice sets y[i] = tanh32(x[i]); y may be x. No vector kernels on this
// platform (or with -tags purego).
func tanhSlice(y, x []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] = tanh32(v)
	}
}

// sigmoidSlice sets y[i] = sigmoid32(x[i]); y may be x.
func sigmoidSlice(y, x []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] = sigmoid32(v)
	}
}
