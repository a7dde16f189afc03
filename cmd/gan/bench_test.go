package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/bench"
	"gan/gpu"
)

// gan bench --device cpu --quick --json F prints the table and writes the
// JSON report and, beside it, the steps/s plot.
func TestBenchQuickCPU(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "bench.json")
	code, out, errOut := gan("bench", "--device", "cpu", "--quick", "--json", jsonPath)
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{"== cpu", "GFLOP/s = 2·m·n·k / s", "b64 G4 fwd", "LeakyReLU fwd", "sigmoid+BCE", "Adam G",
		"steps/s", "images/s", "s/epoch", "--quick", "JSON: " + jsonPath, "plot: " + filepath.Join(dir, "bench.png")} {
		assert.Contains(t, out, want)
	}
	assert.Contains(t, errOut, "cpu: train step b64", "progress lines go to stderr")

	raw, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var rep bench.Report
	require.NoError(t, json.Unmarshal(raw, &rep))
	assert.Equal(t, bench.Schema, rep.Schema)
	assert.Equal(t, "gan", rep.Tool)
	assert.True(t, rep.Settings.Quick)
	assert.Equal(t, 3, rep.Settings.Reps)
	assert.NotEmpty(t, rep.Date)
	assert.NotEmpty(t, rep.Host.CPU)
	require.Len(t, rep.Runs, 1)
	run := rep.Runs[0]
	assert.Equal(t, "cpu", run.Device)
	assert.Equal(t, "gan", run.Impl)
	assert.Positive(t, run.Threads)
	assert.Empty(t, run.Error)
	groups := map[string]int{}
	for _, r := range run.Results {
		groups[r.Group]++
		assert.Positive(t, r.Value, r.Key)
		assert.Positive(t, r.Seconds.Median, r.Key)
		assert.Equal(t, 3, r.Seconds.Reps, r.Key)
		assert.NotEmpty(t, r.Unit, r.Key)
	}
	assert.Equal(t, map[string]int{bench.GroupMatMul: 24, bench.GroupElementwise: 6, bench.GroupStep: 2, bench.GroupEpoch: 1,
		bench.GroupConv: 18, bench.GroupDCGANStep: 1, bench.GroupTextStep: 1, bench.GroupPixelCNNStep: 1, bench.GroupVAEStep: 1}, groups)
	for _, key := range []string{"matmul/b64/D1.dW", "leaky_relu.fwd/b64", "leaky_relu.bwd/b64", "bce/b64", "adam/D", "step/b64", "step/b128", "epoch/b64"} {
		_, ok := run.Find(key)
		assert.True(t, ok, key)
	}

	f, err := os.Open(filepath.Join(dir, "bench.png"))
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 400)

	// bench-report turns the JSON into markdown with the plot linked.
	md, plot := filepath.Join(dir, "r.md"), filepath.Join(dir, "r.png")
	code, out, errOut = gan("bench-report", "--gan", jsonPath, "--out", md, "--plot", plot, "--title", "CPU run")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "wrote "+md)
	page, err := os.ReadFile(md)
	require.NoError(t, err)
	assert.Contains(t, string(page), "# CPU run")
	assert.Contains(t, string(page), "![training steps/s against batch size](r.png)")
	assert.Contains(t, string(page), "| train step b64 |")
	_, err = os.Stat(plot)
	assert.NoError(t, err)

	// A report without the seed's step (e.g. --what dcgan) has no plot to
	// draw: the page is written without one.
	rep.Runs[0].Results = slices.DeleteFunc(rep.Runs[0].Results, func(r bench.Result) bool { return r.Group == bench.GroupStep })
	noStep := filepath.Join(dir, "nostep.json")
	raw, err = json.Marshal(rep)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(noStep, raw, 0o644))
	md, plot = filepath.Join(dir, "n.md"), filepath.Join(dir, "n.png")
	code, _, errOut = gan("bench-report", "--gan", noStep, "--out", md, "--plot", plot, "--title", "no step")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "no plot")
	page, err = os.ReadFile(md)
	require.NoError(t, err)
	assert.NotContains(t, string(page), "n.png")
	assert.Contains(t, string(page), "DCGAN training step")
	_, err = os.Stat(plot)
	assert.True(t, os.IsNotExist(err), "no plot file")
}

// A device this binary cannot open is reported on one line and skipped;
// the others are still measured.
func TestBenchSkipsUnavailableDevice(t *testing.T) {
	if gpu.Available() {
		t.Skip("this binary has CUDA and a GPU: the cuda device is available")
	}
	code, out, errOut := gan("bench", "--device", "cpu,cuda", "--quick", "--what", "step", "--batches", "16")
	require.Equal(t, 0, code, errOut)
	first := strings.SplitN(out, "\n", 2)[0]
	assert.Contains(t, first, "cuda: skipped")
	assert.Contains(t, first, "without CUDA")
	assert.Contains(t, out, "training step")
	assert.Regexp(t, `\n\s+16\s+\S+ ms`, out, "the batch-16 step row")
	assert.Contains(t, out, "cuda: not measured")
	assert.Contains(t, out, "(no plot: pass --plot FILE or --json FILE)")
	assert.NotContains(t, out, "GFLOP/s", "--what step runs no matrix product")

	// Only unavailable devices: nothing measured is an error.
	code, _, errOut = gan("bench", "--device", "cuda", "--quick")
	requireOneLineError(t, code, errOut, 1, "gan bench", "could not be measured")
}

func TestBenchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--device", "tpu"}, `--device "tpu"`},
		{[]string{"--quick", "--full"}, "exclude each other"},
		{[]string{"--what", "matmul,nope"}, `--what "nope"`},
		{[]string{"--batches", "64,x"}, "--batches"},
		{[]string{"--squares", "-1"}, "--squares"},
		{[]string{"--reps", "-2"}, "must not be negative"},
		{[]string{"--dcgan-size", "30"}, "--dcgan-size: size 30"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		code, _, errOut := gan(append([]string{"bench"}, tc.args...)...)
		requireOneLineError(t, code, errOut, 2, tc.want)
	}
	code, _, errOut := gan("bench-report")
	requireOneLineError(t, code, errOut, 2, "nothing to report")
	code, _, errOut = gan("bench-report", "--gan", filepath.Join(t.TempDir(), "missing.json"))
	requireOneLineError(t, code, errOut, 1, "missing.json")
}
