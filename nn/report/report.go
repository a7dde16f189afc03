// Package report writes the training report of a GAN run: one
// self-contained HTML page, with every image inline (PNG data URIs), every
// chart as inline SVG and a few lines of script for the sample slider, so
// that it opens anywhere, offline, from a single file. It shows the loss
// and D(x)/D(G(z)) curves, the gradient norms, the --eval-every metric
// curves, the sample grid of every epoch behind a slider, a latent
// interpolation strip, the final evaluation against real data with its
// class histogram, and the divergence watch's warnings.
package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/png"
	"io"
	"math"
	"strings"

	"gan/nn/eval"
)

// Frame is one sample grid of the slider.
type Frame struct {
	Label string // e.g. "epoch 3"
	PNG   []byte
}

// Run is everything the report shows; empty parts are left out with a note.
type Run struct {
	Title    string
	Subtitle string   // one line on the run: config, device, steps
	Notes    []string // remarks shown under the title (missing parts, …)
	// Training holds the loss, D output and gradient-norm charts.
	Training []Chart
	// Metrics holds the --eval-every metric charts.
	Metrics []Chart
	// Frames are the per-epoch sample grids, in order.
	Frames []Frame
	// Interpolation is a PNG strip walking the latent space; its caption
	// says between which seeds.
	Interpolation        []byte
	InterpolationCaption string
	// Eval is the final evaluation (samples against real data).
	Eval *eval.Result
	// Watched says whether the run had the divergence watch on; Warnings
	// are its warnings.
	Watched  bool
	Warnings []eval.Warning
	// VAE is a variational autoencoder's section (vae.go); nil for other
	// models.
	VAE *VAE
}

// dataURI encodes a PNG as a data: URI for an <img> element.
func dataURI(png []byte) template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}

// page is the view model handed to the template.
type page struct {
	*Run
	TrainingSVG, MetricsSVG []template.HTML
	FrameURIs               []frameView
	InterpURI               template.URL
	InterpWidth             int
	HistogramSVG            template.HTML
	Rows                    []evalRow
	Last                    int
}

type frameView struct {
	Label string
	URI   template.URL
}

type evalRow struct {
	Name, Samples, Real, Note string
}

