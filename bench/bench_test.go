package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
)

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{5, 1, 3, 2, 4}, 7)
	assert.Equal(t, Stat{Median: 3, Min: 1, Max: 5, Reps: 5, Iters: 7}, s)
	assert.InDelta(t, 4.0/3, s.Spread(), 1e-12)
	even := Summarize([]float64{4, 1, 3, 2}, 1)
	assert.InDelta(t, 2.5, even.Median, 1e-12)
	assert.Equal(t, Stat{}, Summarize(nil, 3))
	assert.Zero(t, Stat{}.Spread())
}

// fakeClock advances by the op's cost at every call of op.
type fakeClock struct {
	t    time.Time
	cost time.Duration
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) op()            { c.t = c.t.Add(c.cost) }

func TestTimerCalibratesAndReportsPerCallTime(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0), cost: 300 * time.Microsecond}
	calls, syncs := 0, 0
	tm := Timer{Reps: 4, MinRep: 10 * time.Millisecond, now: c.now}
	st, err := tm.Measure(func() { calls++; c.op() }, func() error { syncs++; return nil })
	require.NoError(t, err)
	assert.InDelta(t, 300e-6, st.Median, 1e-12)
	assert.InDelta(t, 300e-6, st.Min, 1e-12)
	assert.InDelta(t, 300e-6, st.Max, 1e-12)
	assert.Equal(t, 4, st.Reps)
	// One repetition must last at least MinRep: ≥ 34 calls of 0.3 ms.
	assert.GreaterOrEqual(t, st.Iters, 34)
	assert.LessOrEqual(t, st.Iters, 100, "the calibration should not overshoot by much")
	// Calibration rounds + one warm-up + 4 timed repetitions, each one sync.
	assert.GreaterOrEqual(t, syncs, 6)
	assert.GreaterOrEqual(t, calls, (4+1)*st.Iters)
}

func TestTimerStopsAtMaxIters(t *testing.T) {
	c := &fakeClock{t: time.Unix(0, 0), cost: time.Nanosecond}
	st, err := Timer{Reps: 2, MinRep: time.Second, MaxIters: 64, now: c.now}.Measure(c.op, func() error { return nil })
	require.NoError(t, err)
	assert.Equal(t, 64, st.Iters)
	assert.InDelta(t, 1e-9, st.Median, 1e-15)
}

func TestTimerReturnsSyncError(t *testing.T) {
	boom := errors.New("device fault")
	n := 0
	_, err := Timer{Reps: 3, MinRep: time.Nanosecond}.Measure(func() {}, func() error {
		n++
		if n == 4 { // untimed call, calibration, warm-up, first repetition
			return boom
		}
		return nil
	})
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "repetition 1")
}

func TestSeedShapes(t *testing.T) {
	assert.Equal(t, 1486352, ParamCount("G"))
	assert.Equal(t, 1460225, ParamCount("D"))
	shapes := MatMulShapes([]int{64, 256}, []int{1024})
	require.Len(t, shapes, 2*8*3+1)
	keys := map[string]bool{}
	for _, s := range shapes {
		assert.False(t, keys[s.Key], "duplicate key %s", s.Key)
		keys[s.Key] = true
	}
	// D1 (784→1024) at batch 256: y = x·Wᵀ is 256×1024×784 with B
	// transposed; dx = dz·W is 256×784×1024; dW = dzᵀ·x is 1024×784×256.
	find := func(key string) MatMulShape {
		for _, s := range shapes {
			if s.Key == key {
				return s
			}
		}
		t.Fatalf("no shape %s", key)
		return MatMulShape{}
	}
	assert.Equal(t, MatMulShape{Key: "matmul/b256/D1.fwd", Label: "b256 D1 fwd", M: 256, N: 1024, K: 784, TransB: true, Batch: 256}, find("matmul/b256/D1.fwd"))
	assert.Equal(t, MatMulShape{Key: "matmul/b256/D1.dx", Label: "b256 D1 dx", M: 256, N: 784, K: 1024, Batch: 256}, find("matmul/b256/D1.dx"))
	assert.Equal(t, MatMulShape{Key: "matmul/b256/D1.dW", Label: "b256 D1 dW", M: 1024, N: 784, K: 256, TransA: true, Batch: 256}, find("matmul/b256/D1.dW"))
	sq := find("matmul/square1024")
	assert.Equal(t, 2*math.Pow(1024, 3), sq.Flops())
}

