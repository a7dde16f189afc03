package main

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"gan/nn"
	"gan/nn/model"
)

// palette holds the line colours, in order: the statistics' first, then
// the gradient norms' (matplotlib's tab10, so the seed's d_loss, g_loss,
// D(x), D(G(z)), G and D keep their colours).
var palette = []color.RGBA{
	{R: 31, G: 119, B: 180, A: 255}, {R: 255, G: 127, B: 14, A: 255}, {R: 44, G: 160, B: 44, A: 255},
	{R: 214, G: 39, B: 40, A: 255}, {R: 148, G: 103, B: 189, A: 255}, {R: 140, G: 86, B: 75, A: 255},
	{R: 227, G: 119, B: 194, A: 255}, {R: 127, G: 127, B: 127, A: 255}, {R: 188, G: 189, B: 34, A: 255},
	{R: 23, G: 190, B: 207, A: 255},
}

// paletteHex is palette as CSS colours, for the report.
func paletteHex(i int) string {
	c := palette[i%len(palette)]
	return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
}

// runningMean returns the points (step/batches, mean of get over the last
// window rows) of rows: the trend of a noisy per-step series.
func runningMean(rows []metricRow, batches, window int, get func(metricRow) float64) plotter.XYs {
	pts := make(plotter.XYs, len(rows))
	var sum float64
	for i, r := range rows {
		sum += get(r)
		if i >= window {
			sum -= get(rows[i-window])
		}
		pts[i].X = float64(r.step) / float64(batches)
		pts[i].Y = sum / float64(min(i+1, window))
	}
	return pts
}

// writeLossPlot draws loss.png against epochs: the model's loss statistics
// (top), its other statistics (below; for the seed GAN D's mean outputs on
// real and generated images) and, when measured, the gradient norm of each
// network on a log scale, each a running mean over a tenth of an epoch so
// that the trend shows through the step noise.
func writeLossPlot(path string, stats []model.Stat, t *metricsTable, batches int) error {
	rows := t.rows
	if len(rows) == 0 {
		return nil
	}
	window := max(1, batches/10)
	var losses, others []int
	var lossNames, otherNames []string
	for i, s := range stats {
		if s.Loss {
			losses, lossNames = append(losses, i), append(lossNames, s.Name)
		} else {
			others, otherNames = append(others, i), append(otherNames, s.Name)
		}
	}
	line := func(p *plot.Plot, name string, col color.RGBA, pts plotter.XYs) error {
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("loss plot: %w", err)
		}
		l.Color = col
		l.Width = vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(name, l)
		return nil
	}
	var panels [][]*plot.Plot
	for _, group := range []struct {
		idx          []int
		title, ylabl string
	}{
		{losses, "losses", "loss"},
		{others, strings.Join(otherNames, ", "), "value"},
	} {
		if len(group.idx) == 0 {
			continue
		}
		p := plot.New()
		p.Title.Text = group.title
		p.Y.Label.Text = group.ylabl
		p.X.Label.Text = "epoch"
		p.Legend.Top = true
		for _, i := range group.idx {
			if err := line(p, stats[i].Name, palette[i%len(palette)], runningMean(rows, batches, window, func(r metricRow) float64 { return r.stats[i] })); err != nil {
				return err
			}
		}
		panels = append(panels, []*plot.Plot{p})
	}
	// The divergence watch's gradient norms, on a log scale, when measured.
	var gradRows []metricRow
	for _, r := range rows {
		ok := len(r.grads) > 0
		for _, g := range r.grads {
			ok = ok && g > 0 && !math.IsInf(g, 0)
		}
		if ok {
			gradRows = append(gradRows, r)
		}
	}
	if len(gradRows) > 1 {
		grad := plot.New()
		grad.Title.Text = "gradient norms (divergence watch warns above 100)"
		grad.Y.Label.Text = "L2 norm of the gradient"
		grad.X.Label.Text = "epoch"
		grad.Y.Scale = plot.LogScale{}
		grad.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		grad.Legend.Top = true
		for k, name := range t.nets {
			if err := line(grad, name, palette[(len(stats)+k)%len(palette)], runningMean(gradRows, batches, window, func(r metricRow) float64 { return r.grads[k] })); err != nil {
				return err
			}
		}
		panels = append(panels, []*plot.Plot{grad})
	}
	if len(panels) == 0 {
		return nil
	}
	return writePanels(path, panels, 8*vg.Inch, vg.Length(len(panels))*3.5*vg.Inch)
}

// writePanels draws a grid of plots into one PNG at path.
func writePanels(path string, panels [][]*plot.Plot, w, h vg.Length) error {
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: len(panels[0]), PadY: vg.Points(8), PadX: vg.Points(8), PadTop: vg.Points(4), PadBottom: vg.Points(4)}
	canvases := plot.Align(panels, tiles, dc)
	for i, row := range panels {
		for j, p := range row {
			p.Draw(canvases[i][j])
		}
	}
	return nn.WriteFileAtomic(path, func(wr io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(wr)
		return err
	})
}

// writeEvalPlot draws eval.png, the --eval-every metrics against epochs,
// when the rows hold any; otherwise it does nothing.
func writeEvalPlot(path string, t *metricsTable, batches int) error {
	var pts []metricRow
	for _, r := range t.rows {
		if r.ev.has() {
			pts = append(pts, r)
		}
	}
	if len(pts) == 0 {
		return nil
	}
	panels := [][]*plot.Plot{{nil, nil}, {nil, nil}, {nil, nil}}
	for i, m := range []struct {
		title, unit string
		value       func(evalPoint) float64
	}{
		{"FID in classifier feature space (not Inception)", "FID", func(e evalPoint) float64 { return e.fid }},
		{"Inception-style score (classifier), max 10", "IS", func(e evalPoint) float64 { return e.is }},
		{"classes holding ≥ 2% of samples", "classes", func(e evalPoint) float64 { return e.covered }},
		{"class KL to uniform", "nats", func(e evalPoint) float64 { return e.kl }},
		{"confident share (top p > 0.9)", "share", func(e evalPoint) float64 { return e.confident }},
		{"mean distance to nearest training image", "L2", func(e evalPoint) float64 { return e.nnDist }},
	} {
		p := plot.New()
		p.Title.Text = m.title
		p.Y.Label.Text = m.unit
		p.X.Label.Text = "epoch"
		xy := make(plotter.XYs, len(pts))
		for k, r := range pts {
			xy[k].X = float64(r.step) / float64(batches)
			xy[k].Y = m.value(r.ev)
		}
		l, sc, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("eval plot: %w", err)
		}
		l.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
		sc.Color = l.Color
		p.Add(l, sc)
		panels[i/2][i%2] = p
	}
	return writePanels(path, panels, 10*vg.Inch, 9*vg.Inch)
}
