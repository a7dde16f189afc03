package main

// The autoregressive families (MADE, PixelCNN): their training flags, the
// exact test likelihood gan eval reports, completion of the lower rows of
// a digit (gan sample --complete), and gan nll-curve, which trains while
// measuring the test likelihood against wall-clock time.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"time"

	"gan/nn"
	"gan/nn/imageio"
	"gan/nn/mnist"
	"gan/nn/model"
	"gan/nn/models/chargru"
	"gan/nn/models/made"
	"gan/nn/models/made/autoreg"
	"gan/nn/models/pixelcnn"
)

// arFlags are gan train's flags of the autoregressive families.
type arFlags struct{ orders, hidden, blocks int }

func (a *arFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&a.orders, "orders", 1, "MADE: number of orderings trained (step s uses ordering s mod K) and averaged at test time")
	fs.IntVar(&a.hidden, "hidden", 0, fmt.Sprintf("MADE: hidden units (default %d); PixelCNN: residual channels h (default %d); char-gru: recurrent units per layer (default %d)", made.DefaultHidden, pixelcnn.DefaultHidden, chargru.DefaultConfig().Hidden))
	fs.IntVar(&a.blocks, "blocks", 0, fmt.Sprintf("PixelCNN: residual blocks of 3×3 mask-B convolutions, or with --arch gated the gated stacks' layers after the first (default %d)", pixelcnn.DefaultBlocks))
}

// apply writes the flags given (set) into cfg; they are an error with a
// family that does not take them.
func (a *arFlags) apply(cfg *model.Config, set map[string]bool) error {
	takes := map[string][]string{"orders": {made.Name}, "hidden": {made.Name, pixelcnn.Name}, "blocks": {pixelcnn.Name}}
	for name, families := range takes {
		if !set[name] {
			continue
		}
		ok := false
		for _, f := range families {
			ok = ok || f == cfg.Model
		}
		if !ok {
			return usagef("--%s: only --model %v takes it, not --model %s", name, families, cfg.Model)
		}
	}
	if set["orders"] {
		if a.orders < 1 || a.orders > 64 {
			return usagef("--orders %d: must be between 1 and 64", a.orders)
		}
		cfg.Orders = a.orders
	}
	if set["hidden"] {
		if a.hidden < 1 || a.hidden > 1<<15 {
			return usagef("--hidden %d: must be between 1 and 32768", a.hidden)
		}
		cfg.Hidden = a.hidden
	}
	if set["blocks"] {
		if a.blocks < 1 || a.blocks > 64 {
			return usagef("--blocks %d: must be between 1 and 64", a.blocks)
		}
		cfg.Blocks = a.blocks
	}
	return nil
}

// binarizedTestSet loads the dataset's test images binarised with the
// fixed stream (autoreg.FixedBinarize), the first n of them.
func binarizedTestSet(dataset, dir string, n int) ([]float32, error) {
	test, err := mnist.Load(dataset, dir, false)
	if err != nil {
		return nil, err
	}
	if test.Rows != autoreg.Side || test.Cols != autoreg.Side {
		return nil, fmt.Errorf("%s test set: %dx%d images, the autoregressive models take 28x28", dataset, test.Rows, test.Cols)
	}
	n = min(n, test.N)
	return autoreg.FixedBinarize(model.FromMNIST(test).Pixels[:n*autoreg.Dim]), nil
}

// evalLikelihood reports the exact test likelihood of a model that has
// one (MADE, PixelCNN) over the whole binarised test set, and says whether
// gan eval is done: the sample-based measures (FID, IS, coverage) need
// --n samples drawn pixel by pixel, so they run only when --n is given.
func evalLikelihood(m model.Model, dataset, dataDir string, nSet bool, stdout io.Writer) (done bool, err error) {
	lk, ok := m.(autoreg.Likelihood)
	if !ok {
		return false, nil
	}
	if dataset == "" {
		dataset = m.Config().Dataset
	}
	x, err := binarizedTestSet(dataset, dataDir, 1<<30)
	if err != nil {
		return false, err
	}
	start := time.Now()
	res, err := autoreg.Evaluate(lk, x, 500)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(stdout, "%s (%s, step %d): %v, in %.1f s\n", m.Config().Model, dataset, m.Step(), res, time.Since(start).Seconds())
	if !nSet {
		fmt.Fprintln(stdout, "(sample-based measures: give --n, e.g. --n 1000; each sample takes 784 sequential draws)")
	}
	return !nSet, nil
}

