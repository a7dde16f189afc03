//go:build !purego

#include "textflag.h"

// The constants of geluConsts (gelu_amd64.go), at their byte offsets:
// 0 abs32, 16 max32 (8), 64 abs64, 96 clamp (7.9999995), 128 cells per
// unit (64), 160 their inverse, 192 ½, 224 1, 256 geluErrBound,
// 288 + 32(j−1) −j, 544 + 32j 1/j!, 832 + 32j 1/(j+1)!. R10 holds
// geluTable: Q(c), φ(c) for each cell.
//
// This file was written by a generator of the unrolled series (a one-off,
// not kept); the comments say what each step computes.

// func geluAVX2(n int, y, x *float32, need *uint8, k *geluConsts, tab *[geluCells][2]float64)
//
// geluFast32 on n elements (n a multiple of 4), four at a time, in float64:
// the cell k = ⌊64·|x|⌋ and its centre c, the series bⱼ of geluTail,
// Q(c) and φ(c) gathered from the table, Φ(x) and y = x·Φ(x), and Ziv's
// test of geluFast32 (y ± geluErrBound·|y| round to the same float32).
// Lanes the kernel does not decide (|x| ≥ 8, NaN, a failed test) get x in y
// and their bit set in need[i/4] (bit i%4), for the Go caller to finish
// with gelu32; y may be x.
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
	VMOVUPS (SI)(BX*4), X0            // x (float32)
	VANDPS  0(AX), X0, X1             // |x|
	VCMPPS  $0x11, 16(AX), X1, X2     // fast: |x| < 8 (false for NaN)
	VCVTPS2PD X0, Y3                  // v
	VANDPD  64(AX), Y3, Y4            // t = |v|
	VMINPD  96(AX), Y4, Y4            // ≤ 7.9999995: every index in the table (NaN too)
	VMULPD  128(AX), Y4, Y5           // t·64
	VROUNDPD $1, Y5, Y5               // k = ⌊t·64⌋
	VCVTTPD2DQY Y5, X6
	VPADDD  X6, X6, X6                // 2k: Q(c)'s index in float64s
	VADDPD  192(AX), Y5, Y7           // k + ½
	VMULPD  160(AX), Y7, Y7           // c = (k + ½)/64
	VSUBPD  Y7, Y4, Y8                // s = t − c
	VMULPD  Y8, Y7, Y9                // c·s
	VMULPD  Y8, Y8, Y10               // s²
	VMULPD  288(AX), Y9, Y12           // b₁ = −c·s
	VMOVUPD 224(AX), Y13              // Σ bⱼ/(j+1)! = 1
	VFMADD231PD 864(AX), Y12, Y13      // + b₁/2!
	VMULPD  288(AX), Y10, Y14         // −s²·b₀
	VFNMADD231PD Y12, Y9, Y14        // b₂ = −c·s·b₁ − 1·s²·b₀
	VFMADD231PD 896(AX), Y14, Y13     // Σ += b₂/3!
	VMULPD  320(AX), Y10, Y11         // −2·s²
	VMULPD  Y12, Y11, Y11            // ·b₁
	VFNMADD231PD Y14, Y9, Y11        // b₃ = −c·s·b₂ − 2·s²·b₁
	VFMADD231PD 928(AX), Y11, Y13     // Σ += b₃/4!
	VMULPD  352(AX), Y10, Y12         // −3·s²
	VMULPD  Y14, Y12, Y12            // ·b₂
	VFNMADD231PD Y11, Y9, Y12        // b₄ = −c·s·b₃ − 3·s²·b₂
	VFMADD231PD 960(AX), Y12, Y13     // Σ += b₄/5!
	VMULPD  384(AX), Y10, Y14         // −4·s²
	VMULPD  Y11, Y14, Y14            // ·b₃
	VFNMADD231PD Y12, Y9, Y14        // b₅ = −c·s·b₄ − 4·s²·b₃
	VFMADD231PD 992(AX), Y14, Y13     // Σ += b₅/6!
	VMULPD  416(AX), Y10, Y11         // −5·s²
	VMULPD  Y12, Y11, Y11            // ·b₄
	VFNMADD231PD Y14, Y9, Y11        // b₆ = −c·s·b₅ − 5·s²·b₄
	VFMADD231PD 1024(AX), Y11, Y13     // Σ += b₆/7!
	VMULPD  448(AX), Y10, Y12         // −6·s²
	VMULPD  Y14, Y12, Y12            // ·b₅
	VFNMADD231PD Y11, Y9, Y12        // b₇ = −c·s·b₆ − 6·s²·b₅
	VFMADD231PD 1056(AX), Y12, Y13     // Σ += b₇/8!
	VPCMPEQD Y15, Y15, Y15
	VGATHERDPD Y15, (R10)(X6*8), Y4   // Q(c)
	VPCMPEQD Y15, Y15, Y15
	VGATHERDPD Y15, 8(R10)(X6*8), Y7  // φ(c)
	VMULPD  Y8, Y7, Y9                // φ(c)·s
	VFNMADD231PD Y13, Y9, Y4          // Q = Q(c) − φ(c)·s·Σ bⱼ/(j+1)!
	VMOVUPD 224(AX), Y10
	VSUBPD  Y4, Y10, Y10              // 1 − Q
	VBLENDVPD Y3, Y4, Y10, Y10        // Φ(x): Q where x < 0 (its sign bit), else 1 − Q
	VMULPD  Y10, Y3, Y10              // y = x·Φ(x)
	VANDPD  64(AX), Y10, Y11
	VMULPD  256(AX), Y11, Y11         // e = |y|·bound
	VSUBPD  Y11, Y10, Y12             // y − e
	VADDPD  Y11, Y10, Y14             // y + e
	VCVTPD2PSY Y12, X12
	VCVTPD2PSY Y14, X14
	VCVTPD2PSY Y10, X10               // float32(y)
	VCMPPS  $0x00, X14, X12, X13      // ok: both round alike
	VANDPS  X2, X13, X13              // decided: fast and ok
	VPCMPEQD X15, X15, X15
	VXORPS  X15, X13, X13             // need
	VBLENDVPS X13, X0, X10, X10       // needy lanes keep x
	VMOVUPS X10, (DI)(BX*4)
	VMOVMSKPS X13, R9
	MOVB    R9, (R8)(DX*1)
	ADDQ    $4, BX
	INCQ    DX
	JMP     loop