func TestDefaultOptions(t *testing.T) {
	o, notes := DefaultOptions("cpu", false, false)
	assert.Equal(t, []int{64, 256, 1024}, o.StepBatches)
	assert.Equal(t, []int{1024}, o.Squares)
	require.Len(t, notes, 1)
	assert.Contains(t, notes[0], "4096")
	o, notes = DefaultOptions("cpu", false, true)
	assert.Equal(t, []int{64, 256, 1024, 4096}, o.StepBatches)
	assert.Equal(t, []int{1024, 4096}, o.Squares)
	assert.Empty(t, notes)
	o, _ = DefaultOptions("cuda", false, false)
	assert.Equal(t, []int{64, 256, 1024, 4096}, o.StepBatches)
	assert.Equal(t, []int{64, 256, 1024}, o.KernelBatches)
	o, _ = DefaultOptions("cuda", true, false)
	assert.Equal(t, []int{64}, o.KernelBatches)
	assert.Less(t, o.Timer.MinRep, 10*time.Millisecond)
}

// quickOptions measures a small subset, fast.
func quickOptions() Options {
	return Options{Timer: Timer{Reps: 2, MinRep: 100 * time.Microsecond}, KernelBatches: []int{8}, StepBatches: []int{8, 64}, Squares: []int{32}}
}

func TestRunDeviceOnCPU(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	var progress bytes.Buffer
	o := quickOptions()
	o.Groups = []string{GroupMatMul, GroupElementwise, GroupStep}
	o.Progress = &progress
	run, err := RunDevice(b, o)
	require.NoError(t, err)
	assert.Equal(t, "cpu", run.Device)
	assert.Equal(t, "gan", run.Impl)
	assert.Empty(t, run.Error)
	// 24 products + 1 square, 3 activations + BCE, 2 Adams, 2 steps, 1 epoch.
	require.Len(t, run.Results, 24+1+4+2+2+1)
	for _, r := range run.Results {
		assert.Positive(t, r.Value, r.Key)
		assert.Positive(t, r.Seconds.Median, r.Key)
		assert.LessOrEqual(t, r.Seconds.Min, r.Seconds.Median, r.Key)
		assert.GreaterOrEqual(t, r.Seconds.Max, r.Seconds.Median, r.Key)
		assert.Equal(t, 2, r.Seconds.Reps, r.Key)
		assert.Contains(t, progress.String(), r.Label)
	}
	mm, ok := run.Find("matmul/b8/G4.dW")
	require.True(t, ok)
	assert.Equal(t, 784, mm.M)
	assert.InDelta(t, 2*784*1024*8/mm.Seconds.Median/1e9, mm.Value, 1e-9*mm.Value)
	ad, ok := run.Find("adam/G")
	require.True(t, ok)
	assert.InDelta(t, 28*1486352/ad.Seconds.Median/1e9, ad.Value, 1e-9*ad.Value)
	st, ok := run.Find("step/b64")
	require.True(t, ok)
	assert.InDelta(t, 64*st.Value, st.ImagesPerS, 1e-9*st.ImagesPerS)
	ep, ok := run.Find("epoch/b64")
	require.True(t, ok)
	assert.True(t, ep.Derived)
	assert.InDelta(t, 938*st.Seconds.Median, ep.Value, 1e-9*ep.Value)
	_, ok = run.Find("epoch/b8")
	assert.False(t, ok, "only the seed's batch 64 has a derived epoch time")
}

