package main

import (
	"bytes"
	"encoding/base64"
	"html"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// voidElements are the HTML elements without an end tag.
var voidElements = map[string]bool{"meta": true, "img": true, "input": true, "br": true, "hr": true, "link": true}

// requireWellFormed checks that every element of page (outside scripts
// and style sheets) that opens also closes, in order.
func requireWellFormed(t *testing.T, page string) {
	t.Helper()
	body := regexp.MustCompile(`(?s)<(script|style)>.*?</(script|style)>`).ReplaceAllString(page, "")
	var stack []string
	for _, m := range regexp.MustCompile(`<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*?(/?)>`).FindAllStringSubmatch(body, -1) {
		name := strings.ToLower(m[2])
		switch {
		case voidElements[name] || m[3] == "/":
		case m[1] == "":
			stack = append(stack, name)
		default:
			require.NotEmpty(t, stack, "</%s> closes nothing", name)
			require.Equal(t, stack[len(stack)-1], name, "</%s> closes <%s>", name, stack[len(stack)-1])
			stack = stack[:len(stack)-1]
		}
	}
	require.Empty(t, stack, "elements left open")
}

// embeddedPNGs decodes every data-URI image of page and returns their
// widths, failing on one that is not a PNG.
func embeddedPNGs(t *testing.T, page string) []int {
	t.Helper()
	var widths []int
	for _, m := range regexp.MustCompile(`src="data:image/png;base64,([^"]*)"`).FindAllStringSubmatch(page, -1) {
		raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
		require.NoError(t, err)
		img, err := png.Decode(bytes.NewReader(raw))
		require.NoError(t, err)
		widths = append(widths, img.Bounds().Dx())
	}
	return widths
}

// gan report of a tiny VAE run with a 2-D latent shows the VAE's section:
// the likelihood table and the five pictures, embedded as PNG data URIs,
// in a well-formed page; with --no-eval the pictures stay and the
// likelihood goes.
func TestReportVAE(t *testing.T) {
	dir := t.TempDir()
	data := tinyData(t, dir, 64, 64)
	run := filepath.Join(dir, "run")
	code, _, errOut := gan("train", "--model", "vae", "--binarize", "dynamic", "--latent", "2", "--data", data, "--batch", "16",
		"--epochs", "1", "--out", run, "--watch=false")
	require.Equal(t, 0, code, errOut)
	code, _, errOut = gan("report", run, "--data", data, "--n", "40", "--nn-ref", "64", "--iw-eval", "8", "--iw-n", "50")
	require.Equal(t, 0, code, errOut)
	raw, err := os.ReadFile(filepath.Join(run, "report.html"))
	require.NoError(t, err)
	page := string(raw)
	requireWellFormed(t, page)
	for _, want := range []string{"<h2>Variational autoencoder</h2>", "reconstructions", "samples", "interpolation between test digits",
		"the decoded manifold", "the latent space", "−ELBO", "−log p(x), importance-weighted", "k = 8 samples", "mean over 50 test images",
		"binarised once with the fixed seed", "Latent interpolation", "Evaluation"} {
		assert.Contains(t, page, want)
	}
	// The run's one sample grid, the interpolation strip and the five pictures.
	widths := embeddedPNGs(t, page)
	require.Len(t, widths, 7)
	assert.Equal(t, 4, strings.Count(page, `class="pix-img"`))
	assert.Equal(t, 1, strings.Count(page, `class="plot-img"`))
	// The reconstructions: 16 digits of 28 pixels and a 2-pixel border per row.
	assert.Contains(t, page, `alt="reconstructions"`)
	assert.Contains(t, widths, 16*30+2)
	// The likelihood's figures are finite numbers.
	m := regexp.MustCompile(`<td>−ELBO</td><td>([0-9.]+)</td>`).FindStringSubmatch(page)
	require.NotNil(t, m, "no −ELBO figure")

	code, _, errOut = gan("report", run, "--data", data, "--no-eval", "--out", filepath.Join(run, "r2.html"))
	require.Equal(t, 0, code, errOut)
	raw, err = os.ReadFile(filepath.Join(run, "r2.html"))
	require.NoError(t, err)
	page = string(raw)
	requireWellFormed(t, page)
	assert.Contains(t, page, "Likelihood left out (--no-eval).")
	assert.NotContains(t, page, `id="vae-likelihood"`)
	assert.Len(t, embeddedPNGs(t, page), 7)

	code, _, errOut = gan("report", run, "--iw-eval", "0")
	requireOneLineError(t, code, errOut, 2, "--iw-eval 0")
}
