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

func readGray(t *testing.T, path string) *image.Gray {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	g, ok := img.(*image.Gray)
	require.True(t, ok, "%s is not 8-bit gray", path)
	return g
}

// cell returns the 28×28 image at grid position (row, col) of a grid with
// 2-pixel padding, as imageio.Grid lays it out.
func cell(g *image.Gray, row, col int) []uint8 {
	out := make([]uint8, 0, 28*28)
	x0, y0 := 2+col*30, 2+row*30
	for y := 0; y < 28; y++ {
		out = append(out, g.Pix[(y0+y)*g.Stride+x0:(y0+y)*g.Stride+x0+28]...)
	}
	return out
}

// The strip starts and ends on the images gan sample draws for the seeds,
// one leg per row.
func TestSampleInterpolate(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	code, _, errOut := gan("train", "--steps", "3", "--batch", "16", "--epochs", "1", "--out", run)
	require.Equal(t, 0, code, errOut)
	ckpt := filepath.Join(run, "checkpoint.safetensors")

	strip := filepath.Join(dir, "strip.png")
	code, out, errOut := gan("sample", "--checkpoint", ckpt, "--interpolate", "--seeds", "3,4,9", "--frames", "4", "--grid", strip)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "2 legs through seeds [3 4 9]")
	g := readGray(t, strip)
	assert.Equal(t, image.Rect(0, 0, 5*30+2, 2*30+2), g.Bounds())

	first := func(seed string) []uint8 {
		d := filepath.Join(dir, "s"+seed)
		code, _, errOut := gan("sample", "--checkpoint", ckpt, "--seed", seed, "--n", "1", "--out", d)
		require.Equal(t, 0, code, errOut)
		return readGray(t, filepath.Join(d, "sample_00000.png")).Pix
	}
	s3, s4, s9 := first("3"), first("4"), first("9")
	assert.Equal(t, s3, cell(g, 0, 0))
	assert.Equal(t, s4, cell(g, 1, 0))
	// The leg ends are slerp at t = 1, equal to the next seed's noise up to
	// rounding: allow one gray level.
	for i, v := range cell(g, 0, 4) {
		require.InDelta(t, float64(s4[i]), float64(v), 1, "pixel %d", i)
	}
	for i, v := range cell(g, 1, 4) {
		require.InDelta(t, float64(s9[i]), float64(v), 1, "pixel %d", i)
	}
	// The middle of a leg is neither end.
	assert.NotEqual(t, s3, cell(g, 0, 2))

	// Default: seeds SEED…SEED+4 into OUT/interpolation.png.
	outDir := filepath.Join(dir, "o")
	code, _, errOut = gan("sample", "--checkpoint", ckpt, "--interpolate", "--out", outDir)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, image.Rect(0, 0, 9*30+2, 4*30+2), readGray(t, filepath.Join(outDir, "interpolation.png")).Bounds())

	for _, c := range []struct {
		args     []string
		fragment string
	}{
		{[]string{"--interpolate", "--seeds", "5"}, "between 2 and 50 seeds"},
		{[]string{"--interpolate", "--seeds", "1,x"}, `"x" is not a seed`},
		{[]string{"--interpolate", "--frames", "0"}, "--frames 0"},
		{[]string{"--seeds", "1,2"}, "--seeds needs --interpolate"},
	} {
		code, _, stderr := gan(append([]string{"sample", "--checkpoint", ckpt}, c.args...)...)
		requireOneLineError(t, code, stderr, 2, c.fragment)
	}
}
