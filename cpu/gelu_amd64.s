//go:build !purego

#include "textflag.h"

// The constants of geluConsts (gelu_amd64.go), at their byte offsets:
// 0 abs32, 16 max32 (8), 64 abs64, 96 clamp (7.9999995), 128 cells per
// unit (64), 160 their inverse, 192 ½, 224 1, 256 geluErrBound,
// 288 + 32(j−1) −j, 544 + 32j 1/j!, 832 + 32j 1/(j+1)!. R10 holds
// geluTable: Q(c), φ(c) for each cell. Both kernels share the macros below.

// GELU_CELL reads four x at (SI)(BX*4) into X0 and leaves: X2 the lanes
// with |x| < 8 (false for NaN), Y3 v = x in float64, X6 the table index
// 2k of each lane's cell k = ⌊64·t⌋ (t = |v|, clamped to 7.9999995 so that
// every lane, NaN included, indexes the table), Y8 s = t − c for the
// cell's centre c = (k + ½)/64, Y9 c·s and Y10 s²; then b₁ = −c·s in Y12,
// b₂ = −c·s·b₁ − s² in Y14, and Y13 = b₀/1! + b₁/2! + b₂/3!.
#define GELU_CELL \
	VMOVUPS (SI)(BX*4), X0; \
	VANDPS  0(AX), X0, X1; \
	VCMPPS  $0x11, 16(AX), X1, X2; \
	VCVTPS2PD X0, Y3; \
	VANDPD  64(AX), Y3, Y4; \
	VMINPD  96(AX), Y4, Y4; \
	VMULPD  128(AX), Y4, Y5; \
	VROUNDPD $1, Y5, Y5; \
	VCVTTPD2DQY Y5, X6; \
	VPADDD  X6, X6, X6; \
	VADDPD  192(AX), Y5, Y7; \
	VMULPD  160(AX), Y7, Y7; \
	VSUBPD  Y7, Y4, Y8; \
	VMULPD  Y8, Y7, Y9; \
	VMULPD  Y8, Y8, Y10; \
	VMULPD  288(AX), Y9, Y12; \
	VMOVUPD 224(AX), Y13; \
	VFMADD231PD 864(AX), Y12, Y13; \
	VMULPD  288(AX), Y10, Y14; \
	VFNMADD231PD Y12, Y9, Y14; \
	VFMADD231PD 896(AX), Y14, Y13

// GELU_TERM computes the next term of the series into NEXT,
// bⱼ₊₁ = −c·s·bⱼ − j·s²·bⱼ₋₁ (NEGJ the offset of −j, PREV bⱼ₋₁, CUR bⱼ),
// and adds bⱼ₊₁/(j+2)! (at offset INVF1) to Y13. One multiply-add lies on
// the path from one term to the next.
#define GELU_TERM(NEGJ, PREV, CUR, NEXT, INVF1) \
	VMULPD  NEGJ(AX), Y10, NEXT; \
	VMULPD  PREV, NEXT, NEXT; \
	VFNMADD231PD CUR, Y9, NEXT; \
	VFMADD231PD INVF1(AX), NEXT, Y13

// GELU_PHI loads Q(c) and φ(c) (one 16-byte pair per lane, the index
// moved to R12/R13, unpacked into Y4 and Y7), and leaves in Y4
// Q(t) = Q(c) − φ(c)·s·Σ bⱼ/(j+1)!, and in Y10 Φ(x): Q(t) where x < 0
// (the sign bit of v), else 1 − Q(t).
#define GELU_PHI \
	VMOVD   X6, R12; \
	VPEXTRD $1, X6, R13; \
	VMOVUPD (R10)(R12*8), X4; \
	VMOVUPD (R10)(R13*8), X7; \
	VPEXTRD $2, X6, R12; \
	VPEXTRD $3, X6, R13; \
	VINSERTF128 $1, (R10)(R12*8), Y4, Y4; \
	VINSERTF128 $1, (R10)(R13*8), Y7, Y7; \
	VUNPCKLPD Y7, Y4, Y11; \
	VUNPCKHPD Y7, Y4, Y7; \
	VMOVAPD Y11, Y4; \
	VMULPD  Y8, Y7, Y9; \
	VFNMADD231PD Y13, Y9, Y4; \
	VMOVUPD 224(AX), Y10; \
	VSUBPD  Y4, Y10, Y10; \
	VBLENDVPD Y3, Y4, Y10, Y10

// GELU_STORE keeps lanes of the float64 result in Y12 whose bound Y11
// passes Ziv's test (result ± bound round to the same float32) and that
// were fast (X2); it writes the float32 results to (DI)(BX*4), the
// undecided lanes holding KEEP (x or dy) instead, and their mask to
// need (R8)(DX*1), and steps to the next four.
#define GELU_STORE(KEEP) \
	VSUBPD  Y11, Y12, Y14; \
	VADDPD  Y11, Y12, Y11; \
	VCVTPD2PSY Y14, X14; \
	VCVTPD2PSY Y11, X11; \
	VCVTPD2PSY Y12, X12; \
	VCMPPS  $0x00, X11, X14, X13; \
	VANDPS  X2, X13, X13; \
	VPCMPEQD X15, X15, X15; \
	VXORPS  X15, X13, X13; \
	VBLENDVPS X13, KEEP, X12, X12; \
	VMOVUPS X12, (DI)(BX*4); \
	VMOVMSKPS X13, R9; \
	MOVB    R9, (R8)(DX*1); \
	ADDQ    $4, BX; \
	INCQ    DX

