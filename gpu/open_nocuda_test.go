//go:build !gancuda || !cgo

package gpu

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStubOpenSaysBuiltWithoutCUDA(t *testing.T) {
	b, err := Open()
	require.Error(t, err)
	assert.Nil(t, b)
	assert.ErrorIs(t, err, ErrNotBuilt)
	assert.Contains(t, err.Error(), "built without CUDA")
	assert.Contains(t, err.Error(), "make gpu")
}

func TestStubNotAvailable(t *testing.T) {
	assert.False(t, Available())
}
