// Package gpu is the CUDA implementation of [nn.Backend]: hand-written
// float32 kernels (the .cu files of ../kernels, compiled by `make gpu` into
// one fatbin embedded in the binary), launched in order on one stream with
// no synchronisation between ops.
//
// The CUDA code is behind the build tag gancuda and needs cgo; `make gpu`
// builds with both. (The tag is not plain cuda because Gorgonia, a
// dependency, uses that one to switch on its cuDNN bindings.) Otherwise [Open] returns [ErrNotBuilt] and [Available]
// is false, and the package needs neither cgo nor the CUDA toolkit.
//
// The package talks to the CUDA driver API directly, loading libcuda.so.1
// with dlopen when a backend is first asked for, rather than through
// gorgonia.org/cu: that package links libcuda at build time and, in its
// init, exits the process when cuInit fails (no GPU or no driver), which
// would make a CUDA build of gan unusable on a machine without a GPU, even
// with --device cpu or auto. Here a missing driver or device is an ordinary
// error wrapping [ErrNoDevice], and [Available] just reports false.
//
// Like every backend, the CUDA backend records the first error with the
// op's name ("cuda: MatMul: …") and reports it from Sync; kernel faults,
// which the device reports asynchronously, surface at the next Sync or
// Download. Setting GAN_CUDA_SYNC=1 in the environment makes every op wait
// for the device, so that a fault is reported with the name of the op that
// caused it.
//
// The build tag cudaemu (tests of this package only) runs the same backend
// code and the same kernel sources on the CPU, through a small emulator of
// the CUDA execution model (gpu/emu.cpp), so that the kernels and their
// launches can be tested against the CPU backend on a machine without a
// GPU. It does not change [Open]: to every other package a cudaemu build is
// a build without CUDA.
package gpu

import (
	"errors"
	"fmt"
)

// ErrNotBuilt is returned by [Open] in a binary built without CUDA support.
var ErrNotBuilt = errors.New("this gan binary was built without CUDA: build it with `make gpu` (needs nvcc: `make cuda-toolchain`)")

// ErrNoDevice is matched (with errors.Is) by the errors of [Open] that mean
// there is no usable CUDA device: no NVIDIA driver, no GPU, or a driver too
// old for the kernels.
var ErrNoDevice = errors.New("no usable CUDA device")

// ErrOutOfMemory is matched (with errors.Is) by every error caused by the
// device running out of memory.
var ErrOutOfMemory = errors.New("out of device memory")

// CUresult values that DriverError classifies (cuda.h).
const (
	cuErrorOutOfMemory        = 2
	cuErrorNotInitialized     = 3
	cuErrorStubLibrary        = 34
	cuErrorInsufficientDriver = 35
	cuErrorDevicesUnavailable = 46
	cuErrorNoDevice           = 100
	cuErrorInvalidDevice      = 101
	cuErrorNoBinaryForGPU     = 209
	cuErrorUnsupportedPTX     = 222
	cuErrorSystemDriverMisma  = 803
	cuErrorCompatNotSupported = 804
)

// DriverError is a failed CUDA driver call.
type DriverError struct {
	Call string // the driver function, e.g. "cuMemAlloc"
	Code int    // its CUresult
	Name string // the CUresult's name, e.g. "CUDA_ERROR_OUT_OF_MEMORY"
	Msg  string // the driver's description of it
}

// Error describes the call and the driver's result.
func (e *DriverError) Error() string {
	return fmt.Sprintf("%s: %s (%s)", e.Call, e.Name, e.Msg)
}

// Is makes errors.Is(err, ErrOutOfMemory) and errors.Is(err, ErrNoDevice)
// true for the driver results that mean these.
func (e *DriverError) Is(target error) bool {
	switch target {
	case ErrOutOfMemory:
		return e.Code == cuErrorOutOfMemory
	case ErrNoDevice:
		switch e.Code {
		case cuErrorNotInitialized, cuErrorStubLibrary, cuErrorInsufficientDriver, cuErrorDevicesUnavailable,
			cuErrorNoDevice, cuErrorInvalidDevice, cuErrorNoBinaryForGPU, cuErrorUnsupportedPTX, cuErrorSystemDriverMisma,
			cuErrorCompatNotSupported:
			return true
		}
		return e.Call == "cuInit"
	}
	return false
}
