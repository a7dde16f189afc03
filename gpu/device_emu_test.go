//go:build cudaemu && !gancuda && cgo

package gpu

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// emulated is true: the kernels run in the CPU emulator of emu.cpp, so the
// tests use smaller sizes where the full ones would take minutes.
const emulated = true

// testBackend returns an emulated backend with the SM count of an H100, so
// the SGEMM tiles are chosen as on one.
func testBackend(t testing.TB) *Backend {
	t.Helper()
	b, err := openEmulator(132)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}
