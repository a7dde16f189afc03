package main

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/eval"
)

// gan classifier train is reproducible: two runs with the same flags write
// the same bytes, and the file loads as a classifier.
func TestClassifierTrainReproducible(t *testing.T) {
	dir := t.TempDir()
	writeTinySplit(t, dir, true, 256)
	writeTinySplit(t, dir, false, 100)
	files := []string{filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")}
	for _, f := range files {
		code, out, errOut := gan("classifier", "train", "--data", dir, "--epochs", "2", "--batch", "32", "--seed", "4", "--out", f)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, "epoch  2/2")
		assert.Contains(t, out, "wrote "+f)
	}
	ts, err := nn.ReadTensorsFile(files[0])
	require.NoError(t, err)
	ts2, err := nn.ReadTensorsFile(files[1])
	require.NoError(t, err)
	require.Equal(t, ts.Names, ts2.Names)
	for _, name := range ts.Names {
		assert.Equal(t, ts.Data[name], ts2.Data[name], "two runs wrote different %s", name)
	}
	delete(ts2.Meta, "command") // it names the --out file
	for k, v := range ts2.Meta {
		assert.Equal(t, ts.Meta[k], v, k)
	}
	assert.Equal(t, eval.ClassifierFormat, ts.Meta["format"])
	assert.Equal(t, "16", ts.Meta["steps"])
	assert.Contains(t, ts.Meta["command"], "--seed 4")

	// gan classifier test measures any weights file.
	code, out, errOut := gan("classifier", "test", "--data", dir, "--weights", files[0])
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "accuracy")
	assert.Contains(t, out, "(100 images)")
}

// The shipped MNIST classifier reaches its recorded accuracy (≥ 98%) on the
// whole test set.
func TestClassifierTestShipped(t *testing.T) {
	code, out, errOut := gan("classifier", "test")
	require.Equal(t, 0, code, errOut)
	m := regexp.MustCompile(`accuracy ([0-9.]+)% \(10000 images\); recorded at training: ([0-9.]+)%`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	measured, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, measured, 98.0)
	assert.Equal(t, m[2], m[1]) // the file records what this backend measures
}

func TestClassifierUsage(t *testing.T) {
	for _, c := range []struct {
		args     []string
		fragment string
	}{
		{[]string{"classifier"}, "train or test"},
		{[]string{"classifier", "fly"}, `unknown subcommand "fly"`},
		{[]string{"classifier", "train", "--epochs", "0"}, "epochs 0"},
		{[]string{"classifier", "train", "--dataset", "cifar"}, "cifar"},
		{[]string{"classifier", "train", "--shift", "20"}, "shift 20"},
		{[]string{"classifier", "test", "--weights", "/nonexistent/w"}, "/nonexistent/w"},
	} {
		code, _, stderr := gan(c.args...)
		want := 2
		if len(c.args) > 1 && c.args[1] == "test" {
			want = 1
		}
		requireOneLineError(t, code, stderr, want, c.fragment)
	}
}
