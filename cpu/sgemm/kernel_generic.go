//go:build !amd64 || purego

package sgemm

// bestKernels returns the portable Go kernels: this build has no assembly.
func bestKernels() *kernelSet { return genericSet }

// kernelSets lists the kernel sets this build can run.
func kernelSets() []*kernelSet { return []*kernelSet{genericSet} }

// smallKernels is false: Small declines every product here.
const smallKernels = false

func small4x16Rows(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, beta float32, mode int) {
	panic("sgemm: no small kernels")
}

func small4x16Cols(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, beta float32, mode int) {
	panic("sgemm: no small kernels")
}
