package main

import (
	"bytes"
	"image/png"
	"math"
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

// seedMetricsHeader is the metrics.csv header of the seed GAN, exactly as
// the versions before model families wrote it.
const seedMetricsHeader = "step,epoch,d_loss,g_loss,D(x),D(G(z)),seconds,grad_norm_G,grad_norm_D,fid,inception_score,class_kl,classes_covered,confident,nn_distance"

// seedBaseHeader is the first seven columns of it, which the earliest
// versions wrote alone.
const seedBaseHeader = "step,epoch,d_loss,g_loss,D(x),D(G(z)),seconds"

// gan runs the command line in-process and returns exit code and output.
func gan(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

// requireOneLineError checks a failed command: non-zero exit, a single
// "gan ...: " line on stderr that contains every fragment, nothing that
// looks like a panic.
func requireOneLineError(t *testing.T, code int, stderr string, wantCode int, fragments ...string) {
	t.Helper()
	assert.Equal(t, wantCode, code, stderr)
	assert.NotContains(t, stderr, "panic")
	assert.NotContains(t, stderr, "goroutine")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	for _, f := range fragments {
		assert.Contains(t, last, f)
	}
}

func TestTrainThenSample(t *testing.T) {
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	code, out, errOut := gan("train", "--steps", "6", "--batch", "16", "--epochs", "1", "--out", run, "--seed", "3")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "done: 6 steps")
	for _, f := range []string{"checkpoint.safetensors", "metrics.csv", "loss.png", "samples/step_0000006.png"} {
		_, err := os.Stat(filepath.Join(run, f))
		assert.NoError(t, err, f)
	}
	csv, err := os.ReadFile(filepath.Join(run, "metrics.csv"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	assert.Equal(t, seedMetricsHeader, lines[0])
	assert.Len(t, lines, 7)

	// Resume for 4 more steps: the log continues at step 7.
	code, _, errOut = gan("train", "--steps", "4", "--resume", filepath.Join(run, "checkpoint.safetensors"), "--out", run)
	require.Equal(t, 0, code, errOut)
	csv, err = os.ReadFile(filepath.Join(run, "metrics.csv"))
	require.NoError(t, err)
	lines = strings.Split(strings.TrimSpace(string(csv)), "\n")
	require.Len(t, lines, 11)
	assert.True(t, strings.HasPrefix(lines[7], "7,"), lines[7])

	samples := filepath.Join(dir, "s")
	grid := filepath.Join(dir, "grid.png")
	code, _, errOut = gan("sample", "--checkpoint", filepath.Join(run, "checkpoint.safetensors"), "--n", "70", "--out", samples, "--grid", grid)
	require.Equal(t, 0, code, errOut)
	entries, err := os.ReadDir(samples)
	require.NoError(t, err)
	assert.Len(t, entries, 70)
	f, err := os.Open(filepath.Join(samples, "sample_00069.png"))
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, 28, img.Bounds().Dx())
	assert.Equal(t, 28, img.Bounds().Dy())
	_, err = os.Stat(grid)
	assert.NoError(t, err)
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.safetensors")
	require.NoError(t, os.WriteFile(garbage, []byte("definitely not a checkpoint"), 0o644))
	ro := filepath.Join(dir, "ro")
	require.NoError(t, os.Mkdir(ro, 0o555))
	emptyData := filepath.Join(dir, "nodata")
	require.NoError(t, os.Mkdir(emptyData, 0o755))

	cases := []struct {
		name      string
		args      []string
		code      int
		fragments []string
	}{
		{"unknown command", []string{"fly"}, 2, []string{`unknown command "fly"`}},
		{"unknown flag", []string{"train", "--wings", "2"}, 2, []string{"wings"}},
		{"bad value", []string{"train", "--epochs", "many"}, 2, []string{"epochs"}},
		{"zero batch", []string{"train", "--batch", "0"}, 2, []string{"batch 0"}},
		{"negative lr", []string{"train", "--lr", "-1"}, 2, []string{"lr -1"}},
		{"bad device", []string{"train", "--device", "tpu"}, 2, []string{"--device", "tpu"}},
		{"bad dataset", []string{"train", "--dataset", "cifar"}, 2, []string{"--dataset", "cifar"}},
		{"stray arg", []string{"train", "extra"}, 2, []string{"extra"}},
		{"missing data", []string{"train", "--data", emptyData, "--out", filepath.Join(dir, "o1")}, 1, []string{emptyData}},
		{"damaged checkpoint", []string{"sample", "--checkpoint", garbage}, 1, []string{garbage}},
		{"missing checkpoint", []string{"sample", "--checkpoint", filepath.Join(dir, "none")}, 1, []string{"none"}},
		{"resume damaged", []string{"train", "--resume", garbage}, 1, []string{garbage}},
		{"no checkpoint flag", []string{"sample"}, 2, []string{"--checkpoint"}},
		{"bad n", []string{"sample", "--checkpoint", garbage, "--n", "0"}, 2, []string{"--n 0"}},
	}
	if os.Geteuid() != 0 { // root writes into read-only directories
		cases = append(cases, struct {
			name      string
			args      []string
			code      int
			fragments []string
		}{"unwritable out", []string{"train", "--steps", "1", "--out", filepath.Join(ro, "x")}, 1, []string{"--out"}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := gan(c.args...)
			requireOneLineError(t, code, stderr, c.code, c.fragments...)
		})
	}
}

// The out dir must be writable: a file where the directory should be.
func TestOutIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	code, _, stderr := gan("train", "--steps", "1", "--out", file)
	requireOneLineError(t, code, stderr, 1, "--out", file)
}

// The resumed run refuses a flag that would silently change the training.
func TestResumeRefusesConflictingFlags(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	code, _, errOut := gan("train", "--steps", "1", "--batch", "8", "--out", run)
	require.Equal(t, 0, code, errOut)
	code, _, stderr := gan("train", "--resume", filepath.Join(run, "checkpoint.safetensors"), "--batch", "16", "--out", run)
	requireOneLineError(t, code, stderr, 2, "--batch")
}

// A resumed run may change the learning rate: every optimiser that used the
// checkpoint's --lr takes the new one, and the next checkpoint records it.
func TestResumeWithNewLearningRate(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	code, _, errOut := gan("train", "--steps", "2", "--batch", "8", "--out", run)
	require.Equal(t, 0, code, errOut)
	ck := filepath.Join(run, "checkpoint.safetensors")
	code, _, errOut = gan("train", "--resume", ck, "--lr", "5e-05", "--steps", "3", "--out", run)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "--lr 5e-05 replaces the checkpoint's 0.0002 from step 2 on")
	tensors, err := nn.ReadTensorsFile(ck)
	require.NoError(t, err)
	cfg, err := model.ConfigOf(tensors)
	require.NoError(t, err)
	assert.Equal(t, float32(5e-05), cfg.LR)
	m, err := model.FromTensors(cpu.New(), tensors, ck, "")
	require.NoError(t, err)
	defer m.Free()
	assert.Equal(t, 5, m.Step())
	for _, n := range m.Nets() {
		assert.Equal(t, float32(5e-05), n.Opt.LR, n.Name)
	}
	code, _, errOut = gan("train", "--resume", ck, "--lr", "-1", "--out", run)
	requireOneLineError(t, code, errOut, 2, "lr")
}

