package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gan/nn"
	"gan/nn/eval"
	"gan/nn/imageio"
	"gan/nn/model"
	"gan/nn/models/vae"
	"gan/nn/report"
)

func init() {
	register(command{"report", "write RUN_DIR/report.html: curves, metrics, samples per epoch, interpolation, evaluation", runReport})
}

func runReport(args []string, stdout, stderr io.Writer) error {
	var f evalFlags
	fs := newFlagSet("report", stderr)
	f.register(fs, 10000)
	out := fs.String("out", "", "HTML file to write (default RUN_DIR/report.html)")
	noEval := fs.Bool("no-eval", false, "leave out the final evaluation (the slowest part)")
	var lf likelihoodFlags // a VAE's likelihood (vaepictures.go)
	lf.registerWith(fs, reportLikelihoodK, reportLikelihoodN)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gan report [flags] RUN_DIR")
		fs.PrintDefaults()
	}
	// The run directory may come before or after the flags.
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	rest := fs.Args()
	if dir == "" && len(rest) > 0 {
		dir, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if dir == "" {
		return usagef("give the run directory: gan report RUN_DIR")
	}
	if err := f.check(); err != nil {
		return err
	}
	if err := lf.check(); err != nil {
		return err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("run directory %s: not a directory", dir)
	}
	if *out == "" {
		*out = filepath.Join(dir, "report.html")
	}
	run, err := collectRun(dir, &f, &lf, !*noEval, stderr)
	if err != nil {
		return err
	}
	if err := nn.WriteFileAtomic(*out, func(w io.Writer) error { return report.Write(w, run) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// collectRun reads a run directory and, when it holds a checkpoint,
// generates the interpolation strip, a VAE's section (its pictures and,
// withEval, its likelihood with lf's samples) and (withEval) the
// evaluation; notices
// (such as --device auto's) go to stderr.
func collectRun(dir string, f *evalFlags, lf *likelihoodFlags, withEval bool, stderr io.Writer) (*report.Run, error) {
	r := &report.Run{Title: "GAN training report: " + filepath.Base(filepath.Clean(dir))}
	t, err := readMetrics(filepath.Join(dir, "metrics.csv"))
	switch {
	case os.IsNotExist(err):
		r.Notes = append(r.Notes, "No metrics.csv in the run directory: no curves.")
		t = &metricsTable{}
	case err != nil:
		return nil, err
	}
	batches := batchesOf(t.rows)
	r.Metrics = metricCharts(t.rows, batches)
	if r.Frames, err = readFrames(filepath.Join(dir, "samples")); err != nil {
		return nil, err
	}
	ws, err := readWarnings(filepath.Join(dir, warningsFile))
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	r.Warnings, r.Watched = ws, err == nil

	ckpt := filepath.Join(dir, "checkpoint.safetensors")
	if _, err := os.Stat(ckpt); err != nil {
		r.Notes = append(r.Notes, "No checkpoint.safetensors in the run directory: no interpolation and no evaluation.")
		r.Subtitle = fmt.Sprintf("%d logged steps", len(t.rows))
		r.Training = trainingCharts(t, nil, batches)
		return r, nil
	}
	b, err := openDevice(f.device, stderr)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	m, err := loadModel(b, "run directory", ckpt, defaultModel, false)
	if err != nil {
		return nil, err
	}
	defer m.Free()
	r.Training = trainingCharts(t, m.Stats(), batches)
	c := m.Config()
	r.Subtitle = fmt.Sprintf("%s on %s, batch %d, Adam lr %g (β %g, %g), seed %d; checkpoint at step %d (epoch %.2f of %d)",
		c.Model, c.Dataset, c.Batch, c.LR, c.Beta1, c.Beta2, c.Seed, m.Step(), float64(m.Step())/float64(max(batches, 1)), c.Epochs)
	if c.Loss != "" {
		r.Subtitle += fmt.Sprintf("; loss %s, %d D steps per G step", c.Loss, max(c.NCritic, 1))
	}
	if v, ok := m.(*vae.VAE); ok { // the VAE's pictures and likelihood (vaepictures.go)
		var note string
		if r.VAE, note, err = vaeSection(v, f, lf, withEval, stderr); err != nil {
			return nil, err
		}
		if note != "" {
			r.Notes = append(r.Notes, note)
		}
	}
	g, shape, err := generatorOf(m, ckpt)
	if err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("No interpolation and no evaluation: %v.", err))
		return r, nil
	}
	seeds := []uint64{f.seed, f.seed + 1, f.seed + 2, f.seed + 3, f.seed + 4}
	const frames = 10
	strip, err := interpolationStrip(g, shape, seeds, frames, noLabel)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, strip); err != nil {
		return nil, fmt.Errorf("interpolation strip: %w", err)
	}
	r.Interpolation = buf.Bytes()
	r.InterpolationCaption = fmt.Sprintf("Spherical interpolation of the generator's input through seeds %v, %d steps per row; each row starts at image 0 of gan sample --seed S (gan sample --interpolate draws the same strip).", seeds, frames)
	if !withEval {
		r.Notes = append(r.Notes, "Evaluation left out (--no-eval).")
		return r, nil
	}
	view, err := mnistGenerator(m, ckpt)
	if err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("No evaluation: %v.", err))
		return r, nil
	}
	if c.Dataset == imagesDataset {
		r.Notes = append(r.Notes, "No evaluation: the model was trained on --images pictures, and the evaluation's classifier reads MNIST-style digits.")
		return r, nil
	}
	pix, labels, err := generateFor(view, imageio.MNIST, f.n, f.seed, noLabel)
	if err != nil {
		return nil, err
	}
	e, free, err := evaluatorFor(b, c.Dataset, f, nil)
	if err != nil {
		return nil, err
	}
	defer free()
	source := fmt.Sprintf("%d samples of seed %d from %s (step %d), on %s", f.n, f.seed, ckpt, m.Step(), b.Name())
	if r.Eval, err = e.Run(source, c.Dataset, pix); err != nil {
		return nil, err
	}
	if err := addConditional(e, r.Eval, pix, labels); err != nil {
		return nil, err
	}
	return r, nil
}

