//go:build !purego

package cpu

import "golang.org/x/sys/cpu"

// colSum16AVX2 adds the sums of 16 columns of a strided float32 matrix
// into float64 accumulators (see colsum_amd64.s).
//
//go:noescape
func colSum16AVX2(rows, stride int, dy *float32, acc *float64)

// hasAVX2 says whether the AVX2 kernels without FMA may run.
var hasAVX2 = cpu.X86.HasAVX2

// colSums sets s[i] = Σ_r dy[r·stride + c0 + i] for i < len(s), in float64,
// adding the rows in order; 16 columns at a time with AVX2.
func colSums(s []float64, dy []float32, rows, stride, c0 int) {
	clear(s)
	addColSums(s, dy, rows, stride, c0)
}

// addColSums is colSums adding to the sums in s (the rows after those
// already summed there).
func addColSums(s []float64, dy []float32, rows, stride, c0 int) {
	done := 0
	if hasAVX2 && rows > 0 {
		for ; done+16 <= len(s); done += 16 {
			colSum16AVX2(rows, stride, &dy[c0+done], &s[done])
		}
	}
	addColSumsGo(s[done:], dy, rows, stride, c0+done)
}
