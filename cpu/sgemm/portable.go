package sgemm

import "unsafe"

// genericSet is the portable Go kernel set: used on CPUs without AVX2 and
// FMA, under the purego build tag, and by the tests on every machine.
var genericSet = &kernelSet{
	name: "generic", mr: 4, nr: 4, kcMax: 256, mcMax: 128, ncMax: 1024,
	micro: microGeneric, dotRows: dotRowsGeneric, axpyCols: axpyColsGeneric,
}

// microGeneric is the portable 4×4 micro-kernel; see kernelSet.micro.
func microGeneric(k int, a, b, c *float32, ldc int, beta float32, mode int) {
	as := unsafe.Slice(a, 4*k)
	bs := unsafe.Slice(b, 4*k)
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	for p := 0; p < k; p++ {
		av := as[4*p : 4*p+4 : 4*p+4]
		bv := bs[4*p : 4*p+4 : 4*p+4]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		a0 := av[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := av[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := av[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a3 := av[3]
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	t := [16]float32{c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33}
	merge(unsafe.Slice(c, 3*ldc+4), ldc, t[:], 4, 4, 4, beta, mode)
}

// dotRowsGeneric is the portable dotRows: y[i] = Σ_p a[i·lda+p]·x[p].
func dotRowsGeneric(m, k int, a *float32, lda int, x, y *float32) {
	as := unsafe.Slice(a, (m-1)*lda+k)
	xs := unsafe.Slice(x, k)
	ys := unsafe.Slice(y, m)
	for i := range ys {
		row := as[i*lda : i*lda+k]
		// Four partial sums: independent chains run faster.
		var s0, s1, s2, s3 float32
		p := 0
		for ; p+4 <= k; p += 4 {
			s0 += row[p] * xs[p]
			s1 += row[p+1] * xs[p+1]
			s2 += row[p+2] * xs[p+2]
			s3 += row[p+3] * xs[p+3]
		}
		for ; p < k; p++ {
			s0 += row[p] * xs[p]
		}
		ys[i] = (s0 + s1) + (s2 + s3)
	}
}

// axpyColsGeneric is the portable axpyCols: y[j] = Σ_p x[p]·a[p·lda+j].
func axpyColsGeneric(k, n int, a *float32, lda int, x, y *float32) {
	as := unsafe.Slice(a, (k-1)*lda+n)
	xs := unsafe.Slice(x, k)
	ys := unsafe.Slice(y, n)
	clear(ys)
	for p, xp := range xs {
		row := as[p*lda : p*lda+n]
		for j, v := range row {
			ys[j] += xp * v
		}
	}
}
