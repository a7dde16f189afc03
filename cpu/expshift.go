package cpu

// expShiftMin is the smallest argument expShift takes: e^y for y ≥ −708
// is a normal float64, which expPoly's 2^k needs.
const expShiftMin = -708

// expShiftGo is expShift in Go: expPoly for each element.
func expShiftGo(e []float64, x []float32, sc, m float64) bool {
	x = x[:len(e)]
	for i, v := range x {
		y := sc*float64(v) - m
		if !(y >= expShiftMin) {
			return false
		}
		e[i] = expPoly(y)
	}
	return true
}
