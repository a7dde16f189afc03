package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn/eval"
	"gan/nn/mnist"
	"gan/nn/model"
)

// tinyData makes the folder dir/data with the first nTrain training and
// nTest test images of the embedded MNIST as idx files, and returns it.
func tinyData(t *testing.T, dir string, nTrain, nTest int) string {
	t.Helper()
	data := filepath.Join(dir, "data")
	require.NoError(t, os.Mkdir(data, 0o755))
	writeTinySplit(t, data, true, nTrain)
	writeTinySplit(t, data, false, nTest)
	return data
}

// writeTinySplit writes the first n images and labels of an embedded MNIST
// split as raw idx files (prefix "train" or "t10k") into dir.
func writeTinySplit(t *testing.T, dir string, train bool, n int) {
	t.Helper()
	set, err := mnist.Embedded(train)
	require.NoError(t, err)
	prefix := "t10k"
	if train {
		prefix = "train"
	}
	img := binary.BigEndian.AppendUint32(nil, 0x803)
	img = binary.BigEndian.AppendUint32(img, uint32(n))
	img = binary.BigEndian.AppendUint32(img, 28)
	img = binary.BigEndian.AppendUint32(img, 28)
	img = append(img, set.Images[:n*784]...)
	lab := binary.BigEndian.AppendUint32(nil, 0x801)
	lab = binary.BigEndian.AppendUint32(lab, uint32(n))
	lab = append(lab, set.Labels[:n]...)
	require.NoError(t, os.WriteFile(filepath.Join(dir, prefix+"-images-idx3-ubyte"), img, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte"), lab, 0o644))
}

// tinyRun trains two short epochs on 64 images with --eval-every 1 and
// returns the data and run directories.
func tinyRun(t *testing.T) (data, run string) {
	t.Helper()
	dir := t.TempDir()
	data = tinyData(t, dir, 64, 64)
	run = filepath.Join(dir, "run")
	code, out, errOut := gan("train", "--data", data, "--batch", "16", "--epochs", "2", "--eval-every", "1", "--eval-n", "40", "--out", run, "--seed", "5")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "eval after epoch 1 (40 samples): FID (classifier features)")
	assert.Contains(t, out, "eval after epoch 2 (40 samples)")
	return data, run
}

// --eval-every adds the metrics to the epoch's last row of metrics.csv,
// the watch adds gradient norms to every row, and the plots are written.
func TestTrainEvalEveryAndWatch(t *testing.T) {
	_, run := tinyRun(t)
	table, err := readMetrics(filepath.Join(run, "metrics.csv"))
	require.NoError(t, err)
	rows := table.rows
	require.Equal(t, []string{"G", "D"}, table.nets)
	require.Len(t, rows, 8) // 64 images / 16 = 4 steps per epoch
	for i, r := range rows {
		assert.Greater(t, r.grads[0], 0.0, "row %d", i)
		assert.Greater(t, r.grads[1], 0.0, "row %d", i)
		if r.step%4 == 0 {
			require.True(t, r.ev.has(), "row %d", i)
			assert.Greater(t, r.ev.fid, 0.0)
			assert.GreaterOrEqual(t, r.ev.is, 1.0)
			assert.LessOrEqual(t, r.ev.is, 10.0)
			assert.GreaterOrEqual(t, r.ev.covered, 1.0)
			assert.Greater(t, r.ev.nnDist, 0.0)
		} else {
			assert.False(t, r.ev.has(), "row %d", i)
		}
	}
	csv, err := os.ReadFile(filepath.Join(run, "metrics.csv"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	assert.True(t, strings.HasPrefix(lines[0], seedBaseHeader+","), lines[0])
	assert.True(t, strings.HasSuffix(lines[1], ",,,,,,"), lines[1]) // no eval on step 1
	for _, f := range []string{"loss.png", "eval.png", warningsFile} {
		_, err := os.Stat(filepath.Join(run, f))
		assert.NoError(t, err, f)
	}
	// Eight steps of training leave G's output a noise blob that the
	// classifier puts in one or two classes: the watch reports it at both
	// epoch ends.
	ws, err := readWarnings(filepath.Join(run, warningsFile))
	require.NoError(t, err)
	require.Len(t, ws, 2)
	for i, w := range ws {
		assert.Equal(t, eval.WarnClassCollapse, w.Kind)
		assert.Equal(t, 4*(i+1), w.Step)
		assert.Less(t, w.Value, 5.0)
	}
}

// A gradient norm above 100 reaches the log and warnings.jsonl: a test
// hook blows up G's gradients after step 2, before the watch measures them.
func TestWatchGradNormWarning(t *testing.T) {
	dir := t.TempDir()
	writeTinySplit(t, dir, true, 32)
	run := filepath.Join(dir, "run")
	testHookAfterStep = func(m model.Model, p model.Progress) {
		if p.Step == 2 {
			g := m.Nets()[0]
			require.Equal(t, "G", g.Name)
			big := make([]float32, g.Params.Size())
			for i := range big {
				big[i] = 1 // norm √1486352 ≈ 1219
			}
			require.NoError(t, m.Backend().Upload(g.Params.Grad, big))
		}
	}
	defer func() { testHookAfterStep = nil }()
	code, out, errOut := gan("train", "--data", dir, "--batch", "16", "--epochs", "2", "--out", run)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "warning: step 2 (epoch 1): G's gradient norm 1219 exceeds 100")
	ws, err := readWarnings(filepath.Join(run, warningsFile))
	require.NoError(t, err)
	var grad []eval.Warning
	for _, w := range ws {
		if w.Kind == eval.WarnGradNormG {
			grad = append(grad, w)
		}
	}
	require.Len(t, grad, 1)
	assert.InDelta(t, 1219.16, grad[0].Value, 0.01)
	table, err := readMetrics(filepath.Join(run, "metrics.csv"))
	require.NoError(t, err)
	rows := table.rows
	assert.InDelta(t, 1219.16, rows[1].grads[0], 0.01)
	assert.Less(t, rows[2].grads[0], 100.0)

	// --watch=false in the same directory: no norms, and no warnings file
	// (the previous run's is removed), so the report does not claim a watch.
	code, _, errOut = gan("train", "--data", dir, "--batch", "16", "--epochs", "1", "--watch=false", "--out", run)
	require.Equal(t, 0, code, errOut)
	table, err = readMetrics(filepath.Join(run, "metrics.csv"))
	require.NoError(t, err)
	assert.True(t, math.IsNaN(table.rows[0].grads[0]))
	_, err = os.Stat(filepath.Join(run, warningsFile))
	assert.True(t, os.IsNotExist(err), "%v", err)
	code, _, errOut = gan("report", run, "--no-eval")
	require.Equal(t, 0, code, errOut)
	page, err := os.ReadFile(filepath.Join(run, "report.html"))
	require.NoError(t, err)
	assert.Contains(t, string(page), "trained without the divergence watch")
	assert.NotContains(t, string(page), "gradient norms")
}

// A resumed run keeps the metrics and warnings of the steps before the
// checkpoint, and reads metrics.csv files of the earlier 7-column format.
func TestMetricsAndWarningsResume(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metrics.csv")
	require.NoError(t, os.WriteFile(path, []byte(seedBaseHeader+"\n1,1,1.2,0.7,0.5,0.4,0.1\n2,1,1.1,0.8,0.5,0.4,0.2\n"), 0o644))
	old, err := readMetrics(path)
	require.NoError(t, err)
	require.Len(t, old.rows, 2)
	assert.Empty(t, old.nets) // no gradient columns: not measured
	assert.False(t, old.rows[1].ev.has())
	layout := metricsLayout{stats: []string{"d_loss", "g_loss", "D(x)", "D(G(z))"}, nets: []string{"G", "D"}}
	m, secs, err := openMetrics(path, layout, 1)
	require.NoError(t, err)
	assert.InDelta(t, 0.1, secs, 1e-12)
	require.NoError(t, m.add(model.Progress{Step: 2, Epoch: 0, Stats: []float64{1, 2, 0.5, 0.25}}, 0.3, []float64{4.5, 6.5}, true))
	m.setEval(evalPoint{fid: 12.5, is: 3, kl: 0.5, covered: 7, confident: 0.25, nnDist: 9})
	require.NoError(t, m.close())
	table, err := readMetrics(path)
	require.NoError(t, err)
	rows := table.rows
	require.Len(t, rows, 2)
	assert.InDelta(t, 1.2, rows[0].stats[0], 0) // the old row, converted to the new columns
	assert.True(t, math.IsNaN(rows[0].grads[0]))
	assert.InDelta(t, 4.5, rows[1].grads[0], 0)
	assert.InDelta(t, 12.5, rows[1].ev.fid, 0)
	assert.InDelta(t, 7, rows[1].ev.covered, 0)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(raw), seedMetricsHeader+"\n"), string(raw))

	wpath := filepath.Join(dir, warningsFile)
	w, err := openWarnings(wpath, 0)
	require.NoError(t, err)
	require.NoError(t, w.add(eval.Warning{Step: 3, Epoch: 1, Kind: eval.WarnGradNormD, Value: 120, Message: "x"}))
	require.NoError(t, w.add(eval.Warning{Step: 9, Epoch: 2, Kind: eval.WarnDLossFloor, Value: 1e-4, Message: "y"}))
	w.close()
	w, err = openWarnings(wpath, 5) // resume at step 5: the step-9 warning goes
	require.NoError(t, err)
	w.close()
	ws, err := readWarnings(wpath)
	require.NoError(t, err)
	require.Len(t, ws, 1)
	assert.Equal(t, eval.WarnGradNormD, ws[0].Kind)
	assert.InDelta(t, 120, ws[0].Value, 0)
}

