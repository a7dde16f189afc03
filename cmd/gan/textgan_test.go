package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/model"
)

// smallTextGAN are the flags of a tiny text-gan.
var smallTextGAN = []string{"--model", "text-gan", "--hidden", "16", "--n-embd", "8", "--block", "10", "--batch", "4"}

// TestTextGANTrainEvalSample: a tiny text-gan trains on a text of the
// test's own through gan train (GAN statistics in metrics.csv, no
// validation loss), its checkpoint keeps τ, the widths and the
// vocabulary, it resumes, gan eval says it has no validation loss and
// measures its samples (text and JSON), and gan sample streams the same
// text for the same seed.
func TestTextGANTrainEvalSample(t *testing.T) {
	dir := t.TempDir()
	txt := tinyText(t, dir)
	run := filepath.Join(dir, "run")
	code, out, errs := gan(append([]string{"train", "--text", txt, "--steps", "5", "--out", run, "--tau", "0.5"}, smallTextGAN...)...)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "training text-gan")
	require.Contains(t, out, "done: 5 steps")
	csv, err := os.ReadFile(filepath.Join(run, "metrics.csv"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(csv), "step,epoch,d_loss,g_loss,D(x),D(G(z)),"), string(csv))
	ck := filepath.Join(run, "checkpoint.safetensors")
	tensors, err := nn.ReadTensorsFile(ck)
	require.NoError(t, err)
	cfg, err := model.ConfigOf(tensors)
	require.NoError(t, err)
	assert.Equal(t, float32(0.5), cfg.Tau)
	assert.Equal(t, []int{1, 16, 8, 10}, []int{cfg.Layers, cfg.Hidden, cfg.Embd, cfg.Context})
	assert.Equal(t, []int{4 * 16, 8}, tensors.Shapes["G.lstm.weight_ih_l0"])
	assert.Equal(t, []int{1, 16}, tensors.Shapes["D.dense.weight"])

	code, out, errs = gan("train", "--resume", ck, "--steps", "2", "--out", run)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "from step 5")
	require.Contains(t, out, "done: 7 steps")

	code, out, errs = gan("eval", "--checkpoint", ck, "--chars", "200")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "validation loss: none (no likelihood")
	assert.NotContains(t, out, "nats/char, ")
	assert.Contains(t, out, "dist-1")
	assert.Contains(t, out, "n-gram NLL")
	code, out, errs = gan("eval", "--checkpoint", ck, "--chars", "200", "--json", "-")
	require.Equal(t, 0, code, errs)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	assert.NotContains(t, r, "val_loss_nats")
	assert.Contains(t, r["no_val_loss"], "no likelihood")
	assert.Contains(t, r, "samples")

	sample := func(seed string) string {
		code, out, errs := gan("sample", "--checkpoint", ck, "--chars", "40", "--seed", seed)
		require.Equal(t, 0, code, errs)
		return out
	}
	a := sample("1")
	assert.Len(t, []rune(a), 1+40+1) // the default prompt "\n", the text, a newline
	assert.Equal(t, a, sample("1"))
	assert.NotEqual(t, a, sample("2"))
}

// TestTextGANBadFlags: --tau must be positive and only for text-gan; the
// recurrent shape is the seed's single LSTM; every error is one usage
// line.
func TestTextGANBadFlags(t *testing.T) {
	dir := t.TempDir()
	txt := tinyText(t, dir)
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tau", "0"}, "--tau 0: the Gumbel-softmax temperature must be in (0, 100]"},
		{[]string{"--tau", "-1"}, "--tau -1"},
		{[]string{"--tau", "NaN"}, "--tau NaN"},
		{[]string{"--tau", "1000"}, "--tau 1000"},
		{[]string{"--n-layer", "2"}, "n_layer 2"},
		{[]string{"--cell", "gru"}, "--cell: only for --model char-gru"},
		{[]string{"--dropout", "0.1"}, "dropout 0.1"},
		{[]string{"--hidden", "0"}, "hidden 0"},
		{[]string{"--block", "1000"}, "block 1000"},
	} {
		args := append(append([]string{"train", "--text", txt, "--out", out}, smallTextGAN...), tc.args...)
		code, _, errs := gan(args...)
		assert.Equal(t, 2, code, tc.args)
		assert.Contains(t, errs, tc.want, tc.args)
		assert.Equal(t, 1, strings.Count(strings.TrimSpace(errs), "\n")+1, "one line: %q", errs)
	}
	code, _, errs := gan(append(append([]string{"train", "--text", txt, "--out", out}, smallGRU...), "--tau", "0.5")...)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--tau: only for --model text-gan")
	code, _, errs = gan("train", "--tau", "0.5", "--out", out)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "only for text models")
}
