package gpu

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/kernels"
)

func TestDriverErrorClassification(t *testing.T) {
	oom := fmt.Errorf("cuda: Alloc: %w", &DriverError{Call: "cuMemAlloc", Code: cuErrorOutOfMemory, Name: "CUDA_ERROR_OUT_OF_MEMORY", Msg: "out of memory"})
	assert.ErrorIs(t, oom, ErrOutOfMemory)
	assert.NotErrorIs(t, oom, ErrNoDevice)
	assert.Contains(t, oom.Error(), "cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (out of memory)")

	noDev := &DriverError{Call: "cuDeviceGet", Code: cuErrorNoDevice, Name: "CUDA_ERROR_NO_DEVICE", Msg: "no CUDA-capable device is detected"}
	assert.ErrorIs(t, noDev, ErrNoDevice)
	assert.NotErrorIs(t, noDev, ErrOutOfMemory)

	// Any failure of cuInit means there is no usable device.
	assert.ErrorIs(t, &DriverError{Call: "cuInit", Code: 999, Name: "CUDA_ERROR_UNKNOWN"}, ErrNoDevice)

	// A fault in a kernel is neither.
	fault := &DriverError{Call: "cuStreamSynchronize", Code: 700, Name: "CUDA_ERROR_ILLEGAL_ADDRESS"}
	assert.False(t, errors.Is(fault, ErrNoDevice) || errors.Is(fault, ErrOutOfMemory))
}

// TestEmulatorRegistersEveryKernel keeps gpu/emu.cpp's registry in step
// with the kernels: every kernel defined in ../kernels/*.cu must be
// registered, under its own name, and nothing else.
func TestEmulatorRegistersEveryKernel(t *testing.T) {
	defined := map[string]bool{}
	re := regexp.MustCompile(`(?m)^(?:GAN_SGEMM|GAN_SGEMM_NAIVE)\((\w+),|extern "C" __global__ void(?: __launch_bounds__\(\d+\))?\s+(\w+)\(`)
	files, err := fs.Glob(kernels.Sources, "*.cu")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		src, err := fs.ReadFile(kernels.Sources, f)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			name := m[1] + m[2]
			// Skip the macro definitions: their parameter "name", and
			// __launch_bounds__ with an expression the pattern leaves out.
			if name != "name" && !strings.HasPrefix(name, "__") {
				defined[name] = true
			}
		}
	}
	require.Greater(t, len(defined), 20, "kernels found in ../kernels")

	emu, err := os.ReadFile("emu.cpp")
	require.NoError(t, err)
	registered := map[string]bool{}
	for _, m := range regexp.MustCompile(`make\("(\w+)", (\w+), (?:true|false)\)`).FindAllStringSubmatch(string(emu), -1) {
		assert.Equal(t, m[1], m[2], "registered under another name")
		registered[m[1]] = true
	}
	assert.Equal(t, defined, registered)
}
