//go:build !purego

package cpu

// log1pAVX2 is math.Log1p on four float64 at a time for 0 ≤ x < 1 (see
// log1p_amd64.s); lanes it leaves to math.Log1p hold x and are flagged in
// need.
//
//go:noescape
func log1pAVX2(n int, y, x *float64, need *uint8, k *log1pConsts)

// log1pConsts are log1pAVX2's constants, each repeated in every lane of a
// vector, at the byte offsets the assembly uses.
type log1pConsts struct {
	tiny, small, sqrt2M1, one, half, two [4]float64    // 0, 32, 64, 96, 128, 160
	mant, halfExp, sqrt2Mant, two52      [4]uint64     // 192, 224, 256, 288
	ln2Hi, ln2Lo                         [4]float64    // 320, 352
	lp                                   [7][4]float64 // 384 … 576
}

var log1pK = func() *log1pConsts {
	k := new(log1pConsts)
	lp := [7]float64{6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
		2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01}
	for i := range 4 {
		k.tiny[i], k.small[i] = 0x1p-54, 0x1p-29
		k.sqrt2M1[i] = 4.142135623730950488017e-01
		k.one[i], k.half[i], k.two[i] = 1, 0.5, 2
		k.mant[i], k.halfExp[i] = 0x000fffffffffffff, 0x3fe0000000000000
		k.sqrt2Mant[i], k.two52[i] = 0x0006a09e667f3bcd, 0x0010000000000000
		k.ln2Hi[i], k.ln2Lo[i] = 6.93147180369123816490e-01, 1.90821492927058770002e-10
		for j, c := range lp {
			k.lp[j][i] = c
		}
	}
	return k
}()

// log1pSlice sets y[i] = math.Log1p(x[i]), bit for bit; y may be x.
func log1pSlice(y, x []float64) { vec64(y, x, vecLog1p) }
