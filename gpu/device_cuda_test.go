//go:build gancuda && cgo

package gpu

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// emulated is false: the tests run on the GPU, at full sizes.
const emulated = false

// noDevice is why there is no GPU to test on, or nil.
var noDevice error

// TestMain checks for a device before any test runs: without one, every
// test that needs it is skipped with the reason, instead of failing.
func TestMain(m *testing.M) {
	if err := probe(); err != nil {
		noDevice = err
		fmt.Fprintf(os.Stderr, "gpu: no CUDA device here, the GPU tests will be skipped: %v\n", err)
	}
	os.Exit(m.Run())
}

// testBackend opens a backend on the GPU for t, closed when t ends, or
// skips t when there is no device.
func testBackend(t testing.TB) *Backend {
	t.Helper()
	if noDevice != nil {
		t.Skipf("no CUDA device: %v", noDevice)
	}
	b, err := OpenBackend()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	t.Logf("device: %s", b.Device())
	return b
}
