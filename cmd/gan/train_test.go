package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/eval"
	"gan/nn/model"
	"gan/nn/report"
)

// The seed GAN's epoch line is the one the versions before model families
// printed, number for number: these lines are the output of the previous
// version of gan train on the same data and seed.
func TestSeedEpochLineUnchanged(t *testing.T) {
	dir := t.TempDir()
	writeTinyMNIST(t, dir, 32)
	code, out, errOut := gan("train", "--data", dir, "--batch", "16", "--epochs", "2", "--seed", "3", "--watch=false", "--out", filepath.Join(dir, "run"))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "\nEpoch [1/2], d_loss: 1.2692, g_loss: 0.7215, D(x): 0.55, D(G(z)): 0.49\n")
	assert.Contains(t, out, "\nEpoch [2/2], d_loss: 1.0447, g_loss: 0.6997, D(x): 0.70, D(G(z)): 0.49\n")
	csv, err := os.ReadFile(filepath.Join(dir, "run", "metrics.csv"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	require.Len(t, lines, 5)
	assert.Equal(t, seedMetricsHeader, lines[0])
	assert.True(t, strings.HasPrefix(lines[4], "4,2,1.04473,0.699715,0.696637,0.494838,"), lines[4])

	// The line follows the model's statistics and formats.
	stats := []model.Stat{{Name: "loss", Format: "%.2f", Loss: true}, {Name: "kl"}}
	assert.Equal(t, "Epoch [3/7], loss: 0.12, kl: 1.5", epochLine(model.Progress{Epoch: 2, Epochs: 7, Stats: []float64{0.1234, 1.5}}, stats))
}

// metricsSteps returns the step column of a metrics.csv.
func metricsSteps(t *testing.T, path string) []int {
	t.Helper()
	table, err := readMetrics(path)
	require.NoError(t, err)
	var steps []int
	for _, r := range table.rows {
		steps = append(steps, r.step)
	}
	return steps
}

// upTo returns 1…n.
func upTo(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i + 1
	}
	return s
}

// metrics.csv is written step by step while the run goes, and a resumed
// run appends to it in place.
func TestMetricsWrittenAsTheRunGoes(t *testing.T) {
	dir := t.TempDir()
	writeTinyMNIST(t, dir, 32)
	run := filepath.Join(dir, "run")
	path := filepath.Join(run, "metrics.csv")
	var seen []int
	testHookAfterStep = func(m model.Model, p model.Progress) {
		seen = append(seen, len(metricsSteps(t, path))) // rows on disk when step p.Step has just been taken
	}
	defer func() { testHookAfterStep = nil }()
	code, _, errOut := gan("train", "--data", dir, "--batch", "16", "--epochs", "4", "--steps", "3", "--out", run)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []int{0, 1, 2}, seen)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)

	seen = nil
	code, _, errOut = gan("train", "--data", dir, "--resume", filepath.Join(run, "checkpoint.safetensors"), "--steps", "2", "--out", run)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []int{3, 4}, seen)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(after), string(before)), "the old rows stay as they were")
	fi2, err := os.Stat(path)
	require.NoError(t, err)
	assert.True(t, os.SameFile(fi, fi2), "metrics.csv was appended to, not replaced")
	assert.Equal(t, upTo(5), metricsSteps(t, path))
}

// A run killed after its last checkpoint leaves rows, warnings, a cut line
// and temporary files of a killed save behind: resuming drops the rows and
// warnings past the checkpoint (no step twice, nothing before it lost) and
// removes the temporary files.
func TestResumeAfterKill(t *testing.T) {
	dir := t.TempDir()
	writeTinyMNIST(t, dir, 32)
	run := filepath.Join(dir, "run")
	ckpt := filepath.Join(run, "checkpoint.safetensors")
	code, _, errOut := gan("train", "--data", dir, "--batch", "16", "--epochs", "4", "--steps", "4", "--out", run)
	require.Equal(t, 0, code, errOut)
	path := filepath.Join(run, "metrics.csv")
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(good)), "\n")
	require.Len(t, lines, 5)

	// What the killed run of steps 5 and 6 left: two rows after the
	// checkpoint of step 4, half a row, a warning of step 6, and the
	// temporary files of saves that never reached their rename.
	killed := string(good) + strings.Replace(lines[4], "4,2,", "5,3,", 1) + "\n" + strings.Replace(lines[4], "4,2,", "6,3,", 1) + "\n7,4,1.2"
	require.NoError(t, os.WriteFile(path, []byte(killed), 0o644))
	wpath := filepath.Join(run, warningsFile)
	ws, err := readWarnings(wpath)
	require.NoError(t, err)
	w, err := openWarnings(wpath, 4)
	require.NoError(t, err)
	require.NoError(t, w.add(eval.Warning{Step: 6, Epoch: 3, Kind: eval.WarnGradNormD, Value: 300, Message: "from the killed run"}))
	require.NoError(t, w.close())
	stale := []string{filepath.Join(run, ".checkpoint.safetensors.tmp123456789"), filepath.Join(run, "samples", ".epoch_003.png.tmp42"), filepath.Join(run, ".metrics.csv.tmp7")}
	for _, p := range stale {
		require.NoError(t, os.WriteFile(p, []byte("partial"), 0o644))
	}
	keep := filepath.Join(run, "notes.tmp1") // not a temporary file of ours
	require.NoError(t, os.WriteFile(keep, nil, 0o644))

	code, _, errOut = gan("train", "--data", dir, "--resume", ckpt, "--steps", "2", "--out", run)
	require.Equal(t, 0, code, errOut)
	for _, p := range stale {
		_, err := os.Stat(p)
		assert.True(t, os.IsNotExist(err), "%s: %v", p, err)
		assert.Contains(t, errOut, "removed "+p)
	}
	_, err = os.Stat(keep)
	assert.NoError(t, err)
	assert.Equal(t, upTo(6), metricsSteps(t, path))
	now, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(now), string(good)), "the rows up to the checkpoint are kept as they were")
	assert.NotContains(t, string(now), "7,4,1.2\n")
	after, err := readWarnings(wpath)
	require.NoError(t, err)
	for _, w := range after {
		assert.NotEqual(t, "from the killed run", w.Message)
	}
	assert.Equal(t, ws, after[:len(ws)], "the warnings up to the checkpoint are kept")
}

