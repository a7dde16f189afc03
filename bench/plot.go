package bench

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"gan/nn"
)

// plotColors cycles through the lines of a plot.
var plotColors = []color.RGBA{
	{R: 31, G: 119, B: 180, A: 255}, {R: 255, G: 127, B: 14, A: 255}, {R: 44, G: 160, B: 44, A: 255},
	{R: 214, G: 39, B: 40, A: 255}, {R: 148, G: 103, B: 189, A: 255}, {R: 140, G: 86, B: 75, A: 255},
	{R: 227, G: 119, B: 194, A: 255}, {R: 127, G: 127, B: 127, A: 255},
}

// WriteStepPlot draws training steps per second against the batch size,
// one line per run that has training-step results, on log–log axes, and
// writes it as a PNG to path. It returns an error when no run has any.
func WriteStepPlot(path, title string, runs []Run) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "batch size"
	p.Y.Label.Text = "training steps/s (median)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Legend.Top = true
	var batches []int
	lo, hi := math.Inf(1), math.Inf(-1)
	lines := 0
	for _, run := range runs {
		var pts plotter.XYs
		for _, r := range run.Results {
			if r.Group == GroupStep && r.Value > 0 && r.Batch > 0 {
				pts = append(pts, plotter.XY{X: float64(r.Batch), Y: r.Value})
				lo, hi = min(lo, r.Value), max(hi, r.Value)
				if !slices.Contains(batches, r.Batch) {
					batches = append(batches, r.Batch)
				}
			}
		}
		if len(pts) == 0 {
			continue
		}
		slices.SortFunc(pts, func(a, b plotter.XY) int { return int(a.X - b.X) })
		col := plotColors[lines%len(plotColors)]
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("bench: step plot: %w", err)
		}
		l.Color, s.Color = col, col
		l.Width = vg.Points(1.5)
		s.Shape = draw.CircleGlyph{}
		p.Add(l, s)
		p.Legend.Add(run.Label(), l, s)
		lines++
	}
	if lines == 0 {
		return fmt.Errorf("bench: step plot: no training-step results to plot")
	}
	slices.Sort(batches)
	var xt plot.ConstantTicks
	for _, b := range batches {
		xt = append(xt, plot.Tick{Value: float64(b), Label: strconv.Itoa(b)})
	}
	p.X.Tick.Marker = xt
	p.X.Min, p.X.Max = float64(batches[0])/1.3, float64(batches[len(batches)-1])*1.3
	p.Y.Min, p.Y.Max = lo/2, hi*2
	p.Y.Tick.Marker = ticks125{}
	p.Add(plotter.NewGrid())

	img := vgimg.New(7*vg.Inch, 4.5*vg.Inch)
	p.Draw(draw.New(img))
	return nn.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}

// ticks125 marks a log axis at 1, 2 and 5 times each power of ten, labelled
// where few enough to read.
type ticks125 struct{}

// Ticks returns the ticks between lo and hi.
func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= lo && v <= hi {
				out = append(out, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
			}
		}
	}
	return out
}
