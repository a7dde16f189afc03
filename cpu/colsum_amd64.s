//go:build !purego

#include "textflag.h"

// func colSum16AVX2(rows, stride int, dy *float32, acc *float64)
//
// acc[c] += Σ_r dy[r·stride + c] for c < 16, in float64, the rows added in
// order from the first to acc's values (as addColSumsGo, so the sums are
// the same bit for bit): four accumulators of four columns stay in
// registers while the rows stream by; each float32 is widened exactly.
TEXT ·colSum16AVX2(SB), NOSPLIT, $0-32
	MOVQ rows+0(FP), CX
	MOVQ stride+8(FP), DX
	MOVQ dy+16(FP), SI
	MOVQ acc+24(FP), DI
	SHLQ $2, DX                       // stride in bytes
	VMOVUPD 0(DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD 64(DI), Y2
	VMOVUPD 96(DI), Y3

loop:
	TESTQ CX, CX
	JE    done
	VCVTPS2PD 0(SI), Y4
	VCVTPS2PD 16(SI), Y5
	VCVTPS2PD 32(SI), Y6
	VCVTPS2PD 48(SI), Y7
	VADDPD Y4, Y0, Y0
	VADDPD Y5, Y1, Y1
	VADDPD Y6, Y2, Y2
	VADDPD Y7, Y3, Y3
	ADDQ  DX, SI
	DECQ  CX
	JMP   loop

done:
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VZEROUPPER
	RET
