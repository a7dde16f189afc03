//go:build !purego

#include "textflag.h"

// The AVX2 kernels of BatchNorm and BatchNormBackward (batchnorm.go). Each
// walks the rows of a few columns of a strided matrix, and each performs,
// lane by lane, the same float32 and float64 operations in the same order
// as the scalar loops of batchnorm_kernels.go (no FMA), so the results are
// the same bit for bit.

// func colSqDev16AVX2(rows, stride int, x *float32, mu, acc *float64)
//
// acc[c] = Σ_r (float64(x[r·stride + c]) − mu[c])² for c < 16, in float64,
// the rows added in order from the first: four accumulators of four
// columns stay in registers (Y0–Y3) beside the four means (Y8–Y11).
TEXT ·colSqDev16AVX2(SB), NOSPLIT, $0-40
	MOVQ rows+0(FP), CX
	MOVQ stride+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ mu+24(FP), R8
	MOVQ acc+32(FP), DI
	SHLQ $2, DX                       // stride in bytes
	VMOVUPD 0(R8), Y8
	VMOVUPD 32(R8), Y9
	VMOVUPD 64(R8), Y10
	VMOVUPD 96(R8), Y11
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3

sqloop:
	TESTQ CX, CX
	JE    sqdone
	VCVTPS2PD 0(SI), Y4
	VCVTPS2PD 16(SI), Y5
	VCVTPS2PD 32(SI), Y6
	VCVTPS2PD 48(SI), Y7
	VSUBPD Y8, Y4, Y4                 // d = x − μ
	VSUBPD Y9, Y5, Y5
	VSUBPD Y10, Y6, Y6
	VSUBPD Y11, Y7, Y7
	VMULPD Y4, Y4, Y4                 // d²
	VMULPD Y5, Y5, Y5
	VMULPD Y6, Y6, Y6
	VMULPD Y7, Y7, Y7
	VADDPD Y4, Y0, Y0
	VADDPD Y5, Y1, Y1
	VADDPD Y6, Y2, Y2
	VADDPD Y7, Y3, Y3
	ADDQ  DX, SI
	DECQ  CX
	JMP   sqloop

sqdone:
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VZEROUPPER
	RET

// func bnApply16AVX2(rows, stride int, y, x, mf, rf, gf, bf *float32)
//
// y[r·stride + c] = fl(fl(fl(fl(x − mf[c])·rf[c])·gf[c]) + bf[c]) for
// c < 16 and every row r (y may be x): the 16 columns' four parameters
// stay in Y8–Y15.
TEXT ·bnApply16AVX2(SB), NOSPLIT, $0-64
	MOVQ rows+0(FP), CX
	MOVQ stride+8(FP), DX
	MOVQ y+16(FP), DI
	MOVQ x+24(FP), SI
	MOVQ mf+32(FP), R8
	MOVQ rf+40(FP), R9
	MOVQ gf+48(FP), R10
	MOVQ bf+56(FP), R11
	SHLQ $2, DX
	VMOVUPS 0(R8), Y8
	VMOVUPS 32(R8), Y9
	VMOVUPS 0(R9), Y10
	VMOVUPS 32(R9), Y11
	VMOVUPS 0(R10), Y12
	VMOVUPS 32(R10), Y13
	VMOVUPS 0(R11), Y14
	VMOVUPS 32(R11), Y15

aploop:
	TESTQ CX, CX
	JE    apdone
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y1
	VSUBPS Y8, Y0, Y0                 // x − μ
	VSUBPS Y9, Y1, Y1
	VMULPS Y10, Y0, Y0                // x̂
	VMULPS Y11, Y1, Y1
	VMULPS Y12, Y0, Y0                // x̂·γ
	VMULPS Y13, Y1, Y1
	VADDPS Y14, Y0, Y0                // + β
	VADDPS Y15, Y1, Y1
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	ADDQ  DX, SI
	ADDQ  DX, DI
	DECQ  CX
	JMP   aploop

apdone:
	VZEROUPPER
	RET

// func bnSums8AVX2(rows, stride int, dy, x, mf, rf, gf *float32, acc *float64)
//
// For c < 8, with x̂ = fl(fl(x − mf[c])·rf[c]) and g = fl(dy·gf[c]), the
// float64 sums over the rows in order of dy (acc[c]), dy·x̂ (acc[8+c]), g
// (acc[16+c]) and g·x̂ (acc[24+c]), each product formed in float64 from
// the widened float32s: the eight accumulators of four columns are Y0–Y7,
// the parameters Y12–Y14.
TEXT ·bnSums8AVX2(SB), NOSPLIT, $0-64
	MOVQ rows+0(FP), CX
	MOVQ stride+8(FP), DX
	MOVQ dy+16(FP), BX
	MOVQ x+24(FP), SI
	MOVQ mf+32(FP), R8
	MOVQ rf+40(FP), R9
	MOVQ gf+48(FP), R10
	MOVQ acc+56(FP), DI
	SHLQ $2, DX
	VMOVUPS 0(R8), Y12
	VMOVUPS 0(R9), Y13
	VMOVUPS 0(R10), Y14
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7

