// Command asmgen writes sgemm_amd64.s, the assembly kernels of package
// gan/cpu/sgemm: the register-blocked AVX-512 and AVX2 micro-kernels, the
// panel packers and the matrix-vector kernels. The unrolled instruction
// sequences are easier to get right, and to change, from this program than by
// hand. Run it through `go generate` in cpu/sgemm.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
)

// gen accumulates the assembly text.
type gen struct{ bytes.Buffer }

// i writes one instruction line.
func (g *gen) i(format string, args ...any) {
	g.WriteString("\t")
	fmt.Fprintf(g, format, args...)
	g.WriteString("\n")
}

// label writes a label line.
func (g *gen) label(name string) { fmt.Fprintf(g, "%s:\n", name) }

// kernel describes one register-blocked micro-kernel: it multiplies an
// mr×kc packed panel of A by a kc×nr packed panel of B, nr = nv vectors.
type kernel struct {
	name string
	mr   int
	nv   int    // vectors per row of the tile
	vw   int    // lanes per vector: 16 (zmm) or 8 (ymm)
	reg  string // "Z" or "Y"
	zero string // the instruction that zeroes a register
	// direct kernels read A unpacked: row r of the panel at a + r·lda,
	// its k steps contiguous; with trans, row r at a + r and k steps lda
	// apart (a column-major op(A), i.e. Aᵀ of a row-major A; see emit).
	direct, trans bool
}

func (k kernel) nr() int { return k.nv * k.vw }

// acc is the register that accumulates row r, vector j of the tile.
func (k kernel) acc(r, j int) string { return fmt.Sprintf("%s%d", k.reg, r*k.nv+j) }

// breg is the register that holds vector j of the current row of B.
func (k kernel) breg(j int) string { return fmt.Sprintf("%s%d", k.reg, k.mr*k.nv+j) }

// treg is the register that holds the broadcast element of A.
func (k kernel) treg() string { return fmt.Sprintf("%s%d", k.reg, k.mr*k.nv+k.nv) }

// directBase is the register that points at row 3q of a direct kernel's A
// (rows 3q+1 and 3q+2 are one and two lda past it, lda in R11).
var directBase = []string{"AX", "R10", "R12"}

// aElem is the address of row r of the A panel at byte offset aoff along k.
func (k kernel) aElem(r, aoff int) string {
	if !k.direct || k.trans {
		return fmt.Sprintf("%d(AX)", aoff+r*4)
	}
	base := directBase[r/3]
	switch r % 3 {
	case 1:
		return fmt.Sprintf("%d(%s)(R11*1)", aoff, base)
	case 2:
		return fmt.Sprintf("%d(%s)(R11*2)", aoff, base)
	}
	return fmt.Sprintf("%d(%s)", aoff, base)
}

// advanceA moves A on by steps k steps.
func (k kernel) advanceA(g *gen, steps int) {
	if k.trans {
		return // each step moved on already
	}
	if !k.direct {
		g.i("ADDQ $%d, AX", steps*k.mr*4)
		return
	}
	for q := 0; 3*q < k.mr; q++ {
		g.i("ADDQ $%d, %s", steps*4, directBase[q])
	}
}

// step writes one k step at byte offsets aoff into A and boff into B.
func (k kernel) step(g *gen, aoff, boff int) {
	for j := 0; j < k.nv; j++ {
		g.i("VMOVUPS %d(BX), %s", boff+j*k.vw*4, k.breg(j))
	}
	for r := 0; r < k.mr; r++ {
		g.i("VBROADCASTSS %s, %s", k.aElem(r, aoff), k.treg())
		for j := 0; j < k.nv; j++ {
			g.i("VFMADD231PS %s, %s, %s", k.breg(j), k.treg(), k.acc(r, j))
		}
	}
	if k.trans {
		g.i("ADDQ R11, AX") // the next k step: lda on
	}
}