func TestRunDeviceSelectsGroups(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	o := quickOptions()
	o.Groups = []string{GroupElementwise}
	run, err := RunDevice(b, o)
	require.NoError(t, err)
	require.Len(t, run.Results, 6)
	for _, r := range run.Results {
		assert.Equal(t, GroupElementwise, r.Group)
	}
}

// failingBackend fails every Sync, as a device fault would.
type failingBackend struct{ *cpu.Backend }

func (failingBackend) Sync() error { return errors.New("sticky device error") }

func TestRunDeviceReportsBackendFailure(t *testing.T) {
	b := failingBackend{cpu.New()}
	defer b.Close()
	run, err := RunDevice(b, quickOptions())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sticky device error")
	assert.Equal(t, err.Error(), run.Error)
	assert.Empty(t, run.Results)
}

// sampleReport is a small report of two runs with fixed values.
func sampleReport() Report {
	rep := Report{Schema: Schema, Tool: "gan", Date: "2026-01-02T03:04:05Z", Commit: "abc123",
		Host: Host{CPU: "Test CPU", Cores: 2, OS: "linux", Arch: "amd64", Runtime: "go"}, Settings: Settings{Reps: 5, MinRepSecond: 0.05}}
	stat := func(s float64) Stat { return Stat{Median: s, Min: s * 0.9, Max: s * 1.3, Reps: 5, Iters: 10} }
	mk := func(device string, scale float64) Run {
		step := Result{Key: "step/b64", Group: GroupStep, Label: "train step b64", Batch: 64, Seconds: stat(0.01 / scale), Value: 100 * scale, Unit: UnitSteps, ImagesPerS: 6400 * scale}
		return Run{Device: device, Impl: "gan", DeviceName: device + " chip", Results: []Result{
			{Key: "matmul/b64/G1.fwd", Group: GroupMatMul, Label: "b64 G1 fwd", M: 64, N: 256, K: 100, TransB: true, Batch: 64, Seconds: stat(1e-4 / scale), Value: 30 * scale, Unit: UnitGFLOPS},
			{Key: "matmul/square4096", Group: GroupMatMul, Label: "square 4096", M: 4096, N: 4096, K: 4096, Seconds: stat(1 / scale), Value: 40 * scale, Unit: UnitGFLOPS},
			{Key: "adam/G", Group: GroupElementwise, Label: "Adam G", Elements: 1486352, Seconds: stat(1e-3 / scale), Value: 10 * scale, Unit: UnitGBps},
			step, EpochResult(step),
		}}
	}
	rep.Runs = []Run{mk("cpu", 1), mk("cuda", 50)}
	return rep
}

func TestReportJSONRoundTrip(t *testing.T) {
	rep := sampleReport()
	path := filepath.Join(t.TempDir(), "r.json")
	require.NoError(t, nn.WriteFileAtomic(path, rep.WriteJSON))
	got, err := ReadReport(path)
	require.NoError(t, err)
	assert.Equal(t, rep, got)

	// The keys bench/pytorch relies on.
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(raw, &generic))
	run := generic["runs"].([]any)[0].(map[string]any)
	res := run["results"].([]any)[0].(map[string]any)
	for _, k := range []string{"key", "group", "label", "m", "n", "k", "trans_b", "batch", "seconds", "value", "unit"} {
		assert.Contains(t, res, k)
	}
	assert.Contains(t, res["seconds"], "median")

	require.NoError(t, os.WriteFile(path, []byte(`{"schema":"other/1"}`), 0o644))
	_, err = ReadReport(path)
	assert.ErrorContains(t, err, "schema")
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	rep := sampleReport()
	rep.Runs = append(rep.Runs, Run{Device: "tpu", Impl: "gan", Error: "no such device"})
	require.NoError(t, WriteTable(&buf, rep))
	out := buf.String()
	for _, want := range []string{"commit abc123", "== cpu: cpu chip ==", "== cuda: cuda chip ==", "GFLOP/s = 2·m·n·k / s",
		"64×256×100", "N·T", "B/element", "images/s", "s/epoch", "938", "tpu: not measured: no such device"} {
		assert.Contains(t, out, want)
	}
	// The batch-64 step of the cuda run: 5000 steps/s, 320000 images/s, spread 40%.
	assert.Regexp(t, `64\s+200 µs\s+5000\s+320000\s+40\.0%`, out)
}