// A NaN stops training with an error, and the checkpoint of the last
// completed epoch stays as it was.
func TestNaNKeepsLastGoodCheckpoint(t *testing.T) {
	dir := t.TempDir()
	writeTinyMNIST(t, dir, 32)
	run := filepath.Join(dir, "run")
	// 32 images at batch 16: two steps per epoch. Poison D after step 3,
	// inside epoch 2, so step 4 sees a NaN loss.
	testHookAfterStep = func(m model.Model, p model.Progress) {
		if p.Step == 3 {
			d := m.Nets()[1]
			require.Equal(t, "D", d.Name)
			w := d.Params.Params()[0].Value
			nan := make([]float32, w.Len())
			for i := range nan {
				nan[i] = float32(math.NaN())
			}
			require.NoError(t, m.Backend().Upload(w, nan))
		}
	}
	defer func() { testHookAfterStep = nil }()
	code, _, stderr := gan("train", "--data", dir, "--batch", "16", "--epochs", "3", "--out", run)
	requireOneLineError(t, code, stderr, 1, "not finite", "checkpoint.safetensors")
	ck, err := nn.ReadTensorsFile(filepath.Join(run, "checkpoint.safetensors"))
	require.NoError(t, err)
	assert.Equal(t, "2", ck.Meta["step"]) // the end of epoch 1
	for name, v := range ck.Data {
		for _, x := range v {
			require.False(t, math.IsNaN(float64(x)), name)
		}
	}
}

// writeTinyMNIST writes the first n embedded MNIST training images and
// labels as raw idx files into dir.
func writeTinyMNIST(t *testing.T, dir string, n int) {
	t.Helper()
	writeTinySplit(t, dir, true, n)
}
