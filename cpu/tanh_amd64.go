//go:build !purego

package cpu

import (
	"math"

	"golang.org/x/sys/cpu"
)

// tanhAVX2 is tanh32's fast branch on four elements at a time (see
// tanh_amd64.s); lanes it leaves to tanh32 hold x and are flagged in need.
//
//go:noescape
func tanhAVX2(n int, y, x *float32, need *uint8, k *tanhConsts)

// hasTanhAVX2 says whether tanhAVX2 may run (AVX2 and FMA).
var hasTanhAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// tanhConsts are tanhAVX2's constants, each repeated in every lane of a
// vector, at the byte offsets the assembly uses.
type tanhConsts struct {
	abs32, sign32, small32, big32, one32 [4]uint32  // 0, 16, 32, 48, 64
	_                                    [4]uint32  // 80: pad to 32 bytes
	maxY, log2e, ln2Hi, ln2Lo            [4]float64 // 96, 128, 160, 192
	c                                    [12][4]float64
	magic, two, bound                    [4]float64 // 608, 640, 672
}

var tanhK = func() *tanhConsts {
	k := new(tanhConsts)
	fill32 := func(v *[4]uint32, x uint32) {
		for i := range v {
			v[i] = x
		}
	}
	fill := func(v *[4]float64, x float64) {
		for i := range v {
			v[i] = x
		}
	}
	fill32(&k.abs32, 0x7fffffff)
	fill32(&k.sign32, 0x80000000)
	fill32(&k.small32, math.Float32bits(0.625))
	fill32(&k.big32, math.Float32bits(9.1))
	fill32(&k.one32, math.Float32bits(1))
	fill(&k.maxY, 18.2)
	fill(&k.log2e, 1.44269504088896338700e+00)
	fill(&k.ln2Hi, 6.93147180369123816490e-01)
	fill(&k.ln2Lo, 1.90821492927058770002e-10)
	// c[0] = 1/12!, …, c[10] = 1/2!, c[11] = 1: Horner's coefficients from
	// the top (offsets 224 … 576).
	for i := 12; i >= 1; i-- {
		f := 1.0
		for j := 2; j <= i; j++ {
			f *= float64(j)
		}
		fill(&k.c[12-i], 1/f)
	}
	fill(&k.magic, 1.5*(1<<52)+1023)
	fill(&k.two, 2)
	fill(&k.bound, tanhErrBound)
	return k
}()

// tanhSlice sets y[i] = tanh32(x[i]); y may be x.
func tanhSlice(y, x []float32) {
	x = x[:len(y)]
	done := 0
	if hasTanhAVX2 {
		var need [256]uint8
		for done+4 <= len(y) {
			n := min(len(y)-done, 4*len(need)) &^ 3
			tanhAVX2(n, &y[done], &x[done], &need[0], tanhK)
			finishNeedy(y[done:done+n], need[:n/4], tanh32)
			done += n
		}
	}
	for i := done; i < len(y); i++ {
		y[i] = tanh32(x[i])
	}
}

// finishNeedy applies f to the elements of y that a vector kernel left
// undecided (bit i%4 of need[i/4]), which hold their argument.
func finishNeedy(y []float32, need []uint8, f func(float32) float32) {
	for g, bits := range need {
		for bits != 0 {
			l := 0
			for bits&(1<<l) == 0 {
				l++
			}
			bits &^= 1 << l
			i := 4*g + l
			y[i] = f(y[i])
		}
	}
}
