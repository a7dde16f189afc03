//go:build !purego

#include "textflag.h"

// The constants of geluConsts (gelu_amd64.go), at their byte offsets:
// 0 abs32, 16 max32 (8), 64 abs64, 96 clamp (7.9999995), 128 cells per
// unit (64), 160 their inverse, 192 ½, 224 1, 256 geluErrBound,
// 288 + 32(j−1) −j, 544 + 32j 1/j!, 832 + 32j 1/(j+1)!. R10 holds
// geluTable: Q(c), φ(c) for each cell.
//
// Both kernels do eight elements per iteration as two independent streams
// of four (a tail of four runs one stream): the series is a chain of
// dependent multiply-adds, and two chains side by side keep the
// floating-point units busy where one leaves them waiting. Each stream
// lives in eight vector registers, A0 … A7 (Y0–Y7 for the first, Y8–Y15
// for the second); x is read again where it is needed rather than kept,
// and the table indices wait on the stack (16 bytes per stream at IDX).
// The macros take a register both as Yn and as Xn where they need both
// widths. Every value is computed by the same instructions in the same
// order as in one stream, so the results do not depend on the stream.

// G_CELL reads four x at OFF(SI)(BX*4) and leaves: the table index 2k of
// each lane's cell k = ⌊64·t⌋ at IDX(SP) (t = |x| clamped to 7.9999995,
// so that every lane, NaN included, indexes the table), A1 s = t − c for
// the cell's centre c = (k + ½)/64, A2 c·s, A3 s², A4 b₁ = −c·s,
// A5 b₂ = −c·s·b₁ − s², and A7 = b₀/1! + b₁/2! + b₂/3!. A0 is free after it.
#define G_CELL(OFF, IDX, A0, A1, A2, A3, A4, A5, A7, X3) \
	VCVTPS2PD OFF(SI)(BX*4), A0; \
	VANDPD  64(AX), A0, A1; \
	VMINPD  96(AX), A1, A1; \
	VMULPD  128(AX), A1, A2; \
	VROUNDPD $1, A2, A2; \
	VCVTTPD2DQY A2, X3; \
	VPADDD  X3, X3, X3; \
	VMOVDQU X3, IDX(SP); \
	VADDPD  192(AX), A2, A2; \
	VMULPD  160(AX), A2, A2; \
	VSUBPD  A2, A1, A1; \
	VMULPD  A1, A2, A2; \
	VMULPD  A1, A1, A3; \
	VMULPD  288(AX), A2, A4; \
	VMOVUPD 224(AX), A7; \
	VFMADD231PD 864(AX), A4, A7; \
	VMULPD  288(AX), A3, A5; \
	VFNMADD231PD A4, A2, A5; \
	VFMADD231PD 896(AX), A5, A7

// G_TERM computes the next term of the series into NEXT,
// bⱼ₊₁ = −c·s·bⱼ − j·s²·bⱼ₋₁ (NEGJ the offset of −j, PREV bⱼ₋₁, CUR bⱼ,
// CS c·s, S2 s²), and adds bⱼ₊₁/(j+2)! (at offset INVF1) to SUM. One
// multiply-add lies on the path from one term to the next.
#define G_TERM(NEGJ, PREV, CUR, NEXT, INVF1, CS, S2, SUM) \
	VMULPD  NEGJ(AX), S2, NEXT; \
	VMULPD  PREV, NEXT, NEXT; \
	VFNMADD231PD CUR, CS, NEXT; \
	VFMADD231PD INVF1(AX), NEXT, SUM

// G_TERMS adds b₃ … b₇ to SUM (Σ bⱼ/(j+1)!, for Q) and, where PSUM is
// given a register, to PSUM (Σ bⱼ/j!, for φ) with the grad kernel's
// G_PTERM; the forward kernel passes G_NOP.
#define G_NOP(OFF, B, P)
#define G_PTERM(OFF, B, P) VFMADD231PD OFF(AX), B, P
#define G_TERMS(A0, A2, A3, A4, A5, A6, A7, PT) \
	G_TERM(320, A4, A5, A6, 928, A2, A3, A7); \
	PT(640, A6, A0); \
	G_TERM(352, A5, A6, A4, 960, A2, A3, A7); \
	PT(672, A4, A0); \
	G_TERM(384, A6, A4, A5, 992, A2, A3, A7); \
	PT(704, A5, A0); \
	G_TERM(416, A4, A5, A6, 1024, A2, A3, A7); \
	PT(736, A6, A0); \
	G_TERM(448, A5, A6, A4, 1056, A2, A3, A7); \
	PT(768, A4, A0)

