package main

// Conditional models (model.ConditionalGenerator, e.g. --model cgan): the
// labels of gan sample, the one-class-per-row grids of gan sample and gan
// train, interpolation at a fixed label, and the per-class evaluation.

import (
	"fmt"
	"image"
	"math"
	"slices"

	"gan/nn"
	"gan/nn/eval"
	"gan/nn/imageio"
	"gan/nn/model"
	_ "gan/nn/models/cgan" // registers the conditional GAN
	"gan/nn/report"
)

// noLabel is the value of --label when it is not given.
const noLabel = -1

// conditionalOf returns g as a conditional generator, or nil.
func conditionalOf(g model.Generator) model.ConditionalGenerator {
	cg, _ := g.(model.ConditionalGenerator)
	return cg
}

// checkLabel checks a --label given for the model m made of g.
func checkLabel(m model.Model, g model.Generator, label int) error {
	cg := conditionalOf(g)
	if cg == nil {
		return usagef("--label %d: the %s model is not conditional (it takes no label; --model cgan does)", label, m.Config().Model)
	}
	if label < 0 || label >= cg.Classes() {
		return usagef("--label %d: must be between 0 and %d", label, cg.Classes()-1)
	}
	return nil
}

// sampleLabels returns the labels of n samples: label for each, or, when
// label is noLabel, the classes in turn (image i has label i mod classes).
func sampleLabels(n, classes, label int) []int32 {
	labels := make([]int32, n)
	for i := range labels {
		if label == noLabel {
			labels[i] = int32(i % classes)
		} else {
			labels[i] = int32(label)
		}
	}
	return labels
}

// generateLabelled returns the images of labels (one each) from the noise
// of seed, image i's noise being that of image i of generateSamples.
func generateLabelled(g model.ConditionalGenerator, s imageio.Shape, labels []int32, seed uint64) ([]float32, error) {
	n, dim := len(labels), g.LatentDim()
	pix := make([]float32, n*s.Size())
	for lo := 0; lo < n; lo += sampleChunk {
		m := min(sampleChunk, n-lo)
		z := hostNoise(nn.RandKey{Seed: seed, Stream: nn.StreamID(nn.PurposeSample, uint64(lo/sampleChunk))}, m, dim)
		if err := g.GenerateLabels(z, labels[lo:lo+m], pix[lo*s.Size():(lo+m)*s.Size()]); err != nil {
			return nil, fmt.Errorf("generating: %w", err)
		}
	}
	return pix, nil
}

// generateFor returns n samples of g from the noise of seed and, for a
// conditional generator, their labels (see sampleLabels; nil for an
// unconditional one). gan sample, gan eval, --eval-every and gan report
// draw their samples here.
func generateFor(g model.Generator, s imageio.Shape, n int, seed uint64, label int) ([]float32, []int32, error) {
	cg := conditionalOf(g)
	if cg == nil {
		pix, err := generateSamples(g, s, n, seed)
		return pix, nil, err
	}
	labels := sampleLabels(n, cg.Classes(), label)
	pix, err := generateLabelled(cg, s, labels, seed)
	return pix, labels, err
}

// sampleGrid lays out n samples in cols columns, or, for a conditional
// generator's samples of every class (label noLabel: image i of class
// i mod classes), one row per class: row c holds images c, c+classes, …
func sampleGrid(g model.Generator, pix []float32, n int, s imageio.Shape, cols, label int) image.Image {
	cg := conditionalOf(g)
	if cg == nil || label != noLabel {
		return imageio.GridOf(pix, n, s, cols, 2)
	}
	classes := cg.Classes()
	cols = (n + classes - 1) / classes
	grid := make([]float32, classes*cols*s.Size())
	for i := range grid {
		grid[i] = -1 // black, the grid's background
	}
	for i := range n {
		at := (i%classes)*cols + i/classes
		copy(grid[at*s.Size():(at+1)*s.Size()], pix[i*s.Size():(i+1)*s.Size()])
	}
	return imageio.GridOf(grid, classes*cols, s, cols, 2)
}

// generateWalk generates the rows of z (legs of frames images each, see
// interpolationStrip): with g's own Generate, or for a conditional
// generator at label, or, when label is noLabel, with leg k at label
// k mod classes.
func generateWalk(g model.Generator, z, pix []float32, frames, label int) error {
	cg := conditionalOf(g)
	if cg == nil {
		return g.Generate(z, pix)
	}
	n := len(z) / g.LatentDim()
	labels := make([]int32, n)
	for i := range labels {
		if label == noLabel {
			labels[i] = int32((i / frames) % cg.Classes())
		} else {
			labels[i] = int32(label)
		}
	}
	return cg.GenerateLabels(z, labels, pix)
}

