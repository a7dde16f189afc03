//go:build !purego

package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// geluTail is the vector kernels' algorithm in Go: Q(t) and φ(t) for
// 0 ≤ t < geluFastMax from the cell's table entries and the series bⱼ.
func geluTail(t float64) (q, phi float64) {
	k := int(t * geluCellsPerUnit)
	c := (float64(k) + 0.5) / geluCellsPerUnit
	s := t - c
	cs, s2 := c*s, s*s
	prev, b := 0.0, 1.0
	sq, sp := 1.0, 1.0
	for j := 1; j < geluTerms; j++ {
		prev, b = b, -cs*b-float64(j-1)*s2*prev
		sq += b * geluInvFact[j+1]
		sp += b * geluInvFact[j]
	}
	e := &geluTable[k]
	return e[0] - e[1]*s*sq, e[1] * sp
}

// TestGELUTailAccuracy: Q and φ of the series stay within 3e-14
// (relative) of ½·erfc(t/√2) and exp(−t²/2)/√(2π) in float64 on a dense
// grid of [0, 8) — the budget geluErrBound's comment counts on, a
// thirtieth of the bound.
func TestGELUTailAccuracy(t *testing.T) {
	var worstQ, worstP float64
	for i := range 1 << 20 {
		v := float64(i) * geluFastMax / (1 << 20)
		q, phi := geluTail(v)
		wq, wp := 0.5*math.Erfc(v*invSqrt2), math.Exp(-0.5*v*v)*invSqrt2Pi
		worstQ = max(worstQ, math.Abs(q-wq)/wq)
		worstP = max(worstP, math.Abs(phi-wp)/wp)
	}
	t.Logf("largest relative error: Q %.2g, φ %.2g", worstQ, worstP)
	if worstQ > 3e-14 || worstP > 3e-14 {
		t.Errorf("relative errors Q %.3g, φ %.3g: over 3e-14", worstQ, worstP)
	}
}

// TestGELUFastFallbacks: Ziv's test decides nearly every argument of the
// range that matters (a failed test only costs time, so this is the
// bound's cost, not its correctness).
func TestGELUFastFallbacks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	fwd, bwd := 0, 0
	const n = 1 << 20
	for range n {
		v := float64(float32(3 * r.NormFloat64()))
		if math.Abs(v) >= geluFastMax {
			continue
		}
		q, phi := geluTail(math.Abs(v))
		if !math.Signbit(v) {
			q = 1 - q
		}
		if y, e := v*q, math.Abs(v*q)*geluErrBound; float32(y-e) != float32(y+e) {
			fwd++
		}
		if d, e := q+v*phi, (q+math.Abs(v*phi))*geluErrBound; float32(d-e) != float32(d+e) {
			bwd++
		}
	}
	t.Logf("undecided of %d arguments ~ N(0, 9): forward %d, backward %d", n, fwd, bwd)
	if fwd > n/1000 || bwd > n/1000 {
		t.Errorf("undecided: forward %d, backward %d of %d", fwd, bwd, n)
	}
}
