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

// expShift sets e[i] = exp(sc·x[i] − m) with expPoly and reports false
// where an argument is below −708 or NaN (see expshift_amd64.go).
func expShift(e []float64, x []float32, sc, m float64) bool {
	return expShiftGo(e, x, sc, m)
}
