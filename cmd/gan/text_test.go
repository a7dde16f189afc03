package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyText writes a small repetitive corpus and returns its path.
func tinyText(t *testing.T, dir string) string {
	p := filepath.Join(dir, "tiny.txt")
	require.NoError(t, os.WriteFile(p, []byte(strings.Repeat("the cat sat on the mat.\n", 60)), 0o644))
	return p
}

// smallGPT are the flags of a tiny char-gpt.
var smallGPT = []string{"--model", "char-gpt", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block", "16", "--batch", "4", "--eval-iters", "2"}

// TestCharGPTTrainEvalSample: a tiny char-gpt trains on a text of the
// test's own, writes train and validation losses to metrics.csv, resumes,
// gan eval reports nats and bits per character, and gan sample streams
// the prompt and the same text for the same seed.
func TestCharGPTTrainEvalSample(t *testing.T) {
	dir := t.TempDir()
	txt := tinyText(t, dir)
	run := filepath.Join(dir, "run")
	code, out, errs := gan(append([]string{"train", "--text", txt, "--steps", "6", "--out", run}, smallGPT...)...)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "done: 6 steps")
	csv, err := os.ReadFile(filepath.Join(run, "metrics.csv"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(csv), "step,epoch,loss,val_loss,"), string(csv))
	assert.Len(t, strings.Split(strings.TrimSpace(string(csv)), "\n"), 7)
	ck := filepath.Join(run, "checkpoint.safetensors")

	code, out, errs = gan("train", "--resume", ck, "--steps", "2", "--out", run)
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "from step 6")
	require.Contains(t, out, "done: 8 steps")

	code, out, errs = gan("eval", "--checkpoint", ck, "--eval-iters", "3")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "nats/char")
	assert.Contains(t, out, "bits/char")

	sample := func(seed string) string {
		code, out, errs := gan("sample", "--checkpoint", ck, "--prompt", "the ", "--chars", "30", "--temperature", "0.8", "--seed", seed)
		require.Equal(t, 0, code, errs)
		return out
	}
	a := sample("1")
	assert.True(t, strings.HasPrefix(a, "the "))
	assert.Len(t, []rune(a), 4+30+1)
	assert.Equal(t, a, sample("1"))
	assert.NotEqual(t, a, sample("2"))
}

// TestCharGPTBadFlags: bad text flags and input are one-line usage
// errors.
func TestCharGPTBadFlags(t *testing.T) {
	dir := t.TempDir()
	txt := tinyText(t, dir)
	empty := filepath.Join(dir, "empty.txt")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	bad := filepath.Join(dir, "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("abc\xff"+strings.Repeat("x", 40)), 0o644))
	out := filepath.Join(dir, "out")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--text", empty}, "empty text"},
		{[]string{"--text", bad}, "not valid UTF-8"},
		{[]string{"--text", filepath.Join(dir, "none.txt")}, "no such file"},
		{[]string{"--text", txt, "--block", "1000"}, "--block 1000"},
		{[]string{"--text", txt, "--n-head", "3"}, "n_head 3"},
		{[]string{"--text", txt, "--dropout", "1"}, "dropout 1"},
		{[]string{"--text", txt, "--eval-iters", "0"}, "--eval-iters 0"},
		{[]string{"--text", txt, "--dataset", "fashion"}, "--dataset"},
	} {
		args := append(append([]string{"train", "--out", out}, smallGPT...), tc.args...)
		code, _, errs := gan(args...)
		assert.NotEqual(t, 0, code, tc.args)
		assert.Contains(t, errs, tc.want, tc.args)
		assert.Equal(t, 1, strings.Count(strings.TrimSpace(errs), "\n")+1, "one line: %q", errs)
	}
	code, _, errs := gan("train", "--text", txt, "--out", out)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "only for text models")

	run := filepath.Join(dir, "run")
	code, _, errs = gan(append([]string{"train", "--text", txt, "--steps", "1", "--out", run}, smallGPT...)...)
	require.Equal(t, 0, code, errs)
	ck := filepath.Join(run, "checkpoint.safetensors")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--prompt", "xyz"}, "not in the model's vocabulary"},
		{[]string{"--prompt", ""}, "--prompt"},
		{[]string{"--temperature", "0"}, "--temperature 0"},
		{[]string{"--chars", "-1"}, "--chars -1"},
	} {
		code, _, errs := gan(append([]string{"sample", "--checkpoint", ck}, tc.args...)...)
		assert.Equal(t, 2, code, tc.args)
		assert.Contains(t, errs, tc.want, tc.args)
	}
}