// Ctrl-C saves a checkpoint of the step reached, keeps the metrics up to
// it, and exits with status 130; the run then resumes where it stopped.
func TestInterruptSavesCheckpoint(t *testing.T) {
	dir := t.TempDir()
	writeTinyMNIST(t, dir, 32)
	run := filepath.Join(dir, "run")
	ckpt := filepath.Join(run, "checkpoint.safetensors")
	testHookAfterStep = func(m model.Model, p model.Progress) {
		if p.Step == 3 { // inside epoch 2 of 2-step epochs
			require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGINT))
			time.Sleep(200 * time.Millisecond) // let the signal arrive before the next step
		}
	}
	defer func() { testHookAfterStep = nil }()
	code, out, errOut := gan("train", "--data", dir, "--batch", "16", "--epochs", "5", "--out", run)
	requireOneLineError(t, code, errOut, exitInterrupted, "interrupted at step", "saved "+ckpt, "--resume")
	assert.NotContains(t, out, "done:")
	ck, err := nn.ReadTensorsFile(ckpt)
	require.NoError(t, err)
	step, err := strconv.Atoi(ck.Meta["step"])
	require.NoError(t, err)
	assert.GreaterOrEqual(t, step, 3)
	assert.Contains(t, errOut, "interrupted at step "+ck.Meta["step"]+" ")
	assert.Equal(t, upTo(step), metricsSteps(t, filepath.Join(run, "metrics.csv")))

	testHookAfterStep = nil
	code, out, errOut = gan("train", "--data", dir, "--resume", ckpt, "--out", run)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "from step "+ck.Meta["step"])
	assert.Contains(t, out, "done: 10 steps")
	assert.Equal(t, upTo(10), metricsSteps(t, filepath.Join(run, "metrics.csv")))
}

// The stale-file pattern is the one nn.WriteFileAtomic's temporary files
// have: the file it leaves when killed mid-save matches.
func TestStaleTempPattern(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "checkpoint.safetensors")
	var tmp string
	err := nn.WriteFileAtomic(target, func(w io.Writer) error {
		tmp = w.(*os.File).Name()
		return errors.New("stopped before the rename, as a kill would")
	})
	require.Error(t, err)
	require.NotEmpty(t, tmp)
	assert.Regexp(t, staleTemp, filepath.Base(tmp))
	for _, name := range []string{"checkpoint.safetensors", "metrics.csv", ".hidden", "a.tmp1", ".x.tmp"} {
		assert.False(t, staleTemp.MatchString(name), name)
	}
	assert.True(t, staleTemp.MatchString(".writable123"))
}

// metrics.csv, the report's charts and loss.png follow the statistics and
// networks a model names, whatever they are.
func TestChartsFollowStats(t *testing.T) {
	l := metricsLayout{stats: []string{"recon", "kl_loss", "beta"}, nets: []string{"enc"}}
	assert.Equal(t, "step,epoch,recon,kl_loss,beta,seconds,grad_norm_enc,fid,inception_score,class_kl,classes_covered,confident,nn_distance", l.header())
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.csv")
	m, _, err := openMetrics(path, l, 0)
	require.NoError(t, err)
	for s := 1; s <= 4; s++ {
		p := model.Progress{Step: s, Epoch: (s - 1) / 2, Stats: []float64{float64(s), 0.5, 2}}
		require.NoError(t, m.add(p, float64(s), []float64{0.25 * float64(s)}, false))
	}
	require.NoError(t, m.close())
	table, err := readMetrics(path)
	require.NoError(t, err)
	assert.Equal(t, l.stats, table.stats)
	assert.Equal(t, l.nets, table.nets)
	require.Len(t, table.rows, 4)
	assert.InDelta(t, 1.0, table.rows[3].grads[0], 0)

	stats := []model.Stat{{Name: "recon", Loss: true}, {Name: "kl_loss", Loss: true}, {Name: "beta"}}
	names := func(c report.Chart) []string {
		var out []string
		for _, s := range c.Series {
			out = append(out, s.Name)
		}
		return out
	}
	charts := trainingCharts(table, stats, 2)
	require.Len(t, charts, 3)
	assert.Equal(t, []string{"recon", "kl_loss"}, names(charts[0]))
	assert.Equal(t, []string{"beta"}, names(charts[1]))
	assert.Contains(t, charts[1].Title, "beta")
	assert.Equal(t, []string{"enc"}, names(charts[2]))
	assert.InDelta(t, 2.0, charts[0].Series[0].Points[3].X, 0) // step 4 of 2-step epochs
	// Without the model (no checkpoint), columns named like a loss are the losses.
	charts = trainingCharts(table, nil, 2)
	assert.Equal(t, []string{"kl_loss"}, names(charts[0]))
	assert.Equal(t, []string{"recon", "beta"}, names(charts[1]))

	png := filepath.Join(dir, "loss.png")
	require.NoError(t, writeLossPlot(png, stats, table, 2))
	fi, err := os.Stat(png)
	require.NoError(t, err)
	assert.Greater(t, fi.Size(), int64(1000))
}