// emit writes the kernel
//
//	func name(k int, a, b, c *float32, ldc int, beta float32, mode int)
//
// It computes the tile T = Σ_p a[p·mr+r]·b[p·nr+j] and stores it into the
// mr×nr block at c (row stride ldc elements): mode 0 stores C = T, mode 1
// stores C = C + T, mode 2 stores C = float32(beta·C) + T.
//
// A direct kernel
//
//	func name(k int, a *float32, lda int, b, c *float32, ldc int, beta float32, mode int)
//
// computes T = Σ_p a[r·lda+p]·b[p·nr+j] instead: A's panel read in place
// (rows of a row-major op(A)), the same products summed in the same order;
// a transposed direct kernel T = Σ_p a[p·lda+r]·b[p·nr+j] (op(A) = Aᵀ of a
// row-major A).
func (k kernel) emit(g *gen) {
	const unroll = 4
	mr, nr := k.mr, k.nr()
	off := 0 // the frame offset of ldc, beta and mode past the direct kernels' lda
	if k.direct {
		off = 8
		fmt.Fprintf(g, "// func %s(k int, a *float32, lda int, b, c *float32, ldc int, beta float32, mode int)\n", k.name)
		fmt.Fprintf(g, "TEXT ·%s(SB), NOSPLIT, $0-64\n", k.name)
	} else {
		fmt.Fprintf(g, "// func %s(k int, a, b, c *float32, ldc int, beta float32, mode int)\n", k.name)
		fmt.Fprintf(g, "TEXT ·%s(SB), NOSPLIT, $0-56\n", k.name)
	}
	g.i("MOVQ k+0(FP), CX")
	g.i("MOVQ a+8(FP), AX")
	if k.direct {
		g.i("MOVQ lda+16(FP), R11")
		g.i("SHLQ $2, R11")
		for q := 1; 3*q < k.mr && !k.trans; q++ {
			// Row 3q: three lda past row 3(q−1).
			g.i("LEAQ (%s)(R11*2), %s", directBase[q-1], directBase[q])
			g.i("ADDQ R11, %s", directBase[q])
		}
	}
	g.i("MOVQ b+%d(FP), BX", 16+off)
	g.i("MOVQ c+%d(FP), DI", 24+off)
	g.i("MOVQ ldc+%d(FP), R8", 32+off)
	g.i("SHLQ $2, R8")
	// Warm the C tile while the products run.
	g.i("MOVQ DI, R9")
	for r := 0; r < mr; r++ {
		g.i("PREFETCHT0 (R9)")
		g.i("PREFETCHT0 %d(R9)", nr*4-4)
		if r < mr-1 {
			g.i("ADDQ R8, R9")
		}
	}
	for r := 0; r < mr; r++ {
		for j := 0; j < k.nv; j++ {
			g.i("%s %s, %s, %s", k.zero, k.acc(r, j), k.acc(r, j), k.acc(r, j))
		}
	}
	g.i("CMPQ CX, $%d", unroll)
	g.i("JL %s_tail", k.name)
	g.label(k.name + "_loop")
	for u := 0; u < unroll; u++ {
		astep := mr * 4
		switch {
		case k.trans:
			astep = 0 // AX moves on every step
		case k.direct:
			astep = 4
		}
		k.step(g, u*astep, u*nr*4)
	}
	k.advanceA(g, unroll)
	g.i("ADDQ $%d, BX", unroll*nr*4)
	g.i("SUBQ $%d, CX", unroll)
	g.i("CMPQ CX, $%d", unroll)
	g.i("JGE %s_loop", k.name)
	g.label(k.name + "_tail")
	g.i("TESTQ CX, CX")
	g.i("JE %s_store", k.name)
	k.step(g, 0, 0)
	k.advanceA(g, 1)
	g.i("ADDQ $%d, BX", nr*4)
	g.i("DECQ CX")
	g.i("JMP %s_tail", k.name)

	g.label(k.name + "_store")
	g.i("MOVQ mode+%d(FP), DX", 48+off)
	g.i("CMPQ DX, $1")
	g.i("JEQ %s_add", k.name)
	g.i("JGT %s_beta", k.name)
	for r := 0; r < mr; r++ {
		for j := 0; j < k.nv; j++ {
			g.i("VMOVUPS %s, %d(DI)", k.acc(r, j), j*k.vw*4)
		}
		if r < mr-1 {
			g.i("ADDQ R8, DI")
		}
	}
	g.i("VZEROUPPER")
	g.i("RET")

	g.label(k.name + "_add")
	for r := 0; r < mr; r++ {
		for j := 0; j < k.nv; j++ {
			g.i("VADDPS %d(DI), %s, %s", j*k.vw*4, k.acc(r, j), k.acc(r, j))
			g.i("VMOVUPS %s, %d(DI)", k.acc(r, j), j*k.vw*4)
		}
		if r < mr-1 {
			g.i("ADDQ R8, DI")
		}
	}
	g.i("VZEROUPPER")
	g.i("RET")

	g.label(k.name + "_beta")
	g.i("VBROADCASTSS beta+%d(FP), %s", 40+off, k.treg())
	for r := 0; r < mr; r++ {
		for j := 0; j < k.nv; j++ {
			g.i("VMULPS %d(DI), %s, %s", j*k.vw*4, k.treg(), k.breg(0))
			g.i("VADDPS %s, %s, %s", k.breg(0), k.acc(r, j), k.acc(r, j))
			g.i("VMOVUPS %s, %d(DI)", k.acc(r, j), j*k.vw*4)
		}
		if r < mr-1 {
			g.i("ADDQ R8, DI")
		}
	}
	g.i("VZEROUPPER")
	g.i("RET")
	g.WriteString("\n")
}

