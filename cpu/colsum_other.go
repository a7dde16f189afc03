//go:build !amd64 || purego

package cpu

// colSums sets s[i] = Σ_r dy[r·stride + c0 + i] for i < len(s), in float64,
// adding the rows in order.
func colSums(s []float64, dy []float32, rows, stride, c0 int) {
	colSumsGo(s, dy, rows, stride, c0)
}

// addColSums is colSums adding to the sums in s.
func addColSums(s []float64, dy []float32, rows, stride, c0 int) {
	addColSumsGo(s, dy, rows, stride, c0)
}
