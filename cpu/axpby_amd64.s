//go:build !purego

#include "textflag.h"

// func axpbyAVX(n int, y, a, b *float32, alpha, beta float32)
//
// y[i] = fl(fl(alpha·a[i]) + fl(beta·b[i])) for i < n, n a multiple of 8,
// 16 elements per iteration, then 8: two float32 products and their sum,
// each rounded on its own (no fused multiply-add), as the Go loop, so the
// results are the same bit for bit. y may be a or b.
TEXT ·axpbyAVX(SB), NOSPLIT, $0-40
	MOVQ         n+0(FP), CX
	MOVQ         y+8(FP), DI
	MOVQ         a+16(FP), SI
	MOVQ         b+24(FP), DX
	VBROADCASTSS alpha+32(FP), Y6
	VBROADCASTSS beta+36(FP), Y7

loop16:
	CMPQ    CX, $16
	JLT     loop8
	VMULPS  0(SI), Y6, Y0
	VMULPS  32(SI), Y6, Y1
	VMULPS  0(DX), Y7, Y2
	VMULPS  32(DX), Y7, Y3
	VADDPS  Y2, Y0, Y0
	VADDPS  Y3, Y1, Y1
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     loop16

loop8:
	CMPQ    CX, $8
	JLT     done
	VMULPS  0(SI), Y6, Y0
	VMULPS  0(DX), Y7, Y2
	VADDPS  Y2, Y0, Y0
	VMOVUPS Y0, 0(DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     loop8

done:
	VZEROUPPER
	RET

// func scaleAVX(n int, y, a *float32, alpha float32)
//
// y[i] = fl(alpha·a[i]) for i < n, n a multiple of 8, 8 at a time. y may
// be a.
TEXT ·scaleAVX(SB), NOSPLIT, $0-28
	MOVQ         n+0(FP), CX
	MOVQ         y+8(FP), DI
	MOVQ         a+16(FP), SI
	VBROADCASTSS alpha+24(FP), Y6

sloop:
	CMPQ    CX, $8
	JLT     sdone
	VMULPS  0(SI), Y6, Y0
	VMOVUPS Y0, 0(DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     sloop

sdone:
	VZEROUPPER
	RET

// func mulAVX(n int, z, x, y *float32)
//
// z[i] = fl(x[i]·y[i]) for i < n, n a multiple of 8, 16 elements per
// iteration, then 8. z may be x or y.
TEXT ·mulAVX(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ z+8(FP), DI
	MOVQ x+16(FP), SI
	MOVQ y+24(FP), DX

mloop16:
	CMPQ    CX, $16
	JLT     mloop8
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y1
	VMULPS  0(DX), Y0, Y0
	VMULPS  32(DX), Y1, Y1
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     mloop16

mloop8:
	CMPQ    CX, $8
	JLT     mdone
	VMOVUPS 0(SI), Y0
	VMULPS  0(DX), Y0, Y0
	VMOVUPS Y0, 0(DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     mloop8

mdone:
	VZEROUPPER
	RET