// G_PHI loads Q(c) and φ(c) of the four lanes (one 16-byte pair each,
// indices from IDX(SP)) and leaves A3 φ(c), A4 Q(t) = Q(c) − φ(c)·s·Σ
// (s in A1, Σ bⱼ/(j+1)! in A7), A5 v = x in float64 (read again at
// OFF(SI)(BX*4)) and A2 Φ(x): Q(t) where x < 0 (the sign bit of v),
// else 1 − Q(t).
#define G_PHI(OFF, IDX, A1, A2, A3, A4, A5, A7, X2, X3) \
	MOVL    IDX+0(SP), R12; \
	MOVL    IDX+4(SP), R13; \
	VMOVUPD (R10)(R12*8), X2; \
	VMOVUPD (R10)(R13*8), X3; \
	MOVL    IDX+8(SP), R12; \
	MOVL    IDX+12(SP), R13; \
	VINSERTF128 $1, (R10)(R12*8), A2, A2; \
	VINSERTF128 $1, (R10)(R13*8), A3, A3; \
	VUNPCKLPD A3, A2, A4; \
	VUNPCKHPD A3, A2, A3; \
	VMULPD  A1, A3, A2; \
	VFNMADD231PD A7, A2, A4; \
	VCVTPS2PD OFF(SI)(BX*4), A5; \
	VMOVUPD 224(AX), A2; \
	VSUBPD  A4, A2, A2; \
	VBLENDVPD A5, A4, A2, A2

// G_STORE keeps the lanes of the float64 result R whose bound B passes
// Ziv's test (R ± B round to the same float32) and whose |x| < 8 (x read
// again at OFF(SI)(BX*4); false for NaN); it writes the float32 results to
// OFF(DI)(BX*4), the undecided lanes holding KEEP (x, or dy at
// OFF(R11)(BX*4)) instead, and their mask to NOFF(R8)(DX*1). T1, T2 are
// scratch.
#define G_STORE(OFF, NOFF, KEEP, R, B, T1, T2, XR, XB, XT1, XT2) \
	VSUBPD  B, R, T1; \
	VADDPD  B, R, B; \
	VCVTPD2PSY T1, XT1; \
	VCVTPD2PSY B, XB; \
	VCVTPD2PSY R, XR; \
	VCMPPS  $0x00, XB, XT1, XT1; \
	VMOVUPS OFF(SI)(BX*4), XT2; \
	VANDPS  0(AX), XT2, XT2; \
	VCMPPS  $0x11, 16(AX), XT2, XT2; \
	VANDPS  XT2, XT1, XT1; \
	VPCMPEQD XT2, XT2, XT2; \
	VXORPS  XT2, XT1, XT1; \
	VMOVUPS OFF(KEEP)(BX*4), XT2; \
	VBLENDVPS XT1, XT2, XR, XR; \
	VMOVUPS XR, OFF(DI)(BX*4); \
	VMOVMSKPS XT1, R9; \
	MOVB    R9, NOFF(R8)(DX*1)

// G_FWD is the forward kernel's stream at element offset OFF (bytes) and
// need byte NOFF: y = x·Φ(x) and the bound |y|·geluErrBound.
#define G_FWD(OFF, NOFF, IDX, A0, A1, A2, A3, A4, A5, A6, A7, X0, X1, X2, X3, X4, X6) \
	G_CELL(OFF, IDX, A0, A1, A2, A3, A4, A5, A7, X3); \
	G_TERMS(A0, A2, A3, A4, A5, A6, A7, G_NOP); \
	G_PHI(OFF, IDX, A1, A2, A3, A4, A5, A7, X2, X3); \
	VMULPD  A2, A5, A6; \
	VANDPD  64(AX), A6, A4; \
	VMULPD  256(AX), A4, A4; \
	G_STORE(OFF, NOFF, SI, A6, A4, A0, A1, X6, X4, X0, X1)