// batchesOf infers the batches per epoch from the logged rows: the last
// step of epoch 1 when the log reaches epoch 2, else the rows' count.
func batchesOf(rows []metricRow) int {
	last := 0
	for _, r := range rows {
		if r.epoch == 1 {
			last = max(last, r.step)
		}
		if r.epoch >= 2 {
			return max(last, 1)
		}
	}
	return max(len(rows), 1)
}

// isLoss reports whether the statistic named name is a loss: as stats (the
// model's, when the run's checkpoint was read) says, else by its name.
func isLoss(name string, stats []model.Stat) bool {
	for _, s := range stats {
		if s.Name == name {
			return s.Loss
		}
	}
	return strings.Contains(strings.ToLower(name), "loss")
}

// trainingCharts draws the statistics of the table's columns, losses in
// one chart and the others in a second (for the seed GAN D's mean outputs
// on real and generated images), and, when logged, the gradient norm of
// each network, all as running means over a tenth of an epoch like
// loss.png and in its colours. stats are the model's statistics (nil when
// unknown: the columns named like a loss count as losses).
func trainingCharts(t *metricsTable, stats []model.Stat, batches int) []report.Chart {
	rows := t.rows
	if len(rows) == 0 {
		return nil
	}
	window := max(1, batches/10)
	smooth := func(rows []metricRow, get func(metricRow) float64) []report.Point {
		pts := make([]report.Point, 0, len(rows))
		var sum float64
		n := 0
		for i, r := range rows {
			sum += get(r)
			n++
			if i >= window {
				sum -= get(rows[i-window])
				n--
			}
			pts = append(pts, report.Point{X: float64(r.step) / float64(batches), Y: sum / float64(n)})
		}
		return pts
	}
	const mean = " (running mean over 0.1 epoch)"
	losses := report.Chart{Title: "losses" + mean, XLabel: "epoch", YLabel: "loss"}
	others := report.Chart{XLabel: "epoch", YLabel: "value"}
	var otherNames []string
	for i, name := range t.stats {
		s := report.Series{Name: name, Color: paletteHex(i), Points: smooth(rows, func(r metricRow) float64 { return r.stats[i] })}
		if isLoss(name, stats) {
			losses.Series = append(losses.Series, s)
		} else {
			others.Series = append(others.Series, s)
			otherNames = append(otherNames, name)
		}
	}
	others.Title = strings.Join(otherNames, ", ") + mean
	var charts []report.Chart
	for _, c := range []report.Chart{losses, others} {
		if len(c.Series) > 0 {
			charts = append(charts, c)
		}
	}
	var gRows []metricRow
	for _, r := range rows {
		ok := len(r.grads) > 0
		for _, g := range r.grads {
			ok = ok && !math.IsNaN(g)
		}
		if ok {
			gRows = append(gRows, r)
		}
	}
	if len(gRows) > 0 {
		c := report.Chart{Title: "gradient norms (the watch warns above 100)", XLabel: "epoch", YLabel: "‖∇‖₂", LogY: true,
			HLines: []float64{eval.DefaultWatchConfig().MaxGradNorm}}
		for k, name := range t.nets {
			c.Series = append(c.Series, report.Series{Name: name, Color: paletteHex(len(t.stats) + k),
				Points: smooth(gRows, func(r metricRow) float64 { return r.grads[k] })})
		}
		charts = append(charts, c)
	}
	return charts
}

