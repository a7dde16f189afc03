//go:build !purego

#include "textflag.h"

// func bceTermsAVX(n int, x, t *float32, e, s, rest *float64, grad *float32, scale float32)
//
// The elementwise part of SigmoidBCE for n elements (n a multiple of 4),
// four at a time, bit for bit the scalar loop of bceTermsGo: with x and t
// widened to float64 and e = e^−|x|,
//
//	s    = (x ≥ 0 ? 1 : e) / (1 + e)          (sigmoidOfExp)
//	rest = max(x, 0) − x·t                     (math.Max: +0 for x = −0; a NaN x
//	                                            gives NaN through x·t either way)
//	grad = scale·(float32(s) − t)              (float32 operations)
//
// grad may be x (each group of four is read before it is written).
TEXT ·bceTermsAVX(SB), NOSPLIT, $0-60
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ t+16(FP), DX
	MOVQ e+24(FP), R8
	MOVQ s+32(FP), R9
	MOVQ rest+40(FP), R10
	MOVQ grad+48(FP), R11
	VBROADCASTSS scale+56(FP), X8     // scale, four float32 lanes
	VXORPD  Y9, Y9, Y9                // 0
	MOVQ    $0x3ff0000000000000, AX
	MOVQ    AX, X10
	VBROADCASTSD X10, Y10             // 1
	XORQ    BX, BX

loop:
	CMPQ BX, CX
	JGE  done
	VCVTPS2PD (SI)(BX*4), Y0          // x
	VMOVUPD (R8)(BX*8), Y1            // e
	VADDPD  Y10, Y1, Y2               // 1 + e
	VCMPPD  $0x1d, Y9, Y0, Y3         // x ≥ 0 (ordered: false for NaN)
	VBLENDVPD Y3, Y10, Y1, Y4         // 1 where x ≥ 0, else e
	VDIVPD  Y2, Y4, Y4                // s
	VMOVUPD Y4, (R9)(BX*8)
	VMAXPD  Y9, Y0, Y5                // max(x, 0): the second operand (0) for ±0
	VCVTPS2PD (DX)(BX*4), Y6          // t
	VMULPD  Y6, Y0, Y6                // x·t
	VSUBPD  Y6, Y5, Y5                // rest
	VMOVUPD Y5, (R10)(BX*8)
	VCVTPD2PSY Y4, X7                 // float32(s)
	VSUBPS  (DX)(BX*4), X7, X7        // − t
	VMULPS  X8, X7, X7                // · scale
	VMOVUPS X7, (R11)(BX*4)
	ADDQ    $4, BX
	JMP     loop

done:
	VZEROUPPER
	RET
