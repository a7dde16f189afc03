//go:build !purego

#include "textflag.h"

// func adamAVX(n int, p, grad, m, v *float32, c *[6]float32)
//
// One Adam step on n elements (n a multiple of 8), eight at a time, with the
// operations and roundings of adamJob.run's Go loop in the same order, each
// a correctly rounded IEEE float32 operation (no FMA), so the results are
// bit-identical to it. c holds w1, β2, w2, stepSize, bc2sqrt and eps.
TEXT ·adamAVX(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ p+8(FP), DI
	MOVQ grad+16(FP), SI
	MOVQ m+24(FP), R8
	MOVQ v+32(FP), R9
	MOVQ c+40(FP), AX
	VBROADCASTSS 0(AX), Y8  // w1
	VBROADCASTSS 4(AX), Y9  // β2
	VBROADCASTSS 8(AX), Y10 // w2
	VBROADCASTSS 12(AX), Y11 // stepSize
	VBROADCASTSS 16(AX), Y12 // bc2sqrt
	VBROADCASTSS 20(AX), Y13 // eps
	XORQ BX, BX

loop:
	CMPQ BX, CX
	JGE  done
	VMOVUPS (SI)(BX*4), Y0 // g
	VMOVUPS (R8)(BX*4), Y1 // m
	VSUBPS  Y1, Y0, Y2     // g − m
	VMULPS  Y8, Y2, Y2     // w1·(g − m)
	VADDPS  Y2, Y1, Y1     // m' = m + w1·(g − m)
	VMOVUPS (R9)(BX*4), Y3 // v
	VMULPS  Y9, Y3, Y3     // v·β2
	VMULPS  Y10, Y0, Y4    // w2·g
	VMULPS  Y0, Y4, Y4     // (w2·g)·g
	VADDPS  Y4, Y3, Y3     // v' = v·β2 + (w2·g)·g
	VSQRTPS Y3, Y5         // √v'
	VDIVPS  Y12, Y5, Y5    // √v' / bc2sqrt
	VADDPS  Y13, Y5, Y5    // denom = … + eps
	VDIVPS  Y5, Y1, Y6     // m' / denom
	VMULPS  Y6, Y11, Y6    // stepSize·(m' / denom)
	VMOVUPS (DI)(BX*4), Y7 // p
	VSUBPS  Y6, Y7, Y7     // p − stepSize·(m' / denom)
	VMOVUPS Y1, (R8)(BX*4)
	VMOVUPS Y3, (R9)(BX*4)
	VMOVUPS Y7, (DI)(BX*4)
	ADDQ    $8, BX
	JMP     loop

done:
	VZEROUPPER
	RET