// metricCharts draws the --eval-every metrics against epochs.
func metricCharts(rows []metricRow, batches int) []report.Chart {
	var pts []metricRow
	for _, r := range rows {
		if r.ev.has() {
			pts = append(pts, r)
		}
	}
	if len(pts) == 0 {
		return nil
	}
	var charts []report.Chart
	for _, m := range []struct {
		title, unit string
		yr          [2]float64
		value       func(evalPoint) float64
	}{
		{"FID, classifier feature space", "FID", [2]float64{}, func(e evalPoint) float64 { return e.fid }},
		{"Inception-style score (classifier)", "IS", [2]float64{1, 10}, func(e evalPoint) float64 { return e.is }},
		{"classes with ≥ 2% of samples", "classes", [2]float64{0, 10}, func(e evalPoint) float64 { return e.covered }},
		{"class KL to uniform", "nats", [2]float64{}, func(e evalPoint) float64 { return e.kl }},
		{"confident share (top p > 0.9)", "share", [2]float64{0, 1}, func(e evalPoint) float64 { return e.confident }},
		{"distance to nearest training image", "L2", [2]float64{}, func(e evalPoint) float64 { return e.nnDist }},
	} {
		s := report.Series{Color: "#1f77b4", Markers: true}
		for _, r := range pts {
			s.Points = append(s.Points, report.Point{X: float64(r.step) / float64(batches), Y: m.value(r.ev)})
		}
		charts = append(charts, report.Chart{Title: m.title, XLabel: "epoch", YLabel: m.unit, YRange: m.yr, Series: []report.Series{s}})
	}
	return append(charts, conditionalCharts(pts, batches)...) // conditional.go
}

// readFrames reads the run's sample grids: epoch_NNN.png in epoch order,
// then step_NNNNNNN.png (written when --steps stopped inside an epoch).
func readFrames(dir string) ([]report.Frame, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sample grids: %w", err)
	}
	type grid struct {
		kind, n int // kind 0: epoch, 1: step
		name    string
	}
	var grids []grid
	for _, e := range entries {
		name := e.Name()
		for kind, prefix := range []string{"epoch_", "step_"} {
			if num, ok := strings.CutPrefix(name, prefix); ok {
				if num, ok = strings.CutSuffix(num, ".png"); ok {
					if n, err := strconv.Atoi(num); err == nil {
						grids = append(grids, grid{kind, n, name})
					}
				}
			}
		}
	}
	sort.Slice(grids, func(i, j int) bool {
		if grids[i].kind != grids[j].kind {
			return grids[i].kind < grids[j].kind
		}
		return grids[i].n < grids[j].n
	})
	frames := make([]report.Frame, 0, len(grids))
	for _, g := range grids {
		b, err := os.ReadFile(filepath.Join(dir, g.name))
		if err != nil {
			return nil, fmt.Errorf("sample grids: %w", err)
		}
		label := fmt.Sprintf("epoch %d", g.n)
		if g.kind == 1 {
			label = fmt.Sprintf("step %d", g.n)
		}
		frames = append(frames, report.Frame{Label: label, PNG: b})
	}
	return frames, nil
}