// Write renders r as a self-contained HTML page to w.
func Write(w io.Writer, r *Run) error {
	p := page{Run: r}
	for _, c := range r.Training {
		p.TrainingSVG = append(p.TrainingSVG, template.HTML(c.SVG(600, 280)))
	}
	for _, c := range r.Metrics {
		p.MetricsSVG = append(p.MetricsSVG, template.HTML(c.SVG(390, 250)))
	}
	for _, f := range r.Frames {
		p.FrameURIs = append(p.FrameURIs, frameView{f.Label, dataURI(f.PNG)})
	}
	p.Last = len(p.FrameURIs) - 1
	if len(r.Interpolation) > 0 {
		p.InterpURI = dataURI(r.Interpolation)
		cfg, err := png.DecodeConfig(bytes.NewReader(r.Interpolation))
		if err != nil {
			return fmt.Errorf("report: interpolation strip: %w", err)
		}
		p.InterpWidth = min(2*cfg.Width, 1200) // pixels doubled, as the sample grids
	}
	if r.Eval != nil {
		p.Rows = evalRows(r.Eval)
		p.HistogramSVG = template.HTML(histogramSVG(r.Eval.Samples.Histogram, r.Eval.Real.Histogram, 600, 260))
	}
	if err := pageTemplate.Execute(w, p); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// evalRows lays out the evaluation table.
func evalRows(res *eval.Result) []evalRow {
	return append(unconditionalRows(res), conditionalRows(res.Conditional)...)
}

// conditionalRows are the rows of a conditional model's per-class figures
// (none for c nil): the share of samples whose requested label the
// classifier recognises, overall and per class, and each class's FID.
func conditionalRows(c *eval.ConditionalMetrics) []evalRow {
	if c == nil {
		return nil
	}
	opt := func(format string, scale, v float64) string {
		if math.IsNaN(v) {
			return "–"
		}
		return fmt.Sprintf(format, scale*v)
	}
	rows := []evalRow{
		{"requested label recognised (all samples)", opt("%.2f%%", 100, c.Recognised), opt("%.2f%%", 100, c.RealRecognised), "real: the classifier's test accuracy"},
		{"requested label recognised (lowest class)", opt("%.2f%%", 100, c.MinRecognised), "", ""},
	}
	for _, m := range c.Classes {
		rows = append(rows,
			evalRow{fmt.Sprintf("label %d: recognised", m.Label), opt("%.2f%%", 100, m.Recognised), opt("%.2f%%", 100, m.RealRecognised), fmt.Sprintf("%d samples; real: the class's test images", m.N)},
			evalRow{fmt.Sprintf("label %d: FID (classifier features)", m.Label), opt("%.3f", 1, m.FID), opt("%.3f", 1, m.RealFID), fmt.Sprintf("against the class's test images; real: %d training images of the class", m.RealN)})
	}
	return rows
}

// unconditionalRows are the rows of every model's figures.
func unconditionalRows(res *eval.Result) []evalRow {
	s, r := res.Samples, res.Real
	f3 := func(v float64) string { return fmt.Sprintf("%.3f", v) }
	pct := func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }
	return []evalRow{
		{"images", fmt.Sprint(s.N), fmt.Sprint(r.N), "real: test images"},
		{"FID in classifier feature space (not Inception)", f3(s.FID), f3(r.FID), "against the test set; real: training images vs test"},
		{"Inception-style score (classifier)", f3(s.InceptionScore), f3(r.InceptionScore), "1 to 10"},
		{"class KL to uniform (nats)", fmt.Sprintf("%.4f", s.ClassKL), fmt.Sprintf("%.4f", r.ClassKL), "0 balanced, 2.303 one class"},
		{fmt.Sprintf("classes with ≥ %g%% of images", 100*eval.CoverageShare), fmt.Sprint(s.Covered), fmt.Sprint(r.Covered), "of 10"},
		{fmt.Sprintf("confident share (top p > %g)", eval.ConfidenceThreshold), pct(s.Confident), pct(r.Confident), ""},
		{"mean distance to nearest training image", f3(s.NNDist), f3(r.NNDist), fmt.Sprintf("L2 in [−1, 1] pixels, among %d training images", res.NNRef)},
		{"median distance to nearest training image", f3(s.NNDistMedian), f3(r.NNDistMedian), ""},
	}
}

