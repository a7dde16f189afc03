//go:build !gancuda

package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// In a binary built without CUDA, --device cuda says how to get it.
func TestDeviceCudaWithoutCuda(t *testing.T) {
	code, _, stderr := gan("train", "--device", "cuda", "--steps", "1", "--out", filepath.Join(t.TempDir(), "r"))
	requireOneLineError(t, code, stderr, 1, "--device cuda", "built without CUDA", "make gpu")
}

// --device auto falls back to the CPU and says why on stderr.
func TestDeviceAutoFallsBack(t *testing.T) {
	code, out, stderr := gan("train", "--device", "auto", "--steps", "1", "--batch", "8", "--out", filepath.Join(t.TempDir(), "r"))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "on cpu")
	assert.Contains(t, stderr, "--device auto: using the CPU: this gan binary was built without CUDA")
}
