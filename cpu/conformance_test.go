package cpu

import (
	"testing"

	"gan/nn"
	"gan/nn/backendtest"
)

// clearError is the suite's way to look behind a recorded error.
func clearError(b nn.Backend) { b.(*Backend).err = nil }

// TestConformance runs the backend conformance suite against the float64
// reference, on two workers so that large ops take the parallel paths.
func TestConformance(t *testing.T) {
	backendtest.RunAgainstReference(t, newTestBackend(t, 2), backendtest.ClearError(clearError))
}
