package backendtest

import (
	"fmt"
	"math"
)

// The tolerance classes. Each output of a case has a [tol]: one check for
// the comparison with the float64 reference (RunAgainstReference), which
// computes without any float32 rounding, and one for the comparison of two
// float32 backends (RunAgainst), which follow the same documented float32
// formula and differ only where a float64 sum or a math library may.

// checkKind says how a check compares.
type checkKind uint8

const (
	// kindExact: the same bits (any NaN matches any NaN). Against the
	// reference, got must equal the reference rounded once to float32.
	kindExact checkKind = iota
	// kindULP: within ulps float32 units in the last place of the
	// reference rounded once to float32 (or of the other backend's value).
	kindULP
	// kindBound: |got − want| ≤ units·2⁻²⁴ + 4·2⁻¹⁴⁹, units per element
	// from the case's operands: a bound on the rounding error of a few
	// float32 operations (the 2⁻¹⁴⁹ terms are the subnormal spacing, the
	// absolute error of an underflowing product).
	kindBound
	// kindClose: |got − want| ≤ atol + rtol·|want|, both finite.
	kindClose
)

// check is one way of comparing an output with the expected values.
type check struct {
	kind       checkKind
	ulps       int64
	units      func(e *env) []float64
	rtol, atol float64
}

// tol is the tolerance of one output: ref against the float64 reference,
// pair against another float32 backend.
type tol struct {
	ref, pair check
}

// env is what a kindBound check sees: the case's operands as uploaded and
// the expected values of the output being checked.
type env struct {
	in   [][]float64 // every operand's initial values, row-major over its view
	want []float64   // the output's expected values
}

// Check constructors.
var (
	checkExact = check{kind: kindExact}
	checkLoss  = check{kind: kindClose, rtol: 1e-5, atol: 1e-6}
)

func checkULP(n int64) check { return check{kind: kindULP, ulps: n} }

func checkBound(units func(e *env) []float64) check { return check{kind: kindBound, units: units} }

// The tolerance classes, with the reason each holds.
var (
	// tolExact is for ops whose documented result is one correctly rounded
	// float32 operation of float32 inputs, or none (LeakyReLU and its
	// derivative, Mul, ScaleRows, DropoutBackward, the dropout mask, Map's
	// scale, add_const, square, sqrt and recip, bias adds, copies, fills,
	// gathers). The exact product, sum, quotient or square root of two
	// float32 numbers computed in float64 and rounded to float32 is the
	// correctly rounded float32 result (float64 has more than 2·24+2
	// significand bits, so the double rounding is innocuous), so even the
	// float64 reference gives the same bits.
	tolExact = tol{ref: checkExact, pair: checkExact}

	// tolTranscendental is for functions computed in float64 and rounded
	// once (tanh, sigmoid, exp, log): the backend and the reference each
	// hold a float64 value within an ulp or so of float64 of the true one,
	// so the roundings to float32 differ by at most one float32 ulp, and
	// two float32 backends with different math libraries (the CPU's Go
	// math and CUDA's libdevice) by at most two.
	tolTranscendental = tol{ref: checkULP(1), pair: checkULP(2)}

	// tolReduction is for float64 sums rounded once to float32 (ColSum
	// with beta = 0, RowSumSq, LayerNorm's mean and dbeta): a float64 sum
	// of at most a million float32 terms errs by far less than half a
	// float32 ulp of the result for the inputs here, so only the final
	// rounding, and where a tie falls, remains: one ulp, against the
	// reference or between two summation orders.
	tolReduction = tol{ref: checkULP(1), pair: checkULP(1)}

	// tolLoss is docs/tolerances.md's tolerance for losses and their gradients: rtol
	// 1e-5, atol 1e-6 (exp and log1p of two math libraries and the order
	// of the float64 sums differ in the last bits; the gradient is one or
	// two float32 roundings of σ(x) − t, well within it). SoftmaxCE's
	// accuracy is a multiple of 1/rows ≥ 1e-3 and so must match exactly
	// under this tolerance.
	tolLoss = tol{ref: checkLoss, pair: checkLoss}
)

// tolRounded is for a documented sequence of float32 operations that both
// float32 backends perform identically (Axpby, the derivatives of tanh and
// sigmoid, dropout's product, random fills, Adam, ScatterAddRows): bit-exact
// between two float32 backends, and within the given rounding bound of the
// exact float64 reference.
func tolRounded(units func(e *env) []float64) tol {
	return tol{ref: checkBound(units), pair: checkExact}
}

