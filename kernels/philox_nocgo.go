//go:build !cgo

package kernels

// Without cgo there is no host build of philox.cuh; the tests say so and skip.

const hostAvailable = false

func hostBlock(seed, stream, b uint64) [4]uint32 { panic("kernels: built without cgo") }

func hostUniform(w uint32) float32 { panic("kernels: built without cgo") }

func hostNormalPair(w0, w1 uint32) (cos, sin float32) { panic("kernels: built without cgo") }
