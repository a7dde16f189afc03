package main

import (
	"fmt"
	"image/color"
	"io"

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
	const w, h = 8 * vg.Inch, 7 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Points(8), PadX: vg.Points(8), PadTop: vg.Points(4), PadBottom: vg.Points(4)}
	canvases := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
	top.Draw(canvases[0][0])
	bottom.Draw(canvases[1][0])
	return nn.WriteFileAtomic(path, func(wr io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(wr)
		return err
	})
}
