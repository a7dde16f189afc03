//go:build !amd64 || purego

package sgemm

// bestKernels returns the portable Go kernels: this build has no assembly.
func bestKernels() *kernelSet { return genericSet }

// kernelSets lists the kernel sets this build can run.
func kernelSets() []*kernelSet { return []*kernelSet{genericSet} }
