//go:build !purego

package cpu

import "golang.org/x/sys/cpu"

// adamAVX runs the Adam update on n elements, n a multiple of 8, with AVX
// (see adam_amd64.s); c is w1, β2, w2, stepSize, bc2sqrt, eps.
//
//go:noescape
func adamAVX(n int, p, grad, m, v *float32, c *[6]float32)

// hasAVX says whether adamAVX may run: AVX, and an OS that saves the YMM
// registers (both part of x/sys/cpu's HasAVX).
var hasAVX = cpu.X86.HasAVX

// adamVector updates the longest prefix of the slices (all of equal length)
// that the vector kernel handles and returns its length; the caller does
// the rest with the Go loop, whose results the kernel matches bit for bit.
func (j *adamJob) adamVector(p, g, m, v []float32) int {
	n := len(g) &^ 7
	if !hasAVX || n == 0 {
		return 0
	}
	c := [6]float32{j.w1, j.beta2, j.w2, j.stepSize, j.bc2sqrt, j.eps}
	adamAVX(n, &p[0], &g[0], &m[0], &v[0], &c)
	return n
}
