package cpu

import "math"

// GELU in float32: gelu32 and geluDeriv32 define GELU and its derivative
// operation by operation (geluGrad32 is dy·geluDeriv32), and the vector kernels (gelu_amd64.s) and the
// CUDA kernels (kernels/attention.cu) do the same operations in the same
// order, so every backend gives the same bits. Every operation is a single
// float32 multiply, add, subtract or divide, correctly rounded, with no
// fused multiply-add (Go's explicit float32 conversions, the kernels'
// separate instructions and CUDA's __fmul_rn and friends keep them apart).
//
// GELU(x) = x·Φ(x) and GELU′(x) = Φ(x) + x·φ(x), Φ and φ the standard
// normal distribution and density. With t = |x|:
//
//   - t < geluMax: the upper tail Q(t) = 1 − Φ(t) is e·v·H(v) with
//     e = exp(−t²/2), v = 3/(3 + t) and H a polynomial of degree 10 (H is
//     Q·exp(t²/2)/v, smooth on v's interval [0.17, 1]), and φ(t) = e/√(2π).
//     For x < 0 (the sign bit: −0 too), Φ(x) = Q(t); otherwise 1 − Q(t);
//     x·φ(x) = ±t·φ(t).
//   - t ≥ geluMax: GELU is x for x > 0 and −0 for x < 0 (|x·Φ(x)| is
//     below half the smallest subnormal from t = 14.36 on); GELU′ is 1 and
//     0. NaN gives NaN.
//
// e is exp(−t²/2) without losing t²'s low bits: th is t cut to its top 12
// significant bits (so th² is exact in float32) and tl = t − th (exact),
// t² = th² + tl·(t + th). With a = th²/2 (exact), n = rint(a·log₂e) and
// ln 2 = L₁ + L₂ (L₁ of 9 bits, so n·L₁ and n·L₁ − a are exact),
// r = (n·L₁ − a) + n·L₂ − tl·(t + th)/2 lies in [−0.41, 0.41] and
// e = 2⁻ⁿ·E(r), E a polynomial of degree 6 for exp. The power of two is
// applied last, in two exact-or-once-rounded steps (geluScale), so the
// tail's subnormal results are rounded once.
//
// The polynomials' coefficients are float32 minimax fits in relative error
// (each coefficient rounded to float32 in turn and the rest refitted): E
// within 7.6e-9 on [−0.405, 0.405], H within 1.8e-9 on v ∈ [3/17.5, 1].
// Against the float64 formulas (math.Erfc, math.Exp) GELU is within
// geluULP float32 ulps, and GELU′ within geluULP ulps plus geluGradAbs
// absolute (GELU′ lies in [−0.17, 1.13] and cancels to 0 at x ≈ −0.7518,
// where no relative bound can hold); TestGELUAccuracy checks both on a
// sample of the float32s. Over every float32 of magnitude 2⁻⁸ to geluMax
// (geluErrors with stride 1, once) the largest errors are 7.20 ulps for
// GELU (at x = −1.8226) and 2⁻²³ + 2.50 ulps for GELU′.
const (
	geluMax   = 14.5
	geluKappa = 3

	geluLog2e     = float32(1.4426950408889634)
	geluLn2Hi     = float32(0.693359375) // 355/512
	geluLn2Lo     = float32(-2.12194440e-4)
	geluInvSqrt2P = float32(0.3989422804014327)

	// geluULP and geluGradAbs are the accuracy bounds that the tests
	// enforce (see above).
	geluULP     = 8
	geluGradAbs = 0x1p-23
)

// The polynomials' coefficients, constant term first.
var (
	geluE = [7]float32{1.0, 1.0000001192092896, 0.5000001192092896, 0.16666163504123688, 0.04166454076766968, 0.008391438983380795, 0.0014007725985720754}
	geluH = [11]float32{0.13298223912715912, 0.1329328417778015, 0.11887931078672409, 0.08321747928857803, 0.07713259756565094,
		-0.08527755737304688, 0.2007340043783188, -0.35292622447013855, 0.2891004681587219, -0.11536785960197449, 0.018592700362205505}
)

// horner32 evaluates the polynomial c at x, highest degree first, each
// product and sum rounded.
func horner32(c []float32, x float32) float32 {
	p := c[len(c)-1]
	for i := len(c) - 2; i >= 0; i-- {
		p = float32(p*x) + c[i]
	}
	return p
}

// geluScale returns v·2⁻ⁿ for 0 ≤ n ≤ 152 as (v·2⁶⁴⁻ⁿ)·2⁻⁶⁴: the first
// product is exact (a power of two; n > 64 only for t > 9.4, where every
// v here is far above 2⁻³⁸, so it cannot underflow), the second rounds
// once, subnormal results included.
func geluScale(v float32, n int32) float32 {
	return float32(v*math.Float32frombits(uint32(127+64-n)<<23)) * 0x1p-64
}

// geluTail returns, for 0 ≤ t < geluMax, p = E(r) and n with
// exp(−t²/2) = 2⁻ⁿ·p, and vh = v·H(v), so that Q(t) = 2⁻ⁿ·p·vh.
func geluTail(t float32) (p, vh float32, n int32) {
	th := math.Float32frombits(math.Float32bits(t) &^ 0xfff)
	tl := t - th
	a := float32(th*th) * 0.5
	b := float32(tl*(t+th)) * 0.5
	nf := float32(math.RoundToEven(float64(float32(a * geluLog2e))))
	r := float32(nf*geluLn2Hi) - a
	r = r + float32(nf*geluLn2Lo)
	r = r - b
	p = horner32(geluE[:], r)
	v := geluKappa / (geluKappa + t)
	vh = v * horner32(geluH[:], v)
	return p, vh, int32(nf)
}

// gelu32 is GELU(x) = x·Φ(x) in float32 (see above).
func gelu32(x float32) float32 {
	t := float32(math.Abs(float64(x)))
	switch {
	case x != x:
		return x
	case t >= geluMax:
		if x > 0 {
			return x
		}
		return float32(math.Copysign(0, -1))
	}
	p, vh, n := geluTail(t)
	q := p * vh
	if math.Signbit(float64(x)) {
		return geluScale(x*q, n)
	}
	return x * (1 - geluScale(q, n))
}

// geluGrad32 is dy·GELU′(x) in float32: the product of dy and geluDeriv32,
// rounded once.
func geluGrad32(dy, x float32) float32 { return dy * geluDeriv32(x) }

// geluDeriv32 is GELU′(x) in float32 (see above).
func geluDeriv32(x float32) float32 {
	t := float32(math.Abs(float64(x)))
	switch {
	case x != x:
		return x
	case t >= geluMax:
		if x > 0 {
			return 1
		}
		return 0
	}
	p, vh, n := geluTail(t)
	w := float32(t*geluInvSqrt2P) - vh // (t·φ(t) − Q(t))·2ⁿ/p
	s := geluScale(p*w, n)
	if math.Signbit(float64(x)) {
		return -s
	}
	return 1 + s
}
