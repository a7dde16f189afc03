package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"gan/nn/imageio"
	"gan/nn/mnist"
	"gan/nn/models/vae"
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

// writeVAEPictures writes the pictures of v into dir and returns their
// paths.
func writeVAEPictures(v *vae.VAE, test *mnist.Set, dir string, seed uint64) ([]string, error) {
	const dim = mnistPixels
	d := v.LatentDim()
	targets := vaeTargets(test, v.Config(), test.N)
	var written []string
	write := func(name string, pix []float32, n, cols int) error {
		p := filepath.Join(dir, name)
		written = append(written, p)
		return imageio.WritePNG(p, imageio.Grid(pix, n, cols, 2))
	}

	// Reconstructions: rows of 16 test inputs, each above its decoded mean code.
	const recN = 32
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
	if err := write("recon.png", grid, 2*recN, 16); err != nil {
		return nil, err
	}

	// Samples: z ~ N(0, I) of the seed, as gan sample draws them.
	samples, err := generateSamples(v, imageio.MNIST, 64, seed)
	if err != nil {
		return nil, err
	}
	if err := write("samples.png", samples, 64, 8); err != nil {
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
	if err := write("interp.png", interp, pairs*frames, frames); err != nil {
		return nil, err
	}
	if d != 2 {
		return written, nil
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
	if err := write("manifold.png", man, side*side, side); err != nil {
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
	path := filepath.Join(dir, "latent.png")
	written = append(written, path)
	if err := writePanels(path, [][]*plot.Plot{{p}}, 7*vg.Inch, 6*vg.Inch); err != nil {
		return nil, err
	}
	return written, nil
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