func TestFormat(t *testing.T) {
	assert.Equal(t, "12.3 µs", FormatDuration(12.3e-6))
	assert.Equal(t, "4.56 ms", FormatDuration(4.56e-3))
	assert.Equal(t, "1.5 s", FormatDuration(1.5))
	assert.Equal(t, "-", FormatDuration(0))
	assert.Equal(t, "1235", FormatNumber(1234.6))
	assert.Equal(t, "12.35", FormatNumber(12.345))
	assert.Equal(t, "0.123", FormatNumber(0.1234))
	assert.Equal(t, "0.00123", FormatNumber(0.001234))
}

func TestWriteStepPlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "steps.png")
	rep := sampleReport()
	for i := range rep.Runs {
		rep.Runs[i].Results = append(rep.Runs[i].Results, Result{Key: "step/b256", Group: GroupStep, Batch: 256, Value: 40 * float64(i+1)})
	}
	require.NoError(t, WriteStepPlot(path, "steps", rep.Runs))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 400)

	err = WriteStepPlot(filepath.Join(t.TempDir(), "none.png"), "steps", []Run{{Device: "cpu"}})
	assert.ErrorContains(t, err, "no training-step results")
}

func TestTicks125(t *testing.T) {
	var vals []float64
	for _, tk := range (ticks125{}).Ticks(3, 120) {
		vals = append(vals, tk.Value)
	}
	assert.Equal(t, []float64{5, 10, 20, 50, 100}, vals)
}

const sampleGoBench = `goos: linux
goarch: amd64
pkg: gan/bench
cpu: AMD EPYC
BenchmarkMatMul/shape=b64.G1.fwd/impl=ours-2         	    1000	    100000 ns/op	        33.0 GFLOP/s
BenchmarkMatMul/shape=b64.G1.fwd/impl=gonum-2        	     500	    300000 ns/op	        11.0 GFLOP/s
BenchmarkMatMul/shape=b64.G1.fwd/impl=ours-2         	    1000	    120000 ns/op	        28.0 GFLOP/s
BenchmarkMatMul/shape=b64.G1.fwd/impl=gonum-2        	     500	    310000 ns/op	        10.0 GFLOP/s
BenchmarkMatMul/shape=b64.G1.fwd/impl=ours-2         	    1000	    110000 ns/op	        30.0 GFLOP/s
BenchmarkMatMul/shape=b64.G1.fwd/impl=gonum-2        	     500	    290000 ns/op	        12.0 GFLOP/s
BenchmarkMatMul/shape=b64.G1.fwd/impl=ours-sgemm-2   	    5000	     20000 ns/op	       160.0 GFLOP/s
BenchmarkTrainStep/batch=64/impl=ours-2              	      50	  20000000 ns/op	        50.0 steps/s	      3200 images/s
BenchmarkTrainStep/batch=64/impl=gorgonia-2          	      10	 100000000 ns/op	        10.0 steps/s	       640 images/s
PASS
ok  	gan/bench	12.3s
`

func TestParseGoBench(t *testing.T) {
	lines, err := ParseGoBench(strings.NewReader(sampleGoBench))
	require.NoError(t, err)
	require.Len(t, lines, 9)
	assert.Equal(t, "BenchmarkMatMul/shape=b64.G1.fwd/impl=ours", lines[0].Name)
	assert.Equal(t, 2, lines[0].Procs)
	assert.Equal(t, 1000, lines[0].N)
	assert.Equal(t, map[string]float64{"ns/op": 100000, "GFLOP/s": 33}, lines[0].Metrics)
	rows := summarizeGoBench(lines)
	require.Len(t, rows, 2)
	assert.Equal(t, "shape=b64.G1.fwd", rows[0].base)
	assert.InDelta(t, 110000, rows[0].ns["ours"], 1e-9)
	assert.InDelta(t, 300000, rows[0].ns["gonum"], 1e-9)
	assert.InDelta(t, 300000.0/110000, rows[0].speedup("gonum"), 1e-12)
	assert.InDelta(t, 30, rows[0].metric["ours"], 1e-12)
	assert.InDelta(t, 5, rows[1].speedup("gorgonia"), 1e-12)
	assert.True(t, math.IsNaN(rows[1].speedup("absent")))
}

