//go:build !gancuda || !cgo

package gpu

import "gan/nn"

// Open returns the CUDA backend on device ordinal 0. This binary was built
// without the gancuda tag (or without cgo, which the CUDA code needs), so it
// always returns [ErrNotBuilt].
func Open() (nn.Backend, error) { return nil, ErrNotBuilt }

// Available reports whether this binary has CUDA support and a CUDA device
// is present. This binary was built without CUDA: it is always false.
func Available() bool { return false }
