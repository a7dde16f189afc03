package main

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gan/nn"
	"gan/nn/eval"
	"gan/nn/imageio"
	"gan/nn/mnist"
)

func init() {
	register(command{"eval", "measure a generator against real data: FID in classifier features, IS, classes, copies", runEval})
}

// evalFlags are the flags gan eval shares with gan report.
type evalFlags struct {
	data, classifier, device string
	n, nnRef                 int
	seed                     uint64
}

// register defines the shared flags on fs.
func (f *evalFlags) register(fs *flag.FlagSet, defaultN int) {
	fs.IntVar(&f.n, "n", defaultN, "number of generated samples to measure")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the samples' noise (image i is image i of gan sample --seed S)")
	fs.StringVar(&f.data, "data", "", "directory with the idx files of the dataset (default: its built-in source)")
	fs.StringVar(&f.classifier, "classifier", "", "classifier weights (default: the shipped classifier of the dataset)")
	fs.IntVar(&f.nnRef, "nn-ref", eval.DefaultNNRef, "training images searched for each sample's nearest neighbour (at most 60000)")
	fs.StringVar(&f.device, "device", "cpu", "cpu, cuda or auto")
}

func (f *evalFlags) check() error {
	if f.n < 2 || f.n > 1_000_000 {
		return usagef("--n %d: must be between 2 and 1000000", f.n)
	}
	if f.nnRef < 1 {
		return usagef("--nn-ref %d: must be at least 1", f.nnRef)
	}
	return nil
}

// evaluatorFor loads the dataset's train and test sets and the classifier
// and builds an evaluator on b; free releases what it allocated.
func evaluatorFor(b nn.Backend, dataset string, f *evalFlags, train *mnist.Set) (e *eval.Evaluator, free func(), err error) {
	if train == nil {
		if train, err = mnist.Load(dataset, f.data, true); err != nil {
			return nil, nil, err
		}
	}
	test, err := mnist.Load(dataset, f.data, false)
	if err != nil {
		return nil, nil, err
	}
	c, err := eval.LoadClassifier(b, dataset, f.classifier, 500)
	if err != nil {
		return nil, nil, err
	}
	e, err = eval.NewEvaluator(b, c, train, test, eval.Options{NNRef: f.nnRef})
	if err != nil {
		c.Free()
		return nil, nil, err
	}
	return e, func() { e.Free(); c.Free() }, nil
}

