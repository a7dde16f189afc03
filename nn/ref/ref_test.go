package ref_test

import (
	"testing"

	"gan/nn"
	"gan/nn/backendtest"
	"gan/nn/ref"
)

// TestFiniteDifferences checks the reference backend's backward ops against
// finite differences of its forward ops.
func TestFiniteDifferences(t *testing.T) { backendtest.RunFiniteDifferences(t) }

// TestConformance runs the suite on the reference backend itself: the
// numeric cases compare it with a second instance (a check of the harness
// and of the reference's determinism), and the contract tests check its
// errors, views and allocations like any backend's.
func TestConformance(t *testing.T) {
	backendtest.RunAgainstReference(t, ref.New(),
		backendtest.ClearError(func(b nn.Backend) { ref.ClearError(b.(*ref.Backend)) }))
}
