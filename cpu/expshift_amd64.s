//go:build !purego

#include "textflag.h"

// func expShiftAVX2(n int, e *float64, x *float32, sc, m, lo float64, k *tanhConsts) (bad bool)
//
// e[i] = exp(sc·x[i] − m) in float64 for n elements (n a multiple of 4),
// four at a time: y = sc·x − m (the product of two float32 values is exact,
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

loop:
	CMPQ BX, CX
	JGE  done
	VCVTPS2PD (SI)(BX*4), Y4          // x
	VMULPD  Y0, Y4, Y4                // sc·x (exact)
	VSUBPD  Y1, Y4, Y4                // y = sc·x − m
	VCMPPD  $0x09, Y2, Y4, Y5         // !(y ≥ lo), NaN included
	VORPD   Y5, Y3, Y3
	VMAXPD  Y2, Y4, Y4                // ≥ lo (NaN lanes become lo)
	VMULPD  128(AX), Y4, Y6           // y·log2e
	VROUNDPD $0, Y6, Y6               // k
	VMOVAPD Y4, Y7
	VFNMADD231PD 160(AX), Y6, Y7      // r = y − k·ln2hi
	VFNMADD231PD 192(AX), Y6, Y7      // r −= k·ln2lo
	VMOVUPD 224(AX), Y8               // c12
	VFMADD213PD 256(AX), Y7, Y8       // ·r + c11
	VFMADD213PD 288(AX), Y7, Y8       // c10
	VFMADD213PD 320(AX), Y7, Y8       // c9
	VFMADD213PD 352(AX), Y7, Y8       // c8
	VFMADD213PD 384(AX), Y7, Y8       // c7
	VFMADD213PD 416(AX), Y7, Y8       // c6
	VFMADD213PD 448(AX), Y7, Y8       // c5
	VFMADD213PD 480(AX), Y7, Y8       // c4
	VFMADD213PD 512(AX), Y7, Y8       // c3
	VFMADD213PD 544(AX), Y7, Y8       // c2
	VFMADD213PD 576(AX), Y7, Y8       // 1
	VFMADD213PD 576(AX), Y7, Y8       // 1: P(r)
	VADDPD  608(AX), Y6, Y6           // k + 1.5·2^52 + 1023: k+1023 in the low bits
	VPSLLQ  $52, Y6, Y6               // 2^k
	VMULPD  Y6, Y8, Y8                // e^y
	VMOVUPD Y8, (DI)(BX*8)
	ADDQ    $4, BX
	JMP     loop

done:
	VMOVMSKPD Y3, R9
	TESTQ   R9, R9
	SETNE   bad+56(FP)
	VZEROUPPER
	RET
