//go:build !purego

#include "textflag.h"

// func sumRowsAVX(dst, src *float32, offs *int, n, c int)
//
// dst[j] = Σ_{t<n} src[offs[t]+j] for j < c, c a multiple of 8: the sums
// start from +0 and add the rows in t order, one rounded float32 addition
// each, 32 columns at a time in four registers
// (then 8 at a time), so every column's sum is the Go loop's bit for bit.
TEXT ·sumRowsAVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ offs+16(FP), R8
	MOVQ n+24(FP), R9
	MOVQ c+32(FP), CX
	XORQ BX, BX              // column

block32:
	MOVQ CX, DX
	SUBQ BX, DX
	CMPQ DX, $32
	JLT  block8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ R11, R11

taps32:
	CMPQ R11, R9
	JGE  store32
	MOVQ (R8)(R11*8), AX
	LEAQ (SI)(AX*4), R10
	VADDPS 0(R10)(BX*4), Y0, Y0
	VADDPS 32(R10)(BX*4), Y1, Y1
	VADDPS 64(R10)(BX*4), Y2, Y2
	VADDPS 96(R10)(BX*4), Y3, Y3
	INCQ R11
	JMP  taps32

store32:
	VMOVUPS Y0, 0(DI)(BX*4)
	VMOVUPS Y1, 32(DI)(BX*4)
	VMOVUPS Y2, 64(DI)(BX*4)
	VMOVUPS Y3, 96(DI)(BX*4)
	ADDQ $32, BX
	JMP  block32

block8:
	CMPQ BX, CX
	JGE  done
	VXORPS Y0, Y0, Y0
	XORQ R11, R11

taps8:
	CMPQ R11, R9
	JGE  store8
	MOVQ (R8)(R11*8), AX
	LEAQ (SI)(AX*4), R10
	VADDPS 0(R10)(BX*4), Y0, Y0
	INCQ R11
	JMP  taps8

store8:
	VMOVUPS Y0, 0(DI)(BX*4)
	ADDQ $8, BX
	JMP  block8

done:
	VZEROUPPER
	RET