// func geluAVX2(n int, y, x *float32, need *uint8, k *geluConsts, tab *[geluCells][2]float64)
//
// gelu32 on n elements (n a multiple of 4), four at a time, in float64
// (see gelu_amd64.go): the cell and the series bⱼ, Q(c) and φ(c) from the
// table, Φ(x) and y = x·Φ(x), and Ziv's test with the bound
// geluErrBound·|y|. Lanes the kernel does not decide (|x| ≥ 8, NaN, a
// failed test) get x in y and their bit set in need[i/4] (bit i%4), for
// the Go caller to finish with gelu32; y may be x.
TEXT ·geluAVX2(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ y+8(FP), DI
	MOVQ x+16(FP), SI
	MOVQ need+24(FP), R8
	MOVQ k+32(FP), AX
	MOVQ tab+40(FP), R10
	XORQ BX, BX
	XORQ DX, DX

loop:
	CMPQ BX, CX
	JGE  done
	GELU_CELL
	GELU_TERM(320, Y12, Y14, Y11, 928)
	GELU_TERM(352, Y14, Y11, Y12, 960)
	GELU_TERM(384, Y11, Y12, Y14, 992)
	GELU_TERM(416, Y12, Y14, Y11, 1024)
	GELU_TERM(448, Y14, Y11, Y12, 1056)
	GELU_PHI
	VMULPD  Y10, Y3, Y12              // y = x·Φ(x)
	VANDPD  64(AX), Y12, Y11
	VMULPD  256(AX), Y11, Y11         // bound = |y|·geluErrBound
	GELU_STORE(X0)
	JMP     loop

done:
	VZEROUPPER
	RET

// func geluGradAVX2(n int, dx, dy, x *float32, need *uint8, k *geluConsts, tab *[geluCells][2]float64)
//
// geluGrad32 on n elements (n a multiple of 4), four at a time: as
// geluAVX2, with φ(x) = φ(c)·Σ bⱼ/j! beside Q, d = Φ(x) + x·φ(x), the
// result dy·d and Ziv's test with the bound geluErrBound·|dy|·(Φ + |x·φ|).
// Needy lanes get dy in dx, for the caller to finish with geluGrad32; dx
// may be dy.
TEXT ·geluGradAVX2(SB), NOSPLIT, $0-56
	MOVQ n+0(FP), CX
	MOVQ dx+8(FP), DI
	MOVQ dy+16(FP), R11
	MOVQ x+24(FP), SI
	MOVQ need+32(FP), R8
	MOVQ k+40(FP), AX
	MOVQ tab+48(FP), R10
	XORQ BX, BX
	XORQ DX, DX

gloop:
	CMPQ BX, CX
	JGE  gdone
	GELU_CELL
	VMOVUPD 224(AX), Y5               // Σ bⱼ/j! = b₀ …
	VADDPD  Y12, Y5, Y5               // + b₁
	VFMADD231PD 608(AX), Y14, Y5    // + b₂/2!
	GELU_TERM(320, Y12, Y14, Y11, 928)
	VFMADD231PD 640(AX), Y11, Y5
	GELU_TERM(352, Y14, Y11, Y12, 960)
	VFMADD231PD 672(AX), Y12, Y5
	GELU_TERM(384, Y11, Y12, Y14, 992)
	VFMADD231PD 704(AX), Y14, Y5
	GELU_TERM(416, Y12, Y14, Y11, 1024)
	VFMADD231PD 736(AX), Y11, Y5
	GELU_TERM(448, Y14, Y11, Y12, 1056)
	VFMADD231PD 768(AX), Y12, Y5
	GELU_PHI
	VMULPD  Y5, Y7, Y7                // φ = φ(c)·Σ bⱼ/j!
	VMULPD  Y7, Y3, Y11               // x·φ
	VADDPD  Y11, Y10, Y12             // d = Φ + x·φ
	VMOVUPS (R11)(BX*4), X1           // dy (float32)
	VCVTPS2PD X1, Y13
	VMULPD  Y12, Y13, Y12             // dy·d
	VANDPD  64(AX), Y11, Y11
	VADDPD  Y10, Y11, Y11             // Φ + |x·φ|
	VANDPD  64(AX), Y13, Y13
	VMULPD  Y13, Y11, Y11
	VMULPD  256(AX), Y11, Y11         // bound = |dy|·(Φ + |x·φ|)·geluErrBound
	GELU_STORE(X1)
	JMP     gloop

gdone:
	VZEROUPPER
	RET