// fixedGrid generates the per-epoch sample grid of gan train into r.fixed
// and returns it: 64 images of the fixed noise batch in 8 columns, or, for
// a conditional generator, one row per class with the noise of column j
// the fixed batch's row j on every row.
func (r *runDir) fixedGrid() (image.Image, error) {
	cg := conditionalOf(r.gen)
	if cg == nil {
		z := hostNoise(nn.RandKey{Seed: r.seed, Stream: nn.StreamID(nn.PurposeFixed, 0)}, fixedGridSize, r.gen.LatentDim())
		if r.fixed == nil {
			r.fixed = make([]float32, fixedGridSize*r.shape.Size())
		}
		if err := r.gen.Generate(z, r.fixed); err != nil {
			return nil, fmt.Errorf("sample grid: %w", err)
		}
		return imageio.GridOf(r.fixed, fixedGridSize, r.shape, 8, 2), nil
	}
	classes, dim := cg.Classes(), cg.LatentDim()
	cols := max(classes, 8)
	col := hostNoise(nn.RandKey{Seed: r.seed, Stream: nn.StreamID(nn.PurposeFixed, 0)}, cols, dim)
	n := classes * cols
	z := make([]float32, n*dim)
	labels := make([]int32, n)
	for i := range n {
		copy(z[i*dim:(i+1)*dim], col[(i%cols)*dim:])
		labels[i] = int32(i / cols)
	}
	if r.fixed == nil {
		r.fixed = make([]float32, n*r.shape.Size())
	}
	if err := cg.GenerateLabels(z, labels, r.fixed); err != nil {
		return nil, fmt.Errorf("sample grid: %w", err)
	}
	return imageio.GridOf(r.fixed, n, r.shape, cols, 2), nil
}

// addConditional adds the per-class figures of samples generated for
// labels to res (nothing when labels is nil: an unconditional model).
func addConditional(e *eval.Evaluator, res *eval.Result, pix []float32, labels []int32) error {
	if labels == nil {
		return nil
	}
	c, err := e.Conditional(pix, labels)
	if err != nil {
		return err
	}
	res.Conditional = c
	return nil
}

// condColumns name a conditional model's evaluation columns in
// metrics.csv for classes classes (none for 0): the share of samples whose
// requested label the classifier recognises, overall and for the worst
// class, the mean per-class FID, then the share and the FID of each class.
func condColumns(classes int) []string {
	if classes == 0 {
		return nil
	}
	cols := []string{"label_acc", "label_acc_min", "class_fid_mean"}
	for c := range classes {
		cols = append(cols, fmt.Sprintf("label_acc_%d", c))
	}
	for c := range classes {
		cols = append(cols, fmt.Sprintf("class_fid_%d", c))
	}
	return cols
}

// condClasses is the number of classes whose columns a metrics.csv header
// has (0: not a conditional model's).
func condClasses(head []string) int {
	k := 0
	for slices.Contains(head, fmt.Sprintf("label_acc_%d", k)) {
		k++
	}
	return k
}

// condValues are the values of c in the order of condColumns.
func condValues(c *eval.ConditionalMetrics) []float64 {
	v := []float64{c.Recognised, c.MinRecognised, c.MeanFID}
	for _, m := range c.Classes {
		v = append(v, m.Recognised)
	}
	for _, m := range c.Classes {
		v = append(v, m.FID)
	}
	return v
}

// nanValues is n NaNs.
func nanValues(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

// conditionalCharts draws a conditional model's --eval-every figures
// against epochs (none when the rows have none): the share of samples
// whose requested label the classifier recognises, overall and for the
// worst class, and the mean per-class FID.
func conditionalCharts(pts []metricRow, batches int) []report.Chart {
	if len(pts) == 0 || len(pts[0].ev.cond) < 3 {
		return nil
	}
	series := func(name, color string, k int) report.Series {
		s := report.Series{Name: name, Color: color, Markers: true}
		for _, r := range pts {
			if !math.IsNaN(r.ev.cond[k]) {
				s.Points = append(s.Points, report.Point{X: float64(r.step) / float64(batches), Y: r.ev.cond[k]})
			}
		}
		return s
	}
	return []report.Chart{
		{Title: "requested label recognised by the classifier", XLabel: "epoch", YLabel: "share", YRange: [2]float64{0, 1},
			Series: []report.Series{series("all samples", "#1f77b4", 0), series("lowest class", "#d62728", 1)}},
		{Title: "mean per-class FID, classifier features", XLabel: "epoch", YLabel: "FID",
			Series: []report.Series{series("mean of the classes", "#1f77b4", 2)}},
	}
}
