package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDCGANOnColourPictures trains the DCGAN family on a folder of RGB
// pictures at 3×16×16 (pytorch/examples' own setting, small) and checks
// that the per-epoch grid and gan sample's grid come out in colour.
func TestDCGANOnColourPictures(t *testing.T) {
	dir := t.TempDir()
	pics := filepath.Join(dir, "pics")
	writePictures(t, pics, 12)
	run := filepath.Join(dir, "run")
	code, out, errOut := gan("train", "--model", "dcgan", "--images", pics, "--channels", "3", "--size", "16",
		"--batch", "4", "--steps", "3", "--out", run)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "training dcgan on cpu")

	isRGB := func(path string) {
		t.Helper()
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		img, err := png.Decode(f)
		require.NoError(t, err)
		_, gray := img.(*image.Gray)
		assert.False(t, gray, "%s: a 3-channel model's grid is in colour, got %T", path, img)
	}
	isRGB(filepath.Join(run, "samples", "epoch_001.png"))
	grid := filepath.Join(dir, "grid.png")
	code, _, errOut = gan("sample", "--checkpoint", filepath.Join(run, "checkpoint.safetensors"), "--n", "8", "--out", filepath.Join(dir, "s"), "--grid", grid)
	require.Equal(t, 0, code, errOut)
	isRGB(grid)
}
