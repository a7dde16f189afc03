package cpu

import "math"

// sigmoid32 is float32(sigmoid64(float64(x))), bit for bit, without
// math.Exp where that is safe: for −80 < x < 17.5 it computes
// e = e^−|x| with expPoly and t = 1/(1+e) (x ≥ 0) or e/(1+e) (x < 0), and
// keeps t's float32 rounding only when t·(1 ± sigmoidErrBound) round to
// the same float32 (Ziv's rounding test, as in tanh32); every other
// argument takes sigmoid64. For x ≥ 17.5 the result is 1: 1 − σ(x) ≤
// e^−17.5 ≈ 2.5e-8 is below half the float32 spacing under 1 (2⁻²⁵ ≈
// 3.0e-8). TestSigmoid32 compares it with float32(sigmoid64) on every
// float32 of [−1, 1] and on a dense sample of the rest.
func sigmoid32(x float32) float32 {
	v := float64(x)
	if !(v > -80 && v < 17.5) { // also NaN
		if v >= 17.5 {
			return 1
		}
		return float32(sigmoid64(v))
	}
	e := expPoly(-math.Abs(v))
	num := 1.0
	if v < 0 {
		num = e
	}
	t := num / (1 + e)
	lo, hi := float32(t*(1-sigmoidErrBound)), float32(t*(1+sigmoidErrBound))
	if lo != hi {
		return float32(sigmoid64(v))
	}
	return lo
}

// sigmoidErrBound bounds the relative distance between sigmoid32's t and
// both σ(x) and sigmoid64's result: expPoly's relative error (≤ 1e-14)
// reaches t at most undiminished, the division and addition add about
// 2e-16, and sigmoid64 is within a few 1e-16 of σ; the bound leaves a
// factor of ten on top.
const sigmoidErrBound = 1e-13