// isSequential reports whether g samples pixel by pixel (gan sample then
// reports its rate).
func isSequential(g model.Generator) bool {
	_, ok := g.(autoreg.Completer)
	return ok
}

// completeImages writes n completions of the digit in the PNG path: its
// first rows rows kept (binarised at grey level 0.5), the rest drawn by
// the model from the noise of seed (as gan sample's, chunk by chunk), to
// out/complete_NNNNN.png and a grid (grid, or out/completions.png) whose
// first image is the kept part.
func completeImages(g model.Generator, path string, rows, n int, seed uint64, out, grid string, stdout io.Writer) error {
	c, ok := g.(autoreg.Completer)
	if !ok {
		return usagef("--complete: the model cannot complete images (only the autoregressive families, made and pixelcnn, can)")
	}
	if rows < 0 || rows > autoreg.Side {
		return usagef("--rows %d: must be between 0 and %d", rows, autoreg.Side)
	}
	digit, err := readDigit(path)
	if err != nil {
		return err
	}
	known := make([]float32, n*autoreg.Dim)
	for i := range n {
		copy(known[i*autoreg.Dim:], digit)
	}
	z := make([]float32, n*autoreg.Dim)
	for lo := 0; lo < n; lo += sampleChunk {
		k := min(sampleChunk, n-lo)
		copy(z[lo*autoreg.Dim:], hostNoise(nn.RandKey{Seed: seed, Stream: nn.StreamID(nn.PurposeSample, uint64(lo/sampleChunk))}, k, autoreg.Dim))
	}
	pix := make([]float32, n*autoreg.Dim)
	start := time.Now()
	if err := c.Complete(z, known, rows, pix); err != nil {
		return fmt.Errorf("completing: %w", err)
	}
	secs := time.Since(start).Seconds()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	s := imageio.MNIST
	for i := range n {
		p := filepath.Join(out, fmt.Sprintf("complete_%05d.png", i))
		if err := imageio.WritePNG(p, imageio.ImageOf(pix[i*s.Size():(i+1)*s.Size()], s)); err != nil {
			return err
		}
	}
	// The grid: the kept rows (the rest grey), then the completions.
	all := make([]float32, (n+1)*autoreg.Dim)
	for j := range autoreg.Dim {
		all[j] = 0
		if j < rows*autoreg.Side {
			all[j] = 2*digit[j] - 1
		}
	}
	copy(all[autoreg.Dim:], pix)
	if grid == "" {
		grid = filepath.Join(out, "completions.png")
	}
	if err := imageio.WritePNG(grid, imageio.GridOf(all, n+1, s, min(n+1, 10), 2)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d completions of the top %d rows of %s to %s and %s (%.1f s, %.2f images/s)\n",
		n, rows, path, out, grid, secs, float64(n)/secs)
	return nil
}

// readDigit reads a 28×28 PNG as binary pixels (grey level ≥ 0.5 is 1).
func readDigit(path string) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--complete: %w", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("--complete %s: %w", path, err)
	}
	r := img.Bounds()
	if r.Dx() != autoreg.Side || r.Dy() != autoreg.Side {
		return nil, fmt.Errorf("--complete %s: image is %dx%d, want 28x28", path, r.Dx(), r.Dy())
	}
	out := make([]float32, 0, autoreg.Dim)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			v := float32(0)
			if grayToUnit(img, x, y) >= 0 {
				v = 1
			}
			out = append(out, v)
		}
	}
	return out, nil
}

func init() {
	register(command{"nll-curve", "train an autoregressive model (made, pixelcnn) for a wall-clock budget, measuring the exact test NLL as it goes", runNLLCurve})
}

var errBudget = errors.New("wall-clock budget spent")

