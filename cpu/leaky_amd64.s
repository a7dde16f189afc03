//go:build !purego

#include "textflag.h"

// func leakyAVX(n int, y, x *float32, one, slope float32)
//
// y[i] = x[i]·f with f = one where x[i] > 0 (ordered: false for NaN), else
// slope, for i < n, n a multiple of 8: leakyFactor's choice made by a
// compare and a blend, then the same float32 product (y may be x).
TEXT ·leakyAVX(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ y+8(FP), DI
	MOVQ x+16(FP), SI
	VBROADCASTSS one+24(FP), Y2
	VBROADCASTSS slope+28(FP), Y1
	VXORPS Y0, Y0, Y0

lkloop:
	TESTQ CX, CX
	JE    lkdone
	VMOVUPS   (SI), Y3
	VCMPPS    $0x1e, Y0, Y3, Y4       // x > 0 (GT_OQ)
	VBLENDVPS Y4, Y2, Y1, Y5          // one where x > 0, else slope
	VMULPS    Y5, Y3, Y3
	VMOVUPS   Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  lkloop

lkdone:
	VZEROUPPER
	RET

// func leakyBackAVX(n int, dx, dy, y *float32, one, slope float32)
//
// dx[i] = dy[i]·f with f = one where y[i] > 0, else slope, for i < n, n a
// multiple of 8 (dx may be dy).
TEXT ·leakyBackAVX(SB), NOSPLIT, $0-40
	MOVQ n+0(FP), CX
	MOVQ dx+8(FP), DI
	MOVQ dy+16(FP), SI
	MOVQ y+24(FP), BX
	VBROADCASTSS one+32(FP), Y2
	VBROADCASTSS slope+36(FP), Y1
	VXORPS Y0, Y0, Y0

lbloop:
	TESTQ CX, CX
	JE    lbdone
	VMOVUPS   (BX), Y3
	VCMPPS    $0x1e, Y0, Y3, Y4       // y > 0 (GT_OQ)
	VBLENDVPS Y4, Y2, Y1, Y5
	VMOVUPS   (SI), Y3
	VMULPS    Y5, Y3, Y3
	VMOVUPS   Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, BX
	SUBQ $8, CX
	JMP  lbloop

lbdone:
	VZEROUPPER
	RET
