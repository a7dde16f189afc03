package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/model"
)

// smallGRU are the flags of a tiny char-gru.
var smallGRU = []string{"--model", "char-gru", "--n-layer", "2", "--hidden", "16", "--n-embd", "8", "--block", "12", "--batch", "4", "--eval-iters", "2"}

// TestCharGRUTrainEvalSample: a tiny char-gru (LSTM cell) trains on a
// text of the test's own through the same commands as char-gpt: its
// checkpoint keeps the cell and widths, it resumes, gan eval reports nats
// and bits per character, and gan sample streams the same text for the
// same seed.
func TestCharGRUTrainEvalSample(t *testing.T) {
	dir := t.TempDir()
	txt := tinyText(t, dir)
	run := filepath.Join(dir, "run")
	code, out, errs := gan(append([]string{"train", "--text", txt, "--steps", "5", "--out", run, "--cell", "lstm"}, smallGRU...)...)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "training char-gru")
	require.Contains(t, out, "done: 5 steps")
	csv, err := os.ReadFile(filepath.Join(run, "metrics.csv"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(csv), "step,epoch,loss,val_loss,"), string(csv))
	ck := filepath.Join(run, "checkpoint.safetensors")
	tensors, err := nn.ReadTensorsFile(ck)
	require.NoError(t, err)
	cfg, err := model.ConfigOf(tensors)
	require.NoError(t, err)
	assert.Equal(t, "lstm", cfg.Cell)
	assert.Equal(t, []int{2, 16, 8, 12}, []int{cfg.Layers, cfg.Hidden, cfg.Embd, cfg.Context})
	assert.Equal(t, []int{4 * 16, 8}, tensors.Shapes["RNN.rnn.weight_ih_l0"])

	code, out, errs = gan("train", "--resume", ck, "--steps", "2", "--out", run)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "from step 5")
	require.Contains(t, out, "done: 7 steps")

	code, out, errs = gan("eval", "--checkpoint", ck, "--eval-iters", "3")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "nats/char")
	assert.Contains(t, out, "bits/char")

	sample := func(seed string) string {
		code, out, errs := gan("sample", "--checkpoint", ck, "--prompt", "the ", "--chars", "40", "--temperature", "0.8", "--seed", seed)
		require.Equal(t, 0, code, errs)
		return out
	}
	a := sample("1")
	assert.True(t, strings.HasPrefix(a, "the "))
	assert.Len(t, []rune(a), 4+40+1)
	assert.Equal(t, a, sample("1"))
	assert.NotEqual(t, a, sample("2"))
}

// TestCharGRUBadFlags: --cell takes gru or lstm and only for char-gru;
// char-gpt's attention flags and bad shapes are one-line usage errors.
func TestCharGRUBadFlags(t *testing.T) {
	dir := t.TempDir()
	txt := tinyText(t, dir)
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cell", "rnn"}, `--cell "rnn": gru or lstm`},
		{[]string{"--cell", ""}, `--cell "": gru or lstm`},
		{[]string{"--n-head", "2"}, "n_head 2"},
		{[]string{"--hidden", "0"}, "hidden 0"},
		{[]string{"--block", "2000"}, "block 2000"},
		{[]string{"--dropout", "1"}, "dropout 1"},
	} {
		args := append(append([]string{"train", "--text", txt, "--out", out}, smallGRU...), tc.args...)
		code, _, errs := gan(args...)
		assert.Equal(t, 2, code, tc.args)
		assert.Contains(t, errs, tc.want, tc.args)
		assert.Equal(t, 1, strings.Count(strings.TrimSpace(errs), "\n")+1, "one line: %q", errs)
	}
	code, _, errs := gan(append(append([]string{"train", "--text", txt, "--out", out}, smallGPT...), "--cell", "lstm")...)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--cell: only for --model char-gru")
	code, _, errs = gan("train", "--cell", "gru", "--out", out)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "only for text models")
}
