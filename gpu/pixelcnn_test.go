//go:build (gancuda || cudaemu) && cgo

package gpu

import (
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn/models/made"
	"gan/nn/models/pixelcnn"
)

// TestAutoregressiveCausality runs the masks' causality checks of PixelCNN
// (masked convolutions through Im2Col and the products) and MADE on this
// backend: a logit never changes when a pixel at or after it does.
func TestAutoregressiveCausality(t *testing.T) {
	b := testBackend(t)
	n, err := pixelcnn.CheckCausality(b)
	require.NoError(t, err)
	t.Logf("PixelCNN: %d flips checked", n)
	n, err = made.CheckCausality(b)
	require.NoError(t, err)
	t.Logf("MADE: %d flips changed a later logit", n)
}
