//go:build !purego

package cpu

// GELU's vector kernels: gelu32 and geluGrad32 (gelu.go), bit for bit, on
// sixteen elements at a time as two streams of eight (see gelu_amd64.s).

//go:noescape
func geluAVX2(n int, y, x *float32, k *geluConsts)

//go:noescape
func geluGradAVX2(n int, dx, dy, x *float32, k *geluConsts)

//go:noescape
func geluBothAVX2(n int, y, d, x *float32, k *geluConsts)

// geluConsts are the kernels' constants, each repeated in every lane of a
// vector, at the byte offsets the assembly uses (TestGELUConstsLayout).
type geluConsts struct {
	abs                     [8]uint32              // 0
	max, negMax             [8]float32             // 32, 64
	cut                     [8]uint32              // 96: clears the low 12 bits
	half, log2e, ln2Hi      [8]float32             // 128, 160, 192
	ln2Lo, kappa, one, invP [8]float32             // 224, 256, 288, 320
	bias                    [8]int32               // 352: 127 + 64
	down                    [8]float32             // 384: 2⁻⁶⁴
	sign                    [8]uint32              // 416
	e                       [len(geluE)][8]float32 // 448
	h                       [len(geluH)][8]float32 // 672
}

var geluK = func() *geluConsts {
	k := new(geluConsts)
	for i := range 8 {
		k.abs[i], k.cut[i], k.sign[i] = 0x7fffffff, 0xfffff000, 0x80000000
		k.max[i], k.negMax[i] = geluMax, -geluMax
		k.half[i], k.log2e[i], k.ln2Hi[i], k.ln2Lo[i] = 0.5, geluLog2e, geluLn2Hi, geluLn2Lo
		k.kappa[i], k.one[i], k.invP[i] = geluKappa, 1, geluInvSqrt2P
		k.bias[i], k.down[i] = 127+64, 0x1p-64
		for j, c := range geluE {
			k.e[j][i] = c
		}
		for j, c := range geluH {
			k.h[j][i] = c
		}
	}
	return k
}()

// geluSlice sets y[i] = gelu32(x[i]); y may be x.
func geluSlice(y, x []float32) {
	x = x[:len(y)]
	done := 0
	if hasTanhAVX2 {
		done = len(y) &^ 15
		if done > 0 {
			geluAVX2(done, &y[0], &x[0], geluK)
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
		done = len(dx) &^ 15
		if done > 0 {
			geluGradAVX2(done, &dx[0], &dy[0], &x[0], geluK)
		}
	}
	for i := done; i < len(dx); i++ {
		dx[i] = geluGrad32(dy[i], x[i])
	}
}

// geluBothSlice sets y[i] = gelu32(x[i]) and d[i] = geluDeriv32(x[i]); y
// or d may be x.
func geluBothSlice(y, d, x []float32) {
	d, x = d[:len(y)], x[:len(y)]
	done := 0
	if hasTanhAVX2 {
		done = len(y) &^ 15
		if done > 0 {
			geluBothAVX2(done, &y[0], &d[0], &x[0], geluK)
		}
	}
	for i := done; i < len(y); i++ {
		v := x[i]
		y[i], d[i] = gelu32(v), geluDeriv32(v)
	}
}
