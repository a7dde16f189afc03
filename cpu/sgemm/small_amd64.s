//go:build !purego

#include "textflag.h"

// The 4×16 kernels of Small (small.go): a 4×16 tile of C from k steps,
// each one row of sixteen op(B) values (16 floats at BX, the next step
// ldb further) times four op(A) values, broadcast one at a time (two
// multiply-adds per broadcast, as in sgemm's 6×16 kernels: on cores that
// split 256-bit operations, a broadcast per multiply-add starves them). Every
// element of the tile is one chain of fused multiply-adds from 0 in step
// order, as in the packed kernels of sgemm_amd64.s, and the tile is
// written as they write theirs (mode: store, add, or float32(beta·C) +
// tile), so the results are theirs bit for bit.
//
// Registers: Y0–Y7 the tile's rows (two each), Y8–Y9 the op(B) row,
// Y10–Y12 the broadcasts; AX op(A)'s values, BX op(B)'s row, R13 ldb and R11 lda in
// bytes, DI C's row, R8 ldc in bytes, CX the steps left.

// S4_FMA multiplies the op(B) row (Y8, Y9) by the four op(A) values at
// A0 … A3 and adds the products to the tile's rows (Y0–Y1 row 0, …,
// Y6–Y7 row 3).
#define S4_FMA(A0, A1, A2, A3) \
	VMOVUPS (BX), Y8; \
	VMOVUPS 32(BX), Y9; \
	VBROADCASTSS A0, Y10; \
	VFMADD231PS Y8, Y10, Y0; \
	VFMADD231PS Y9, Y10, Y1; \
	VBROADCASTSS A1, Y11; \
	VFMADD231PS Y8, Y11, Y2; \
	VFMADD231PS Y9, Y11, Y3; \
	VBROADCASTSS A2, Y12; \
	VFMADD231PS Y8, Y12, Y4; \
	VFMADD231PS Y9, Y12, Y5; \
	VBROADCASTSS A3, Y10; \
	VFMADD231PS Y8, Y10, Y6; \
	VFMADD231PS Y9, Y10, Y7; \
	ADDQ R13, BX

// S4_ROWS is one step of the rows kernel: op(A)'s row i at AX + i·lda
// (R12 = 3·lda), the step at byte OFF.
#define S4_ROWS(OFF) \
	S4_FMA(OFF(AX), OFF(AX)(R11*1), OFF(AX)(R11*2), OFF(AX)(R12*1))

// S4_COLS is one step of the columns kernel: the four op(A) values are
// contiguous at AX, the next step lda further.
#define S4_COLS \
	S4_FMA(0(AX), 4(AX), 8(AX), 12(AX)); \
	ADDQ R11, AX

#define S8_ZERO \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7

#define S8_STORE \
	VMOVUPS Y0, (DI); VMOVUPS Y1, 32(DI); ADDQ R8, DI; \
	VMOVUPS Y2, (DI); VMOVUPS Y3, 32(DI); ADDQ R8, DI; \
	VMOVUPS Y4, (DI); VMOVUPS Y5, 32(DI); ADDQ R8, DI; \
	VMOVUPS Y6, (DI); VMOVUPS Y7, 32(DI)

#define S8_ADD1(Y, OFF) \
	VADDPS OFF(DI), Y, Y; \
	VMOVUPS Y, OFF(DI)

#define S8_ADD \
	S8_ADD1(Y0, 0); S8_ADD1(Y1, 32); ADDQ R8, DI; \
	S8_ADD1(Y2, 0); S8_ADD1(Y3, 32); ADDQ R8, DI; \
	S8_ADD1(Y4, 0); S8_ADD1(Y5, 32); ADDQ R8, DI; \
	S8_ADD1(Y6, 0); S8_ADD1(Y7, 32)

#define S8_BETA1(Y, OFF) \
	VMULPS OFF(DI), Y13, Y14; \
	VADDPS Y14, Y, Y; \
	VMOVUPS Y, OFF(DI)

#define S8_BETA \
	S8_BETA1(Y0, 0); S8_BETA1(Y1, 32); ADDQ R8, DI; \
	S8_BETA1(Y2, 0); S8_BETA1(Y3, 32); ADDQ R8, DI; \
	S8_BETA1(Y4, 0); S8_BETA1(Y5, 32); ADDQ R8, DI; \
	S8_BETA1(Y6, 0); S8_BETA1(Y7, 32)

// S8_ARGS loads the arguments shared by both kernels.
#define S8_ARGS \
	MOVQ k+0(FP), CX; \
	MOVQ a+8(FP), AX; \
	MOVQ lda+16(FP), R11; \
	SHLQ $2, R11; \
	MOVQ b+24(FP), BX; \
	MOVQ ldb+32(FP), R13; \
	SHLQ $2, R13; \
	MOVQ c+40(FP), DI; \
	MOVQ ldc+48(FP), R8; \
	SHLQ $2, R8

// func small4x16Rows(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, beta float32, mode int)
//
// The tile C[i][j] (i < 4, j < 16; row i at c + i·ldc) from op(A)[i][p] =
// a[i·lda + p] and op(B)[p][j] = b[p·ldb + j], p < k.
TEXT ·small4x16Rows(SB), NOSPLIT, $0-72
	S8_ARGS
	LEAQ (R11)(R11*2), R12
	S8_ZERO
	CMPQ CX, $4
	JL   rowstail

rowsloop:
	S4_ROWS(0)
	S4_ROWS(4)
	S4_ROWS(8)
	S4_ROWS(12)
	ADDQ $16, AX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  rowsloop

rowstail:
	TESTQ CX, CX
	JE    rowsstore
	S4_ROWS(0)
	ADDQ  $4, AX
	DECQ  CX
	JMP   rowstail

rowsstore:
	MOVQ mode+64(FP), DX
	CMPQ DX, $1
	JEQ  rowsadd
	JGT  rowsbeta
	S8_STORE
	VZEROUPPER
	RET

rowsadd:
	S8_ADD
	VZEROUPPER
	RET

rowsbeta:
	VBROADCASTSS beta+56(FP), Y13
	S8_BETA
	VZEROUPPER
	RET

// func small4x16Cols(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, beta float32, mode int)
//
// The tile C[i][j] from op(A)[i][p] = a[p·lda + i] (A stored transposed)
// and op(B)[p][j] = b[p·ldb + j], p < k.
TEXT ·small4x16Cols(SB), NOSPLIT, $0-72
	S8_ARGS
	S8_ZERO
	CMPQ CX, $2
	JL   colstail

colsloop:
	S4_COLS
	S4_COLS
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  colsloop

colstail:
	TESTQ CX, CX
	JE    colsstore
	S4_COLS

colsstore:
	MOVQ mode+64(FP), DX
	CMPQ DX, $1
	JEQ  colsadd
	JGT  colsbeta
	S8_STORE
	VZEROUPPER
	RET

colsadd:
	S8_ADD
	VZEROUPPER
	RET

colsbeta:
	VBROADCASTSS beta+56(FP), Y13
	S8_BETA
	VZEROUPPER
	RET
