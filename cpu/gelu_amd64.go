//go:build !purego

package cpu

import "math"

// GELU's vector kernels: gelu32 and geluGrad32 (attention.go) bit for bit,
// four elements at a time, without math.Erfc and math.Exp.
//
// GELU(x) = x·Φ(x) and its derivative Φ(x) + x·φ(x) need the normal
// distribution's upper tail Q(t) = 1 − Φ(t) = ½·erfc(t/√2) and its density
// φ(t) = −Q′(t); with t = |x|, Φ(x) is Q(t) for x < 0 and 1 − Q(t)
// otherwise, and φ(x) = φ(t). For 0 ≤ t < geluFastMax a table holds Q and
// φ at the centre c of t's cell (width 1/geluCellsPerUnit), and Taylor's
// series around c does the rest: the derivatives of φ are Hermite
// polynomials times φ, φ⁽ʲ⁾(c) = (−1)ʲ·Heⱼ(c)·φ(c), so with s = t − c and
// bⱼ = Heⱼ(c)·(−s)ʲ
//
//	φ(c+s) = φ(c)·Σⱼ bⱼ/j!,  Q(c+s) = Q(c) − φ(c)·s·Σⱼ bⱼ/(j+1)!,
//
// and Hermite's recurrence Heⱼ₊₁ = c·Heⱼ − j·Heⱼ₋₁ becomes
// bⱼ₊₁ = −c·s·bⱼ − j·s²·bⱼ₋₁, from b₀ = 1: one multiply-add per term on
// the path from one term to the next, no exponential, and two table
// entries per argument (which the kernels load as one 16-byte pair).
//
// As for tanh32, a result is kept only when rounding it to float32 cannot
// depend on the approximation's error (Ziv's test): every value within
// geluErrBound (relative) of it rounds to the same float32. The float64
// formula of gelu32 (math.Erfc and math.Exp, a few float64 ulps from the
// truth, and an argument t/√2 rounded once, which moves erfc by at most
// 2z²·2⁻⁵³ ≈ 7e-15 relative for z = 8/√2) lies within that interval, and
// rounding is monotone, so the float32 is gelu32's. The rest (|x| ≥ 8,
// NaN and infinities, the rare failed test, and the backward pass near
// the derivative's zero at x ≈ −0.7518, where Φ + x·φ cancels) takes the
// float64 formula. TestGELUSliceExhaustive compares every float32 of
// magnitude 2⁻⁸ … 8 and a sample below; geluTail in the tests is the same
// algorithm in Go.
const (
	geluFastMax      = 8
	geluCellsPerUnit = 64
	geluCells        = geluFastMax * geluCellsPerUnit

	// geluTerms is the number of terms b₀ … b₇ of both sums: |c·s| ≤
	// 8/128 and |s| ≤ 1/128, so the first omitted term is about
	// (c·s)⁸/8! ≈ 6e-15 of φ (and less of Q, whose series carries an
	// extra s/(j+1)).
	geluTerms = 8

	// geluErrBound bounds the relative error of Q, of φ and of the
	// float64 results built from them (the truncation above, the table's
	// roundings and the arithmetic: together under 3e-14; measured
	// 1e-14 by TestGELUTailAccuracy), together with
	// the float64 formula's own error, with a factor of about 30 to
	// spare. About one argument in 3·10⁴ fails the test.
	geluErrBound = 1e-12
)

// geluTable holds Q(c) and φ(c) at each cell's centre c.
var geluTable = func() *[geluCells][2]float64 {
	q := new([geluCells][2]float64)
	for k := range q {
		c := (float64(k) + 0.5) / geluCellsPerUnit
		q[k] = [2]float64{0.5 * math.Erfc(c*invSqrt2), math.Exp(-0.5*c*c) * invSqrt2Pi}
	}
	return q
}()

// geluInvFact holds 1/j! for j ≤ geluTerms.
var geluInvFact = func() (v [geluTerms + 2]float64) {
	f := 1.0
	for j := range v {
		if j > 0 {
			f *= float64(j)
		}
		v[j] = 1 / f
	}
	return v
}()

// geluAVX2 and geluGradAVX2 are the fast path described above, on four
// elements at a time (see gelu_amd64.s); the lanes they leave
// undecided are flagged in need and finished in Go.
//
//go:noescape
func geluAVX2(n int, y, x *float32, need *uint8, k *geluConsts, tab *[geluCells][2]float64)

//go:noescape
func geluGradAVX2(n int, dx, dy, x *float32, need *uint8, k *geluConsts, tab *[geluCells][2]float64)

// geluConsts are the kernels' constants, each repeated in every lane of a
// vector, at the byte offsets the assembly uses.
type geluConsts struct {
	abs32, max32       [4]uint32 // 0, 16
	_                  [8]uint32 // 32: pad to 64
	abs64              [4]uint64 // 64
	clamp, cells, invC [4]float64
	half, one, bound   [4]float64
	negJ               [geluTerms][4]float64     // 288: −j for j ≥ 1
	invFact            [geluTerms + 1][4]float64 // 544: 1/j!
	invFact1           [geluTerms + 1][4]float64 // 832: 1/(j+1)!
}

var geluK = func() *geluConsts {
	k := new(geluConsts)
	for i := range 4 {
		k.abs32[i], k.max32[i] = 0x7fffffff, math.Float32bits(geluFastMax)
		k.abs64[i] = 1<<63 - 1
		k.clamp[i] = float64(math.Nextafter32(geluFastMax, 0))
		k.cells[i], k.invC[i] = geluCellsPerUnit, 1.0/geluCellsPerUnit
		k.half[i], k.one[i], k.bound[i] = 0.5, 1, geluErrBound
		for j := range k.negJ {
			k.negJ[j][i] = -float64(j + 1)
		}
		for j := range k.invFact {
			k.invFact[j][i], k.invFact1[j][i] = geluInvFact[j], geluInvFact[j+1]
		}
	}
	return k
}()

// geluSlice sets y[i] = gelu32(x[i]); y may be x.
func geluSlice(y, x []float32) {
	x = x[:len(y)]
	done := 0
	if hasTanhAVX2 {
		var need [256]uint8
		for done+4 <= len(y) {
			n := min(len(y)-done, 4*len(need)) &^ 3
			geluAVX2(n, &y[done], &x[done], &need[0], geluK, geluTable)
			finishNeedy(y[done:done+n], need[:n/4], gelu32)
			done += n
		}
	}
	for i := done; i < len(y); i++ {
		y[i] = gelu32(x[i])
	}
}

// geluGradSlice sets dx[i] = geluGrad32(dy[i], x[i]); dx may be dy.
func geluGradSlice(dx, dy, x []float32) {
	dy, x = dy[:len(dx)], x[:len(dx)]
	done := 0
	if hasTanhAVX2 {
		var need [256]uint8
		for done+4 <= len(dx) {
			n := min(len(dx)-done, 4*len(need)) &^ 3
			geluGradAVX2(n, &dx[done], &dy[done], &x[done], &need[0], geluK, geluTable)
			xs := x[done : done+n]
			for g, bits := range need[:n/4] {
				for l := range 4 {
					if bits&(1<<l) != 0 {
						i := 4*g + l
						dx[done+i] = geluGrad32(dx[done+i], xs[i])
					}
				}
			}
			done += n
		}
	}
	for i := done; i < len(dx); i++ {
		dx[i] = geluGrad32(dy[i], x[i])
	}
}
