package main

import (
	"bytes"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"gan/nn"
	"gan/nn/imageio"
	"gan/nn/likelihood"
	"gan/nn/mnist"
	"gan/nn/models/vae"
	"gan/nn/report"
)

func init() {
	register(command{"vae-pictures", "a VAE's pictures: reconstructions, samples, interpolation; for a 2-D latent the decoded manifold and the test set's codes by digit", runVAEPictures})
}

func runVAEPictures(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("vae-pictures", stderr)
	ckpt := fs.String("checkpoint", "", "a VAE checkpoint of gan train")
	out := fs.String("out", "vae-pictures", "directory for recon.png, samples.png, interp.png (and manifold.png, latent.png for a 2-D latent)")
	data := fs.String("data", "", "directory with the idx files (default: the dataset's built-in source)")
	seed := fs.Uint64("seed", 1, "seed of the samples' noise")
	device := fs.String("device", "cpu", "cpu, cuda or auto")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *ckpt == "" {
		return usagef("--checkpoint: required")
	}
	b, err := openDevice(*device, stderr)
	if err != nil {
		return err
	}
	defer b.Close()
	m, err := loadModel(b, "--checkpoint", *ckpt, vae.MLPName, false)
	if err != nil {
		return err
	}
	defer m.Free()
	v, ok := m.(*vae.VAE)
	if !ok {
		return usagef("--checkpoint %s is a %s checkpoint, not a VAE", *ckpt, m.Config().Model)
	}
	test, err := mnist.Load(m.Config().Dataset, *data, false)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	written, err := writeVAEPictures(v, test, *out, *seed)
	if err != nil {
		return err
	}
	for _, w := range written {
		fmt.Fprintln(stdout, "wrote", w)
	}
	return nil
}

// vaePicture is one of a VAE's pictures, encoded as PNG in memory.
type vaePicture struct {
	name    string // file name of gan vae-pictures, e.g. "recon.png"
	title   string // short title of the report's figure
	caption string // what it shows
	png     []byte
	plot    bool // a chart (drawn at its own resolution), not a grid of digits
}

// writeVAEPictures writes the pictures of v into dir and returns their
// paths.
func writeVAEPictures(v *vae.VAE, test *mnist.Set, dir string, seed uint64) ([]string, error) {
	pics, err := vaePictures(v, test, seed)
	if err != nil {
		return nil, err
	}
	var written []string
	for _, p := range pics {
		path := filepath.Join(dir, p.name)
		if err := nn.WriteFileAtomic(path, func(w io.Writer) error {
			_, err := w.Write(p.png)
			return err
		}); err != nil {
			return nil, err
		}
		written = append(written, path)
	}
	return written, nil
}