func TestCompare(t *testing.T) {
	ours := sampleReport()
	torch := Report{Schema: Schema, Tool: "pytorch", Date: "2026-01-02T03:05:00Z", Host: ours.Host, Settings: ours.Settings}
	stat := Stat{Median: 1, Min: 1, Max: 1, Reps: 5, Iters: 1}
	torch.Runs = []Run{
		{Device: "cuda", Impl: "pytorch", Results: []Result{
			{Key: "matmul/b64/G1.fwd", Group: GroupMatMul, Label: "b64 G1 fwd", M: 64, N: 256, K: 100, TransB: true, Batch: 64, Seconds: stat, Value: 3000, Unit: UnitGFLOPS},
			{Key: "matmul/square4096", Group: GroupMatMul, Label: "square 4096", M: 4096, N: 4096, K: 4096, Seconds: stat, Value: 2500, Unit: UnitGFLOPS},
		}},
		{Device: "cuda", Impl: "pytorch-eager", Results: []Result{{Key: "step/b64", Group: GroupStep, Label: "train step b64", Batch: 64, Seconds: stat, Value: 1000, Unit: UnitSteps}}},
		{Device: "cuda", Impl: "pytorch-graphs", Results: []Result{{Key: "step/b64", Group: GroupStep, Label: "train step b64", Batch: 64, Seconds: stat, Value: 4000, Unit: UnitSteps}}},
		{Device: "cuda", Impl: "pytorch-compile", Error: "torch.compile failed: no triton"},
	}
	lines, err := ParseGoBench(strings.NewReader(sampleGoBench))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, Compare(&buf, CompareInput{Title: "Side by side", Preamble: "Made by *hand*.\n", Reports: []Report{ours, torch}, GoBench: lines, PlotFile: "steps.png"}))
	md := buf.String()
	for _, want := range []string{
		"# Side by side\n\nMade by *hand*.\n\nCommit `abc123`", "![training steps/s against batch size](steps.png)",
		"**pytorch-compile cuda**. **Not (fully) measured:** torch.compile failed: no triton",
		// gan cuda 5000 steps/s against eager 1000 (5×) and graphs 4000 (1.25×); GPU/CPU 50×.
		"| train step b64 | 100.0 (6400 img/s) ±20% | 5000 (320000 img/s) ±20% | 1000 | 4000 | 5.00× | 1.25× | 50.00× |",
		// SGEMM: 1500/3000 at b64 G1 fwd, 2000/2500 at 4096.
		"| square 4096 | 4096×4096×4096 | N·N | 40.00 ±20% | 2000 ±20% | 2500 | 0.80× | 50.00× |",
		"| GPU training step, batch 64: ≥ 5× PyTorch eager (seed code) | 5.00× PyTorch eager | yes |",
		"| GPU training step, batch 64: faster than PyTorch with CUDA graphs | 1.25× PyTorch graphs | yes |",
		"| SGEMM ≥ 70% of cuBLAS FP32 at 4096³ | 0.80× cuBLAS | yes |",
		"median 0.50×, worst 0.50× (b64 G1 fwd); 0 of 1 shapes below 0.5× | yes |",
		"| CPU training step, batch 64: faster than Gorgonia's (go test -bench) | 5.00× Gorgonia | yes |",
		// ours-sgemm is ours too: no ratio column for it.
		"| BenchmarkMatMul | ours time (GFLOP/s) | gonum time (GFLOP/s) | ours-sgemm time (GFLOP/s) | ours vs gonum |",
		"| shape=b64.G1.fwd | 110 µs (30.00) | 300 µs (11.00) | 20 µs (160.0) | 2.73× |",
		"| batch=64 | 20 ms (50.00) | 100 ms (10.00) | 5.00× |",
		"938 steps",
	} {
		assert.Contains(t, md, want)
	}
	// Without PyTorch's figures the targets say so.
	buf.Reset()
	require.NoError(t, Compare(&buf, CompareInput{Title: "CPU only", Reports: []Report{ours}}))
	assert.Contains(t, buf.String(), "| SGEMM ≥ 70% of cuBLAS FP32 at 4096³ | not measured | – |")
	assert.NotContains(t, buf.String(), "Go benchmarks")
}