// packTrans writes
//
//	func packTrans(dst, src *float32, ld, k8, rows, width int)
//
// which sets dst[p·width+r] = src[r·ld+p] for r < rows and p < 8·k8; rows
// is a multiple of 4. It transposes 8×8 blocks (and a last 4×8 block) in
// ymm registers.
func packTrans(g *gen) {
	g.WriteString("// func packTrans(dst, src *float32, ld, k8, rows, width int)\n")
	g.WriteString("TEXT ·packTrans(SB), NOSPLIT, $0-48\n")
	g.i("MOVQ dst+0(FP), DI")
	g.i("MOVQ src+8(FP), SI")
	g.i("MOVQ ld+16(FP), R8")
	g.i("SHLQ $2, R8") // row stride of src in bytes
	g.i("MOVQ rows+32(FP), R11")
	g.i("MOVQ width+40(FP), R12")
	g.i("SHLQ $2, R12")         // row stride of dst in bytes
	g.i("LEAQ (R8)(R8*2), R13") // 3·ld bytes
	g.label("pt_group")
	g.i("CMPQ R11, $8")
	g.i("JL pt_four")
	g.i("MOVQ k8+24(FP), CX")
	g.i("MOVQ SI, R9")  // source: row 0 of this group, current column chunk
	g.i("MOVQ DI, R10") // destination: row 0 of this chunk, column of the group
	g.label("pt_chunk")
	g.i("TESTQ CX, CX")
	g.i("JE pt_next")
	// Rows 0-3 at R9, rows 4-7 at R14 = R9 + 4·ld.
	g.i("LEAQ (R9)(R8*4), R14")
	g.i("VMOVUPS (R9), Y0")
	g.i("VMOVUPS (R9)(R8*1), Y1")
	g.i("VMOVUPS (R9)(R8*2), Y2")
	g.i("VMOVUPS (R9)(R13*1), Y3")
	g.i("VMOVUPS (R14), Y4")
	g.i("VMOVUPS (R14)(R8*1), Y5")
	g.i("VMOVUPS (R14)(R8*2), Y6")
	g.i("VMOVUPS (R14)(R13*1), Y7")
	g.i("VUNPCKLPS Y1, Y0, Y8")
	g.i("VUNPCKHPS Y1, Y0, Y9")
	g.i("VUNPCKLPS Y3, Y2, Y10")
	g.i("VUNPCKHPS Y3, Y2, Y11")
	g.i("VUNPCKLPS Y5, Y4, Y12")
	g.i("VUNPCKHPS Y5, Y4, Y13")
	g.i("VUNPCKLPS Y7, Y6, Y14")
	g.i("VUNPCKHPS Y7, Y6, Y15")
	g.i("VSHUFPS $0x44, Y10, Y8, Y0")
	g.i("VSHUFPS $0xEE, Y10, Y8, Y1")
	g.i("VSHUFPS $0x44, Y11, Y9, Y2")
	g.i("VSHUFPS $0xEE, Y11, Y9, Y3")
	g.i("VSHUFPS $0x44, Y14, Y12, Y4")
	g.i("VSHUFPS $0xEE, Y14, Y12, Y5")
	g.i("VSHUFPS $0x44, Y15, Y13, Y6")
	g.i("VSHUFPS $0xEE, Y15, Y13, Y7")
	g.i("VPERM2F128 $0x20, Y4, Y0, Y8")
	g.i("VPERM2F128 $0x20, Y5, Y1, Y9")
	g.i("VPERM2F128 $0x20, Y6, Y2, Y10")
	g.i("VPERM2F128 $0x20, Y7, Y3, Y11")
	g.i("VPERM2F128 $0x31, Y4, Y0, Y12")
	g.i("VPERM2F128 $0x31, Y5, Y1, Y13")
	g.i("VPERM2F128 $0x31, Y6, Y2, Y14")
	g.i("VPERM2F128 $0x31, Y7, Y3, Y15")
	// Column q of the block becomes row q of the destination.
	g.i("MOVQ R10, R14")
	for q, y := range []int{8, 9, 10, 11, 12, 13, 14, 15} {
		g.i("VMOVUPS Y%d, (R14)", y)
		if q < 7 {
			g.i("ADDQ R12, R14")
		}
	}
	g.i("ADDQ $32, R9")
	g.i("LEAQ (R10)(R12*8), R10")
	g.i("DECQ CX")
	g.i("JMP pt_chunk")
	g.label("pt_next")
	g.i("LEAQ (SI)(R8*8), SI") // next 8 source rows
	g.i("ADDQ $32, DI")        // next 8 destination columns
	g.i("SUBQ $8, R11")
	g.i("JMP pt_group")
	// A last group of 4 rows: 4×8 blocks.
	g.label("pt_four")
	g.i("TESTQ R11, R11")
	g.i("JE pt_done")
	g.i("MOVQ k8+24(FP), CX")
	g.label("pt_four_chunk")
	g.i("TESTQ CX, CX")
	g.i("JE pt_done")
	g.i("VMOVUPS (SI), Y0")
	g.i("VMOVUPS (SI)(R8*1), Y1")
	g.i("VMOVUPS (SI)(R8*2), Y2")
	g.i("VMOVUPS (SI)(R13*1), Y3")
	g.i("VUNPCKLPS Y1, Y0, Y8")
	g.i("VUNPCKHPS Y1, Y0, Y9")
	g.i("VUNPCKLPS Y3, Y2, Y10")
	g.i("VUNPCKHPS Y3, Y2, Y11")
	g.i("VSHUFPS $0x44, Y10, Y8, Y0") // k0 | k4
	g.i("VSHUFPS $0xEE, Y10, Y8, Y1") // k1 | k5
	g.i("VSHUFPS $0x44, Y11, Y9, Y2") // k2 | k6
	g.i("VSHUFPS $0xEE, Y11, Y9, Y3") // k3 | k7
	g.i("MOVQ DI, R14")
	for q := 0; q < 8; q++ {
		if q < 4 {
			g.i("VMOVUPS X%d, (R14)", q)
		} else {
			g.i("VEXTRACTF128 $1, Y%d, (R14)", q-4)
		}
		if q < 7 {
			g.i("ADDQ R12, R14")
		}
	}
	g.i("ADDQ $32, SI")
	g.i("LEAQ (DI)(R12*8), DI")
	g.i("DECQ CX")
	g.i("JMP pt_four_chunk")
	g.label("pt_done")
	g.i("VZEROUPPER")
	g.i("RET")
	g.WriteString("\n")
}