// gan report on a run writes one self-contained page with every section.
func TestReport(t *testing.T) {
	data, run := tinyRun(t)
	code, out, errOut := gan("report", run, "--n", "40", "--data", data)
	require.Equal(t, 0, code, errOut)
	path := filepath.Join(run, "report.html")
	assert.Contains(t, out, path)
	page, err := os.ReadFile(path)
	require.NoError(t, err)
	html := string(page)
	for _, want := range []string{"Divergence watch", "Training curves", "losses (running mean", "D(x), D(G(z)) (running mean", "gradient norms",
		"Metrics during training", "FID, classifier feature space", "Inception-style score", "epoch 1", "epoch 2",
		"Latent interpolation", "Evaluation", "class histogram", "not Inception", `id="slider"`} {
		assert.Contains(t, html, want)
	}
	// Self-contained: no reference to anything outside the file.
	assert.NotRegexp(t, regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:|//)`), html)
	assert.NotContains(t, html, "http://")
	assert.NotContains(t, html, "https://")
	assert.Equal(t, 2, strings.Count(html, `class="grid-img frame-img`)) // one grid per epoch
	assert.Equal(t, 3, strings.Count(html, "data:image/png;base64,"))    // two grids and the strip

	// Without a checkpoint or the evaluation, the page says so.
	require.NoError(t, os.Remove(filepath.Join(run, "checkpoint.safetensors")))
	code, _, errOut = gan("report", run, "--out", filepath.Join(run, "r2.html"))
	require.Equal(t, 0, code, errOut)
	page, err = os.ReadFile(filepath.Join(run, "r2.html"))
	require.NoError(t, err)
	assert.Contains(t, string(page), "No checkpoint")

	code, _, stderr := gan("report")
	requireOneLineError(t, code, stderr, 2, "run directory")
	code, _, stderr = gan("report", filepath.Join(run, "nope"))
	requireOneLineError(t, code, stderr, 1, "nope")
	code, _, stderr = gan("report", run, "extra")
	requireOneLineError(t, code, stderr, 2, "extra")
}

// chromiumPath is Debian's headless-capable browser, installed by
// scripts/install-chromium.sh.
const chromiumPath = "/usr/bin/chromium"

// chromium runs headless Chromium on args with a private profile and no
// network, and returns stdout and stderr.
func chromium(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
		"--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, chromiumPath, append(base, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	require.NoError(t, cmd.Run(), "chromium: %s", e.String())
	return o.String(), e.String()
}

// consoleLines returns Chromium's log lines of the page's console
// (messages, uncaught exceptions, failed loads).
func consoleLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Uncaught") {
			out = append(out, l)
		}
	}
	return out
}

