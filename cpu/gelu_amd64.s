//go:build !purego

#include "textflag.h"

// GELU and its derivative as gelu.go defines them, sixteen elements per
// iteration as two independent streams of eight: each stream is two chains
// of dependent multiplies and adds (the polynomials E and H), and four
// chains side by side keep the floating-point units busy where one stream
// leaves them waiting. Every operation is the one gelu32 or geluGrad32
// does, in the same order, with no fused multiply-add, so every lane's
// bits are the Go function's.
//
// AX holds geluConsts (gelu_amd64.go); its byte offsets: 0 |·| mask,
// 32 geluMax, 64 −geluMax, 96 the mask cutting t to 12 bits, 128 ½,
// 160 log₂e, 192 L₁, 224 L₂, 256 κ = 3, 288 1, 320 1/√(2π), 352 127 + 64
// (int32), 384 2⁻⁶⁴, 416 the sign bit, 448 + 32j E's coefficients,
// 672 + 32j H's.
//
// Each stream lives in six registers T, A, B, NF, R, V (Y0–Y5 and
// Y6–Y11); x is read again where it is needed rather than kept.

// G_SETUP reads eight x at OFF(SI)(BX*4) and leaves T = t′ = min(|x|,
// geluMax) (NaN lanes become geluMax: they are replaced at the end),
// NF = n = rint(a·log₂e) with a = th²/2, R = r = (n·L₁ − a) + n·L₂ − b
// with b = tl·(t′ + th)/2, V = v = κ/(κ + t′), A = E's top coefficient
// and B = H's.
#define G_SETUP(OFF, T, A, B, NF, R, V) \
	VMOVUPS OFF(SI)(BX*4), T; \
	VANDPS  0(AX), T, T; \
	VMINPS  32(AX), T, T; \
	VANDPS  96(AX), T, A; \
	VSUBPS  A, T, B; \
	VADDPS  A, T, R; \
	VMULPS  R, B, B; \
	VMULPS  128(AX), B, B; \
	VMULPS  A, A, A; \
	VMULPS  128(AX), A, A; \
	VMULPS  160(AX), A, NF; \
	VROUNDPS $0, NF, NF; \
	VMULPS  192(AX), NF, R; \
	VSUBPS  A, R, R; \
	VMULPS  224(AX), NF, A; \
	VADDPS  A, R, R; \
	VSUBPS  B, R, R; \
	VADDPS  256(AX), T, V; \
	VMOVUPS 256(AX), A; \
	VDIVPS  V, A, V; \
	VMOVUPS 640(AX), A; \
	VMOVUPS 992(AX), B

// G_STEP is one step of Horner's rule: P = P·X + the coefficient at OFF.
#define G_STEP(OFF, X, P) \
	VMULPS  X, P, P; \
	VADDPS  OFF(AX), P, P

// G_POLYS finishes E(r) in A and H(v) in B for both streams, the four
// chains interleaved, and leaves A = p, B = vh = v·H(v) and NF = 2⁶⁴⁻ⁿ
// (as float32 bits) in each stream.
#define G_POLYS(A1, B1, NF1, R1, V1, A2, B2, NF2, R2, V2) \
	G_STEP(608, R1, A1); G_STEP(960, V1, B1); G_STEP(608, R2, A2); G_STEP(960, V2, B2); \
	G_STEP(576, R1, A1); G_STEP(928, V1, B1); G_STEP(576, R2, A2); G_STEP(928, V2, B2); \
	G_STEP(544, R1, A1); G_STEP(896, V1, B1); G_STEP(544, R2, A2); G_STEP(896, V2, B2); \
	G_STEP(512, R1, A1); G_STEP(864, V1, B1); G_STEP(512, R2, A2); G_STEP(864, V2, B2); \
	G_STEP(480, R1, A1); G_STEP(832, V1, B1); G_STEP(480, R2, A2); G_STEP(832, V2, B2); \
	G_STEP(448, R1, A1); G_STEP(800, V1, B1); G_STEP(448, R2, A2); G_STEP(800, V2, B2); \
	G_STEP(768, V1, B1); G_STEP(768, V2, B2); \
	G_STEP(736, V1, B1); G_STEP(736, V2, B2); \
	G_STEP(704, V1, B1); G_STEP(704, V2, B2); \
	G_STEP(672, V1, B1); G_STEP(672, V2, B2); \
	VMULPS  B1, V1, B1; \
	VMULPS  B2, V2, B2; \
	VCVTPS2DQ NF1, NF1; \
	VCVTPS2DQ NF2, NF2; \
	VMOVDQU 352(AX), R1; \
	VPSUBD  NF1, R1, NF1; \
	VPSUBD  NF2, R1, NF2; \
	VPSLLD  $23, NF1, NF1; \
	VPSLLD  $23, NF2, NF2

