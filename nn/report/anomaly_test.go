package report

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The histogram's bins hold each group's whole share, the tails clamped
// into the edge bins, and the SVG draws one bar per non-empty bin.
func TestScoreHistogram(t *testing.T) {
	h := ScoreHistogram{Title: "one-class, class 3: AUROC 87.50% <&>", XLabel: "−ELBO (nats)"}
	for i := range 1000 {
		h.Normal = append(h.Normal, 100+float64(i%50))
	}
	for i := range 200 {
		h.Anomalous = append(h.Anomalous, 130+float64(i%40))
	}
	h.Anomalous = append(h.Anomalous, 1e6, -1e6) // far tails
	ns, as, lo, hi := h.Bins()
	require.Len(t, ns, histBins)
	require.Len(t, as, histBins)
	sum := func(v []float64) (s float64) {
		for _, x := range v {
			s += x
		}
		return s
	}
	assert.InDelta(t, 1, sum(ns), 1e-12)
	assert.InDelta(t, 1, sum(as), 1e-12)
	assert.InDelta(t, 100, lo, 1e-9) // the 0.5th percentile of the 1202 scores
	assert.InDelta(t, 168, hi, 1e-9) // the 99.5th (index 1195 of 1202 sorted: 169 fills 1196 to 1200)
	assert.InDelta(t, 1.0/202, as[0], 1e-12, "the low tail in the first bin")
	assert.Zero(t, ns[histBins-1])
	nonEmpty := 0
	for k := range ns {
		if ns[k] > 0 {
			nonEmpty++
		}
		if as[k] > 0 {
			nonEmpty++
		}
	}
	svg := h.SVG(420, 250)
	assert.Equal(t, nonEmpty, strings.Count(svg, `class="bar-n"><title>`)+strings.Count(svg, `class="bar-a"><title>`))
	assert.Contains(t, svg, "AUROC 87.50% &lt;&amp;&gt;")
	assert.Contains(t, svg, "normal test images (1000)")
	assert.Contains(t, svg, "anomalous test images (202)")
	assert.True(t, strings.HasPrefix(svg, "<svg") && strings.HasSuffix(svg, "</svg>"))
	assert.NotContains(t, svg, "NaN")

	// One group, or all scores equal: still a drawable range.
	lo, hi = scoreRange([]float64{5, 5, 5})
	assert.Less(t, lo, hi)
	one := ScoreHistogram{Title: "x", Normal: []float64{5, 5}}.SVG(420, 250)
	assert.NotContains(t, one, "NaN")
	assert.False(t, math.IsNaN(lo))
}

// WriteAnomaly renders the table and the histograms in the report's style,
// and the training report keeps its style sheet.
func TestWriteAnomaly(t *testing.T) {
	a := &Anomaly{Title: "Anomaly detection report", Subtitle: "vae on mnist", Notes: []string{"a note"},
		Header: []string{"protocol", "class", "AUROC"},
		Rows:   [][]string{{"one-class", "1", "99.00%"}, {"one-anomalous", "1", "12.00%"}},
		Histograms: []ScoreHistogram{
			{Title: "one-class, class 1: AUROC 99.00%", Normal: []float64{1, 2, 3}, Anomalous: []float64{4, 5, 6}},
			{Title: "one-anomalous, class 1: AUROC 12.00%", Normal: []float64{4, 5, 6}, Anomalous: []float64{1, 2, 3}},
		}}
	var b bytes.Buffer
	require.NoError(t, WriteAnomaly(&b, a))
	page := b.String()
	for _, want := range []string{"<title>Anomaly detection report</title>", "vae on mnist", "a note", "<th>AUROC</th>", "<td>one-anomalous</td>",
		"one-class, class 1: AUROC 99.00%", "one-anomalous, class 1: AUROC 12.00%", "svg .bar-a", "table.eval"} {
		assert.Contains(t, page, want)
	}
	assert.Equal(t, 2, strings.Count(page, `class="chart score-hist"`))
	assert.Equal(t, 1, strings.Count(page, "<style>"))
	assert.True(t, strings.HasSuffix(strings.TrimSpace(page), "</html>"))

	b.Reset()
	require.NoError(t, Write(&b, &Run{Title: "t"}))
	assert.Contains(t, b.String(), "svg .bar-r")
	assert.NotContains(t, b.String(), "Variational autoencoder")
}
