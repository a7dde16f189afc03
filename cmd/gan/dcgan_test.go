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

// TestPaddedDCGAN: dcgan --size 32 trains on MNIST-style digits padded to
// 32×32 (its per-epoch grid and gan sample's PNGs are 32×32), and the
// evaluation, per epoch and in gan eval and gan report, reads the central
// 28×28 of its samples; a size that is neither 28 nor 32 is still refused
// for digits.
func TestPaddedDCGAN(t *testing.T) {
	dir := t.TempDir()
	data := tinyData(t, dir, 160, 200)
	run := filepath.Join(dir, "run")
	code, out, errOut := gan("train", "--model", "dcgan", "--size", "32", "--data", data, "--batch", "16", "--epochs", "1",
		"--eval-every", "1", "--eval-n", "40", "--eval-nn-ref", "50", "--watch", "--out", run)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "padded to 32×32")
	assert.Contains(t, out, "eval after epoch 1 (40 samples): FID")
	grid := readGray(t, filepath.Join(run, "samples", "epoch_001.png"))
	assert.Equal(t, image.Rect(0, 0, 8*34+2, 8*34+2), grid.Bounds(), "8×8 images of 32×32")

	ckpt := filepath.Join(run, "checkpoint.safetensors")
	code, out, errOut = gan("eval", "--checkpoint", ckpt, "--data", data, "--n", "40", "--nn-ref", "50")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "FID, classifier features")
	code, _, errOut = gan("report", "--data", data, "--n", "40", "--nn-ref", "50", "--out", filepath.Join(dir, "report.html"), run)
	require.Equal(t, 0, code, errOut)
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	require.NoError(t, err)
	assert.NotContains(t, string(page), "No evaluation")
	code, _, errOut = gan("sample", "--checkpoint", ckpt, "--n", "2", "--out", filepath.Join(dir, "s"))
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, image.Rect(0, 0, 32, 32), readGray(t, filepath.Join(dir, "s", "sample_00000.png")).Bounds())

	code, _, errOut = gan("train", "--model", "dcgan", "--size", "16", "--data", data, "--steps", "1", "--out", filepath.Join(dir, "r16"))
	requireOneLineError(t, code, errOut, 1, "1×28×28 images, the dcgan model makes 1×16×16")
}