// The report renders in a real browser: headless Chromium runs its script
// without a console message or an uncaught error, and draws a screenshot.
func TestReportInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s not found: headless-browser test skipped (install it with scripts/install-chromium.sh)", chromiumPath)
	}
	data, run := tinyRun(t)
	code, _, errOut := gan("report", run, "--n", "40", "--data", data)
	require.Equal(t, 0, code, errOut)
	page, err := os.ReadFile(filepath.Join(run, "report.html"))
	require.NoError(t, err)

	// A copy with an error catcher that writes any uncaught error into the DOM.
	catcher := `<script>window.addEventListener('error', function (e) { document.documentElement.setAttribute('data-js-error', String(e.message)); });</script>`
	probe := strings.Replace(string(page), "<head>", "<head>\n"+catcher, 1)
	probePath := filepath.Join(run, "probe.html")
	require.NoError(t, os.WriteFile(probePath, []byte(probe), 0o644))
	dom, stderr := chromium(t, "--dump-dom", "file://"+probePath)
	assert.Empty(t, consoleLines(stderr))
	if m := regexp.MustCompile(`<html[^>]*data-js-error="([^"]*)"`).FindStringSubmatch(dom); m != nil {
		t.Errorf("uncaught script error: %s", m[1])
	}
	// The script ran to its end and found both grids.
	assert.True(t, strings.Contains(dom, `<body data-report-ready="2">`), "the page's script did not finish")

	// The screenshot of the page itself.
	shot := filepath.Join(t.TempDir(), "report.png")
	_, stderr = chromium(t, "--screenshot="+shot, "--window-size=1280,2000", "file://"+filepath.Join(run, "report.html"))
	assert.Empty(t, consoleLines(stderr))
	f, err := os.Open(shot)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 1280, 2000), img.Bounds())
	// Not a blank page: many distinct colours (charts, grids, text).
	colours := map[[3]uint32]bool{}
	for y := 0; y < 2000; y += 7 {
		for x := 0; x < 1280; x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
		}
	}
	assert.Greater(t, len(colours), 50)
}