// func geluAVX2(n int, y, x *float32, need *uint8, k *geluConsts, tab *[geluCells][2]float64)
//
// gelu32 on n elements (n a multiple of 4), eight at a time and then four,
// in float64 (see gelu_amd64.go): the cell and the series bⱼ, Q(c) and φ(c)
// from the table, Φ(x) and y = x·Φ(x), and Ziv's test with the bound
// geluErrBound·|y|. Lanes the kernel does not decide (|x| ≥ 8, NaN, a
// failed test) get x in y and their bit set in need[i/4] (bit i%4), for
// the Go caller to finish with gelu32; y may be x.
TEXT ·geluAVX2(SB), NOSPLIT, $32-48
	MOVQ n+0(FP), CX
	MOVQ y+8(FP), DI
	MOVQ x+16(FP), SI
	MOVQ need+24(FP), R8
	MOVQ k+32(FP), AX
	MOVQ tab+40(FP), R10
	XORQ BX, BX
	XORQ DX, DX

loop8:
	LEAQ 8(BX), R9
	CMPQ R9, CX
	JGT  tail
	G_FWD(0, 0, 0, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, X0, X1, X2, X3, X4, X6)
	G_FWD(16, 1, 16, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15, X8, X9, X10, X11, X12, X14)
	ADDQ $8, BX
	ADDQ $2, DX
	JMP  loop8

tail:
	CMPQ BX, CX
	JGE  done
	G_FWD(0, 0, 0, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, X0, X1, X2, X3, X4, X6)

done:
	VZEROUPPER
	RET

// G_GRAD is the grad kernel's stream at element offset OFF and need byte
// NOFF: as G_FWD with φ(x) = φ(c)·Σ bⱼ/j! (summed in A0 beside Q's sum),
// d = Φ + x·φ, the result dy·d and the bound
// geluErrBound·|dy|·(Φ + |x·φ|).
#define G_GRAD(OFF, NOFF, IDX, A0, A1, A2, A3, A4, A5, A6, A7, X0, X1, X2, X3, X4, X6) \
	G_CELL(OFF, IDX, A0, A1, A2, A3, A4, A5, A7, X3); \
	VMOVUPD 224(AX), A0; \
	VADDPD  A4, A0, A0; \
	VFMADD231PD 608(AX), A5, A0; \
	G_TERMS(A0, A2, A3, A4, A5, A6, A7, G_PTERM); \
	G_PHI(OFF, IDX, A1, A2, A3, A4, A5, A7, X2, X3); \
	VMULPD  A0, A3, A3; \
	VMULPD  A3, A5, A1; \
	VADDPD  A1, A2, A6; \
	VCVTPS2PD OFF(R11)(BX*4), A7; \
	VMULPD  A6, A7, A6; \
	VANDPD  64(AX), A1, A1; \
	VADDPD  A2, A1, A1; \
	VANDPD  64(AX), A7, A7; \
	VMULPD  A7, A1, A1; \
	VMULPD  256(AX), A1, A4; \
	G_STORE(OFF, NOFF, R11, A6, A4, A0, A1, X6, X4, X0, X1)

// func geluGradAVX2(n int, dx, dy, x *float32, need *uint8, k *geluConsts, tab *[geluCells][2]float64)
//
// geluGrad32 on n elements (n a multiple of 4), eight at a time and then
// four: as geluAVX2, with φ(x) = φ(c)·Σ bⱼ/j! beside Q, d = Φ(x) + x·φ(x),
// the result dy·d and Ziv's test with the bound
// geluErrBound·|dy|·(Φ + |x·φ|). Needy lanes get dy in dx, for the caller
// to finish with geluGrad32; dx may be dy.
TEXT ·geluGradAVX2(SB), NOSPLIT, $32-56
	MOVQ n+0(FP), CX
	MOVQ dx+8(FP), DI
	MOVQ dy+16(FP), R11
	MOVQ x+24(FP), SI
	MOVQ need+32(FP), R8
	MOVQ k+40(FP), AX
	MOVQ tab+48(FP), R10
	XORQ BX, BX
	XORQ DX, DX

gloop8:
	LEAQ 8(BX), R9
	CMPQ R9, CX
	JGT  gtail
	G_GRAD(0, 0, 0, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, X0, X1, X2, X3, X4, X6)
	G_GRAD(16, 1, 16, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15, X8, X9, X10, X11, X12, X14)
	ADDQ $8, BX
	ADDQ $2, DX
	JMP  gloop8

gtail:
	CMPQ BX, CX
	JGE  gdone
	G_GRAD(0, 0, 0, Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, X0, X1, X2, X3, X4, X6)

gdone:
	VZEROUPPER
	RET
