package main

import (
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn/eval"
)

// cganRun trains the conditional GAN for one epoch on 160 tiny images with
// an evaluation of 40 samples, and returns the data and run directories.
func cganRun(t *testing.T) (data, run string) {
	t.Helper()
	dir := t.TempDir()
	data = tinyData(t, dir, 160, 200)
	run = filepath.Join(dir, "run")
	code, out, errOut := gan("train", "--model", "cgan", "--data", data, "--batch", "16", "--epochs", "1",
		"--eval-every", "1", "--eval-n", "40", "--out", run, "--seed", "5")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "requested label recognised in")
	return data, run
}

// TestConditionalTrainSampleEval: the conditional GAN trains from the
// command line; its per-epoch grid has one class per row; metrics.csv
// holds the per-class columns of --eval-every; gan sample --label draws
// the class asked for with the noise of the unlabelled samples, --grid
// puts one class per row, --interpolate --label walks at the class; gan
// eval and gan report show the per-class figures.
func TestConditionalTrainSampleEval(t *testing.T) {
	data, run := cganRun(t)
	ckpt := filepath.Join(run, "checkpoint.safetensors")
	grid := readGray(t, filepath.Join(run, "samples", "epoch_001.png"))
	assert.Equal(t, image.Rect(0, 0, 10*30+2, 10*30+2), grid.Bounds(), "10 classes × 10 noise vectors")

	table, err := readMetrics(filepath.Join(run, "metrics.csv"))
	require.NoError(t, err)
	assert.Equal(t, 10, table.classes)
	assert.Equal(t, condColumns(10), table.head[len(table.head)-23:])
	last := table.rows[len(table.rows)-1]
	require.Len(t, last.ev.cond, 23)
	assert.True(t, last.ev.cond[0] >= 0 && last.ev.cond[0] <= 1, "label_acc %v", last.ev.cond[0])
	assert.True(t, table.rows[0].ev.cond[0] != table.rows[0].ev.cond[0], "no evaluation on the first row")

	dir := t.TempDir()
	all, three := filepath.Join(dir, "all"), filepath.Join(dir, "three")
	gridPath := filepath.Join(dir, "grid.png")
	code, _, errOut := gan("sample", "--checkpoint", ckpt, "--n", "20", "--out", all, "--grid", gridPath)
	require.Equal(t, 0, code, errOut)
	code, _, errOut = gan("sample", "--checkpoint", ckpt, "--n", "14", "--label", "3", "--out", three)
	require.Equal(t, 0, code, errOut)
	img := func(d string, i int) []uint8 {
		return readGray(t, filepath.Join(d, "sample_000"+[]string{"00", "03", "13"}[i]+".png")).Pix
	}
	// Image i of the unlabelled samples has class i mod 10: images 3 and 13
	// are 3s, and --label 3 draws the same ones from the same noise.
	assert.Equal(t, img(all, 1), img(three, 1))
	assert.Equal(t, img(all, 2), img(three, 2))
	assert.NotEqual(t, img(all, 0), img(three, 0), "image 0: a 0 unlabelled, a 3 with --label 3")
	g := readGray(t, gridPath)
	assert.Equal(t, image.Rect(0, 0, 2*30+2, 10*30+2), g.Bounds(), "one row per class, two columns")
	assert.Equal(t, img(all, 1), cell(g, 3, 0))
	assert.Equal(t, img(all, 2), cell(g, 3, 1))

	strip := filepath.Join(dir, "strip.png")
	code, _, errOut = gan("sample", "--checkpoint", ckpt, "--interpolate", "--label", "3", "--seeds", "3,4", "--frames", "2", "--grid", strip)
	require.Equal(t, 0, code, errOut)
	s3 := filepath.Join(dir, "s3")
	code, _, errOut = gan("sample", "--checkpoint", ckpt, "--seed", "3", "--label", "3", "--n", "1", "--out", s3)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, readGray(t, filepath.Join(s3, "sample_00000.png")).Pix, cell(readGray(t, strip), 0, 0))

	code, out, errOut := gan("eval", "--checkpoint", ckpt, "--data", data, "--n", "40", "--json", "-")
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
	code, out, errOut = gan("eval", "--checkpoint", ckpt, "--data", data, "--n", "40")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "conditional: the classifier recognises the requested label in")
	assert.Regexp(t, `(?m)^  9\s+4\s+\d+\.\d\d%`, out, "a row per class")

	code, _, errOut = gan("report", run, "--n", "40", "--data", data)
	require.Equal(t, 0, code, errOut)
	html, err := os.ReadFile(filepath.Join(run, "report.html"))
	require.NoError(t, err)
	for _, s := range []string{"requested label recognised (all samples)", "label 9: FID (classifier features)", "requested label recognised by the classifier"} {
		assert.Contains(t, string(html), s)
	}
}

// TestConditionalBadInput: a label outside 0–9, --label for an
// unconditional model, and a checkpoint of another model are one-line
// errors with a non-zero exit.
func TestConditionalBadInput(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.Mkdir(data, 0o755))
	writeTinySplit(t, data, true, 32)
	cg, seed := filepath.Join(dir, "cgan"), filepath.Join(dir, "seed")
	code, _, errOut := gan("train", "--model", "cgan", "--data", data, "--batch", "16", "--steps", "2", "--out", cg, "--watch=false")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = gan("train", "--data", data, "--batch", "16", "--steps", "2", "--out", seed, "--watch=false")
	require.Equal(t, 0, code, errOut)
	cgCkpt, seedCkpt := filepath.Join(cg, "checkpoint.safetensors"), filepath.Join(seed, "checkpoint.safetensors")
	out := filepath.Join(dir, "out")

	for _, label := range []string{"10", "-1", "99"} {
		code, _, errOut = gan("sample", "--checkpoint", cgCkpt, "--label", label, "--out", out)
		requireOneLineError(t, code, errOut, 2, "--label "+label, "between 0 and 9")
	}
	code, _, errOut = gan("sample", "--checkpoint", cgCkpt, "--label", "x", "--out", out)
	requireOneLineError(t, code, errOut, 2, "label")
	code, _, errOut = gan("sample", "--checkpoint", seedCkpt, "--label", "3", "--out", out)
	requireOneLineError(t, code, errOut, 2, "--label 3", "seed-mlp-gan model is not conditional")
	code, _, errOut = gan("sample", "--checkpoint", seedCkpt, "--interpolate", "--label", "3", "--grid", filepath.Join(dir, "s.png"))
	requireOneLineError(t, code, errOut, 2, "not conditional")
	_, err := os.Stat(out)
	assert.True(t, os.IsNotExist(err), "no output directory after a refused --label")

	code, _, errOut = gan("sample", "--checkpoint", cgCkpt, "--model", "seed-mlp-gan", "--out", out)
	requireOneLineError(t, code, errOut, 2, "is a cgan checkpoint")
	code, _, errOut = gan("eval", "--checkpoint", seedCkpt, "--model", "cgan")
	requireOneLineError(t, code, errOut, 2, "is a seed-mlp-gan checkpoint")
	code, _, errOut = gan("train", "--resume", cgCkpt, "--model", "seed-mlp-gan", "--data", data, "--out", filepath.Join(dir, "r"))
	requireOneLineError(t, code, errOut, 2, "is a cgan checkpoint")
	assert.False(t, strings.Contains(errOut, "panic"))
}
