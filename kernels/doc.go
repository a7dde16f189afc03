// Package kernels holds the CUDA sources of the gpu backend: one op family
// per .cu file, compiled by `make gpu` with nvcc into the fatbin that package
// gpu embeds, plus philox.cuh, the CUDA twin of nn's Philox generator.
//
// The Go side of the package is a test harness only: where cgo is available
// it builds philox.cuh for the host and checks it against nn/rand.go bit for
// bit, so a change to either side that breaks the twin fails `go test`
// without a GPU.
package kernels
