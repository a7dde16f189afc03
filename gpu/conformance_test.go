//go:build (gancuda || cudaemu) && cgo

package gpu

import (
	"testing"

	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/backendtest"
)

// TestConformance runs the backend conformance suite (nn/backendtest) on
// the CUDA backend, in the emulator or on a GPU, with the CPU backend as
// the expected side: every op's cases compared with the parity tolerances,
// then the contract tests (errors, views, Free, allocations, coverage).
func TestConformance(t *testing.T) {
	g := testBackend(t)
	c := cpu.New()
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	backendtest.RunAgainst(t, g, c, backendtest.ClearError(func(b nn.Backend) { b.(*Backend).err = nil }))
}
