//go:build !purego

package cpu

// The AVX2 kernels of batchnorm_amd64.s (specified by the Go loops of
// batchnorm_kernels.go, which also do the columns left over).

//go:noescape
func colSqDev16AVX2(rows, stride int, x *float32, mu, acc *float64)

//go:noescape
func bnApply16AVX2(rows, stride int, y, x, mf, rf, gf, bf *float32)

//go:noescape
func bnSums8AVX2(rows, stride int, dy, x, mf, rf, gf *float32, acc *float64)

//go:noescape
func bnDx8AVX2(rows, stride int, dx, dy, x, mf, rf, gf *float32, q *float64)

// colSqDevs is colSqDevsGo, 16 columns at a time with AVX2.
func colSqDevs(s []float64, x []float32, mu []float64, rows, stride, c0 int) {
	done := 0
	if hasAVX2 && rows > 0 {
		for ; done+16 <= len(s); done += 16 {
			colSqDev16AVX2(rows, stride, &x[c0+done], &mu[done], &s[done])
		}
	}
	colSqDevsGo(s[done:], x, mu[done:], rows, stride, c0+done)
}

// bnApply is bnApplyGo, 16 columns at a time with AVX2.
func bnApply(y, x, mf, rf, gf, bf []float32, rows, stride, c0 int) {
	done, w := 0, len(mf)
	if hasAVX2 && rows > 0 {
		for ; done+16 <= w; done += 16 {
			bnApply16AVX2(rows, stride, &y[c0+done], &x[c0+done], &mf[done], &rf[done], &gf[done], &bf[done])
		}
	}
	bnApplyGo(y, x, mf[done:], rf[done:], gf[done:], bf[done:], rows, stride, c0+done)
}

// bnSums is bnSumsGo, 8 columns at a time with AVX2.
func bnSums(sd, sdx, sg, sgx []float64, dy, x, mf, rf, gf []float32, rows, stride, c0 int) {
	done, w := 0, len(mf)
	if hasAVX2 && rows > 0 {
		var acc [32]float64
		for ; done+8 <= w; done += 8 {
			bnSums8AVX2(rows, stride, &dy[c0+done], &x[c0+done], &mf[done], &rf[done], &gf[done], &acc[0])
			copy(sd[done:done+8], acc[0:8])
			copy(sdx[done:done+8], acc[8:16])
			copy(sg[done:done+8], acc[16:24])
			copy(sgx[done:done+8], acc[24:32])
		}
	}
	bnSumsGo(sd[done:], sdx[done:], sg[done:], sgx[done:], dy, x, mf[done:], rf[done:], gf[done:], rows, stride, c0+done)
}

// bnDx is bnDxGo, 8 columns at a time with AVX2.
func bnDx(dx, dy, x, mf, rf, gf []float32, a, k, rr []float64, rows, stride, c0 int) {
	done, w := 0, len(mf)
	if hasAVX2 && rows > 0 {
		var q [24]float64
		for ; done+8 <= w; done += 8 {
			copy(q[0:8], a[done:done+8])
			copy(q[8:16], k[done:done+8])
			copy(q[16:24], rr[done:done+8])
			bnDx8AVX2(rows, stride, &dx[c0+done], &dy[c0+done], &x[c0+done], &mf[done], &rf[done], &gf[done], &q[0])
		}
	}
	bnDxGo(dx, dy, x, mf[done:], rf[done:], gf[done:], a[done:], k[done:], rr[done:], rows, stride, c0+done)
}