// G_FWD writes GELU of the stream's eight x to OFF(DI)(BX*4): x·Q·2⁻ⁿ
// scaled in two steps where x < 0, x·(1 − Q) otherwise, with Q =
// (p·vh)·2⁻ⁿ; then x where |x| ≥ geluMax or x is NaN, −0 where
// x ≤ −geluMax.
#define G_FWD(OFF, A, B, NF, R, V) \
	VMULPS  B, A, A; \
	VMOVUPS OFF(SI)(BX*4), R; \
	VMULPS  A, R, V; \
	VMULPS  NF, V, V; \
	VMULPS  384(AX), V, V; \
	VMULPS  NF, A, A; \
	VMULPS  384(AX), A, A; \
	VMOVUPS 288(AX), B; \
	VSUBPS  A, B, B; \
	VMULPS  B, R, B; \
	VBLENDVPS R, V, B, B; \
	VANDPS  0(AX), R, A; \
	VCMPPS  $1, 32(AX), A, NF; \
	VBLENDVPS NF, B, R, B; \
	VCMPPS  $2, 64(AX), R, NF; \
	VMOVUPS 416(AX), A; \
	VBLENDVPS NF, A, B, B; \
	VMOVUPS B, OFF(DI)(BX*4)

// G_BWD writes dy·GELU′(x) for the stream's eight x to OFF(DI)(BX*4):
// with s = (p·(t′/√(2π) − vh))·2⁻ⁿ in two steps, GELU′ is 1 + s where
// x ≥ 0 and −s where x < 0 (the sign bit); where |x| ≥ geluMax, 1 for
// x > 0 and 0 for x < 0; x itself where x is NaN.
#define G_BWD(OFF, T, A, B, NF, R, V) \
	VMULPS  320(AX), T, R; \
	VSUBPS  B, R, R; \
	VMULPS  R, A, A; \
	VMULPS  NF, A, A; \
	VMULPS  384(AX), A, A; \
	VADDPS  288(AX), A, B; \
	VXORPS  416(AX), A, A; \
	VMOVUPS OFF(SI)(BX*4), R; \
	VBLENDVPS R, A, B, B; \
	VANDPS  0(AX), R, A; \
	VCMPPS  $1, 32(AX), A, NF; \
	VXORPS  V, V, V; \
	VCMPPS  $0x0e, V, R, V; \
	VANDPS  288(AX), V, V; \
	VCMPPS  $3, R, R, T; \
	VBLENDVPS T, R, V, V; \
	VBLENDVPS NF, B, V, B; \
	VMULPS  OFF(DX)(BX*4), B, B; \
	VMOVUPS B, OFF(DI)(BX*4)

// G_BOTH writes GELU′ of the stream's eight x to OFF(R9)(BX*4) as G_BWD
// computes it (without dy), then GELU to OFF(DI)(BX*4) as G_FWD does;
// Y12–Y15 are its scratch registers.
#define G_BOTH(OFF, T, A, B, NF, R, V) \
	VMULPS  320(AX), T, R; \
	VSUBPS  B, R, R; \
	VMULPS  A, R, R; \
	VMULPS  NF, R, R; \
	VMULPS  384(AX), R, R; \
	VADDPS  288(AX), R, V; \
	VXORPS  416(AX), R, R; \
	VMOVUPS OFF(SI)(BX*4), T; \
	VBLENDVPS T, R, V, V; \
	VANDPS  0(AX), T, Y12; \
	VCMPPS  $1, 32(AX), Y12, Y13; \
	VXORPS  Y14, Y14, Y14; \
	VCMPPS  $0x0e, Y14, T, Y14; \
	VANDPS  288(AX), Y14, Y14; \
	VCMPPS  $3, T, T, Y15; \
	VBLENDVPS Y15, T, Y14, Y14; \
	VBLENDVPS Y13, V, Y14, V; \
	VMOVUPS V, OFF(R9)(BX*4); \
	VMULPS  B, A, A; \
	VMULPS  A, T, R; \
	VMULPS  NF, R, R; \
	VMULPS  384(AX), R, R; \
	VMULPS  NF, A, A; \
	VMULPS  384(AX), A, A; \
	VMOVUPS 288(AX), B; \
	VSUBPS  A, B, B; \
	VMULPS  B, T, B; \
	VBLENDVPS T, R, B, B; \
	VBLENDVPS Y13, B, T, B; \
	VCMPPS  $2, 64(AX), T, Y14; \
	VMOVUPS 416(AX), Y15; \
	VBLENDVPS Y14, Y15, B, B; \
	VMOVUPS B, OFF(DI)(BX*4)

