//go:build !purego

package cpu

// bceTermsAVX is bceTermsGo on a multiple of four elements (see
// bce_amd64.s); it needs AVX (called where the package's AVX2 flag is set).
//
//go:noescape
func bceTermsAVX(n int, x, t *float32, e, s, rest *float64, grad *float32, scale float32)

// bceTerms computes SigmoidBCE's per-element terms (see bceTermsGo), four at
// a time where the CPU has AVX2. grad may be x.
func bceTerms(x, t []float32, e, s, rest []float64, grad []float32, scale float32) {
	done := 0
	if hasAVX2 && len(x) >= 4 {
		done = len(x) &^ 3
		bceTermsAVX(done, &x[0], &t[0], &e[0], &s[0], &rest[0], &grad[0], scale)
	}
	bceTermsGo(x[done:], t[done:], e[done:], s[done:], rest[done:], grad[done:], scale)
}
