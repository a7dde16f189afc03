//go:build !cuda

package gpu

import (
	"errors"

	"gan/nn"
)

// ErrNotBuilt is returned by Open in a binary built without the cuda tag.
var ErrNotBuilt = errors.New("this gan binary was built without CUDA: build it with `make gpu` (needs nvcc: `make cuda-toolchain`)")

// Open returns the CUDA backend; this build has none.
func Open() (nn.Backend, error) { return nil, ErrNotBuilt }

// Available reports whether this binary has CUDA support and a device is
// present; this build has no CUDA support.
func Available() bool { return false }