done:
	VZEROUPPER
	RET

// func geluGradAVX2(n int, dx, dy, x *float32, need *uint8, k *geluConsts, tab *[geluCells][2]float64)
//
// geluGradFast32 on n elements (n a multiple of 4), four at a time: as
// geluAVX2, with φ(x) = φ(c)·Σ bⱼ/j! beside Q, d = Φ(x) + x·φ(x), the result
// dy·d and Ziv's test with e = geluErrBound·|dy|·(Φ + |x·φ|). Needy lanes
// get dy in dx, for the caller to finish with geluGrad32; dx may be dy.
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
	VMOVUPS (SI)(BX*4), X0            // x (float32)
	VANDPS  0(AX), X0, X1             // |x|
	VCMPPS  $0x11, 16(AX), X1, X2     // fast: |x| < 8 (false for NaN)
	VMOVUPS (R11)(BX*4), X1           // dy (float32)
	VCVTPS2PD X0, Y3                  // v
	VANDPD  64(AX), Y3, Y4            // t = |v|
	VMINPD  96(AX), Y4, Y4            // ≤ 7.9999995: every index in the table (NaN too)
	VMULPD  128(AX), Y4, Y5           // t·64
	VROUNDPD $1, Y5, Y5               // k = ⌊t·64⌋
	VCVTTPD2DQY Y5, X6
	VPADDD  X6, X6, X6                // 2k: Q(c)'s index in float64s
	VADDPD  192(AX), Y5, Y7           // k + ½
	VMULPD  160(AX), Y7, Y7           // c = (k + ½)/64
	VSUBPD  Y7, Y4, Y8                // s = t − c
		VMULPD  Y8, Y7, Y9                // c·s
	VMULPD  Y8, Y8, Y10               // s²
	VMULPD  288(AX), Y9, Y12           // b₁ = −c·s
	VMOVUPD 224(AX), Y13              // Σ bⱼ/(j+1)! = 1
	VFMADD231PD 864(AX), Y12, Y13      // + b₁/2!
	VADDPD  224(AX), Y12, Y5          // Σ bⱼ/j! = 1 + b₁
	VMULPD  288(AX), Y10, Y14         // −s²·b₀
	VFNMADD231PD Y12, Y9, Y14        // b₂ = −c·s·b₁ − 1·s²·b₀
	VFMADD231PD 896(AX), Y14, Y13     // Σ += b₂/3!
	VFMADD231PD 608(AX), Y14, Y5      // Σ += b₂/2!
	VMULPD  320(AX), Y10, Y11         // −2·s²
	VMULPD  Y12, Y11, Y11            // ·b₁
	VFNMADD231PD Y14, Y9, Y11        // b₃ = −c·s·b₂ − 2·s²·b₁
	VFMADD231PD 928(AX), Y11, Y13     // Σ += b₃/4!
	VFMADD231PD 640(AX), Y11, Y5      // Σ += b₃/3!
	VMULPD  352(AX), Y10, Y12         // −3·s²
	VMULPD  Y14, Y12, Y12            // ·b₂
	VFNMADD231PD Y11, Y9, Y12        // b₄ = −c·s·b₃ − 3·s²·b₂
	VFMADD231PD 960(AX), Y12, Y13     // Σ += b₄/5!
	VFMADD231PD 672(AX), Y12, Y5      // Σ += b₄/4!
	VMULPD  384(AX), Y10, Y14         // −4·s²
	VMULPD  Y11, Y14, Y14            // ·b₃
	VFNMADD231PD Y12, Y9, Y14        // b₅ = −c·s·b₄ − 4·s²·b₃
	VFMADD231PD 992(AX), Y14, Y13     // Σ += b₅/6!
	VFMADD231PD 704(AX), Y14, Y5      // Σ += b₅/5!
	VMULPD  416(AX), Y10, Y11         // −5·s²
	VMULPD  Y12, Y11, Y11            // ·b₄
	VFNMADD231PD Y14, Y9, Y11        // b₆ = −c·s·b₅ − 5·s²·b₄
	VFMADD231PD 1024(AX), Y11, Y13     // Σ += b₆/7!
	VFMADD231PD 736(AX), Y11, Y5      // Σ += b₆/6!
	VMULPD  448(AX), Y10, Y12         // −6·s²
	VMULPD  Y14, Y12, Y12            // ·b₅
	VFNMADD231PD Y11, Y9, Y12        // b₇ = −c·s·b₆ − 6·s²·b₅
	VFMADD231PD 1056(AX), Y12, Y13     // Σ += b₇/8!
	VFMADD231PD 768(AX), Y12, Y5      // Σ += b₇/7!
	VPCMPEQD Y15, Y15, Y15
	VGATHERDPD Y15, (R10)(X6*8), Y4   // Q(c)
	VPCMPEQD Y15, Y15, Y15
	VGATHERDPD Y15, 8(R10)(X6*8), Y7  // φ(c)
	VMULPD  Y8, Y7, Y9                // φ(c)·s
	VFNMADD231PD Y13, Y9, Y4          // Q = Q(c) − φ(c)·s·Σ bⱼ/(j+1)!
	VMOVUPD 224(AX), Y10
	VSUBPD  Y4, Y10, Y10              // 1 − Q
	VBLENDVPD Y3, Y4, Y10, Y10        // Φ(x): Q where x < 0 (its sign bit), else 1 − Q
	VMULPD  Y5, Y7, Y7                // φ = φ(c)·Σ bⱼ/j!
	VMULPD  Y7, Y3, Y11               // x·φ
	VADDPD  Y11, Y10, Y12             // d = Φ + x·φ
	VCVTPS2PD X1, Y13                 // dy
	VMULPD  Y12, Y13, Y12             // dy·d
	VANDPD  64(AX), Y11, Y11
	VADDPD  Y10, Y11, Y11             // Φ + |x·φ|
	VANDPD  64(AX), Y13, Y13
	VMULPD  Y13, Y11, Y11             // |dy|·(Φ + |x·φ|)
	VMULPD  256(AX), Y11, Y11         // e
	VSUBPD  Y11, Y12, Y14             // dy·d − e
	VADDPD  Y11, Y12, Y11             // dy·d + e
	VCVTPD2PSY Y14, X14
	VCVTPD2PSY Y11, X11
	VCVTPD2PSY Y12, X12               // float32(dy·d)
	VCMPPS  $0x00, X11, X14, X13      // ok: both round alike
	VANDPS  X2, X13, X13              // decided: fast and ok
	VPCMPEQD X15, X15, X15
	VXORPS  X15, X13, X13             // need
	VBLENDVPS X13, X1, X12, X12       // needy lanes keep dy
	VMOVUPS X12, (DI)(BX*4)
	VMOVMSKPS X13, R9
	MOVB    R9, (R8)(DX*1)
	ADDQ    $4, BX
	INCQ    DX
	JMP     gloop

gdone:
	VZEROUPPER
	RET
