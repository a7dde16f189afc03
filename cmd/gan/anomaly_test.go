package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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
	csv := filepath.Join(t.TempDir(), "auroc.csv")
	code, out, errOut := gan("anomaly", "--classes", "1", "--steps", "30", "--batch", "64", "--test-n", "500",
		"--binarize", "dynamic", "--out", csv)
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
