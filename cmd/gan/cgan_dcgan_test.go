package main

import (
	"encoding/json"
	"image"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn/eval"
)

// TestConditionalDCGANFromTheCommandLine: gan train --model cgan --arch
// dcgan trains from the command line (one epoch of 160 tiny images, an
// evaluation of 40 samples) with one class per row on its epoch grid;
// its checkpoint keeps the architecture, so that gan sample --label 3
// draws 3s from the noise of the unlabelled samples, --grid lays the
// samples out one class per row, gan eval reports the per-class accuracy,
// and a resumed run continues it; an unknown --arch and --label 10 are
// one-line errors.
func TestConditionalDCGANFromTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	data := tinyData(t, dir, 160, 200)
	run := filepath.Join(dir, "run")
	code, out, errOut := gan("train", "--model", "cgan", "--arch", "dcgan", "--data", data, "--batch", "16", "--epochs", "1",
		"--eval-every", "1", "--eval-n", "40", "--out", run, "--seed", "5")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "training cgan on cpu")
	assert.Contains(t, out, "requested label recognised in")
	ckpt := filepath.Join(run, "checkpoint.safetensors")
	grid := readGray(t, filepath.Join(run, "samples", "epoch_001.png"))
	assert.Equal(t, image.Rect(0, 0, 10*30+2, 10*30+2), grid.Bounds(), "10 classes × 10 noise vectors")

	all, three := filepath.Join(dir, "all"), filepath.Join(dir, "three")
	gridPath := filepath.Join(dir, "grid.png")
	code, _, errOut = gan("sample", "--checkpoint", ckpt, "--n", "20", "--out", all, "--grid", gridPath)
	require.Equal(t, 0, code, errOut)
	code, _, errOut = gan("sample", "--checkpoint", ckpt, "--n", "14", "--label", "3", "--out", three)
	require.Equal(t, 0, code, errOut)
	img := func(d, name string) []uint8 { return readGray(t, filepath.Join(d, "sample_"+name+".png")).Pix }
	assert.Equal(t, img(all, "00003"), img(three, "00003"), "image 3 is a 3 either way")
	assert.Equal(t, img(all, "00013"), img(three, "00013"), "image 13 is a 3 either way")
	assert.NotEqual(t, img(all, "00000"), img(three, "00000"), "image 0: a 0 unlabelled, a 3 with --label 3")
	g := readGray(t, gridPath)
	assert.Equal(t, image.Rect(0, 0, 2*30+2, 10*30+2), g.Bounds(), "one row per class, two columns")
	assert.Equal(t, img(all, "00003"), cell(g, 3, 0))
	assert.Equal(t, img(all, "00013"), cell(g, 3, 1))

	code, out, errOut = gan("eval", "--checkpoint", ckpt, "--data", data, "--n", "40", "--json", "-")
	require.Equal(t, 0, code, errOut)
	var res eval.Result
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.NotNil(t, res.Conditional)
	require.Len(t, res.Conditional.Classes, 10)
	for c, m := range res.Conditional.Classes {
		assert.Equal(t, c, m.Label)
		assert.Equal(t, 4, m.N, "40 samples, 4 per class")
		assert.True(t, m.Recognised >= 0 && m.Recognised <= 1)
	}

	code, out, errOut = gan("train", "--resume", ckpt, "--data", data, "--epochs", "2", "--out", filepath.Join(dir, "resumed"))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Epoch [2/2]")

	code, _, errOut = gan("train", "--model", "cgan", "--arch", "resnet", "--data", data, "--out", filepath.Join(dir, "bad"))
	requireOneLineError(t, code, errOut, 2, `arch "resnet"`, `"dcgan"`)
	code, _, errOut = gan("sample", "--checkpoint", ckpt, "--label", "10", "--out", filepath.Join(dir, "ten"))
	requireOneLineError(t, code, errOut, 2, "--label 10", "between 0 and 9")
}
