package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gan/nn/likelihood"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVAEFlagErrors: the VAE's bad input is a one-line usage error.
func TestVAEFlagErrors(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "--model", "vae", "--latent", "0"}, []string{"--latent 0"}},
		{[]string{"train", "--model", "vae", "--iw", "0"}, []string{"--iw 0"}},
		{[]string{"train", "--binarize", "dynamic"}, []string{"--binarize", "only the VAE families", "seed-mlp-gan"}},
		{[]string{"train", "--model", "dcgan", "--latent", "2"}, []string{"--latent", "dcgan"}},
		{[]string{"train", "--model", "vae", "--binarize", "static"}, []string{"--binarize \"static\""}},
		{[]string{"train", "--model", "vae", "--beta", "-1"}, []string{"--beta -1"}},
		{[]string{"anomaly", "--classes", "12"}, []string{"class 12 is not among the labels"}},
		{[]string{"anomaly", "--classes", "x"}, []string{"not a class number"}},
		{[]string{"anomaly", "--model", "dcgan"}, []string{"--model dcgan"}},
		{[]string{"anomaly", "--protocol", "two"}, []string{"--protocol \"two\""}},
		{[]string{"eval", "--checkpoint", "x", "--iw-eval", "0"}, []string{"--iw-eval 0"}},
	} {
		args := c.args
		if args[0] == "train" {
			args = append(args, "--out", out)
		}
		code, _, errOut := gan(args...)
		requireOneLineError(t, code, errOut, 2, c.want...)
	}
}

// TestAnomalyTinyRun: gan anomaly trains a VAE for a few steps on class 1
// alone and on the other nine, scores 500 test images and writes the
// table; even this little training separates the ones (simple, dark
// images) from the rest far better than chance.
func TestAnomalyTinyRun(t *testing.T) {
	dir := t.TempDir()
	csv, page := filepath.Join(dir, "auroc.csv"), filepath.Join(dir, "anomaly.html")
	code, out, errOut := gan("anomaly", "--classes", "1", "--steps", "30", "--batch", "64", "--test-n", "500",
		"--binarize", "dynamic", "--out", csv, "--report", page)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "one-class     class 1: AUROC")
	assert.Contains(t, out, "one-anomalous class 1: AUROC")
	data, err := os.ReadFile(csv)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 3)
	f := strings.Split(lines[1], ",")
	require.Equal(t, "one-class", f[0])
	auroc, err := strconv.ParseFloat(f[2], 64)
	require.NoError(t, err)
	assert.Greater(t, auroc, 0.8, "one-class AUROC of class 1 after 30 steps: %s", lines[1])

	// The scores beside the table: per protocol, each of the 500 test
	// images once, the ones (label 1) normal in one-class and anomalous in
	// one-anomalous, the counts those of the table.
	assert.Contains(t, out, filepath.Join(dir, "auroc-scores.csv"))
	data, err = os.ReadFile(filepath.Join(dir, "auroc-scores.csv"))
	require.NoError(t, err)
	sl := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Equal(t, "protocol,class,image,label,anomalous,score,complexity", sl[0])
	require.Len(t, sl, 1+2*500)
	normal, anomalous := map[string]int{}, map[string]int{}
	corrected, positive := map[string][]float64{}, map[string][]bool{}
	for _, l := range sl[1:] {
		f := strings.Split(l, ",")
		require.Len(t, f, 7, l)
		require.Equal(t, "1", f[1])
		isOne, isAnom := f[3] == "1", f[4] == "1"
		assert.Equal(t, isOne, isAnom == (f[0] == "one-anomalous"), l)
		if isAnom {
			anomalous[f[0]]++
		} else {
			normal[f[0]]++
		}
		score, err := strconv.ParseFloat(f[5], 64)
		require.NoError(t, err, l)
		lx, err := strconv.ParseFloat(f[6], 64)
		require.NoError(t, err, l)
		assert.Greater(t, lx, 0.0, l)
		corrected[f[0]] = append(corrected[f[0]], score-lx)
		positive[f[0]] = append(positive[f[0]], isAnom)
	}
	for i, proto := range []string{"one-class", "one-anomalous"} {
		f := strings.Split(lines[1+i], ",")
		require.Equal(t, proto, f[0])
		assert.Equal(t, 500, normal[proto]+anomalous[proto])
		assert.Equal(t, f[7], strconv.Itoa(normal[proto]), proto)
		assert.Equal(t, f[8], strconv.Itoa(anomalous[proto]), proto)
		// The table's second AUROC is that of score − L(x) of the images.
		ic, err := strconv.ParseFloat(f[3], 64)
		require.NoError(t, err, lines[1+i])
		want, err := likelihood.AUROC(corrected[proto], positive[proto])
		require.NoError(t, err)
		assert.InDelta(t, want, ic, 1e-3, proto) // the file has 4 decimals: a few pairs may tie
	}
	assert.Equal(t, normal["one-class"], anomalous["one-anomalous"])
	assert.Greater(t, normal["one-class"], 20)

	// The page: the table and one histogram per protocol, the AUROC in its title.
	raw, err := os.ReadFile(page)
	require.NoError(t, err)
	html := string(raw)
	requireWellFormed(t, html)
	// Two per protocol: the score and the score corrected for complexity.
	assert.Equal(t, 4, strings.Count(html, `class="chart score-hist"`))
	assert.Contains(t, html, "one-class, class 1, corrected for complexity: AUROC")
	assert.Contains(t, html, "one-class, class 1: AUROC "+strconv.FormatFloat(100*auroc, 'f', 2, 64)+"%")
	assert.Contains(t, html, "one-anomalous, class 1: AUROC")
	assert.Contains(t, html, "normal test images ("+strconv.Itoa(normal["one-class"])+")")
	assert.Contains(t, html, "anomalous test images ("+strconv.Itoa(anomalous["one-class"])+")")

	code, _, errOut = gan("anomaly", "--report", filepath.Join(dir, "nope", "a.html"))
	requireOneLineError(t, code, errOut, 2, "--report")
}

// TestTrainThenEvalVAE: a few steps of the VAE on binarised data, then gan
// eval prints the likelihood lines beside the sample quality, and gan
// vae-pictures draws its pictures.
func TestTrainThenEvalVAE(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	code, out, errOut := gan("train", "--model", "vae", "--binarize", "dynamic", "--latent", "2", "--steps", "20", "--batch", "64",
		"--epochs", "1", "--out", run, "--watch=false")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "done: 20 steps")
	code, _, errOut = gan("train", "--resume", filepath.Join(run, "checkpoint.safetensors"), "--latent", "3", "--out", run)
	requireOneLineError(t, code, errOut, 2, "--latent differs from the checkpoint's config")
	code, out, errOut = gan("eval", "--checkpoint", filepath.Join(run, "checkpoint.safetensors"), "--n", "200", "--iw-eval", "20", "--iw-n", "100", "--nn-ref", "500")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "binarised test set (fixed seed): −log p(x) ≈")
	assert.Contains(t, out, "k = 20")

	// The pictures of a 2-D latent: all five.
	pics := filepath.Join(t.TempDir(), "pics")
	code, out, errOut = gan("vae-pictures", "--checkpoint", filepath.Join(run, "checkpoint.safetensors"), "--out", pics)
	require.Equal(t, 0, code, errOut)
	for _, f := range []string{"recon.png", "samples.png", "interp.png", "manifold.png", "latent.png"} {
		assert.Contains(t, out, f)
		_, err := os.Stat(filepath.Join(pics, f))
		assert.NoError(t, err, f)
	}
}