func runEval(args []string, stdout, stderr io.Writer) error {
	var f evalFlags
	fs := newFlagSet("eval", stderr)
	f.register(fs, 10000)
	ckpt := fs.String("checkpoint", "", "checkpoint written by gan train or gan import, or a bare state_dict of --model")
	modelName := fs.String("model", defaultModel, "the family of a bare state_dict given as --checkpoint (gan models lists them); a checkpoint names its own")
	samples := fs.String("samples", "", "evaluate these images instead of a checkpoint's: a directory of 28×28 PNGs (as gan sample writes) or a safetensors file with one n×784 tensor in [-1, 1]")
	dataset := fs.String("dataset", "", "mnist or fashion (default: the checkpoint's; mnist for --samples)")
	jsonOut := fs.String("json", "", "also write the result as JSON to this file (- for stdout instead of the table)")
	var lf likelihoodFlags // anomaly.go: a VAE's likelihood in nats
	lf.register(fs)
	textPath := fs.String("text", "", "text models: the UTF-8 file whose last 10% is the validation text (default: the checkpoint's corpus)")
	evalIters := fs.Int("eval-iters", 200, "text models: validation batches (nanoGPT's eval_iters)")
	textChars := fs.Int("chars", 20000, "text models: characters to generate (at temperature 1, from --seed) for distinct-n and the n-gram measure")
	if err := parse(fs, args); err != nil {
		return err
	}
	set := setFlags(fs)
	if err := f.check(); err != nil {
		return err
	}
	if err := lf.check(); err != nil {
		return err
	}
	if err := checkModelFlag(*modelName); err != nil {
		return err
	}
	if (*ckpt == "") == (*samples == "") {
		return usagef("give exactly one of --checkpoint and --samples")
	}
	if *dataset != "" && *dataset != "mnist" && *dataset != "fashion" {
		return usagef("--dataset %q: must be mnist or fashion", *dataset)
	}
	b, err := openDevice(f.device, stderr)
	if err != nil {
		return err
	}
	defer b.Close()

	var pix []float32
	var labels []int32 // a conditional model's requested labels
	var source string
	if *ckpt != "" {
		m, err := loadModel(b, "--checkpoint", *ckpt, *modelName, set["model"])
		if err != nil {
			return err
		}
		defer m.Free()
		to := textEvalOptions{chars: *textChars, seed: f.seed, jsonPath: *jsonOut}
		if done, err := evalTextModel(m, *textPath, *evalIters, to, set, stdout); done || err != nil { // text.go
			return err
		}
		if done, err := evalLikelihood(m, *dataset, f.data, set["n"], stdout); done || err != nil { // autoregressive.go
			return err
		}
		g, err := mnistGenerator(m, "--checkpoint "+*ckpt)
		if err != nil {
			return err
		}
		c := m.Config()
		if *dataset == "" && c.Dataset == imagesDataset {
			return usagef("--checkpoint %s was trained on --images pictures: the evaluation's classifier reads MNIST-style digits (--dataset mnist or fashion measures it against one anyway)", *ckpt)
		}
		if *dataset == "" {
			*dataset = c.Dataset
		}
		lw := stdout
		if *jsonOut == "-" {
			lw = stderr
		}
		if err := reportLikelihood(lw, stderr, m, f.data, &lf); err != nil {
			return err
		}
		if pix, labels, err = generateFor(g, imageio.MNIST, f.n, f.seed, noLabel); err != nil {
			return err
		}
		source = fmt.Sprintf("%s (%s, %s, step %d), %d samples of seed %d, on %s",
			*ckpt, c.Model, c.Dataset, m.Step(), f.n, f.seed, b.Name())
	} else {
		if *dataset == "" {
			*dataset = "mnist"
		}
		if pix, err = readSampleImages(*samples); err != nil {
			return err
		}
		if set["n"] && f.n < len(pix)/mnistPixels {
			pix = pix[:f.n*mnistPixels]
		}
		if len(pix) < 2*mnistPixels {
			return fmt.Errorf("--samples %s: %d images, need at least 2", *samples, len(pix)/mnistPixels)
		}
		source = fmt.Sprintf("%s, %d images, on %s", *samples, len(pix)/mnistPixels, b.Name())
	}
	e, free, err := evaluatorFor(b, *dataset, &f, nil)
	if err != nil {
		return err
	}
	defer free()
	res, err := e.Run(source, *dataset, pix)
	if err != nil {
		return err
	}
	if err := addConditional(e, res, pix, labels); err != nil {
		return err
	}
	if *jsonOut == "-" {
		return res.WriteJSON(stdout)
	}
	if err := res.WriteText(stdout); err != nil {
		return err
	}
	if *jsonOut != "" {
		if err := nn.WriteFileAtomic(*jsonOut, res.WriteJSON); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	return nil
}

// readSampleImages reads the images to evaluate: every *.png in a
// directory (sorted by name; 28×28, converted to gray) or the single
// tensor of a safetensors file (shape n×784, n×28×28 or n×1×28×28, values
// in [−1, 1]).
func readSampleImages(path string) ([]float32, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--samples: %w", err)
	}
	if fi.IsDir() {
		return readPNGDir(path)
	}
	t, err := nn.ReadTensorsFile(path)
	if err != nil {
		return nil, fmt.Errorf("--samples: %w", err)
	}
	if len(t.Names) != 1 {
		return nil, fmt.Errorf("--samples %s: %d tensors, want exactly one (n×784 images)", path, len(t.Names))
	}
	name := t.Names[0]
	shape := t.Shapes[name]
	per := 1
	for _, d := range shape[min(1, len(shape)):] {
		per *= d
	}
	if len(shape) < 2 || per != mnistPixels {
		return nil, fmt.Errorf("--samples %s: tensor %s has shape %v, want n×784 or n×28×28", path, name, shape)
	}
	return t.Data[name], nil
}

// readPNGDir reads the 28×28 PNG images of dir, in name order, as [−1, 1]
// values (gray level v maps to (v/255 − 0.5)/0.5, like the training data).
func readPNGDir(dir string) ([]float32, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--samples: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".png") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("--samples %s: no PNG images", dir)
	}
	pix := make([]float32, 0, len(names)*mnistPixels)
	for _, name := range names {
		img, err := readPNG(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		pix = append(pix, img...)
	}
	return pix, nil
}

func readPNG(path string) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--samples: %w", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("--samples %s: %w", path, err)
	}
	r := img.Bounds()
	if r.Dx() != 28 || r.Dy() != 28 {
		return nil, fmt.Errorf("--samples %s: image is %dx%d, want 28x28", path, r.Dx(), r.Dy())
	}
	out := make([]float32, 0, mnistPixels)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			out = append(out, grayToUnit(img, x, y))
		}
	}
	return out, nil
}

// grayToUnit converts one pixel to [−1, 1] like mnist.Set.Float32.
func grayToUnit(img image.Image, x, y int) float32 {
	r, g, b, _ := img.At(x, y).RGBA()
	v := uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 24) // the standard library's gray conversion
	return (float32(v)/255 - 0.5) / 0.5
}