func runNLLCurve(args []string, stdout, stderr io.Writer) error {
	var c configFlags
	var a arFlags
	fs := newFlagSet("nll-curve", stderr)
	c.register(fs)
	a.register(fs)
	device := fs.String("device", "cpu", "cpu, cuda or auto")
	data := fs.String("data", "", "directory with the idx files (default: the dataset's built-in source)")
	minutes := fs.Float64("minutes", 5, "training wall-clock budget in minutes (the evaluations are not counted)")
	every := fs.Float64("every", 60, "seconds of training between two test evaluations")
	evalN := fs.Int("eval-n", 10000, "binarised test images per evaluation (the first N of the fixed set)")
	out := fs.String("out", "curve", "output directory: curve.csv and checkpoint.safetensors")
	if err := parse(fs, args); err != nil {
		return err
	}
	set := setFlags(fs)
	if !set["model"] {
		c.model = pixelcnn.Name
	}
	cfg, err := c.config(set)
	if err != nil {
		return err
	}
	if err := a.apply(&cfg, set); err != nil {
		return err
	}
	if cfg.Model != made.Name && cfg.Model != pixelcnn.Name {
		return usagef("--model %s: nll-curve trains the autoregressive families (made, pixelcnn)", cfg.Model)
	}
	if !set["epochs"] {
		cfg.Epochs = 10000 // the budget stops the run
	}
	if err := model.ValidateConfig(cfg); err != nil {
		return usagef("%v", err)
	}
	if !(*minutes > 0) || !(*every > 0) {
		return usagef("--minutes %g, --every %g: must be positive", *minutes, *every)
	}
	if *evalN < 1 {
		return usagef("--eval-n %d: must be at least 1", *evalN)
	}
	b, err := openDevice(*device, stderr)
	if err != nil {
		return err
	}
	defer b.Close()
	m, err := model.New(b, cfg)
	if err != nil {
		return err
	}
	defer m.Free()
	train, err := mnist.Load(cfg.Dataset, *data, true)
	if err != nil {
		return err
	}
	ds := model.FromMNIST(train)
	dev, err := ds.Upload(b)
	if err != nil {
		return err
	}
	defer b.Free(dev)
	test, err := binarizedTestSet(cfg.Dataset, *data, *evalN)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", *out, err)
	}
	csvPath := filepath.Join(*out, "curve.csv")
	csv, err := os.Create(csvPath)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	defer csv.Close()
	fmt.Fprintln(csv, "train_seconds,step,epoch,train_nll,test_nll,test_bits_per_dim,test_images")
	fmt.Fprintf(stdout, "nll-curve: %s %+v on %s, %.1f min, test NLL of %d images every %g s\n", cfg.Model, cfg, b.Name(), *minutes, len(test)/autoreg.Dim, *every)
	lk := m.(autoreg.Likelihood)
	batches := model.BatchesPerEpoch(ds.N, cfg.Batch)
	var trained time.Duration
	var window float64
	var windowN int
	measure := func(step int) error {
		res, err := autoreg.Evaluate(lk, test, 500)
		if err != nil {
			return err
		}
		tr := 0.0
		if windowN > 0 {
			tr = window / float64(windowN)
		}
		fmt.Fprintf(csv, "%.1f,%d,%.3f,%.3f,%.3f,%.5f,%d\n", trained.Seconds(), step, float64(step)/float64(batches), tr, res.NLL, res.BitsPerDim, res.N)
		fmt.Fprintf(stdout, "%7.1f s  step %6d  epoch %6.2f  train NLL %8.3f  test NLL %8.3f (%.4f bits/dim)\n", trained.Seconds(), step, float64(step)/float64(batches), tr, res.NLL, res.BitsPerDim)
		window, windowN = 0, 0
		return nil
	}
	if err := measure(0); err != nil {
		return err
	}
	budget := time.Duration(*minutes * float64(time.Minute))
	next := time.Duration(*every * float64(time.Second))
	last := time.Now()
	hooks := model.Hooks{OnStep: func(p model.Progress) error {
		trained += time.Since(last)
		window += p.Stats[0]
		windowN++
		defer func() { last = time.Now() }()
		if trained >= next || trained >= budget {
			if err := b.Sync(); err != nil {
				return err
			}
			if err := measure(p.Step); err != nil {
				return err
			}
			next += time.Duration(*every * float64(time.Second))
		}
		if trained >= budget {
			return errBudget
		}
		return nil
	}}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if err := model.Train(ctx, m, ds, dev, 0, hooks); err != nil && !errors.Is(err, errBudget) {
		return err
	}
	if windowN > 0 { // the epochs ran out before the budget
		if err := measure(m.Step()); err != nil {
			return err
		}
	}
	ck := filepath.Join(*out, "checkpoint.safetensors")
	if err := model.Save(m, ck); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %d steps (%.2f epochs) in %.1f s of training; %s, %s\n", m.Step(), float64(m.Step())/float64(batches), trained.Seconds(), csvPath, ck)
	return nil
}