// packCopy writes
//
//	func packCopy(dst, src *float32, ld, k, cols, width int)
//
// which sets dst[p·width+j] = src[p·ld+j] for j < cols and p < k; cols is a
// multiple of 4.
func packCopy(g *gen) {
	g.WriteString("// func packCopy(dst, src *float32, ld, k, cols, width int)\n")
	g.WriteString("TEXT ·packCopy(SB), NOSPLIT, $0-48\n")
	g.i("MOVQ dst+0(FP), DI")
	g.i("MOVQ src+8(FP), SI")
	g.i("MOVQ ld+16(FP), R8")
	g.i("SHLQ $2, R8")
	g.i("MOVQ k+24(FP), CX")
	g.i("MOVQ cols+32(FP), R11")
	g.i("MOVQ width+40(FP), R12")
	g.i("SHLQ $2, R12")
	g.label("pc_row")
	g.i("TESTQ CX, CX")
	g.i("JE pc_done")
	g.i("XORQ R9, R9")
	g.i("MOVQ R11, R10")
	g.label("pc_32")
	g.i("CMPQ R10, $32")
	g.i("JL pc_8")
	g.i("VMOVUPS (SI)(R9*4), Y0")
	g.i("VMOVUPS 32(SI)(R9*4), Y1")
	g.i("VMOVUPS 64(SI)(R9*4), Y2")
	g.i("VMOVUPS 96(SI)(R9*4), Y3")
	g.i("VMOVUPS Y0, (DI)(R9*4)")
	g.i("VMOVUPS Y1, 32(DI)(R9*4)")
	g.i("VMOVUPS Y2, 64(DI)(R9*4)")
	g.i("VMOVUPS Y3, 96(DI)(R9*4)")
	g.i("ADDQ $32, R9")
	g.i("SUBQ $32, R10")
	g.i("JMP pc_32")
	g.label("pc_8")
	g.i("CMPQ R10, $8")
	g.i("JL pc_4")
	g.i("VMOVUPS (SI)(R9*4), Y0")
	g.i("VMOVUPS Y0, (DI)(R9*4)")
	g.i("ADDQ $8, R9")
	g.i("SUBQ $8, R10")
	g.i("JMP pc_8")
	g.label("pc_4")
	g.i("TESTQ R10, R10")
	g.i("JE pc_next")
	g.i("VMOVUPS (SI)(R9*4), X0")
	g.i("VMOVUPS X0, (DI)(R9*4)")
	g.i("ADDQ $4, R9")
	g.i("SUBQ $4, R10")
	g.i("JMP pc_4")
	g.label("pc_next")
	g.i("ADDQ R8, SI")
	g.i("ADDQ R12, DI")
	g.i("DECQ CX")
	g.i("JMP pc_row")
	g.label("pc_done")
	g.i("VZEROUPPER")
	g.i("RET")
	g.WriteString("\n")
}

