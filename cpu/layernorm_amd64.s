//go:build !purego

#include "textflag.h"

// func lnApplyAVX(n int, y, x, gamma, beta *float32, mean, rstd float32)
//
// y[i] = fl(fl(fl(x[i] − μ)·r)·γ[i]) + β[i] for i < n, n a multiple of 8:
// LayerNorm's per-element step with gamma and beta, eight at a time, each
// operation a float32 one rounded on its own as in layerNormJob.finish.
// y may be x.
TEXT ·lnApplyAVX(SB), NOSPLIT, $0-48
	MOVQ         n+0(FP), CX
	MOVQ         y+8(FP), DI
	MOVQ         x+16(FP), SI
	MOVQ         gamma+24(FP), R8
	MOVQ         beta+32(FP), R9
	VBROADCASTSS mean+40(FP), Y6
	VBROADCASTSS rstd+44(FP), Y7
	XORQ         BX, BX

aloop:
	CMPQ    BX, CX
	JGE     adone
	VMOVUPS (SI)(BX*4), Y0
	VSUBPS  Y6, Y0, Y0
	VMULPS  Y7, Y0, Y0
	VMULPS  (R8)(BX*4), Y0, Y0
	VADDPS  (R9)(BX*4), Y0, Y0
	VMOVUPS Y0, (DI)(BX*4)
	ADDQ    $8, BX
	JMP     aloop

adone:
	VZEROUPPER
	RET

// func lnParams16AVX2(rows, n int, dy, x, mean, rstd *float32, accG, accB *float64)
//
// For 16 columns (dy and x point at the first, rows n elements apart):
// accG[c] = Σ_r float64(dy)·float64(x̂) and accB[c] = Σ_r float64(dy), the
// rows added in order from the first, with x̂ = fl(fl(x − mean[r])·rstd[r])
// in float32 and each product rounded in float64 before it is added (no
// fused multiply-add), as layerNormParamsJob's Go loop, so the sums are the
// same bit for bit. Eight accumulators stay in registers while the rows
// stream by.
TEXT ·lnParams16AVX2(SB), NOSPLIT, $0-64
	MOVQ rows+0(FP), CX
	MOVQ n+8(FP), DX
	MOVQ dy+16(FP), R8
	MOVQ x+24(FP), SI
	MOVQ mean+32(FP), R9
	MOVQ rstd+40(FP), R10
	SHLQ $2, DX                       // row stride in bytes
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7

ploop:
	TESTQ CX, CX
	JE    pdone
	VBROADCASTSS (R9), Y8             // mean[r]
	VBROADCASTSS (R10), Y9            // rstd[r]
	VMOVUPS 0(SI), Y10
	VMOVUPS 32(SI), Y11
	VSUBPS  Y8, Y10, Y10
	VSUBPS  Y8, Y11, Y11
	VMULPS  Y9, Y10, Y10              // x̂, columns 0–7
	VMULPS  Y9, Y11, Y11              // x̂, columns 8–15
	VCVTPS2PD 0(R8), Y12              // dy, columns 0–3
	VCVTPS2PD X10, Y13
	VADDPD  Y12, Y4, Y4
	VMULPD  Y13, Y12, Y12
	VADDPD  Y12, Y0, Y0
	VCVTPS2PD 16(R8), Y12             // columns 4–7
	VEXTRACTF128 $1, Y10, X10
	VCVTPS2PD X10, Y13
	VADDPD  Y12, Y5, Y5
	VMULPD  Y13, Y12, Y12
	VADDPD  Y12, Y1, Y1
	VCVTPS2PD 32(R8), Y12             // columns 8–11
	VCVTPS2PD X11, Y13
	VADDPD  Y12, Y6, Y6
	VMULPD  Y13, Y12, Y12
	VADDPD  Y12, Y2, Y2
	VCVTPS2PD 48(R8), Y12             // columns 12–15
	VEXTRACTF128 $1, Y11, X11
	VCVTPS2PD X11, Y13
	VADDPD  Y12, Y7, Y7
	VMULPD  Y13, Y12, Y12
	VADDPD  Y12, Y3, Y3
	ADDQ    DX, SI
	ADDQ    DX, R8
	ADDQ    $4, R9
	ADDQ    $4, R10
	DECQ    CX
	JMP     ploop

pdone:
	MOVQ    accG+48(FP), DI
	MOVQ    accB+56(FP), R11
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VMOVUPD Y4, 0(R11)
	VMOVUPD Y5, 32(R11)
	VMOVUPD Y6, 64(R11)
	VMOVUPD Y7, 96(R11)
	VZEROUPPER
	RET

// func lnDxAVX(n int, dx, dy, x, gamma *float32, mean, rstd float32, r, a, c float64)
//
// dx[i] = float32(r·((g − a) − fl64(float64(x̂)·c))) for i < n, n a multiple
// of 4, with x̂ = fl(fl(x − μ)·r) and g = float64(fl(dy·γ)): the last pass
// of LayerNormBackward with gamma, four at a time, in the order and
// roundings of layerNormBackwardJob.finish. dx may be dy.
TEXT ·lnDxAVX(SB), NOSPLIT, $0-72
	MOVQ         n+0(FP), CX
	MOVQ         dx+8(FP), DI
	MOVQ         dy+16(FP), R11
	MOVQ         x+24(FP), SI
	MOVQ         gamma+32(FP), R8
	VBROADCASTSS mean+40(FP), X6
	VBROADCASTSS rstd+44(FP), X7
	VBROADCASTSD r+48(FP), Y5         // r in float64
	VBROADCASTSD a+56(FP), Y8
	VBROADCASTSD c+64(FP), Y9
	XORQ         BX, BX

dloop:
	CMPQ    BX, CX
	JGE     ddone
	VMOVUPS (SI)(BX*4), X0
	VSUBPS  X6, X0, X0
	VMULPS  X7, X0, X0                // x̂
	VMOVUPS (R11)(BX*4), X1
	VMULPS  (R8)(BX*4), X1, X1        // fl(dy·γ)
	VCVTPS2PD X0, Y0
	VCVTPS2PD X1, Y1
	VSUBPD  Y8, Y1, Y1                // g − a
	VMULPD  Y9, Y0, Y0                // x̂·c
	VSUBPD  Y0, Y1, Y1
	VMULPD  Y1, Y5, Y1                // r·(…)
	VCVTPD2PSY Y1, X1
	VMOVUPS X1, (DI)(BX*4)
	ADDQ    $4, BX
	JMP     dloop

ddone:
	VZEROUPPER
	RET