// func geluAVX2(n int, y, x *float32, k *geluConsts)
//
// y[i] = gelu32(x[i]) for i < n, n a multiple of 16; y may be x.
TEXT ·geluAVX2(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ y+8(FP), DI
	MOVQ x+16(FP), SI
	MOVQ k+24(FP), AX
	XORQ BX, BX

fwdloop:
	CMPQ BX, CX
	JGE  fwddone
	G_SETUP(0, Y0, Y1, Y2, Y3, Y4, Y5)
	G_SETUP(32, Y6, Y7, Y8, Y9, Y10, Y11)
	G_POLYS(Y1, Y2, Y3, Y4, Y5, Y7, Y8, Y9, Y10, Y11)
	G_FWD(0, Y1, Y2, Y3, Y4, Y5)
	G_FWD(32, Y7, Y8, Y9, Y10, Y11)
	ADDQ $16, BX
	JMP  fwdloop

fwddone:
	VZEROUPPER
	RET

// func geluGradAVX2(n int, dx, dy, x *float32, k *geluConsts)
//
// dx[i] = geluGrad32(dy[i], x[i]) for i < n, n a multiple of 16; dx may
// be dy.
TEXT ·geluGradAVX2(SB), NOSPLIT, $0-40
	MOVQ n+0(FP), CX
	MOVQ dx+8(FP), DI
	MOVQ dy+16(FP), DX
	MOVQ x+24(FP), SI
	MOVQ k+32(FP), AX
	XORQ BX, BX

bwdloop:
	CMPQ BX, CX
	JGE  bwddone
	G_SETUP(0, Y0, Y1, Y2, Y3, Y4, Y5)
	G_SETUP(32, Y6, Y7, Y8, Y9, Y10, Y11)
	G_POLYS(Y1, Y2, Y3, Y4, Y5, Y7, Y8, Y9, Y10, Y11)
	G_BWD(0, Y0, Y1, Y2, Y3, Y4, Y5)
	G_BWD(32, Y6, Y7, Y8, Y9, Y10, Y11)
	ADDQ $16, BX
	JMP  bwdloop

bwddone:
	VZEROUPPER
	RET

// func geluBothAVX2(n int, y, d, x *float32, k *geluConsts)
//
// y[i] = gelu32(x[i]) and d[i] = geluDeriv32(x[i]) for i < n, n a
// multiple of 16; y or d may be x.
TEXT ·geluBothAVX2(SB), NOSPLIT, $0-40
	MOVQ n+0(FP), CX
	MOVQ y+8(FP), DI
	MOVQ d+16(FP), R9
	MOVQ x+24(FP), SI
	MOVQ k+32(FP), AX
	XORQ BX, BX

bothloop:
	CMPQ BX, CX
	JGE  bothdone
	G_SETUP(0, Y0, Y1, Y2, Y3, Y4, Y5)
	G_SETUP(32, Y6, Y7, Y8, Y9, Y10, Y11)
	G_POLYS(Y1, Y2, Y3, Y4, Y5, Y7, Y8, Y9, Y10, Y11)
	G_BOTH(0, Y0, Y1, Y2, Y3, Y4, Y5)
	G_BOTH(32, Y6, Y7, Y8, Y9, Y10, Y11)
	ADDQ $16, BX
	JMP  bothloop

bothdone:
	VZEROUPPER
	RET
