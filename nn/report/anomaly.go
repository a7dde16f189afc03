package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
)

// ScoreHistogram is the anomaly scores of one detector's test images, the
// normal and the anomalous ones, drawn as two overlaid histograms.
type ScoreHistogram struct {
	Title             string // e.g. "one-class, class 3: AUROC 87.60%"
	XLabel            string // the score, e.g. "−ELBO (nats)"
	Normal, Anomalous []float64
}

// histBins is the number of bins of a [ScoreHistogram].
const histBins = 40

// scoreRange returns the range the histogram bins cover: from the 0.5th to
// the 99.5th percentile of all scores (the tails fall into the edge bins),
// never empty.
func scoreRange(all []float64) (lo, hi float64) {
	if len(all) == 0 {
		return 0, 1
	}
	s := append([]float64(nil), all...)
	sort.Float64s(s)
	at := func(q float64) float64 { return s[int(math.Round(q*float64(len(s)-1)))] }
	lo, hi = at(0.005), at(0.995)
	if !(hi > lo) {
		lo, hi = s[0], s[len(s)-1]
	}
	if !(hi > lo) {
		lo, hi = lo-0.5, lo+0.5
	}
	return lo, hi
}

// Bins returns the share of each group's scores in each of the
// histogram's bins (the tails clamped into the edge bins) and the range
// the bins cover; a group without scores has all shares 0.
func (h ScoreHistogram) Bins() (normal, anomalous []float64, lo, hi float64) {
	lo, hi = scoreRange(append(append([]float64(nil), h.Normal...), h.Anomalous...))
	share := func(v []float64) []float64 {
		out := make([]float64, histBins)
		for _, x := range v {
			k := int(math.Floor((x - lo) / (hi - lo) * histBins))
			out[min(max(k, 0), histBins-1)]++
		}
		for k := range out {
			if len(v) > 0 {
				out[k] /= float64(len(v))
			}
		}
		return out
	}
	return share(h.Normal), share(h.Anomalous), lo, hi
}

// SVG draws the histogram as inline SVG: per group the share of its test
// images in each bin, the normal images' bars under the anomalous ones'.
func (h ScoreHistogram) SVG(width, height int) string {
	const left, right, top, bottom = 46, 12, 44, 36
	ns, as, lo, hi := h.Bins()
	mx := 0.0
	for k := range ns {
		mx = math.Max(mx, math.Max(ns[k], as[k]))
	}
	if !(mx > 0) {
		mx = 1
	}
	pw, ph := float64(width-left-right), float64(height-top-bottom)
	var b strings.Builder
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg class="chart score-hist" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`, width, height, width, height, esc(h.Title))
	fmt.Fprintf(&b, `<text x="%d" y="18" class="ctitle">%s</text>`, left, esc(h.Title))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" class="frame"/>`, left, top, pw, ph)
	for _, v := range niceTicks(0, mx, 4) {
		y := top + (1-v/mx)*ph
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" class="grid"/>`, left, left+pw, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="ytick">%s%%</text>`, left-6, y+4, fmtNum(math.Round(v*1000)/10))
	}
	for _, v := range niceTicks(lo, hi, 5) {
		if v < lo || v > hi {
			continue
		}
		x := left + (v-lo)/(hi-lo)*pw
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="xtick">%s</text>`, x, top+ph+14, fmtNum(v))
	}
	slot := pw / histBins
	for j, group := range [][]float64{ns, as} {
		class, name := "bar-n", "normal"
		if j == 1 {
			class, name = "bar-a", "anomalous"
		}
		for k, v := range group {
			if v == 0 {
				continue
			}
			bh := v / mx * ph
			a := lo + float64(k)*(hi-lo)/histBins
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="%s"><title>%s, %s to %s: %.1f%%</title></rect>`,
				left+float64(k)*slot, top+ph-bh, slot, bh, class, name, fmtNum(a), fmtNum(a+(hi-lo)/histBins), 100*v)
		}
	}
	// The legend sits in a row of its own between the title and the bars.
	fmt.Fprintf(&b, `<rect x="%d" y="27" width="12" height="8" class="bar-n"/><text x="%d" y="35" class="legend">normal test images (%d)</text>`,
		left, left+16, len(h.Normal))
	fmt.Fprintf(&b, `<rect x="%d" y="27" width="12" height="8" class="bar-a"/><text x="%d" y="35" class="legend">anomalous test images (%d)</text>`,
		left+170, left+186, len(h.Anomalous))
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="xlabel">%s; share of each group per bin, tails in the edge bins</text>`, left+pw/2, height-4, esc(h.XLabel))
	b.WriteString(`</svg>`)
	return b.String()
}

// Anomaly is the page of an anomaly-detection run (gan anomaly --report):
// the AUROC table and, per protocol and class, the histograms of the test
// images' scores.
type Anomaly struct {
	Title    string
	Subtitle string
	Notes    []string
	// Header and Rows are the table of results, one row per detector.
	Header []string
	Rows   [][]string
	// Histograms are drawn in order, several per line.
	Histograms []ScoreHistogram
}

// anomalyPage is the view model of the anomaly page.
type anomalyPage struct {
	*Anomaly
	HistogramSVG []template.HTML
}

// WriteAnomaly renders a as a self-contained HTML page to w, in the style
// of the training report.
func WriteAnomaly(w io.Writer, a *Anomaly) error {
	p := anomalyPage{Anomaly: a}
	for _, h := range a.Histograms {
		p.HistogramSVG = append(p.HistogramSVG, template.HTML(h.SVG(420, 250)))
	}
	if err := anomalyTemplate.ExecuteTemplate(w, "anomaly-page", p); err != nil {
		return fmt.Errorf("writing the anomaly report: %w", err)
	}
	return nil
}

// anomalyTemplate shares the report's style sheet through the "style"
// template of pageTemplate.
var anomalyTemplate = template.Must(pageTemplate.New("anomaly-page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
{{template "style" .}}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p class="sub">{{.Subtitle}}</p>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}
<h2>AUROC per class</h2>
<table class="eval" id="anomaly-table">
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>

<h2>Scores of the normal and the anomalous test images</h2>
{{if .HistogramSVG}}<div class="charts">
{{range .HistogramSVG}}{{.}}
{{end}}</div>{{else}}<p class="sub">No scores.</p>{{end}}
</main>
</body>
</html>
`))