// tolBound uses the same rounding bound against the reference and between
// two backends: for results whose float32 steps start from float64 sums
// that two backends may round differently (LayerNorm's y and gradients).
func tolBound(units func(e *env) []float64) tol {
	return tol{ref: checkBound(units), pair: checkBound(units)}
}

// rel returns k·|want|: k roundings relative to the result, for a chain of
// products and quotients (no cancellation).
func rel(k float64) func(e *env) []float64 {
	return func(e *env) []float64 {
		u := make([]float64, len(e.want))
		for i, w := range e.want {
			u[i] = k * math.Abs(w)
		}
		return u
	}
}

// ordered maps a float32 to an integer that counts representable numbers,
// so that the difference of two is their distance in ulps (+0 and −0 are
// both 0).
func ordered(x float32) int64 {
	u := int64(math.Float32bits(x))
	if u&0x80000000 != 0 {
		return 0x80000000 - u
	}
	return u
}

// ulpDist is the distance between a and b in float32 ulps: 0 for two NaNs,
// MaxInt64 for one NaN.
func ulpDist(a, b float32) int64 {
	an, bn := a != a, b != b
	if an || bn {
		if an && bn {
			return 0
		}
		return math.MaxInt64
	}
	d := ordered(a) - ordered(b)
	if d < 0 {
		d = -d
	}
	return d
}

// compare checks got against want element by element with c (units as c's
// kindBound computes them, else nil) and returns a description of the first
// few mismatches, or "" when everything matches, and the largest error as a
// fraction of what the check allows (0 for kindExact; for kindULP the ulp
// distance over the ulps allowed, or 0 when none are; for kindBound and
// kindClose |got − want| over the limit; 1 or more means a mismatch).
// want is the float64 reference (rounded to float32 where the check says
// so) or another float32 backend's values, widened.
func (c check) compare(want []float64, got []float32, units []float64) (string, float64) {
	var msg string
	bad := 0
	worst := 0.0
	for i, w := range want {
		g := got[i]
		ok := true
		var limit string
		switch c.kind {
		case kindExact:
			w32 := float32(w)
			ok = (w32 != w32 && g != g) || math.Float32bits(w32) == math.Float32bits(g)
		case kindULP:
			d := ulpDist(float32(w), g)
			ok = d <= c.ulps
			if c.ulps > 0 {
				worst = max(worst, float64(d)/float64(c.ulps))
			}
			limit = fmt.Sprintf("%d ulp apart, %d allowed", min(d, 1<<40), c.ulps)
		case kindBound:
			var frac float64
			ok, frac, limit = withinBound(w, g, units[i])
			worst = max(worst, frac)
		case kindClose:
			gf := float64(g)
			lim := c.atol + c.rtol*math.Abs(w)
			ok = !math.IsNaN(w) && !math.IsInf(w, 0) && !math.IsNaN(gf) && !math.IsInf(gf, 0) && math.Abs(gf-w) <= lim
			if ok {
				worst = max(worst, math.Abs(gf-w)/lim)
			}
			limit = fmt.Sprintf("|diff| %.3g, allowed %.3g", math.Abs(gf-w), lim)
		}
		if ok {
			continue
		}
		bad++
		if bad <= 3 {
			msg += fmt.Sprintf("\n  element %d: got %v (%#08x), want %v", i, g, math.Float32bits(g), w)
			if limit != "" {
				msg += " (" + limit + ")"
			}
		}
	}
	if bad > 3 {
		msg += fmt.Sprintf("\n  … %d elements differ in all", bad)
	}
	return msg, worst
}

// withinBound is the kindBound test of one element: a NaN reference wants a
// NaN, a reference that rounds to an infinity wants that infinity, and a
// finite one a finite value within units·2⁻²⁴ + 4·2⁻¹⁴⁹. It also returns
// |got − want| as a fraction of that limit (0 for NaNs and infinities).
func withinBound(w float64, g float32, units float64) (bool, float64, string) {
	if math.IsNaN(w) {
		return g != g, 0, "want NaN"
	}
	if w32 := float32(w); math.IsInf(float64(w32), 0) {
		return g == w32, 0, "want an infinity"
	}
	gf := float64(g)
	lim := units*0x1p-24 + 4*0x1p-149
	ok := !math.IsNaN(gf) && !math.IsInf(gf, 0) && math.Abs(gf-w) <= lim
	frac := 0.0
	if ok {
		frac = math.Abs(gf-w) / lim
	}
	return ok, frac, fmt.Sprintf("|diff| %.3g, allowed %.3g", math.Abs(gf-w), lim)
}
