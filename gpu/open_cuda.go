//go:build gancuda && cgo

package gpu

import (
	"fmt"

	"gan/nn"
)

// Open returns the CUDA backend on device ordinal 0: it initialises the
// driver, retains the device's primary context, creates a stream and loads
// the embedded kernels. With no driver or no device the error matches
// [ErrNoDevice]; it never exits the process.
func Open() (nn.Backend, error) {
	b, err := OpenBackend()
	if err != nil {
		return nil, err
	}
	return b, nil
}

// OpenBackend is [Open] returning the concrete type, for callers that want
// [Backend.Device].
func OpenBackend() (*Backend, error) {
	d, err := openDriver()
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	return newBackend(d)
}

// Available reports whether this binary has CUDA support and a CUDA device
// is present. It loads and initialises the driver the first time; it never
// exits the process.
func Available() bool { return probe() == nil }
