//go:build !purego

package cpu

// expShiftAVX2 is expShift's vector kernel (see expshift_amd64.s).
//
//go:noescape
func expShiftAVX2(n int, e *float64, x *float32, sc, m, lo float64, k *tanhConsts) (bad bool)

// expShift sets e[i] = exp(sc·x[i] − m) in float64 (relative error under
// 1e-15: expPoly's, see tanh.go) and reports false, leaving e undefined,
// where some sc·x[i] − m is below −708 or NaN (the caller then takes
// math.Exp). For a softmax's row, where m is the row's largest sc·x[i]:
// every argument is at most 0.
func expShift(e []float64, x []float32, sc, m float64) bool {
	x = x[:len(e)]
	done := 0
	if hasTanhAVX2 && len(e) >= 4 {
		done = len(e) &^ 3
		if expShiftAVX2(done, &e[0], &x[0], sc, m, expShiftMin, tanhK) {
			return false
		}
	}
	return expShiftGo(e[done:], x[done:], sc, m)
}
