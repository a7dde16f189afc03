package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Point is one (x, y) value of a [Series].
type Point struct{ X, Y float64 }

// Series is one line of a [Chart].
type Series struct {
	Name   string
	Color  string // a CSS colour, e.g. "#1f77b4"
	Points []Point
	// Markers draws a dot on every point (for sparse series such as
	// per-epoch evaluations).
	Markers bool
}

// Chart is a line chart drawn as inline SVG.
type Chart struct {
	Title  string
	XLabel string
	YLabel string
	Series []Series
	// LogY draws the y axis on a log₁₀ scale (non-positive values are
	// left out).
	LogY bool
	// YRange fixes the y axis to [YRange[0], YRange[1]] when they differ.
	YRange [2]float64
	// HLines are dashed horizontal reference lines (e.g. a warning
	// threshold).
	HLines []float64
}

// maxPoints bounds the points drawn per series: longer series are averaged
// over equal buckets of consecutive points.
const maxPoints = 800

// downsample averages pts over at most maxPoints buckets of consecutive
// points, keeping the shape of a long per-step series at a fraction of the
// page size.
func downsample(pts []Point) []Point {
	if len(pts) <= maxPoints {
		return pts
	}
	out := make([]Point, 0, maxPoints)
	for b := 0; b < maxPoints; b++ {
		lo, hi := b*len(pts)/maxPoints, (b+1)*len(pts)/maxPoints
		var sx, sy float64
		for _, p := range pts[lo:hi] {
			sx += p.X
			sy += p.Y
		}
		n := float64(hi - lo)
		out = append(out, Point{sx / n, sy / n})
	}
	return out
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	span := hi - lo
	if !(span > 0) {
		return []float64{lo}
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, v)
	}
	return ticks
}

// fmtNum formats a tick or value compactly.
func fmtNum(v float64) string {
	if v == 0 {
		return "0"
	}
	a := math.Abs(v)
	if a >= 1e5 || a < 1e-3 {
		return strconv.FormatFloat(v, 'e', 1, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// SVG renders the chart as an inline <svg> element of the given size.
func (c Chart) SVG(width, height int) string {
	const left, right, top, bottom = 62, 14, 30, 40
	pw, ph := float64(width-left-right), float64(height-top-bottom)
	ty := func(y float64) float64 {
		if c.LogY {
			return math.Log10(y)
		}
		return y
	}
	usable := func(p Point) bool {
		return !math.IsNaN(p.X) && !math.IsInf(p.X, 0) && !math.IsNaN(p.Y) && !math.IsInf(p.Y, 0) && (!c.LogY || p.Y > 0)
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	series := make([][]Point, len(c.Series))
	for i, s := range c.Series {
		var pts []Point
		for _, p := range s.Points {
			if usable(p) {
				pts = append(pts, p)
			}
		}
		series[i] = downsample(pts)
		for _, p := range series[i] {
			xmin, xmax = math.Min(xmin, p.X), math.Max(xmax, p.X)
			ymin, ymax = math.Min(ymin, ty(p.Y)), math.Max(ymax, ty(p.Y))
		}
	}
	for _, h := range c.HLines {
		if !c.LogY || h > 0 {
			ymin, ymax = math.Min(ymin, ty(h)), math.Max(ymax, ty(h))
		}
	}
	if c.YRange[0] != c.YRange[1] {
		ymin, ymax = ty(c.YRange[0]), ty(c.YRange[1])
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		width, height, width, height, html.EscapeString(c.Title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="ctitle">%s</text>`, left, html.EscapeString(c.Title))
	if math.IsInf(xmin, 1) { // nothing to draw
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="empty">no data</text></svg>`, left+10, top+int(ph/2))
		return b.String()
	}
	if xmax == xmin {
		xmin, xmax = xmin-0.5, xmax+0.5
	}
	if ymax == ymin {
		d := math.Max(math.Abs(ymin)*0.1, 0.5)
		ymin, ymax = ymin-d, ymax+d
	} else if !c.LogY && c.YRange[0] == c.YRange[1] {
		pad := (ymax - ymin) * 0.05
		ymin, ymax = ymin-pad, ymax+pad
	}
	px := func(x float64) float64 { return left + (x-xmin)/(xmax-xmin)*pw }
	py := func(y float64) float64 { return top + (1-(y-ymin)/(ymax-ymin))*ph }
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" class="frame"/>`, left, top, pw, ph)
	// Y ticks and grid.
	var yt []float64
	if c.LogY {
		for e := math.Ceil(ymin); e <= math.Floor(ymax)+1e-9; e++ {
			yt = append(yt, e)
		}
		if len(yt) < 2 {
			yt = niceTicks(ymin, ymax, 4)
		}
	} else {
		yt = niceTicks(ymin, ymax, 5)
	}
	for _, v := range yt {
		y := py(v)
		label := v
		if c.LogY {
			label = math.Pow(10, v)
		}
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" class="grid"/>`, left, left+pw, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="ytick">%s</text>`, left-6, y+4, fmtNum(label))
	}
	for _, v := range niceTicks(xmin, xmax, 6) {
		x := px(v)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" class="grid"/>`, x, x, top, top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="xtick">%s</text>`, x, top+ph+15, fmtNum(v))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="xlabel">%s</text>`, left+pw/2, height-4, html.EscapeString(c.XLabel))
	fmt.Fprintf(&b, `<text x="14" y="%.1f" class="ylabel" transform="rotate(-90 14 %.1f)">%s</text>`, top+ph/2, top+ph/2, html.EscapeString(c.YLabel))
	for _, h := range c.HLines {
		if c.LogY && h <= 0 {
			continue
		}
		y := py(ty(h))
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" class="hline"/>`, left, left+pw, y, y)
	}
	for i, s := range c.Series {
		pts := series[i]
		if len(pts) == 0 {
			continue
		}
		var path strings.Builder
		for k, p := range pts {
			cmd := "L"
			if k == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f %.1f", cmd, px(p.X), py(ty(p.Y)))
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.4"/>`, path.String(), html.EscapeString(s.Color))
		if s.Markers {
			for _, p := range pts {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, px(p.X), py(ty(p.Y)), html.EscapeString(s.Color))
			}
		}
	}
	// Legend, top right inside the frame.
	if len(c.Series) > 1 || (len(c.Series) == 1 && c.Series[0].Name != "") {
		x := left + pw - 110
		for i, s := range c.Series {
			y := top + 8 + float64(i)*15
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="12" height="3" fill="%s"/>`, x, y, html.EscapeString(s.Color))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="legend">%s</text>`, x+16, y+5, html.EscapeString(s.Name))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}
