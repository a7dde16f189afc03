//go:build !purego

package cpu

import "math"

// exp64AVX2 is math.Exp on four float64 at a time (see exp64_amd64.s);
// lanes it leaves to math.Exp hold x and are flagged in need. It needs AVX2
// and FMA: without FMA math.Exp takes another path.
//
//go:noescape
func exp64AVX2(n int, y, x *float64, need *uint8, k *exp64Consts)

// exp64Consts are exp64AVX2's constants, each repeated in every lane of a
// vector, at the byte offsets the assembly uses: archExp's (math/exp_amd64.s).
type exp64Consts struct {
	log2e, ln2U, ln2L, sixteenth [4]float64    // 0, 32, 64, 96
	c                            [8][4]float64 // 128 … 352: 1/8!, 1/7!, …, 1/2, 1
	two                          [4]float64    // 384
	bias, top                    [4]int64      // 416, 448
	overflow                     [4]float64    // 480
}

var exp64K = func() *exp64Consts {
	k := new(exp64Consts)
	c := [8]float64{2.4801587301587301587e-5, 1.9841269841269841270e-4, 1.3888888888888888889e-3,
		8.3333333333333333333e-3, 4.1666666666666666667e-2, 1.6666666666666666667e-1, 0.5, 1.0}
	for i := range 4 {
		k.log2e[i] = 1.4426950408889634073599246810018920
		k.ln2U[i] = 0.69314718055966295651160180568695068359375
		k.ln2L[i] = 0.28235290563031577122588448175013436025525412068e-12
		k.sixteenth[i] = 0.0625
		for j, v := range c {
			k.c[j][i] = v
		}
		k.two[i] = 2
		k.bias[i], k.top[i] = 1023, 2047
		k.overflow[i] = 7.09782712893384e+02
	}
	return k
}()

// hasExp64AVX2 says whether exp64AVX2 may run: AVX2 and FMA, the CPUs on
// which math.Exp itself takes its FMA path.
var hasExp64AVX2 = hasTanhAVX2

// exp64Slice sets y[i] = math.Exp(x[i]), bit for bit; y may be x.
func exp64Slice(y, x []float64) { vec64(y, x, vecExp) }

// The float64 vector kernels of vec64.
const (
	vecExp   = iota // exp64AVX2, math.Exp
	vecLog1p        // log1pAVX2, math.Log1p
)

// vec64 sets y[i] = f(x[i]) for the function kind names, with its vector
// kernel where the CPU has it: on the multiple of 4, in runs of up to 256,
// then f on the lanes the kernel flagged and on the tail. y may be x. (The
// kernels are called directly, not through a func value, so that need
// stays on the stack.)
func vec64(y, x []float64, kind int) {
	x = x[:len(y)]
	f, ok := math.Exp, hasExp64AVX2
	if kind == vecLog1p {
		f, ok = math.Log1p, hasAVX2
	}
	done := 0
	if ok {
		var need [64]uint8
		for done+4 <= len(y) {
			n := min(len(y)-done, 4*len(need)) &^ 3
			if kind == vecLog1p {
				log1pAVX2(n, &y[done], &x[done], &need[0], log1pK)
			} else {
				exp64AVX2(n, &y[done], &x[done], &need[0], exp64K)
			}
			for g, bits := range need[:n/4] {
				for l := range 4 {
					if bits&(1<<l) != 0 {
						i := done + 4*g + l
						y[i] = f(y[i])
					}
				}
			}
			done += n
		}
	}
	for i := done; i < len(y); i++ {
		y[i] = f(x[i])
	}
}