// vaePictures draws the pictures of v on the test set: reconstructions,
// samples of the seed, an interpolation, and for a 2-D latent the decoded
// manifold and the test set's mean codes by digit.
func vaePictures(v *vae.VAE, test *mnist.Set, seed uint64) ([]vaePicture, error) {
	const dim = mnistPixels
	d := v.LatentDim()
	targets := vaeTargets(test, v.Config(), test.N)
	var pics []vaePicture
	add := func(name, title, caption string, pix []float32, n, cols int) error {
		var buf bytes.Buffer
		if err := png.Encode(&buf, imageio.Grid(pix, n, cols, 2)); err != nil {
			return fmt.Errorf("%s: encoding PNG: %w", name, err)
		}
		pics = append(pics, vaePicture{name: name, title: title, caption: caption, png: buf.Bytes()})
		return nil
	}

	// Reconstructions: rows of 16 test inputs, each above its decoded mean code.
	const recN = 32
	if test.N < recN+16 {
		return nil, fmt.Errorf("VAE pictures: the test set holds %d images, need at least %d", test.N, recN+16)
	}
	mu := make([]float32, recN*d)
	if err := v.Encode(targets[:recN*dim], mu, nil); err != nil {
		return nil, err
	}
	rec := make([]float32, recN*dim)
	if err := v.Generate(mu, rec); err != nil {
		return nil, err
	}
	var grid []float32
	for r := 0; r < recN; r += 16 {
		for i := r; i < r+16; i++ {
			grid = append(grid, unit(targets[i*dim:(i+1)*dim])...)
		}
		grid = append(grid, rec[r*dim:(r+16)*dim]...)
	}
	if err := add("recon.png", "reconstructions", fmt.Sprintf("the first %d test images (odd rows, as the model reads them) above the decoder's mean image of their mean code (even rows)", recN),
		grid, 2*recN, 16); err != nil {
		return nil, err
	}

	// Samples: z ~ N(0, I) of the seed, as gan sample draws them.
	samples, err := generateSamples(v, imageio.MNIST, 64, seed)
	if err != nil {
		return nil, err
	}
	if err := add("samples.png", "samples", fmt.Sprintf("the decoder's mean image of 64 codes z ~ N(0, I) of seed %d (images 0 to 63 of gan sample --seed %d)", seed, seed),
		samples, 64, 8); err != nil {
		return nil, err
	}

	// Interpolation: 8 pairs of test digits, 10 steps between their mean codes.
	const pairs, frames = 8, 10
	ends := make([]float32, 2*pairs*d)
	if err := v.Encode(targets[recN*dim:(recN+2*pairs)*dim], ends, nil); err != nil {
		return nil, err
	}
	zs := make([]float32, 0, pairs*frames*d)
	for p := range pairs {
		a, c := ends[2*p*d:(2*p+1)*d], ends[(2*p+1)*d:(2*p+2)*d]
		for f := range frames {
			t := float32(f) / (frames - 1)
			for j := range d {
				zs = append(zs, a[j]+t*(c[j]-a[j]))
			}
		}
	}
	interp := make([]float32, pairs*frames*dim)
	if err := v.Generate(zs, interp); err != nil {
		return nil, err
	}
	if err := add("interp.png", "interpolation between test digits", fmt.Sprintf("each row walks in %d linear steps from the mean code of test image %d+2r to that of image %d+2r+1", frames, recN, recN),
		interp, pairs*frames, frames); err != nil {
		return nil, err
	}
	if d != 2 {
		return pics, nil
	}

	// The manifold: a 20×20 grid of codes at the normal quantiles of
	// evenly spaced probabilities (Kingma and Welling's figure 4).
	const side = 20
	grid2 := make([]float32, 0, side*side*2)
	for r := range side {
		for c := range side {
			grid2 = append(grid2, float32(normalQuantile((float64(c)+0.5)/side)), float32(normalQuantile(1-(float64(r)+0.5)/side)))
		}
	}
	man := make([]float32, side*side*dim)
	if err := v.Generate(grid2, man); err != nil {
		return nil, err
	}
	if err := add("manifold.png", "the decoded manifold", fmt.Sprintf("the decoder's mean image on a %d×%d grid of codes at the normal quantiles of evenly spaced probabilities (z1 left to right, z2 bottom to top; Kingma and Welling's figure 4)", side, side),
		man, side*side, side); err != nil {
		return nil, err
	}

	// The test set's mean codes, coloured by digit.
	all := make([]float32, test.N*2)
	if err := v.Encode(targets, all, nil); err != nil {
		return nil, err
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: test codes (means of q(z|x)) by digit", v.Config().Model)
	p.X.Label.Text, p.Y.Label.Text = "z1", "z2"
	classes := 10
	for c := range classes {
		var pts plotter.XYs
		for i, l := range test.Labels {
			if int(l) == c {
				pts = append(pts, plotter.XY{X: float64(all[2*i]), Y: float64(all[2*i+1])})
			}
		}
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		s.GlyphStyle.Color = palette[c%len(palette)]
		s.GlyphStyle.Radius = vg.Points(1)
		s.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(s)
		p.Legend.Add(fmt.Sprint(c), s)
	}
	p.Legend.Top = true
	var buf bytes.Buffer
	if err := drawPanels(&buf, [][]*plot.Plot{{p}}, 7*vg.Inch, 6*vg.Inch); err != nil {
		return nil, fmt.Errorf("latent.png: %w", err)
	}
	pics = append(pics, vaePicture{name: "latent.png", title: "the latent space", plot: true, png: buf.Bytes(),
		caption: fmt.Sprintf("the mean codes of the %d test images, coloured by digit", test.N)})
	return pics, nil
}

// reportLikelihoodK and reportLikelihoodN are gan report's defaults of
// --iw-eval and --iw-n: fewer importance samples than gan eval's 5000, so
// that the report of a VAE stays a matter of a minute on a CPU.
const reportLikelihoodK, reportLikelihoodN = 100, 10000

// vaeSection is the report's section of a VAE: its pictures (the test set
// of f.data, the samples of f.seed) and, withEval, the −ELBO and the
// importance-weighted −log p(x) with lf.k samples on the first lf.n test
// images; the likelihood's progress goes to progress. It returns nil and
// a note when the test set cannot be read.
func vaeSection(v *vae.VAE, f *evalFlags, lf *likelihoodFlags, withEval bool, progress io.Writer) (*report.VAE, string, error) {
	cfg := v.Config()
	if cfg.Dataset == imagesDataset {
		return nil, "No VAE pictures: the model was trained on --images pictures, and the pictures use the test set of an MNIST-style dataset.", nil
	}
	test, err := mnist.Load(cfg.Dataset, f.data, false)
	if err != nil {
		return nil, fmt.Sprintf("No VAE pictures: %v.", err), nil
	}
	data := "grey levels in [0, 1]"
	if cfg.Binarize == vae.BinarizeDynamic {
		data = fmt.Sprintf("binarised once with the fixed seed %d", testBinarizeSeed)
	}
	s := &report.VAE{Intro: fmt.Sprintf("%s (%s) on the test set of %s (%d images, %s, as the model was trained); gan vae-pictures writes the same pictures as PNG files.",
		cfg.Model, vaeSummary(cfg), cfg.Dataset, test.N, data)}
	pics, err := vaePictures(v, test, f.seed)
	if err != nil {
		return nil, "", fmt.Errorf("VAE pictures: %w", err)
	}
	for _, p := range pics {
		s.Pictures = append(s.Pictures, report.Picture{Title: p.title, Caption: p.caption, PNG: p.png, Plot: p.plot})
	}
	if !withEval {
		s.LikelihoodNote = "Likelihood left out (--no-eval)."
		return s, "", nil
	}
	n := min(lf.n, test.N)
	last := time.Now()
	r, err := likelihood.Evaluate(v, vaeTargets(test, cfg, n), lf.k, 1, func(done, total int) {
		if time.Since(last) > 5*time.Second {
			fmt.Fprintf(progress, "  likelihood: %d of %d images\n", done, total)
			last = time.Now()
		}
	})
	if err != nil {
		return nil, "", fmt.Errorf("VAE likelihood: %w", err)
	}
	f4 := func(x float64) string { return fmt.Sprintf("%.3f", x) }
	on := fmt.Sprintf("mean over %d test images", n)
	s.Likelihood = []report.Figure{
		{Name: "−ELBO", Value: f4(r.NegELBO), Note: fmt.Sprintf("reconstruction + KL, the expectation over %d samples of q(z|x); %s", r.K, on)},
		{Name: "of which reconstruction −log p(x|z)", Value: f4(r.Rec), Note: "summed over pixels"},
		{Name: "of which KL(q(z|x) ‖ N(0, I))", Value: f4(r.KL), Note: "closed form"},
		{Name: "−log p(x), importance-weighted", Value: f4(r.NLL), Note: fmt.Sprintf("k = %d samples per image (Burda et al.; gan eval --iw-eval 5000 gives the literature's figure); %s", r.K, on)},
	}
	s.LikelihoodNote = fmt.Sprintf("Measured in %.1f s on the %s (%s).", r.Seconds, "test set", data)
	return s, "", nil
}

// unit maps targets in [0, 1] to the [−1, 1] of images.
func unit(x []float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = 2*v - 1
	}
	return out
}

// normalQuantile is Φ⁻¹(p) for p in (0, 1).
func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// drawPanels draws panels (rows of plots) on a w×h canvas as PNG to out,
// as writePanels does to a file.
func drawPanels(out io.Writer, panels [][]*plot.Plot, w, h vg.Length) error {
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: len(panels[0]), PadY: vg.Points(8), PadX: vg.Points(8), PadTop: vg.Points(4), PadBottom: vg.Points(4)}
	canvases := plot.Align(panels, tiles, dc)
	for i, row := range panels {
		for j, p := range row {
			p.Draw(canvases[i][j])
		}
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(out)
	return err
}
