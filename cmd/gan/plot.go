package main

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"gan/nn"
)

// writeLossPlot draws loss.png: the two losses (top) and D's mean outputs
// on real and generated images (bottom) against epochs, each a running mean
// over a tenth of an epoch so that the trend shows through the step noise.
func writeLossPlot(path string, rows []metricRow, batches int) error {
	if len(rows) == 0 {
		return nil
	}
	window := max(1, batches/10)
	series := func(get func(metricRow) float64) plotter.XYs {
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
	top := plot.New()
	top.Title.Text = "GAN losses"
	top.Y.Label.Text = "BCE"
	top.X.Label.Text = "epoch"
	bottom := plot.New()
	bottom.Title.Text = "discriminator outputs"
	bottom.Y.Label.Text = "mean D(·)"
	bottom.X.Label.Text = "epoch"
	bottom.Y.Min, bottom.Y.Max = 0, 1
	for _, s := range []struct {
		p     *plot.Plot
		name  string
		col   color.RGBA
		value func(metricRow) float64
	}{
		{top, "d_loss", color.RGBA{R: 31, G: 119, B: 180, A: 255}, func(r metricRow) float64 { return r.dLoss }},
		{top, "g_loss", color.RGBA{R: 255, G: 127, B: 14, A: 255}, func(r metricRow) float64 { return r.gLoss }},
		{bottom, "D(x)", color.RGBA{R: 44, G: 160, B: 44, A: 255}, func(r metricRow) float64 { return r.dx }},
		{bottom, "D(G(z))", color.RGBA{R: 214, G: 39, B: 40, A: 255}, func(r metricRow) float64 { return r.dgz }},
	} {
		l, err := plotter.NewLine(series(s.value))
		if err != nil {
			return fmt.Errorf("loss plot: %w", err)
		}
		l.Color = s.col
		l.Width = vg.Points(1.2)
		s.p.Add(l)
		s.p.Legend.Add(s.name, l)
	}
	top.Legend.Top = true
	bottom.Legend.Top = true
	panels := [][]*plot.Plot{{top}, {bottom}}
	// The divergence watch's gradient norms, on a log scale, when measured.
	var gradRows []metricRow
	for _, r := range rows {
		if r.gradG > 0 && r.gradD > 0 && !math.IsInf(r.gradG, 0) && !math.IsInf(r.gradD, 0) {
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
		rows = gradRows
		for _, s := range []struct {
			name  string
			col   color.RGBA
			value func(metricRow) float64
		}{
			{"G", color.RGBA{R: 148, G: 103, B: 189, A: 255}, func(r metricRow) float64 { return r.gradG }},
			{"D", color.RGBA{R: 140, G: 86, B: 75, A: 255}, func(r metricRow) float64 { return r.gradD }},
		} {
			l, err := plotter.NewLine(series(s.value))
			if err != nil {
				return fmt.Errorf("loss plot: %w", err)
			}
			l.Color = s.col
			l.Width = vg.Points(1.2)
			grad.Add(l)
			grad.Legend.Add(s.name, l)
		}
		grad.Legend.Top = true
		panels = append(panels, []*plot.Plot{grad})
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
func writeEvalPlot(path string, rows []metricRow, batches int) error {
	var pts []metricRow
	for _, r := range rows {
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
