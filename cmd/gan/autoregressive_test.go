package main

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMADETrainEvalSampleComplete: a tiny MADE trains, gan eval reports
// its exact test NLL over the 10,000 binarised test images, gan sample
// reports images/s, and --complete keeps the top rows of a digit.
func TestMADETrainEvalSampleComplete(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	code, out, errs := gan("train", "--model", "made", "--hidden", "16", "--orders", "2", "--steps", "20", "--out", run, "--watch=false")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "done: 20 steps")
	ck := filepath.Join(run, "checkpoint.safetensors")

	code, out, errs = gan("eval", "--checkpoint", ck)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "over 10000 binarised test images")
	assert.Contains(t, out, "bits/dim")

	code, out, errs = gan("sample", "--checkpoint", ck, "--n", "3", "--out", filepath.Join(dir, "s"))
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "images/s")

	digit := filepath.Join(dir, "digit.png")
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for y := range 28 {
		for x := range 28 {
			if (x+y)%3 == 0 {
				img.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	f, err := os.Create(digit)
	require.NoError(t, err)
	require.NoError(t, png.Encode(f, img))
	require.NoError(t, f.Close())
	cdir := filepath.Join(dir, "c")
	code, out, errs = gan("sample", "--checkpoint", ck, "--complete", digit, "--rows", "14", "--n", "2", "--out", cdir)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "wrote 2 completions of the top 14 rows")
	for _, name := range []string{"complete_00000.png", "complete_00001.png", "completions.png"} {
		assert.FileExists(t, filepath.Join(cdir, name))
	}
	got, err := readPNG(filepath.Join(cdir, "complete_00001.png"))
	require.NoError(t, err)
	for y := range 14 {
		for x := range 28 {
			want := float32(-1)
			if (x+y)%3 == 0 {
				want = 1
			}
			require.Equal(t, want, got[y*28+x], "kept pixel (%d, %d)", x, y)
		}
	}

	code, _, errs = gan("sample", "--checkpoint", ck, "--complete", filepath.Join(dir, "missing.png"), "--out", cdir)
	requireOneLineError(t, code, errs, 1, "--complete")
	code, _, errs = gan("sample", "--checkpoint", ck, "--complete", digit, "--rows", "29", "--out", cdir)
	requireOneLineError(t, code, errs, 2, "--rows 29")
}

// TestAutoregressiveFlagErrors: the autoregressive flags are one-line
// usage errors with another family or out of range.
func TestAutoregressiveFlagErrors(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := gan("train", "--model", "dcgan", "--orders", "2", "--out", dir)
	requireOneLineError(t, code, errs, 2, "--orders")
	code, _, errs = gan("train", "--model", "made", "--blocks", "3", "--out", dir)
	requireOneLineError(t, code, errs, 2, "--blocks")
	code, _, errs = gan("train", "--model", "pixelcnn", "--blocks", "0", "--out", dir)
	requireOneLineError(t, code, errs, 2, "--blocks 0")
	code, _, errs = gan("nll-curve", "--model", "dcgan", "--out", dir)
	requireOneLineError(t, code, errs, 2, "nll-curve trains the autoregressive families")
	code, _, errs = gan("nll-curve", "--model", "made", "--minutes", "0", "--out", dir)
	requireOneLineError(t, code, errs, 2, "--minutes")
}
