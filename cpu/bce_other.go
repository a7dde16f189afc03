//go:build !amd64 || purego

package cpu

// bceTerms computes SigmoidBCE's per-element terms (see bceTermsGo).
func bceTerms(x, t []float32, e, s, rest []float64, grad []float32, scale float32) {
	bceTermsGo(x, t, e, s, rest, grad, scale)
}
