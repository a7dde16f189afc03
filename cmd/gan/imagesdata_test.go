package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/model"
)

// writePictures writes n pictures into dir: gray and RGB, PNG and JPEG,
// square and not, some in a subfolder; then a truncated PNG, a corrupt
// JPEG and a text file.
func writePictures(t *testing.T, dir string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		w, h := 28+3*(i%4), 28+5*(i%3)
		var img image.Image
		if i%2 == 0 {
			g := image.NewGray(image.Rect(0, 0, w, h))
			for k := range g.Pix {
				g.Pix[k] = uint8((k*7 + i*31) % 256)
			}
			img = g
		} else {
			c := image.NewRGBA(image.Rect(0, 0, w, h))
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					c.SetRGBA(x, y, color.RGBA{uint8(x * 9), uint8(y * 9), uint8(i * 20), 255})
				}
			}
			img = c
		}
		var buf bytes.Buffer
		name := fmt.Sprintf("p%02d.png", i)
		if i%3 == 0 {
			name = fmt.Sprintf("sub/p%02d.jpg", i)
			require.NoError(t, jpeg.Encode(&buf, img, nil))
		} else {
			require.NoError(t, png.Encode(&buf, img))
		}
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
		if i == 0 {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "truncated.png"), buf.Bytes()[:buf.Len()/3], 0o644))
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "corrupt.jpg"), []byte("\xff\xd8 not really a JPEG"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.txt"), []byte("my pictures"), 0o644))
}

// gan train --images trains the seed model (which makes 1×28×28 images)
// on a folder of pictures: the unreadable ones are skipped with a notice,
// the classifier-based checks are left out with a notice, and the run
// writes its sample grid and a checkpoint that remembers the pictures.
func TestTrainOnImages(t *testing.T) {
	dir := t.TempDir()
	pics := filepath.Join(dir, "pics")
	writePictures(t, pics, 20)
	run := filepath.Join(dir, "run")
	code, out, errOut := gan("train", "--images", pics, "--batch", "8", "--steps", "3", "--eval-every", "1", "--out", run)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "training seed-mlp-gan on cpu: 20 images ("+pics+")")
	assert.Contains(t, errOut, "--images: skipped 2 of 22 picture files in "+pics+" that could not be used: corrupt.jpg (")
	assert.Contains(t, errOut, "truncated.png (")
	assert.Contains(t, errOut, "--eval-every: left out")
	assert.Contains(t, errOut, "--watch: the class-coverage check is left out")

	// 20 pictures in batches of 8: step 3 ends epoch 1.
	f, err := os.Open(filepath.Join(run, "samples", "epoch_001.png"))
	require.NoError(t, err)
	grid, err := png.Decode(f)
	f.Close()
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 8*30+2, 8*30+2), grid.Bounds())
	_, gray := grid.(*image.Gray)
	assert.True(t, gray, "a 1-channel model's grid is a gray PNG, got %T", grid)

	ck := filepath.Join(run, "checkpoint.safetensors")
	ts, err := nn.ReadTensorsFile(ck)
	require.NoError(t, err)
	c, err := model.ConfigOf(ts)
	require.NoError(t, err)
	assert.Equal(t, imagesDataset, c.Dataset)

	// Resuming needs the pictures again; an MNIST run cannot switch to them.
	code, _, errOut = gan("train", "--resume", ck, "--out", run)
	requireOneLineError(t, code, errOut, 2, "--resume", "--images DIR")
	// The classifier-based evaluation does not apply to the pictures.
	code, _, errOut = gan("eval", "--checkpoint", ck, "--n", "10")
	requireOneLineError(t, code, errOut, 2, "--images pictures", "MNIST-style")

	mnistDir := filepath.Join(dir, "mnist")
	require.NoError(t, os.MkdirAll(mnistDir, 0o755))
	writeTinyMNIST(t, mnistDir, 16)
	mrun := filepath.Join(dir, "mrun")
	code, _, errOut = gan("train", "--data", mnistDir, "--batch", "16", "--steps", "1", "--watch=false", "--out", mrun)
	require.Equal(t, 0, code, errOut)
	code, _, errOut = gan("train", "--resume", filepath.Join(mrun, "checkpoint.safetensors"), "--images", pics, "--out", mrun)
	requireOneLineError(t, code, errOut, 2, "--images", "trained on mnist")
}

// Bad uses of --images, --channels and --size are one-line errors.
func TestImagesFlagErrors(t *testing.T) {
	dir := t.TempDir()
	pics := filepath.Join(dir, "pics")
	writePictures(t, pics, 2)
	bad := filepath.Join(dir, "bad")
	require.NoError(t, os.MkdirAll(bad, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "a.png"), []byte("\x89PNG\r\n\x1a\n????"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(bad, "b.jpeg"), nil, 0o644))
	out := filepath.Join(dir, "run")
	for _, c := range []struct {
		args      []string
		code      int
		fragments []string
	}{
		{[]string{"--images", pics, "--data", dir}, 2, []string{"--images and --data"}},
		{[]string{"--images", pics, "--dataset", "fashion"}, 2, []string{"--images and --dataset"}},
		{[]string{"--images", bad}, 1, []string{"--images", bad, "none of its 2 picture files", "a.png"}},
		{[]string{"--images", filepath.Join(dir, "missing")}, 1, []string{"--images", filepath.Join(dir, "missing")}},
		{[]string{"--images", pics, "--size", "64"}, 2, []string{"--size 64", "seed-mlp-gan", "1×28×28"}},
		{[]string{"--images", pics, "--channels", "3"}, 2, []string{"--channels 3", "seed-mlp-gan", "1×28×28"}},
		{[]string{"--channels", "2"}, 2, []string{"--channels 2", "1 (gray) or 3 (RGB)"}},
		{[]string{"--size", "0"}, 2, []string{"--size 0", "between 1 and"}},
	} {
		args := append([]string{"train", "--steps", "1", "--out", out}, c.args...)
		code, stdout, errOut := gan(args...)
		requireOneLineError(t, code, errOut, c.code, c.fragments...)
		assert.False(t, strings.Contains(stdout, "training "), stdout)
	}
	// gan import takes the same flags and checks them the same way.
	sd, _ := writeStateDict(t, dir, "sd.safetensors", 1, nil)
	code, _, errOut := gan("import", "--size", "64", sd, "-o", filepath.Join(dir, "ck.safetensors"))
	requireOneLineError(t, code, errOut, 2, "--size 64", "1×28×28")
	// The seed model's own shape, given explicitly, is accepted.
	code, _, errOut = gan("train", "--images", pics, "--size", "28", "--channels", "1", "--steps", "1", "--batch", "2", "--watch=false", "--out", out)
	require.Equal(t, 0, code, errOut)
}
