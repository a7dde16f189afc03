//go:build !amd64 || purego

package cpu

func colSqDevs(s []float64, x []float32, mu []float64, rows, stride, c0 int) {
	colSqDevsGo(s, x, mu, rows, stride, c0)
}

func bnApply(y, x, mf, rf, gf, bf []float32, rows, stride, c0 int) {
	bnApplyGo(y, x, mf, rf, gf, bf, rows, stride, c0)
}

func bnSums(sd, sdx, sg, sgx []float64, dy, x, mf, rf, gf []float32, rows, stride, c0 int) {
	bnSumsGo(sd, sdx, sg, sgx, dy, x, mf, rf, gf, rows, stride, c0)
}

func bnDx(dx, dy, x, mf, rf, gf []float32, a, k, rr []float64, rows, stride, c0 int) {
	bnDxGo(dx, dy, x, mf, rf, gf, a, k, rr, rows, stride, c0)
}
