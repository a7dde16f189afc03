package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn/model"
)

// TestLossFlags: --loss wgan-gp brings the paper's Adam settings and 5
// critic steps (for the seed model's MLP critic, PyTorch-GAN's Adam with
// the critic at twice G's rate) unless --lr, --d-lr or --n-critic say
// otherwise; other losses keep
// the family's; bad values are one-line errors naming the flag (--arch's
// through the family's validation).
func TestLossFlags(t *testing.T) {
	parse := func(args ...string) (model.Config, error) {
		var f configFlags
		fs := newFlagSet("train", nil)
		f.register(fs)
		require.NoError(t, fs.Parse(args))
		return f.config(setFlags(fs))
	}
	c, err := parse("--loss", "wgan-gp")
	require.NoError(t, err)
	assert.Equal(t, "wgan-gp", c.Loss)
	assert.Equal(t, float32(2e-4), c.LR, "the seed model's MLP critic: PyTorch-GAN's wgan_gp settings")
	assert.Equal(t, float32(4e-4), c.DLR, "the critic at twice G's rate")
	assert.Equal(t, [2]float32{0.5, 0.999}, [2]float32{c.Beta1, c.Beta2})
	assert.Equal(t, 5, c.NCritic)
	c, err = parse("--loss", "wgan-gp", "--lr", "3e-4", "--n-critic", "2")
	require.NoError(t, err)
	assert.Equal(t, float32(3e-4), c.LR)
	assert.Equal(t, float32(6e-4), c.DLR)
	assert.Equal(t, 2, c.NCritic)
	c, err = parse("--loss", "wgan-gp", "--d-lr", "1e-4")
	require.NoError(t, err)
	assert.Equal(t, [2]float32{2e-4, 1e-4}, [2]float32{c.LR, c.DLR})
	c, err = parse("--loss", "wgan-gp", "--arch", "conv")
	require.NoError(t, err)
	assert.Equal(t, float32(1e-4), c.LR, "the paper's networks keep the paper's settings")
	assert.Equal(t, float32(0), c.DLR)
	assert.Equal(t, [2]float32{0.5, 0.9}, [2]float32{c.Beta1, c.Beta2})
	assert.Equal(t, 5, c.NCritic)
	c, err = parse("--model", "cgan", "--loss", "wgan-gp")
	require.NoError(t, err)
	assert.Equal(t, float32(1e-4), c.LR, "other families keep the loss's settings")
	assert.Equal(t, float32(0), c.DLR)
	c, err = parse("--loss", "hinge")
	require.NoError(t, err)
	assert.Equal(t, float32(2e-4), c.LR)
	assert.Equal(t, float32(0.9), c.Beta1)
	assert.Equal(t, 0, c.NCritic)
	c, err = parse()
	require.NoError(t, err)
	assert.Equal(t, "", c.Loss, "the default configuration (and its checkpoints) is unchanged")
	assert.Equal(t, 0, c.NCritic)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--loss", "wgan"}, "--loss \"wgan\": must be one of bce, lsgan, hinge, wgan-gp"},
		{[]string{"--n-critic", "0"}, "--n-critic 0: must be at least 1"},
		{[]string{"--d-lr", "-1"}, "--d-lr -1: must be a positive number"},
		{[]string{"--model", "vae", "--d-lr", "1e-3"}, "d-lr 0.001: the VAE families train their own bound"},
		{[]string{"--arch", "resnet"}, `arch "resnet"`},
	} {
		code, _, stderr := gan(append([]string{"train", "--out", t.TempDir()}, tc.args...)...)
		requireOneLineError(t, code, stderr, 2, tc.want)
	}
}

// TestTrainWGANGP runs gan train --loss wgan-gp on a tiny set: the epoch
// line and metrics.csv carry the critic's statistics (W, gp), the
// divergence watch does not take the critic's negative loss for D winning,
// the checkpoint keeps the loss, and a resumed run refuses another one.
func TestTrainWGANGP(t *testing.T) {
	dir := t.TempDir()
	writeTinyMNIST(t, dir, 32)
	run := filepath.Join(dir, "run")
	code, out, errOut := gan("train", "--data", dir, "--batch", "8", "--epochs", "2", "--loss", "wgan-gp", "--out", run)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Epoch [2/2], d_loss: ")
	assert.Contains(t, out, ", W: ")
	assert.Contains(t, out, ", gp: ")
	csv, err := os.ReadFile(filepath.Join(run, "metrics.csv"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(csv), "step,epoch,d_loss,g_loss,W,gp,seconds,"), string(csv[:80]))
	if w, err := os.ReadFile(filepath.Join(run, warningsFile)); err == nil {
		assert.NotContains(t, string(w), "d_loss_floor")
	}
	code, _, stderr := gan("train", "--data", dir, "--batch", "8", "--epochs", "3", "--loss", "hinge",
		"--resume", filepath.Join(run, "checkpoint.safetensors"), "--out", run)
	requireOneLineError(t, code, stderr, 2, "--loss differs")
	code, _, errOut = gan("train", "--data", dir, "--epochs", "3", "--resume", filepath.Join(run, "checkpoint.safetensors"), "--out", run)
	require.Equal(t, 0, code, errOut)
}
