//go:build !purego

#include "textflag.h"

// PHILOX_ROUND is one round of Philox4x32 on four blocks, one per 64-bit
// lane, each word in the low half of its lane (the high halves carry
// garbage that no instruction reads: VPMULUDQ multiplies the low halves,
// and only low halves are stored): with p0 = M0·c0 and p1 = M1·c2 (64-bit
// products), c0, c1, c2, c3 = hi(p1)^c1^k0, lo(p1), hi(p0)^c3^k1, lo(p0),
// then the keys k0, k1 (Y4, Y5) step by W0, W1.
#define PHILOX_ROUND \
	VPMULUDQ 0(AX), Y0, Y6; \
	VPMULUDQ 32(AX), Y2, Y7; \
	VPSRLQ  $32, Y6, Y9; \
	VPSRLQ  $32, Y7, Y10; \
	VPXOR   Y1, Y10, Y10; \
	VPXOR   Y4, Y10, Y0; \
	VPXOR   Y3, Y9, Y9; \
	VPXOR   Y5, Y9, Y2; \
	VMOVDQU Y7, Y1; \
	VMOVDQU Y6, Y3; \
	VPADDD  64(AX), Y4, Y4; \
	VPADDD  96(AX), Y5, Y5

// func uniformAVX2(groups int, dst *float32, block uint64, k *philoxConsts)
//
// RandUniform's values for 16·groups elements from element 4·block on:
// dst[16g + 4j + q] = lo + float32(span·u), u = float32(w>>8)·2⁻²⁴ for word
// q of Philox4x32-10 block block+4g+j of the stream (counter (b, b>>32,
// stream, stream>>32), key (seed, seed>>32)), bit for bit nn.RandKey's
// words and randUniformJob's arithmetic. Four blocks go through the ten
// rounds at once, one per 64-bit lane; their 4×4 words are transposed to
// element order and converted eight at a time. k holds the constants (see
// philoxConsts).
TEXT ·uniformAVX2(SB), NOSPLIT, $0-32
	MOVQ groups+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ block+16(FP), BX
	MOVQ k+24(FP), AX
	MOVQ BX, X8
	VPBROADCASTQ X8, Y8
	VPADDQ  128(AX), Y8, Y8           // blocks b, b+1, b+2, b+3

loop:
	TESTQ CX, CX
	JEQ   done
	VMOVDQU Y8, Y0                    // c0 = b (low half)
	VPSRLQ  $32, Y8, Y1               // c1 = b >> 32
	VMOVDQU 160(AX), Y2               // c2, c3: the stream
	VMOVDQU 192(AX), Y3
	VMOVDQU 224(AX), Y4               // k0, k1: the seed
	VMOVDQU 256(AX), Y5
	PHILOX_ROUND
	PHILOX_ROUND
	PHILOX_ROUND
	PHILOX_ROUND
	PHILOX_ROUND
	PHILOX_ROUND
	PHILOX_ROUND
	PHILOX_ROUND
	PHILOX_ROUND
	PHILOX_ROUND
	VPADDQ  288(AX), Y8, Y8           // next four blocks
	VPSLLQ  $32, Y1, Y9
	VPBLENDD $0xaa, Y9, Y0, Y10       // lane j: c0, c1 of block j
	VPSLLQ  $32, Y3, Y9
	VPBLENDD $0xaa, Y9, Y2, Y11       // lane j: c2, c3 of block j
	VPUNPCKLQDQ Y11, Y10, Y12         // blocks 0 | 2
	VPUNPCKHQDQ Y11, Y10, Y13         // blocks 1 | 3
	VPERM2I128 $0x20, Y13, Y12, Y14   // blocks 0, 1
	VPERM2I128 $0x31, Y13, Y12, Y15   // blocks 2, 3
	VPSRLD  $8, Y14, Y14
	VPSRLD  $8, Y15, Y15
	VCVTDQ2PS Y14, Y14                // exact: below 2²⁴
	VCVTDQ2PS Y15, Y15
	VMULPS  320(AX), Y14, Y14         // u = ·2⁻²⁴ (exact)
	VMULPS  320(AX), Y15, Y15
	VMULPS  352(AX), Y14, Y14         // span·u, rounded
	VMULPS  352(AX), Y15, Y15
	VADDPS  384(AX), Y14, Y14         // lo + that
	VADDPS  384(AX), Y15, Y15
	VMOVUPS Y14, (DI)
	VMOVUPS Y15, 32(DI)
	ADDQ    $64, DI
	DECQ    CX
	JMP     loop

done:
	VZEROUPPER
	RET
