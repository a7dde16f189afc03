//go:build !purego

#include "textflag.h"
#include "vec64_amd64.h"

// func log1pAVX2(n int, y, x *float64, need *uint8, k *log1pConsts)
//
// y[i] = math.Log1p(x[i]) for n elements (n a multiple of 4), four at a
// time, bit for bit: Go's log1p (FreeBSD's s_log1p.c) with its branches
// turned into blends, every operation the one Go performs, in its order and
// rounding (separate multiplies and adds: Go does not fuse them on amd64).
// The lanes it decides are 0 ≤ x < 1 where 1 + x < 2:
//
//	x < 2⁻⁵⁴:           x
//	x < 2⁻²⁹:           x − x·x·0.5
//	x < √2 − 1 (k = 0): f = x, s = f/(2+f), z = s², R = z·(Lp1 + z·(…Lp7)),
//	                    f − (hfsq − s·(hfsq+R)),  hfsq = 0.5·f·f
//	otherwise (k = 1):  u = 1 + x, c = (x − (u−1))/u, f = u/2 − 1 (u's
//	                    mantissa with the exponent of ½), and
//	                    Ln2Hi − ((hfsq − (s·(hfsq+R) + (Ln2Lo + c))) − f)
//
// Lanes it does not decide (x < 0, x ≥ 1, NaN, 1 + x rounding to 2, and
// the rare mantissas below √2's or within 4 ulp of 2 that take Go's other
// branches) get x itself in y and their bit set in need[i/4] (bit i%4), for
// the Go caller to finish with math.Log1p. k holds the constants, each
// repeated in four lanes (see log1pConsts). y may be x.
TEXT ·log1pAVX2(SB), NOSPLIT, $0-40
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
	VMOVUPD 96(AX), Y15               // 1
	VXORPD  Y14, Y14, Y14             // 0
	VADDPD  Y15, Y0, Y1               // u = 1 + x
	VCMPPD  $0x1d, Y14, Y0, Y2        // ok: x ≥ 0 (false for NaN)
	VCMPPD  $0x11, Y15, Y0, Y3        // x < 1
	VANDPD  Y3, Y2, Y2
	VCMPPD  $0x11, 160(AX), Y1, Y3    // u < 2
	VANDPD  Y3, Y2, Y2
	VCMPPD  $0x1d, 64(AX), Y0, Y3     // d: x ≥ √2 − 1 (the k = 1 lanes)

	// The k = 1 lanes: c, and f from u's mantissa.
	VSUBPD  Y15, Y1, Y4               // u − 1
	VSUBPD  Y4, Y0, Y4                // x − (u − 1)
	VDIVPD  Y1, Y4, Y4                // c = that / u
	VANDPD  192(AX), Y1, Y5           // iu = mantissa bits of u
	VMOVUPD 256(AX), Y6               // √2's mantissa
	VPCMPGTQ Y5, Y6, Y6               // low: iu < √2's mantissa (Go's other branch)
	VMOVUPD 288(AX), Y7               // 2⁵²
	VPSUBQ  Y5, Y7, Y7
	VPSRLQ  $2, Y7, Y7                // (2⁵² − iu) >> 2
	VPCMPEQQ Y14, Y7, Y7              // zero: Go's |f| < 2⁻²⁰ branch
	VORPD   Y7, Y6, Y6                // a k = 1 lane Go finishes
	VANDPD  Y3, Y6, Y6
	VANDNPD Y2, Y6, Y2                // ok: and not that
	VORPD   224(AX), Y5, Y5           // u/2 normalised: iu | 0x3fe0000000000000
	VSUBPD  Y15, Y5, Y5               // f = u/2 − 1
	VBLENDVPD Y3, Y5, Y0, Y5          // f: that where d, else x

	// hfsq, s, z, R as Go computes them.
	VMULPD  128(AX), Y5, Y8           // 0.5·f
	VMULPD  Y5, Y8, Y8                // hfsq = 0.5·f·f
	VADDPD  160(AX), Y5, Y9           // 2 + f
	VDIVPD  Y9, Y5, Y9                // s = f/(2+f)
	VMULPD  Y9, Y9, Y10               // z = s·s
	VMULPD  576(AX), Y10, Y11         // z·Lp7
	VADDPD  544(AX), Y11, Y11         // Lp6 + …
	VMULPD  Y10, Y11, Y11
	VADDPD  512(AX), Y11, Y11         // Lp5 + …
	VMULPD  Y10, Y11, Y11
	VADDPD  480(AX), Y11, Y11         // Lp4 + …
	VMULPD  Y10, Y11, Y11
	VADDPD  448(AX), Y11, Y11         // Lp3 + …
	VMULPD  Y10, Y11, Y11
	VADDPD  416(AX), Y11, Y11         // Lp2 + …
	VMULPD  Y10, Y11, Y11
	VADDPD  384(AX), Y11, Y11         // Lp1 + …
	VMULPD  Y10, Y11, Y11             // R
	VADDPD  Y11, Y8, Y12              // hfsq + R
	VMULPD  Y12, Y9, Y12              // q = s·(hfsq + R)

	// k = 0: f − (hfsq − q).
	VSUBPD  Y12, Y8, Y13
	VSUBPD  Y13, Y5, Y13
	// k = 1: Ln2Hi − ((hfsq − (q + (Ln2Lo + c))) − f).
	VADDPD  352(AX), Y4, Y4           // Ln2Lo + c
	VADDPD  Y4, Y12, Y4               // q + …
	VSUBPD  Y4, Y8, Y4                // hfsq − …
	VSUBPD  Y5, Y4, Y4                // … − f
	VMOVUPD 320(AX), Y11
	VSUBPD  Y4, Y11, Y4               // Ln2Hi − …
	VBLENDVPD Y3, Y4, Y13, Y13        // the k = 1 lanes

	// Small arguments.
	VMULPD  Y0, Y0, Y4                // x·x
	VMULPD  128(AX), Y4, Y4           // ·0.5
	VSUBPD  Y4, Y0, Y4                // x − x·x·0.5
	VCMPPD  $0x11, 32(AX), Y0, Y5     // x < 2⁻²⁹
	VBLENDVPD Y5, Y4, Y13, Y13
	VCMPPD  $0x11, 0(AX), Y0, Y5      // x < 2⁻⁵⁴
	VBLENDVPD Y5, Y0, Y13, Y13

	STORE64_NEED(Y2, Y0, Y13, Y15)
	JMP     loop

done:
	VZEROUPPER
	RET
