//go:build !purego

#include "textflag.h"
#include "exp_amd64.h"

// func tanhAVX2(n int, y, x *float32, need *uint8, k *tanhConsts)
//
// tanh32 on n elements (n a multiple of 4), four at a time: x[i] is widened
// to float64, and for 0.625 ≤ |x| < 9.1 tanh is 1 − 2/(e^{2|x|}+1) with
// e^y = 2^k·P(r) as in exp2z (here with FMA: still within its error
// bound); the Ziv test of tanh32 accepts the float32 rounding of t only
// when t ± tanhErrBound round to the same float32. |x| ≥ 9.1 gives ±1,
// and x = ±0 gives x (tanh32's value: math.Tanh keeps the sign of zero).
// Lanes the kernel does not decide (other |x| < 0.625, NaN, a failed Ziv test)
// get x itself in y and their bit set in need[i/4] (bit i%4), for the Go
// caller to finish with tanh32; y may be x. k holds the constants, each
// repeated in four lanes (see tanhConsts).
TEXT ·tanhAVX2(SB), NOSPLIT, $0-40
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
	VANDPS  0(AX), X0, X1             // |x|
	VANDPS  16(AX), X0, X2            // sign bits of x
	VCMPPS  $0x19, 32(AX), X1, X3     // small: !(|x| ≥ 0.625), NaN included
	VCMPPS  $0x1d, 48(AX), X1, X4     // big: |x| ≥ 9.1
	VCVTPS2PD X1, Y5                  // z
	VADDPD  Y5, Y5, Y5                // y = 2z
	VMINPD  96(AX), Y5, Y5            // ≤ 18.2, so big lanes stay finite
	EXP_POLY(128)                    // s = e^y
	VADDPD  576(AX), Y8, Y8           // s + 1
	VMOVUPD 640(AX), Y9               // 2
	VDIVPD  Y8, Y9, Y9                // 2/(s+1)
	VMOVUPD 576(AX), Y10
	VSUBPD  Y9, Y10, Y10              // t = 1 − 2/(s+1)
	VSUBPD  672(AX), Y10, Y11         // t − bound
	VADDPD  672(AX), Y10, Y12         // t + bound
	VCVTPD2PSY Y11, X11               // lo (float32)
	VCVTPD2PSY Y12, X12               // hi
	VCMPPS  $0x00, X12, X11, X13      // ok: lo == hi
	VBLENDVPS X4, 64(AX), X11, X11    // big lanes: 1
	VORPS   X2, X11, X11              // the sign of x
	VORPS   X4, X13, X13              // decided: ok or big
	VPCMPEQD X14, X14, X14            // all ones
	VXORPS  X14, X13, X13             // undecided
	VORPS   X3, X13, X13              // need = small or undecided
	VBLENDVPS X13, X0, X11, X11       // needy lanes (and ±0) keep x
	VXORPS  X15, X15, X15
	VCMPPS  $0x00, X15, X0, X15       // x = ±0: decided, tanh(±0) = ±0
	VANDNPS X13, X15, X13             // need without the zeros
	VMOVUPS X11, (DI)(BX*4)
	VMOVMSKPS X13, R9
	MOVB    R9, (R8)(DX*1)
	ADDQ    $4, BX
	INCQ    DX
	JMP     loop

done:
	VZEROUPPER
	RET
