package report

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn/eval"
)

func TestNiceTicks(t *testing.T) {
	assert.Equal(t, []float64{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}, niceTicks(0, 1, 5))
	ticks := niceTicks(3.7, 48.2, 5)
	require.NotEmpty(t, ticks)
	assert.GreaterOrEqual(t, ticks[0], 3.7)
	assert.LessOrEqual(t, ticks[len(ticks)-1], 48.2)
	assert.InDelta(t, 10, ticks[1]-ticks[0], 1e-9)
	assert.Equal(t, []float64{2}, niceTicks(2, 2, 5))
	// Ticks crossing zero print 0, not a rounding residue.
	for _, v := range niceTicks(-0.3, 0.3, 6) {
		if math.Abs(v) < 1e-12 {
			assert.Equal(t, "0", fmtNum(v))
		}
	}
}

func TestDownsample(t *testing.T) {
	short := []Point{{0, 1}, {1, 2}}
	assert.Equal(t, short, downsample(short))
	long := make([]Point, 10*maxPoints)
	for i := range long {
		long[i] = Point{float64(i), float64(i % 10)} // mean 4.5 over each bucket of 10
	}
	d := downsample(long)
	require.Len(t, d, maxPoints)
	for _, p := range d {
		require.InDelta(t, 4.5, p.Y, 1e-12)
	}
	assert.InDelta(t, 4.5, d[0].X, 1e-12)
}

func TestChartSVG(t *testing.T) {
	c := Chart{Title: "loss <&> \"x\"", XLabel: "epoch", YLabel: "BCE", HLines: []float64{1.5}, Series: []Series{
		{Name: "d_loss", Color: "#1f77b4", Points: []Point{{0, 1}, {1, 0.5}, {2, math.NaN()}, {3, math.Inf(1)}, {4, 0.7}}},
		{Name: "g_loss", Color: "#ff7f0e", Points: []Point{{0, 2}, {4, 1}}, Markers: true},
	}}
	svg := c.SVG(600, 280)
	assert.True(t, strings.HasPrefix(svg, `<svg class="chart" width="600" height="280"`))
	assert.True(t, strings.HasSuffix(svg, "</svg>"))
	assert.Contains(t, svg, "loss &lt;&amp;&gt; &#34;x&#34;") // escaped title
	assert.NotContains(t, svg, "NaN")
	assert.NotContains(t, svg, "Inf")
	assert.Equal(t, 2, strings.Count(svg, "<path "))
	assert.Equal(t, 2, strings.Count(svg, "<circle ")) // markers of the second series only
	assert.Equal(t, 1, strings.Count(svg, `class="hline"`))
	// Every coordinate lies inside the drawing.
	for _, m := range regexp.MustCompile(`[ML](-?[0-9.]+) (-?[0-9.]+)`).FindAllStringSubmatch(svg, -1) {
		assert.NotContains(t, m[1], "-")
		assert.NotContains(t, m[2], "-")
	}

	// Log scale drops non-positive values and labels decades.
	lg := Chart{Title: "norms", LogY: true, Series: []Series{{Name: "G", Color: "#000", Points: []Point{{0, 0.5}, {1, 0}, {2, 50}, {3, -1}}}}}
	svg = lg.SVG(400, 200)
	assert.Contains(t, svg, ">1</text>")
	assert.Contains(t, svg, ">10</text>")
	assert.Equal(t, 1, strings.Count(regexp.MustCompile(`d="[^"]*"`).FindString(svg), "L")) // two usable points

	// No data at all, or a constant: still a valid picture.
	assert.Contains(t, Chart{Title: "empty"}.SVG(300, 200), "no data")
	flat := Chart{Title: "flat", Series: []Series{{Color: "#000", Points: []Point{{1, 3}, {1, 3}}}}}.SVG(300, 200)
	assert.NotContains(t, flat, "NaN")
}

func tinyPNG(t *testing.T, w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, img))
	return b.Bytes()
}

func TestWriteFullPage(t *testing.T) {
	res := &eval.Result{
		Source: "samples <from> somewhere", Dataset: "mnist", NNRef: 10000,
		Classifier: eval.ClassifierInfo{Arch: "mlp", Features: "256-d", TestAccuracy: 0.986},
		Samples:    &eval.Metrics{N: 100, FID: 12.3, InceptionScore: 8.1, Histogram: []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 10}, Covered: 10, Confident: 0.8, NNDist: 9},
		Real:       &eval.Metrics{N: 100, FID: 1.2, InceptionScore: 9.3, Histogram: []int{9, 11, 10, 10, 10, 10, 10, 10, 10, 10}, Covered: 10, Confident: 0.95, NNDist: 9.4},
		Flags:      []string{"far from the data: <script>alert(1)</script>"},
	}
	run := &Run{
		Title: "report <title>", Subtitle: "seed-mlp-gan", Notes: []string{"a note"},
		Training:      []Chart{{Title: "GAN losses", Series: []Series{{Name: "d", Color: "#111", Points: []Point{{0, 1}, {1, 2}}}}}},
		Metrics:       []Chart{{Title: "FID", Series: []Series{{Color: "#111", Points: []Point{{1, 30}, {2, 20}}, Markers: true}}}},
		Frames:        []Frame{{"epoch 1", tinyPNG(t, 10, 10)}, {"epoch 2", tinyPNG(t, 10, 10)}, {"epoch 3", tinyPNG(t, 10, 10)}},
		Interpolation: tinyPNG(t, 332, 62), InterpolationCaption: "seeds 1…5",
		Eval: res, Watched: true,
		Warnings: []eval.Warning{{Step: 7, Epoch: 1, Kind: eval.WarnGradNormD, Value: 120, Message: "D's gradient norm 120 exceeds 100"}},
	}
	var b bytes.Buffer
	require.NoError(t, Write(&b, run))
	html := b.String()
	assert.True(t, strings.HasPrefix(html, "<!DOCTYPE html>"))
	for _, want := range []string{"report &lt;title&gt;", "a note", "GAN losses", "step 7 (epoch 1): D&#39;s gradient norm 120 exceeds 100",
		"epoch 3", `max="2" value="2"`, "seeds 1…5", `width="664"`, "class histogram", "12.300", "1.200",
		"samples &lt;from&gt; somewhere", "&lt;script&gt;alert(1)&lt;/script&gt;"} {
		assert.Contains(t, html, want)
	}
	assert.NotContains(t, html, "<script>alert(1)</script>")
	assert.Equal(t, 4, strings.Count(html, "data:image/png;base64,"))
	assert.Equal(t, 1, strings.Count(html, "frame-img shown")) // the last epoch is shown without script
	assert.Equal(t, 1, strings.Count(html, "<script>"))        // only the slider's
	assert.NotContains(t, html, "http")

	// An empty run still renders, saying what is missing.
	b.Reset()
	require.NoError(t, Write(&b, &Run{Title: "empty"}))
	html = b.String()
	for _, want := range []string{"without the divergence watch", "without --eval-every", "No sample grids", "No checkpoint", "No evaluation"} {
		assert.Contains(t, html, want)
	}
	// A damaged strip is an error, not a broken page.
	assert.Error(t, Write(&b, &Run{Interpolation: []byte("not a png")}))
}

func TestHistogramSVG(t *testing.T) {
	svg := histogramSVG([]int{100, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 600, 260)
	assert.Equal(t, 20, strings.Count(svg, "<rect x=")-3) // 20 bars + frame + two legend swatches
	assert.Contains(t, svg, "class 0: 100.0%")
	assert.Contains(t, svg, "class 9: 10.0%")
	assert.NotContains(t, svg, "NaN")
}
