//go:build !purego

#include "textflag.h"
#include "exp_amd64.h"

// func expShiftAVX2(n int, e *float64, x *float32, sc, m, lo float64, k *tanhConsts) (bad bool)
//
// e[i] = exp(sc·x[i] − m) in float64 for n elements (n a multiple of 4),
// twelve at a time as three sets of four (EXP_POLY3), then four at a time: y = sc·x − m (the product of two float32 values is exact,
// so this is the Go expression's value), then e^y = 2^k·P(r) as expPoly
// (tanh.go), with FMA. Lanes whose y is below lo (−708, where 2^k would
// leave the normal range) or NaN are computed at lo and reported: bad is
// true when there was any, for the caller to redo the row with math.Exp.
// k holds tanhAVX2's constants (log2e, ln2 in two parts, the Taylor
// coefficients, the exponent bias trick) at its offsets.
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-57
	MOVQ n+0(FP), CX
	MOVQ e+8(FP), DI
	MOVQ x+16(FP), SI
	VBROADCASTSD sc+24(FP), Y0
	VBROADCASTSD m+32(FP), Y1
	VBROADCASTSD lo+40(FP), Y2
	MOVQ k+48(FP), AX
	VXORPD Y3, Y3, Y3                 // lanes below lo or NaN, so far
	XORQ BX, BX

loop12:
	LEAQ 12(BX), R9
	CMPQ R9, CX
	JGT  loop
	VCVTPS2PD (SI)(BX*4), Y4          // x, three sets of four
	VCVTPS2PD 16(SI)(BX*4), Y9
	VCVTPS2PD 32(SI)(BX*4), Y13
	VMULPD  Y0, Y4, Y4                // sc·x (exact)
	VMULPD  Y0, Y9, Y9
	VMULPD  Y0, Y13, Y13
	VSUBPD  Y1, Y4, Y4                // y = sc·x − m
	VSUBPD  Y1, Y9, Y9
	VSUBPD  Y1, Y13, Y13
	VCMPPD  $0x09, Y2, Y4, Y5         // !(y ≥ lo), NaN included
	VORPD   Y5, Y3, Y3
	VCMPPD  $0x09, Y2, Y9, Y5
	VORPD   Y5, Y3, Y3
	VCMPPD  $0x09, Y2, Y13, Y5
	VORPD   Y5, Y3, Y3
	VMAXPD  Y2, Y4, Y5                // ≥ lo (NaN lanes become lo)
	VMAXPD  Y2, Y9, Y9
	VMAXPD  Y2, Y13, Y13
	EXP_POLY3(128, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15, Y4)
	VMOVUPD Y8, (DI)(BX*8)
	VMOVUPD Y12, 32(DI)(BX*8)
	VMOVUPD Y4, 64(DI)(BX*8)
	ADDQ    $12, BX
	JMP     loop12

loop:
	CMPQ BX, CX
	JGE  done
	VCVTPS2PD (SI)(BX*4), Y4          // x
	VMULPD  Y0, Y4, Y4                // sc·x (exact)
	VSUBPD  Y1, Y4, Y4                // y = sc·x − m
	VCMPPD  $0x09, Y2, Y4, Y5         // !(y ≥ lo), NaN included
	VORPD   Y5, Y3, Y3
	VMAXPD  Y2, Y4, Y5                // ≥ lo (NaN lanes become lo), in Y5 for EXP_POLY
	EXP_POLY(128)                    // e^y
	VMOVUPD Y8, (DI)(BX*8)
	ADDQ    $4, BX
	JMP     loop

done:
	VMOVMSKPD Y3, R9
	TESTQ   R9, R9
	SETNE   bad+56(FP)
	VZEROUPPER
	RET
