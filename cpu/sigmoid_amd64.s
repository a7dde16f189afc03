//go:build !purego

#include "textflag.h"
#include "exp_amd64.h"

// func sigmoidAVX2(n int, y, x *float32, need *uint8, k *sigmoidConsts)
//
// sigmoid32 on n elements (n a multiple of 4), four at a time: for
// −80 < x < 17.5, e = e^−|x| as in expPoly (here with FMA: still within
// its bound), t = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0, and the Ziv
// test of sigmoid32 on t·(1 ± sigmoidErrBound); x ≥ 17.5 gives 1. Lanes
// the kernel does not decide (x ≤ −80, NaN, a failed test) get x itself
// in y and their bit set in need[i/4] (bit i%4), for the Go caller to
// finish with sigmoid32; y may be x. k holds the constants, each repeated
// in four lanes (see sigmoidConsts).
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-40
	MOVQ n+0(FP), CX
	MOVQ y+8(FP), DI
	MOVQ x+16(FP), SI
	MOVQ need+24(FP), R8
	MOVQ k+32(FP), AX
	XORQ BX, BX
	XORQ DX, DX

loop:
	CMPQ BX, CX
	JGE  done
	VMOVUPS (SI)(BX*4), X0            // x (float32)
	VCMPPS  $0x1e, 32(AX), X0, X3     // x > −80 (false for NaN)
	VCMPPS  $0x1d, 48(AX), X0, X4     // big: x ≥ 17.5
	VCVTPS2PD X0, Y1                  // x (float64)
	VANDPD  96(AX), Y1, Y5            // |x|
	VMINPD  128(AX), Y5, Y5           // ≤ 80, so every lane stays finite
	VXORPD  Y2, Y2, Y2
	VSUBPD  Y5, Y2, Y5                // y = −|x|
	EXP_POLY(160)                    // e = e^y
	VMOVUPD 608(AX), Y9               // 1
	VCMPPD  $0x11, Y2, Y1, Y10        // x < 0
	VBLENDVPD Y10, Y8, Y9, Y11        // num: e where x < 0, else 1
	VADDPD  Y9, Y8, Y8                // 1 + e
	VDIVPD  Y8, Y11, Y11              // t
	VMULPD  672(AX), Y11, Y12         // t·(1 − bound)
	VMULPD  704(AX), Y11, Y13         // t·(1 + bound)
	VCVTPD2PSY Y12, X12               // lo (float32)
	VCVTPD2PSY Y13, X13               // hi
	VCMPPS  $0x00, X13, X12, X14      // ok: lo == hi
	VBLENDVPS X4, 64(AX), X12, X12    // big lanes: 1
	VANDPS  X3, X14, X14              // ok and in range
	VORPS   X4, X14, X14              // decided: that, or big
	VPCMPEQD X15, X15, X15            // all ones
	VXORPS  X15, X14, X14             // need
	VBLENDVPS X14, X0, X12, X12       // needy lanes keep x
	VMOVUPS X12, (DI)(BX*4)
	VMOVMSKPS X14, R9
	MOVB    R9, (R8)(DX*1)
	ADDQ    $4, BX
	INCQ    DX
	JMP     loop

done:
	VZEROUPPER
	RET
