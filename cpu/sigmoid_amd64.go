//go:build !purego

package cpu

import "math"

// sigmoidAVX2 is sigmoid32's fast branch on four elements at a time (see
// sigmoid_amd64.s); lanes it leaves to sigmoid32 hold x and are flagged in
// need.
//
//go:noescape
func sigmoidAVX2(n int, y, x *float32, need *uint8, k *sigmoidConsts)

// sigmoidConsts are sigmoidAVX2's constants, each repeated in every lane of
// a vector, at the byte offsets the assembly uses.
type sigmoidConsts struct {
	_                           [8]uint32  // 0
	lo32, big32, one32          [4]uint32  // 32, 48, 64
	_                           [4]uint32  // 80
	abs64                       [4]uint64  // 96
	maxAbs, log2e, ln2Hi, ln2Lo [4]float64 // 128, 160, 192, 224
	c                           [12][4]float64
	magic, below, above         [4]float64 // 640, 672, 704
}

var sigmoidK = func() *sigmoidConsts {
	k := new(sigmoidConsts)
	t := tanhK // the shared exponential's constants
	for i := range 4 {
		k.lo32[i] = math.Float32bits(-80)
		k.big32[i] = math.Float32bits(17.5)
		k.one32[i] = math.Float32bits(1)
		k.abs64[i] = 1<<63 - 1
		k.maxAbs[i] = 80
		k.below[i] = 1 - sigmoidErrBound
		k.above[i] = 1 + sigmoidErrBound
	}
	k.log2e, k.ln2Hi, k.ln2Lo, k.c, k.magic = t.log2e, t.ln2Hi, t.ln2Lo, t.c, t.magic
	return k
}()

// sigmoidSlice sets y[i] = sigmoid32(x[i]); y may be x.
func sigmoidSlice(y, x []float32) {
	x = x[:len(y)]
	done := 0
	if hasTanhAVX2 {
		var need [256]uint8
		for done+4 <= len(y) {
			n := min(len(y)-done, 4*len(need)) &^ 3
			sigmoidAVX2(n, &y[done], &x[done], &need[0], sigmoidK)
			finishNeedy(y[done:done+n], need[:n/4], sigmoid32)
			done += n
		}
	}
	for i := done; i < len(y); i++ {
		y[i] = sigmoid32(x[i])
	}
}