// TestCompareMergesRunsOfOneImplementation: PyTorch's seed peer and its
// PixelCNN and char-gpt peers write separate reports whose runs have the
// same label; the page shows their figures in one column.
func TestCompareMergesRunsOfOneImplementation(t *testing.T) {
	stat := Stat{Median: 1, Min: 1, Max: 1, Reps: 5, Iters: 1}
	host := sampleReport().Host
	ours := Report{Schema: Schema, Tool: "gan", Host: host, Runs: []Run{{Device: "cpu", Impl: "gan", Results: []Result{
		{Key: "step/b64", Group: GroupStep, Label: "train step b64", Batch: 64, Seconds: stat, Value: 60, Unit: UnitSteps},
		{Key: "pixelcnn-step/b64", Group: GroupPixelCNNStep, Label: "PixelCNN step b64", Batch: 64, Seconds: stat, Value: 3, Unit: UnitSteps},
		{Key: "char-gpt-step/b12", Group: GroupTextStep, Label: "char-gpt step b12×64", Batch: 12, Seconds: stat, Value: 30, Unit: UnitSteps},
	}}}}
	seed := Report{Schema: Schema, Tool: "pytorch", Host: host, Runs: []Run{{Device: "cpu", Impl: "pytorch-eager", Results: []Result{
		{Key: "step/b64", Group: GroupStep, Label: "train step b64", Batch: 64, Seconds: stat, Value: 30, Unit: UnitSteps},
	}}}}
	pixel := Report{Schema: Schema, Tool: "pytorch", Host: host, Runs: []Run{{Device: "cpu", Impl: "pytorch-eager", Results: []Result{
		{Key: "step/b64", Group: GroupStep, Label: "train step b64", Batch: 64, Seconds: stat, Value: 999, Unit: UnitSteps},
		{Key: "pixelcnn-step/b64", Group: GroupPixelCNNStep, Label: "PixelCNN step b64", Batch: 64, Seconds: stat, Value: 5, Unit: UnitSteps},
	}}}}
	text := Report{Schema: Schema, Tool: "pytorch", Host: host, Runs: []Run{{Device: "cpu", Impl: "pytorch-eager", Results: []Result{
		{Key: "char-gpt-step/b12", Group: GroupTextStep, Label: "char-gpt step b12×64", Batch: 12, Seconds: stat, Value: 20, Unit: UnitSteps},
	}}}}
	var buf bytes.Buffer
	require.NoError(t, Compare(&buf, CompareInput{Title: "t", Reports: []Report{ours, seed, pixel, text}}))
	md := buf.String()
	assert.Contains(t, md, "| PixelCNN step b64 | 3.000 | 5.000 |", "the second report's PixelCNN figure joins the column")
	assert.Contains(t, md, "## char-gpt training step (steps/s, median)")
	assert.Contains(t, md, "| char-gpt step b12×64 | 30.00 | 20.00 | 1.50× |", "the char-gpt peer's report, with the ratio")
	assert.NotContains(t, md, "999", "the first report's figure for a key wins")
	assert.Len(t, seed.Runs[0].Results, 1, "the first report is not modified")
}
