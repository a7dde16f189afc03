package cpu

import "math"

// tanh32 is float32(math.Tanh(float64(x))), bit for bit, about four times
// faster where the argument needs an exponential.
//
// math.Tanh computes 1 − 2/(e^{2|x|}+1) for |x| ≥ 0.625, and its call to
// math.Exp dominates the generator's last layer (a third of gan serve's CPU
// time). Here that branch uses expPoly, a polynomial exponential accurate to
// about 1e-14, and keeps its result only when rounding it to float32 cannot
// depend on the error: every value within tanhErrBound of the approximation
// rounds to the same float32 (Ziv's rounding test). Both the true tanh and
// math.Tanh's float64 result (within a few float64 ulps of it) lie in that
// interval, and rounding is monotone, so the float32 is the one
// float32(math.Tanh) gives. The rare argument that fails the test (about
// one in 10⁵) takes math.Tanh. Outside that branch: |x| < 0.625 is
// math.Tanh's own rational approximation (no exponential, already fast),
// and for |x| ≥ 9.1 the float32 result is ±1, since 1 − tanh(9.1) ≈ 2.5e-8
// is below half the float32 spacing under 1 (2⁻²⁵ ≈ 3.0e-8).
// TestTanh32Exhaustive compares every float32 in the fast ranges.
func tanh32(x float32) float32 {
	z := math.Abs(float64(x))
	if !(z >= 0.625) { // also NaN
		return float32(math.Tanh(float64(x)))
	}
	if z >= 9.1 {
		return float32(math.Copysign(1, float64(x)))
	}
	t := 1 - 2/(expPoly(2*z)+1)
	lo, hi := float32(t-tanhErrBound), float32(t+tanhErrBound)
	if lo != hi {
		return float32(math.Tanh(float64(x)))
	}
	if x < 0 {
		return -lo
	}
	return lo
}

// tanhErrBound bounds |t − tanh(z)| for tanh32's t: expPoly's relative
// error ε ≤ 1e-14 moves 1 − 2/(s+1) by at most 2sε/(s+1)² ≤ ε/2, and the
// three roundings after it add under 1e-15; the bound leaves a factor of
// ten on top.
const tanhErrBound = 1e-13

// expPoly is e^y for −700 ≤ y ≤ 700 with a relative error under 1e-14
// (TestExpPolyAccuracy measures under 5e-16 over the ranges tanh32 and
// sigmoid32 use): y = k·ln2 + r with |r| ≤ ln2/2 (ln2 in two parts, so
// k·ln2hi is exact for these k), e^r by its Taylor series to r¹²
// (remainder |r|¹³/13! < 2e-16; the roundings of Horner's rule and of r
// stay under a few 1e-16), and 2^k put into the exponent (a normal number
// for these k).
func expPoly(y float64) float64 {
	const (
		log2e  = 1.44269504088896338700e+00
		ln2Hi  = 6.93147180369123816490e-01
		ln2Lo  = 1.90821492927058770002e-10
		c2     = 1.0 / 2
		c3     = 1.0 / 6
		c4     = 1.0 / 24
		c5     = 1.0 / 120
		c6     = 1.0 / 720
		c7     = 1.0 / 5040
		c8     = 1.0 / 40320
		c9     = 1.0 / 362880
		c10    = 1.0 / 3628800
		c11    = 1.0 / 39916800
		c12    = 1.0 / 479001600
		expOne = 1023
	)
	k := math.Floor(y*log2e + 0.5)
	r := (y - k*ln2Hi) - k*ln2Lo
	p := 1 + r*(1+r*(c2+r*(c3+r*(c4+r*(c5+r*(c6+r*(c7+r*(c8+r*(c9+r*(c10+r*(c11+r*c12)))))))))))
	return p * math.Float64frombits(uint64(int64(k)+expOne)<<52)
}