// histogramSVG draws the class shares of samples and real data side by side.
func histogramSVG(samples, real []int, width, height int) string {
	const left, right, top, bottom = 50, 14, 30, 34
	ss, rs := eval.Shares(samples), eval.Shares(real)
	mx := 0.0
	for k := range ss {
		mx = math.Max(mx, math.Max(ss[k], rs[k]))
	}
	mx = math.Max(mx, 0.15)
	pw, ph := float64(width-left-right), float64(height-top-bottom)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="class histogram">`, width, height, width, height)
	fmt.Fprintf(&b, `<text x="%d" y="18" class="ctitle">class histogram (arg max of the classifier)</text>`, left)
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" class="frame"/>`, left, top, pw, ph)
	for _, v := range niceTicks(0, mx, 4) {
		y := top + (1-v/mx)*ph
		fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" class="grid"/>`, left, left+pw, y, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" class="ytick">%g%%</text>`, left-6, y+4, math.Round(v*1000)/10)
	}
	y2 := top + (1-eval.CoverageShare/mx)*ph
	fmt.Fprintf(&b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" class="hline"/>`, left, left+pw, y2, y2)
	slot := pw / float64(len(ss))
	for k := range ss {
		x := left + float64(k)*slot
		for j, v := range []float64{ss[k], rs[k]} {
			h := v / mx * ph
			class := "bar-s"
			if j == 1 {
				class = "bar-r"
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="%s"><title>class %d: %.1f%%</title></rect>`,
				x+slot*0.12+float64(j)*slot*0.38, top+ph-h, slot*0.36, h, class, k, 100*v)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="xtick">%d</text>`, x+slot/2, top+ph+15, k)
	}
	// The legend sits in the title row, right-aligned, clear of the bars.
	fmt.Fprintf(&b, `<rect x="%.1f" y="9" width="12" height="8" class="bar-s"/><text x="%.1f" y="17" class="legend">samples</text>`, left+pw-150, left+pw-134)
	fmt.Fprintf(&b, `<rect x="%.1f" y="9" width="12" height="8" class="bar-r"/><text x="%.1f" y="17" class="legend">real (test)</text>`, left+pw-80, left+pw-64)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="xlabel">class (dashed: the %g%% coverage line)</text>`, left+pw/2, height-4, 100*eval.CoverageShare)
	b.WriteString(`</svg>`)
	return b.String()
}

var pageTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
{{block "style" .}}body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0; background: #fafafa; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 2px; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.sub { color: #555; margin: 0 0 6px; }
.note { color: #7a5b00; background: #fff7dd; border: 1px solid #f0dea0; padding: 4px 8px; margin: 4px 0; border-radius: 4px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg.chart { background: #fff; border: 1px solid #e2e2e2; border-radius: 4px; }
svg .ctitle { font-size: 13px; font-weight: 600; fill: #222; }
svg .frame { fill: none; stroke: #bbb; }
svg .grid { stroke: #eee; }
svg .ytick { font-size: 11px; fill: #555; text-anchor: end; }
svg .xtick { font-size: 11px; fill: #555; text-anchor: middle; }
svg .xlabel, svg .ylabel { font-size: 12px; fill: #444; text-anchor: middle; }
svg .legend { font-size: 11px; fill: #333; }
svg .empty { font-size: 13px; fill: #999; }
svg .hline { stroke: #d62728; stroke-dasharray: 5 4; stroke-width: 1; }
svg .bar-s { fill: #1f77b4; }
svg .bar-r { fill: #b8b8b8; }
svg .bar-n { fill: #1f77b4; fill-opacity: 0.55; }
svg .bar-a { fill: #d62728; fill-opacity: 0.45; }
.pictures { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure.picture { margin: 0; max-width: 100%; }
figure.picture figcaption { color: #555; font-size: 12px; max-width: 600px; }
.pix-img { image-rendering: pixelated; max-width: 100%; height: auto; background: #000; border-radius: 4px; display: block; }
.plot-img { max-width: 100%; height: auto; background: #fff; border: 1px solid #e2e2e2; border-radius: 4px; display: block; }
.samples { display: flex; gap: 24px; align-items: flex-start; flex-wrap: wrap; }
.grid-img { image-rendering: pixelated; width: 484px; height: 484px; background: #000; border-radius: 4px; }
.frame-img { display: none; }
.frame-img.shown { display: block; }
.controls { display: flex; gap: 10px; align-items: center; margin: 8px 0; }
.controls input[type=range] { width: 360px; }
.interp { image-rendering: pixelated; max-width: 100%; height: auto; background: #000; border-radius: 4px; display: block; }
table.eval { border-collapse: collapse; background: #fff; }
table.eval th, table.eval td { border: 1px solid #ddd; padding: 4px 10px; text-align: right; }
table.eval th:first-child, table.eval td:first-child, table.eval td.remark { text-align: left; }
table.eval td.remark { color: #666; font-size: 12px; }
ul.flags li { color: #a40000; }
ul.warnings li { color: #8a4b00; }
.ok { color: #2c7a2c; }
{{end}}</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p class="sub">{{.Subtitle}}</p>
{{range .Notes}}<p class="note">{{.}}</p>
{{end}}
<h2>Divergence watch</h2>
{{if .Warnings}}<ul class="warnings">
{{range .Warnings}}<li>step {{.Step}} (epoch {{.Epoch}}): {{.Message}}</li>
{{end}}</ul>{{else if .Watched}}<p class="ok">No warnings: D's loss never stayed below 1e-3 for 100 steps, the fixed-noise samples always covered at least 5 classes, and no gradient norm exceeded 100.</p>{{else}}<p class="sub">This run was trained without the divergence watch.</p>{{end}}

<h2>Training curves</h2>
<div class="charts">
{{range .TrainingSVG}}{{.}}
{{end}}</div>

<h2>Metrics during training (--eval-every)</h2>
{{if .MetricsSVG}}<div class="charts">
{{range .MetricsSVG}}{{.}}
{{end}}</div>{{else}}<p class="sub">This run was trained without --eval-every: no metric curves.</p>{{end}}

<h2>Samples of the fixed noise, epoch by epoch</h2>
{{if .FrameURIs}}<div class="samples">
<div>
<div class="controls">
<button id="play" type="button">▶ play</button>
<input id="slider" type="range" min="0" max="{{.Last}}" value="{{.Last}}" step="1" aria-label="epoch">
<span id="frame-label">{{with index .FrameURIs .Last}}{{.Label}}{{end}}</span>
</div>
<div id="frames">
{{range $i, $f := .FrameURIs}}<img class="grid-img frame-img{{if eq $i $.Last}} shown{{end}}" src="{{$f.URI}}" alt="samples, {{$f.Label}}" data-label="{{$f.Label}}">
{{end}}</div>
</div>
</div>{{else}}<p class="sub">No sample grids in the run directory.</p>{{end}}

<h2>Latent interpolation</h2>
{{if .InterpURI}}<p class="sub">{{.InterpolationCaption}}</p>
<img class="interp" src="{{.InterpURI}}" width="{{.InterpWidth}}" alt="latent interpolation strip">{{else}}<p class="sub">No checkpoint: no interpolation strip.</p>{{end}}

{{template "vae" .}}
<h2>Evaluation</h2>
{{with .Eval}}<p class="sub">{{.Source}}. Classifier {{.Classifier.Arch}} ({{.Dataset}}), features: {{.Classifier.Features}}.</p>
<table class="eval">
<tr><th>metric</th><th>samples</th><th>real</th><th>note</th></tr>
{{range $.Rows}}<tr><td>{{.Name}}</td><td>{{.Samples}}</td><td>{{.Real}}</td><td class="remark">{{.Note}}</td></tr>
{{end}}</table>
<p>{{$.HistogramSVG}}</p>
{{if .Flags}}<ul class="flags">
{{range .Flags}}<li>{{.}}</li>
{{end}}</ul>{{else}}<p class="ok">No flags: coverage, class balance, FID, confidence and nearest-neighbour distances are within their limits.</p>{{end}}
{{else}}<p class="sub">No evaluation (no checkpoint, or gan report --n 0).</p>{{end}}
</main>
<script>
(function () {
  var imgs = document.querySelectorAll('#frames img');
  var slider = document.getElementById('slider');
  var label = document.getElementById('frame-label');
  var play = document.getElementById('play');
  if (slider && imgs.length > 0) {
    var show = function (i) {
      for (var k = 0; k < imgs.length; k++) {
        imgs[k].classList.toggle('shown', k === i);
      }
      slider.value = String(i);
      label.textContent = imgs[i].getAttribute('data-label');
    };
    slider.addEventListener('input', function () { show(parseInt(slider.value, 10)); });
    var timer = null;
    play.addEventListener('click', function () {
      if (timer !== null) {
        clearInterval(timer);
        timer = null;
        play.textContent = '▶ play';
        return;
      }
      play.textContent = '❚❚ pause';
      var i = parseInt(slider.value, 10);
      if (i >= imgs.length - 1) { i = -1; }
      timer = setInterval(function () {
        i++;
        if (i >= imgs.length) { clearInterval(timer); timer = null; play.textContent = '▶ play'; return; }
        show(i);
      }, 350);
    });
  }
  document.body.setAttribute('data-report-ready', String(imgs.length));
})();
</script>
</body>
</html>
`))
