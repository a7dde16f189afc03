package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/model"
)

// gan models lists every registered family on a line of its own, name
// first, then its summary.
func TestModelsLists(t *testing.T) {
	code, out, errOut := gan("models")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	fams := model.Families()
	require.NotEmpty(t, fams)
	require.Len(t, lines, len(fams))
	for i, f := range fams {
		assert.True(t, strings.HasPrefix(lines[i], f.Name+" "), lines[i])
		assert.Contains(t, lines[i], f.Summary)
	}
	assert.Contains(t, out, defaultModel)
	assert.Contains(t, out, "(default)")

	code, _, stderr := gan("models", "extra")
	requireOneLineError(t, code, stderr, 2, "extra")
}

// An unknown --model is a usage error that names the flag and the known
// families, in every command that takes it.
func TestUnknownModel(t *testing.T) {
	for _, args := range [][]string{
		{"train", "--model", "nope", "--out", filepath.Join(t.TempDir(), "r")},
		{"sample", "--model", "nope", "--checkpoint", "x"},
		{"import", "--model", "nope", "x.safetensors", "-o", "y"},
	} {
		code, _, stderr := gan(args...)
		requireOneLineError(t, code, stderr, 2, "--model", `unknown model "nope"`, defaultModel)
	}
}

// writeStateDict writes the parameters of a fresh seed GAN of the given
// seed as a bare state_dict (PyTorch names and shapes, no metadata), after
// edit changes the tensors, and returns its path and the tensors.
func writeStateDict(t *testing.T, dir, name string, seed uint64, edit func(ts *nn.Tensors) *nn.Tensors) (string, *nn.Tensors) {
	t.Helper()
	f, err := model.Lookup(defaultModel)
	require.NoError(t, err)
	cfg := f.Defaults()
	cfg.Seed = seed
	m, err := model.New(cpu.New(), cfg)
	require.NoError(t, err)
	defer m.Free()
	ck, err := model.Checkpoint(m)
	require.NoError(t, err)
	sd := nn.NewTensors()
	for _, n := range ck.Names {
		if !strings.Contains(n, ".adam.") {
			sd.Add(n, ck.Shapes[n], ck.Data[n])
		}
	}
	if edit != nil {
		sd = edit(sd)
	}
	path := filepath.Join(dir, name)
	require.NoError(t, sd.WriteFile(path))
	return path, sd
}

// without returns the tensors of ts except name.
func without(ts *nn.Tensors, name string) *nn.Tensors {
	out := nn.NewTensors()
	for _, n := range ts.Names {
		if n != name {
			out.Add(n, ts.Shapes[n], ts.Data[n])
		}
	}
	return out
}

