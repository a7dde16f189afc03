//go:build !purego

#include "textflag.h"
#include "vec64_amd64.h"

// func exp64AVX2(n int, y, x *float64, need *uint8, k *exp64Consts)
//
// y[i] = math.Exp(x[i]) for n elements (n a multiple of 4), four at a time,
// bit for bit: the standard library's amd64 archExp on its FMA path (the
// one it takes on a CPU with AVX and FMA, which this kernel requires),
// instruction for instruction on four lanes: k = round(x·log2e) (the
// conversion rounds to nearest even, as CVTSD2SL), r = (x − k·ln2U − k·ln2L)
// fused, r/16, its Taylor series to r⁸ by fused Horner steps, squared four
// times as (r·(r+2)), the last step fused with the + 1, times 2^k.
// Lanes whose 2^k is not a normal number (k + 1023 outside 1 … 2046: the
// denormal and underflow results, x below about −708; NaN and ±Inf, whose
// conversion gives −2³¹) or x above archExp's overflow bound get x itself in
// y and their bit set in need[i/4] (bit i%4), for the Go caller to finish
// with math.Exp. k holds the constants (see exp64Consts). y may be x.
TEXT ·exp64AVX2(SB), NOSPLIT, $0-40
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
	VMOVUPD (SI)(BX*8), Y0            // x
	VMULPD  0(AX), Y0, Y1             // x·log2e
	VCVTPD2DQY Y1, X2                 // k (int32, rounded to nearest even)
	VCVTDQ2PD X2, Y1                  // float64(k)
	VMOVAPD Y0, Y3
	VFNMADD231PD 32(AX), Y1, Y3       // x − k·ln2U (fused)
	VFNMADD231PD 64(AX), Y1, Y3       // − k·ln2L (fused)
	VMULPD  96(AX), Y3, Y3            // r = that·0.0625
	VMOVUPD 128(AX), Y4               // 1/8!
	VFMADD213PD 160(AX), Y3, Y4       // ·r + 1/7!
	VFMADD213PD 192(AX), Y3, Y4       // ·r + 1/6!
	VFMADD213PD 224(AX), Y3, Y4       // ·r + 1/5!
	VFMADD213PD 256(AX), Y3, Y4       // ·r + 1/4!
	VFMADD213PD 288(AX), Y3, Y4       // ·r + 1/3!
	VFMADD213PD 320(AX), Y3, Y4       // ·r + 1/2
	VFMADD213PD 352(AX), Y3, Y4       // ·r + 1
	VMULPD  Y4, Y3, Y3                // r·p
	VMOVUPD 384(AX), Y5               // 2
	VADDPD  Y5, Y3, Y4
	VMULPD  Y4, Y3, Y3                // r·(r + 2), four times
	VADDPD  Y5, Y3, Y4
	VMULPD  Y4, Y3, Y3
	VADDPD  Y5, Y3, Y4
	VMULPD  Y4, Y3, Y3
	VADDPD  Y5, Y3, Y4
	VFMADD213PD 352(AX), Y4, Y3       // the last fused with + 1
	VPMOVSXDQ X2, Y6                  // k (int64)
	VPADDQ  416(AX), Y6, Y6           // k + 1023
	VPXOR   Y7, Y7, Y7
	VPCMPGTQ Y7, Y6, Y8               // k + 1023 > 0
	VMOVDQU 448(AX), Y9               // 2047
	VPCMPGTQ Y6, Y9, Y9               // 2047 > k + 1023
	VPAND   Y9, Y8, Y8
	VCMPPD  $0x12, 480(AX), Y0, Y9    // x ≤ the overflow bound (false for NaN)
	VANDPD  Y9, Y8, Y8                // ok
	VPSLLQ  $52, Y6, Y6               // 2^k
	VMULPD  Y6, Y3, Y3
	STORE64_NEED(Y8, Y0, Y3, Y9)
	JMP     loop

done:
	VZEROUPPER
	RET
