//go:build !purego

package sgemm

import "golang.org/x/sys/cpu"

// The assembly kernels in sgemm_amd64.s; see internal/asmgen for what each
// computes.

//go:noescape
func kern512x8x32(k int, a, b, c *float32, ldc int, beta float32, mode int)

//go:noescape
func kern256x6x16(k int, a, b, c *float32, ldc int, beta float32, mode int)

//go:noescape
func kern512x8x16(k int, a, b, c *float32, ldc int, beta float32, mode int)

//go:noescape
func kern256x6x8(k int, a, b, c *float32, ldc int, beta float32, mode int)

//go:noescape
func kern256x6x16d(k int, a *float32, lda int, b, c *float32, ldc int, beta float32, mode int)

//go:noescape
func kern256x6x8d(k int, a *float32, lda int, b, c *float32, ldc int, beta float32, mode int)

//go:noescape
func kern256x6x16t(k int, a *float32, lda int, b, c *float32, ldc int, beta float32, mode int)

//go:noescape
func kern256x6x8t(k int, a *float32, lda int, b, c *float32, ldc int, beta float32, mode int)

//go:noescape
func packTrans(dst, src *float32, ld, k8, rows, width int)

//go:noescape
func packCopy(dst, src *float32, ld, k, cols, width int)

//go:noescape
func dotRows(m, k int, a *float32, lda int, x, y *float32)

//go:noescape
func axpyCols(k, n int, a *float32, lda int, x, y *float32)

//go:noescape
func dotRows512(m, k int, a *float32, lda int, x, y *float32)

//go:noescape
func axpyCols512(k, n int, a *float32, lda int, x, y *float32)

var avx512Set = &kernelSet{
	name: "avx512", mr: 8, nr: 32, kcMax: 384, mcMax: 256, ncMax: 2048,
	micro: kern512x8x32, microHalf: kern512x8x16, trans: packTrans, copy: packCopy,
	dotRows: dotRows512, axpyCols: axpyCols512,
}

var avx2Set = &kernelSet{
	name: "avx2", mr: 6, nr: 16, kcMax: 256, mcMax: 252, ncMax: 2048,
	micro: kern256x6x16, microHalf: kern256x6x8, trans: packTrans, copy: packCopy,
	direct: kern256x6x16d, directHalf: kern256x6x8d, directT: kern256x6x16t, directTHalf: kern256x6x8t,
	dotRows: dotRows, axpyCols: axpyCols,
}

// bestKernels picks the fastest kernel set this CPU can run.
func bestKernels() *kernelSet {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return avx512Set
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return avx2Set
	}
	return genericSet
}

// kernelSets lists every kernel set this CPU can run, best first; the tests
// run each of them.
func kernelSets() []*kernelSet {
	var sets []*kernelSet
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		sets = append(sets, avx512Set)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		sets = append(sets, avx2Set)
	}
	return append(sets, genericSet)
}

// smallKernels says that small4x16Rows and small4x16Cols (small_amd64.s)
// exist: the 4×16 kernels of Small.
const smallKernels = true

//go:noescape
func small4x16Rows(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, beta float32, mode int)

//go:noescape
func small4x16Cols(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, beta float32, mode int)