smloop:
	TESTQ CX, CX
	JE    smdone
	VMOVUPS 0(SI), Y8
	VSUBPS Y12, Y8, Y8
	VMULPS Y13, Y8, Y8                // x̂
	VMOVUPS 0(BX), Y9                 // dy
	VMULPS Y14, Y9, Y10               // g

	// columns 0–3
	VCVTPS2PD X8, Y11
	VCVTPS2PD X9, Y15
	VADDPD Y15, Y0, Y0                // Σ dy
	VMULPD Y11, Y15, Y15
	VADDPD Y15, Y2, Y2                // Σ dy·x̂
	VCVTPS2PD X10, Y15
	VADDPD Y15, Y4, Y4                // Σ g
	VMULPD Y11, Y15, Y15
	VADDPD Y15, Y6, Y6                // Σ g·x̂

	// columns 4–7
	VEXTRACTF128 $1, Y8, X8
	VEXTRACTF128 $1, Y9, X9
	VEXTRACTF128 $1, Y10, X10
	VCVTPS2PD X8, Y11
	VCVTPS2PD X9, Y15
	VADDPD Y15, Y1, Y1
	VMULPD Y11, Y15, Y15
	VADDPD Y15, Y3, Y3
	VCVTPS2PD X10, Y15
	VADDPD Y15, Y5, Y5
	VMULPD Y11, Y15, Y15
	VADDPD Y15, Y7, Y7

	ADDQ  DX, SI
	ADDQ  DX, BX
	DECQ  CX
	JMP   smloop

smdone:
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VMOVUPD Y4, 128(DI)
	VMOVUPD Y5, 160(DI)
	VMOVUPD Y6, 192(DI)
	VMOVUPD Y7, 224(DI)
	VZEROUPPER
	RET

// func bnDx8AVX2(rows, stride int, dx, dy, x, mf, rf, gf *float32, q *float64)
//
// For c < 8 and every row, with x̂ and g as in bnSums8AVX2, a = q[c],
// k = q[8+c] and r = q[16+c] (float64): dx = float32(r·((g − a) − x̂·k)),
// each step a float64 operation (dx may be dy). The float32 parameters
// are Y10–Y12, the float64 ones Y7–Y9 (columns 0–3) and Y13–Y15 (4–7).
TEXT ·bnDx8AVX2(SB), NOSPLIT, $0-72
	MOVQ rows+0(FP), CX
	MOVQ stride+8(FP), DX
	MOVQ dx+16(FP), DI
	MOVQ dy+24(FP), BX
	MOVQ x+32(FP), SI
	MOVQ mf+40(FP), R8
	MOVQ rf+48(FP), R9
	MOVQ gf+56(FP), R10
	MOVQ q+64(FP), R11
	SHLQ $2, DX
	VMOVUPS 0(R8), Y10
	VMOVUPS 0(R9), Y11
	VMOVUPS 0(R10), Y12
	VMOVUPD 0(R11), Y7                // a, columns 0–3
	VMOVUPD 64(R11), Y8               // k
	VMOVUPD 128(R11), Y9              // r
	VMOVUPD 32(R11), Y13              // a, columns 4–7
	VMOVUPD 96(R11), Y14              // k
	VMOVUPD 160(R11), Y15             // r

dxloop:
	TESTQ CX, CX
	JE    dxdone
	VMOVUPS 0(SI), Y0
	VSUBPS Y10, Y0, Y0
	VMULPS Y11, Y0, Y0                // x̂
	VMOVUPS 0(BX), Y1
	VMULPS Y12, Y1, Y1                // g

	// columns 0–3
	VCVTPS2PD X0, Y2
	VCVTPS2PD X1, Y3
	VSUBPD Y7, Y3, Y3                 // g − a
	VMULPD Y8, Y2, Y2                 // x̂·k
	VSUBPD Y2, Y3, Y3
	VMULPD Y9, Y3, Y3                 // ·r
	VCVTPD2PSY Y3, X3

	// columns 4–7
	VEXTRACTF128 $1, Y0, X0
	VEXTRACTF128 $1, Y1, X1
	VCVTPS2PD X0, Y2
	VCVTPS2PD X1, Y4
	VSUBPD Y13, Y4, Y4
	VMULPD Y14, Y2, Y2
	VSUBPD Y2, Y4, Y4
	VMULPD Y15, Y4, Y4
	VCVTPD2PSY Y4, X4

	VINSERTF128 $1, X4, Y3, Y3
	VMOVUPS Y3, 0(DI)
	ADDQ  DX, SI
	ADDQ  DX, BX
	ADDQ  DX, DI
	DECQ  CX
	JMP   dxloop

dxdone:
	VZEROUPPER
	RET