// vec describes a vector register file: zmm (AVX-512) or ymm (AVX2).
type vec struct {
	suffix string // appended to function names
	reg    string // "Z" or "Y"
	lanes  int
}

var (
	zmm = vec{suffix: "512", reg: "Z", lanes: 16}
	ymm = vec{suffix: "", reg: "Y", lanes: 8}
)

// r names vector register i.
func (v vec) r(i int) string { return fmt.Sprintf("%s%d", v.reg, i) }

// hsum reduces the lanes of vector register 0 into the low lane of X0 in a
// fixed order.
func hsum(g *gen, v vec) {
	if v.lanes == 16 {
		g.i("VEXTRACTF64X4 $1, Z0, Y1")
		g.i("VADDPS Y1, Y0, Y0")
	}
	g.i("VEXTRACTF128 $1, Y0, X1")
	g.i("VADDPS X1, X0, X0")
	g.i("VMOVHLPS X0, X0, X1")
	g.i("VADDPS X1, X0, X0")
	g.i("VMOVSHDUP X0, X1")
	g.i("VADDSS X1, X0, X0")
}

// dotRows writes
//
//	func dotRows(m, k int, a *float32, lda int, x, y *float32)
//
// (dotRows512 for zmm) which sets y[i] = Σ_p a[i·lda+p]·x[p] for i < m. Each
// row is summed the same way whatever m is: four vector accumulators over
// chunks of four vectors, one over the remaining whole vectors, a scalar FMA
// chain over the last elements, then a fixed reduction.
func dotRows(g *gen, v vec) {
	name := "dotRows" + v.suffix
	l := "dr" + v.suffix + "_"
	vb := v.lanes * 4 // bytes per vector
	fmt.Fprintf(g, "// func %s(m, k int, a *float32, lda int, x, y *float32)\n", name)
	fmt.Fprintf(g, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
	g.i("MOVQ m+0(FP), R10")
	g.i("MOVQ a+16(FP), SI")
	g.i("MOVQ lda+24(FP), R8")
	g.i("SHLQ $2, R8")
	g.i("MOVQ y+40(FP), DI")
	g.label(l + "row")
	g.i("TESTQ R10, R10")
	g.i("JE %sdone", l)
	g.i("MOVQ k+8(FP), CX")
	g.i("MOVQ x+32(FP), DX")
	g.i("MOVQ SI, BX")
	for j := 0; j < 4; j++ {
		g.i("VXORPS %s, %s, %s", v.r(j), v.r(j), v.r(j))
	}
	g.i("VXORPS X4, X4, X4")
	g.label(l + "big")
	g.i("CMPQ CX, $%d", 4*v.lanes)
	g.i("JL %sone", l)
	for j := 0; j < 4; j++ {
		g.i("VMOVUPS %d(BX), %s", vb*j, v.r(8+j))
		g.i("VFMADD231PS %d(DX), %s, %s", vb*j, v.r(8+j), v.r(j))
	}
	g.i("ADDQ $%d, BX", 4*vb)
	g.i("ADDQ $%d, DX", 4*vb)
	g.i("SUBQ $%d, CX", 4*v.lanes)
	g.i("JMP %sbig", l)
	g.label(l + "one")
	g.i("CMPQ CX, $%d", v.lanes)
	g.i("JL %sscalar", l)
	g.i("VMOVUPS (BX), %s", v.r(8))
	g.i("VFMADD231PS (DX), %s, %s", v.r(8), v.r(0))
	g.i("ADDQ $%d, BX", vb)
	g.i("ADDQ $%d, DX", vb)
	g.i("SUBQ $%d, CX", v.lanes)
	g.i("JMP %sone", l)
	g.label(l + "scalar")
	g.i("TESTQ CX, CX")
	g.i("JE %sred", l)
	g.i("VMOVSS (BX), X8")
	g.i("VFMADD231SS (DX), X8, X4")
	g.i("ADDQ $4, BX")
	g.i("ADDQ $4, DX")
	g.i("DECQ CX")
	g.i("JMP %sscalar", l)
	g.label(l + "red")
	g.i("VADDPS %s, %s, %s", v.r(1), v.r(0), v.r(0))
	g.i("VADDPS %s, %s, %s", v.r(3), v.r(2), v.r(2))
	g.i("VADDPS %s, %s, %s", v.r(2), v.r(0), v.r(0))
	hsum(g, v)
	g.i("VADDSS X4, X0, X0")
	g.i("VMOVSS X0, (DI)")
	g.i("ADDQ $4, DI")
	g.i("ADDQ R8, SI")
	g.i("DECQ R10")
	g.i("JMP %srow", l)
	g.label(l + "done")
	g.i("VZEROUPPER")
	g.i("RET")
	g.WriteString("\n")
}

// axpyCols writes
//
//	func axpyCols(k, n int, a *float32, lda int, x, y *float32)
//
// (axpyCols512 for zmm) which sets y[j] = Σ_p x[p]·a[p·lda+j] for j < n.
// Every column is one FMA chain over p in order, whether it falls in a strip
// of four vectors, of one, or of one element.
func axpyCols(g *gen, v vec) {
	name := "axpyCols" + v.suffix
	l := "ac" + v.suffix + "_"
	vb := v.lanes * 4
	fmt.Fprintf(g, "// func %s(k, n int, a *float32, lda int, x, y *float32)\n", name)
	fmt.Fprintf(g, "TEXT ·%s(SB), NOSPLIT, $0-48\n", name)
	g.i("MOVQ n+8(FP), R10")
	g.i("MOVQ a+16(FP), SI")
	g.i("MOVQ lda+24(FP), R8")
	g.i("SHLQ $2, R8")
	g.i("MOVQ y+40(FP), DI")
	strip := func(vecs int, lbl, next string) {
		width := max(1, vecs*v.lanes)
		g.label(l + lbl)
		g.i("CMPQ R10, $%d", width)
		g.i("JL %s%s", l, next)
		g.i("MOVQ k+0(FP), CX")
		g.i("MOVQ x+32(FP), DX")
		g.i("MOVQ SI, BX")
		if vecs == 0 {
			g.i("VXORPS X0, X0, X0")
		}
		for j := 0; j < vecs; j++ {
			g.i("VXORPS %s, %s, %s", v.r(j), v.r(j), v.r(j))
		}
		g.label(l + lbl + "_p")
		g.i("TESTQ CX, CX")
		g.i("JE %s%s_st", l, lbl)
		if vecs == 0 {
			g.i("VMOVSS (DX), X8")
			g.i("VFMADD231SS (BX), X8, X0")
		} else {
			g.i("VBROADCASTSS (DX), %s", v.r(8))
			for j := 0; j < vecs; j++ {
				g.i("VFMADD231PS %d(BX), %s, %s", vb*j, v.r(8), v.r(j))
			}
		}
		g.i("ADDQ R8, BX")
		g.i("ADDQ $4, DX")
		g.i("DECQ CX")
		g.i("JMP %s%s_p", l, lbl)
		g.label(l + lbl + "_st")
		if vecs == 0 {
			g.i("VMOVSS X0, (DI)")
		}
		for j := 0; j < vecs; j++ {
			g.i("VMOVUPS %s, %d(DI)", v.r(j), vb*j)
		}
		g.i("ADDQ $%d, SI", width*4)
		g.i("ADDQ $%d, DI", width*4)
		g.i("SUBQ $%d, R10", width)
		g.i("JMP %s%s", l, lbl)
	}
	strip(4, "four", "one")
	strip(1, "one", "scalar")
	strip(0, "scalar", "done")
	g.label(l + "done")
	g.i("VZEROUPPER")
	g.i("RET")
	g.WriteString("\n")
}

func main() {
	out := flag.String("out", "sgemm_amd64.s", "output file")
	flag.Parse()
	var g gen
	g.WriteString("// Code generated by internal/asmgen; DO NOT EDIT.\n\n")
	g.WriteString("//go:build !purego\n\n")
	g.WriteString("#include \"textflag.h\"\n\n")
	kernels := []kernel{
		// 8×32 beat 12×32, 14×32, 8×48 and 6×64 on Zen 5 at the seed
		// model's shapes; 6×16 and 4×24 tie for AVX2.
		{name: "kern512x8x32", mr: 8, nv: 2, vw: 16, reg: "Z", zero: "VPXORD"},
		{name: "kern256x6x16", mr: 6, nv: 2, vw: 8, reg: "Y", zero: "VXORPS"},
		// Half-width kernels for a last column panel of at most nr/2
		// columns (n = 784 ends in 16, n = 100 in 4).
		{name: "kern512x8x16", mr: 8, nv: 1, vw: 16, reg: "Z", zero: "VPXORD"},
		{name: "kern256x6x8", mr: 6, nv: 1, vw: 8, reg: "Y", zero: "VXORPS"},
		// Direct AVX2 kernels: A read in place, for products whose A
		// (an Im2Col patch matrix, say) is large beside n, where packing
		// it costs more than the kernel saves by reading it packed.
		{name: "kern256x6x16d", mr: 6, nv: 2, vw: 8, reg: "Y", zero: "VXORPS", direct: true},
		{name: "kern256x6x8d", mr: 6, nv: 1, vw: 8, reg: "Y", zero: "VXORPS", direct: true},
		{name: "kern256x6x16t", mr: 6, nv: 2, vw: 8, reg: "Y", zero: "VXORPS", direct: true, trans: true},
		{name: "kern256x6x8t", mr: 6, nv: 1, vw: 8, reg: "Y", zero: "VXORPS", direct: true, trans: true},
	}
	for _, k := range kernels {
		if k.mr*k.nv+k.nv+1 > map[string]int{"Z": 32, "Y": 16}[k.reg] {
			log.Fatalf("%s needs too many registers", k.name)
		}
		k.emit(&g)
	}
	packTrans(&g)
	packCopy(&g)
	for _, v := range []vec{ymm, zmm} {
		dotRows(&g, v)
		axpyCols(&g, v)
	}
	if err := os.WriteFile(*out, g.Bytes(), 0o644); err != nil {
		log.Fatalf("asmgen: %v", err)
	}
}