// gan import turns a bare state_dict into a checkpoint at step 0 with the
// same weights; sample, eval and train --resume take the state_dict
// directly, and sampling it gives the images of the imported checkpoint.
func TestImportStateDict(t *testing.T) {
	dir := t.TempDir()
	sd, want := writeStateDict(t, dir, "sd.safetensors", 11, nil)
	ckpt := filepath.Join(dir, "imported.safetensors")
	code, out, errOut := gan("import", sd, "-o", ckpt, "--epochs", "3")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "imported "+sd)
	ck, err := nn.ReadTensorsFile(ckpt)
	require.NoError(t, err)
	assert.Equal(t, model.CheckpointFormat, ck.Meta["format"])
	assert.Equal(t, "0", ck.Meta["step"])
	cfg, err := model.ConfigOf(ck)
	require.NoError(t, err)
	assert.Equal(t, defaultModel, cfg.Model)
	assert.Equal(t, 3, cfg.Epochs)
	for _, n := range want.Names {
		require.Equal(t, want.Data[n], ck.Data[n], n)
	}
	for _, n := range ck.Names {
		if strings.Contains(n, ".adam.") {
			for _, v := range ck.Data[n] {
				require.Zero(t, v, "fresh optimiser state: %s", n)
			}
		}
	}

	// The flags may also come first.
	code, _, errOut = gan("import", "--out", filepath.Join(dir, "again.safetensors"), sd)
	require.Equal(t, 0, code, errOut)

	fromCkpt, fromSD := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	code, _, errOut = gan("sample", "--checkpoint", ckpt, "--n", "3", "--out", fromCkpt)
	require.Equal(t, 0, code, errOut)
	code, _, errOut = gan("sample", "--checkpoint", sd, "--n", "3", "--out", fromSD)
	require.Equal(t, 0, code, errOut)
	for _, name := range []string{"sample_00000.png", "sample_00002.png"} {
		a, err := os.ReadFile(filepath.Join(fromCkpt, name))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(fromSD, name))
		require.NoError(t, err)
		assert.Equal(t, a, b, name)
	}

	// train --resume takes the state_dict as the starting weights of a
	// fresh run with the flags' configuration.
	data := filepath.Join(dir, "data")
	require.NoError(t, os.Mkdir(data, 0o755))
	writeTinyMNIST(t, data, 32)
	run := filepath.Join(dir, "run")
	code, out, errOut = gan("train", "--resume", sd, "--data", data, "--batch", "16", "--steps", "1", "--watch=false", "--out", run)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "batch 16")
	assert.Contains(t, out, "from step 0")
	assert.Contains(t, out, "done: 1 steps")

	// A checkpoint is not imported again.
	code, _, stderr := gan("import", ckpt, "-o", filepath.Join(dir, "x.safetensors"))
	requireOneLineError(t, code, stderr, 1, ckpt, "already a checkpoint")
}

// A state_dict that does not fit the model fails with an error naming the
// file and the tensor, in gan import and wherever a checkpoint is read.
func TestImportBadStateDict(t *testing.T) {
	dir := t.TempDir()
	missing, _ := writeStateDict(t, dir, "missing.safetensors", 1, func(ts *nn.Tensors) *nn.Tensors {
		return without(ts, "D.model.6.bias")
	})
	extra, _ := writeStateDict(t, dir, "extra.safetensors", 1, func(ts *nn.Tensors) *nn.Tensors {
		ts.Add("G.model.9.weight", []int{2}, []float32{1, 2})
		return ts
	})
	shaped, _ := writeStateDict(t, dir, "shaped.safetensors", 1, func(ts *nn.Tensors) *nn.Tensors {
		out := nn.NewTensors()
		for _, n := range ts.Names {
			shape := ts.Shapes[n]
			if n == "G.model.0.weight" {
				shape = []int{shape[1], shape[0]} // transposed
			}
			out.Add(n, shape, ts.Data[n])
		}
		return out
	})
	out := filepath.Join(dir, "out.safetensors")
	for _, c := range []struct {
		path, fragment string
	}{
		{missing, "missing tensor D.model.6.bias"},
		{extra, "unexpected tensor G.model.9.weight"},
		{shaped, "tensor G.model.0.weight has shape [100 256], the model needs [256 100]"},
	} {
		code, _, stderr := gan("import", c.path, "-o", out)
		requireOneLineError(t, code, stderr, 1, c.path, c.fragment, "state_dict")
		code, _, stderr = gan("sample", "--checkpoint", c.path, "--out", filepath.Join(dir, "s"))
		requireOneLineError(t, code, stderr, 1, "--checkpoint", c.path, c.fragment)
		code, _, stderr = gan("train", "--resume", c.path, "--out", filepath.Join(dir, "r"))
		requireOneLineError(t, code, stderr, 1, "--resume", c.path, c.fragment)
	}
	_, err := os.Stat(out)
	assert.True(t, os.IsNotExist(err), "no checkpoint written for a bad state_dict")

	for _, c := range []struct {
		args      []string
		fragments []string
	}{
		{[]string{"import"}, []string{"state_dict to import"}},
		{[]string{"import", missing}, []string{"--out"}},
		{[]string{"import", missing, "-o", out, "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"import", missing, "-o", out, "--batch", "0"}, []string{"batch 0"}},
	} {
		code, _, stderr := gan(c.args...)
		requireOneLineError(t, code, stderr, 2, c.fragments...)
	}
}
