package cpu

// The column kernels of BatchNorm and BatchNormBackward in Go. Each works on
// the columns [c0, c0+w) of a matrix with the given row stride, over its
// rows in order; the AVX2 kernels (batchnorm_amd64.s) do the same
// operations in the same order, so these are also their specification
// (TestBatchNormKernels compares the two bit for bit).

// colSqDevsGo sets s[i] = Σ_r (x[r·stride + c0 + i] − mu[i])² in float64.
func colSqDevsGo(s []float64, x []float32, mu []float64, rows, stride, c0 int) {
	clear(s)
	for r := range rows {
		row := x[r*stride+c0 : r*stride+c0+len(s)]
		for i, v := range row {
			d := float64(v) - mu[i]
			s[i] += float64(d * d)
		}
	}
}

// bnApplyGo sets y = fl(fl(fl(fl(x − mf)·rf)·gf) + bf) per element of the
// len(mf) columns (y may be x).
func bnApplyGo(y, x, mf, rf, gf, bf []float32, rows, stride, c0 int) {
	w := len(mf)
	for r := range rows {
		xr, yr := x[r*stride+c0:r*stride+c0+w], y[r*stride+c0:r*stride+c0+w]
		for i, v := range xr {
			yr[i] = float32(float32(float32(v-mf[i])*rf[i])*gf[i]) + bf[i]
		}
	}
}

// bnSumsGo sets, with x̂ = fl(fl(x − mf)·rf) and g = fl(dy·gf), the float64
// column sums sd = Σ dy, sdx = Σ dy·x̂, sg = Σ g and sgx = Σ g·x̂ of the
// len(mf) columns.
func bnSumsGo(sd, sdx, sg, sgx []float64, dy, x, mf, rf, gf []float32, rows, stride, c0 int) {
	w := len(mf)
	clear(sd[:w])
	clear(sdx[:w])
	clear(sg[:w])
	clear(sgx[:w])
	for r := range rows {
		xr, dr := x[r*stride+c0:r*stride+c0+w], dy[r*stride+c0:r*stride+c0+w]
		for i, v := range xr {
			xh := float64(float32(v-mf[i]) * rf[i])
			d := dr[i]
			g := float64(float32(d * gf[i]))
			sd[i] += float64(d)
			sdx[i] += float64(float64(d) * xh)
			sg[i] += g
			sgx[i] += float64(g * xh)
		}
	}
}

// bnDxGo sets dx = float32(r·((g − a) − x̂·k)) per element of the len(mf)
// columns, with x̂ and g as in bnSumsGo and each step in float64 (dx may
// be dy).
func bnDxGo(dx, dy, x, mf, rf, gf []float32, a, k, rr []float64, rows, stride, c0 int) {
	w := len(mf)
	for r := range rows {
		o := r*stride + c0
		xr, dr, dxr := x[o:o+w], dy[o:o+w], dx[o:o+w]
		for i, v := range xr {
			xh := float64(float32(v-mf[i]) * rf[i])
			g := float64(float32(dr[i] * gf[i]))
			dxr[i] = float32(rr[i] * ((g - a[i]) - float64(xh*k[i])))
		}
	}
}
