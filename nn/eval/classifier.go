// Package eval measures what a generator learned. It holds a reference
// classifier of MNIST (and Fashion-MNIST) digits trained by this project on
// its own backends, the weights of which ship inside the binary, and the
// metrics computed in that classifier's feature space: a Fréchet distance
// (FID-style, but in this classifier's penultimate layer, not Inception's),
// an Inception-style score, the class histogram with its KL divergence to
// uniform and the number of classes covered, the share of confidently
// classified samples, and the distance of each sample to its nearest
// training image. [Evaluator] computes them all, for generated samples and,
// through the same code, for real data, so every figure comes with its real
// baseline. The package also has the training loop's divergence watch
// ([Watch], [GradNorms]) and latent-space walks ([Slerp], [SeedNoise]).
package eval

import (
	"embed"
	"fmt"
	"math"
	"slices"
	"strconv"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
)

// The reference classifier is an MLP 784-512-256-10 with ReLU and
// Dropout(0.3) after each hidden layer, built from the same layers as the
// GAN, so that both backends run it. Its parameters carry PyTorch's
// nn.Sequential names (model.0, model.3, model.6).
const (
	// NumClasses is the number of classes of MNIST and Fashion-MNIST.
	NumClasses = 10
	// FeatureDim is the width of the penultimate layer, the feature space of
	// the Fréchet distance.
	FeatureDim = 256
	// Hidden1 is the width of the first hidden layer.
	Hidden1 = 512
	// ClassifierDropout is the drop probability of both dropout layers.
	ClassifierDropout = 0.3
	// ClassifierFormat identifies a classifier weights file.
	ClassifierFormat = "gan-classifier-v1"
	// ClassifierArch names the architecture in weights files.
	ClassifierArch = "mlp-784-512-256-10-relu-dropout0.3"
	// initStreamClassifier is the classifier's legacy init stream base
	// (see nn.PurposeInit).
	initStreamClassifier = 2000
)

// weightsFS holds the shipped classifier weights, one file per dataset.
//
//go:embed weights/*.safetensors
var weightsFS embed.FS

// WeightsFile is the path, relative to this package's directory, of the
// shipped weights of the classifier of a dataset ("mnist" or "fashion").
func WeightsFile(dataset string) string {
	if dataset == "" {
		dataset = "mnist"
	}
	return "weights/" + dataset + "-mlp.safetensors"
}

// EmbeddedWeights returns the shipped classifier weights of a dataset.
func EmbeddedWeights(dataset string) (*nn.Tensors, error) {
	name := WeightsFile(dataset)
	b, err := weightsFS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("no shipped classifier for dataset %q: %w", dataset, err)
	}
	t, err := nn.DecodeTensors(b)
	if err != nil {
		return nil, fmt.Errorf("shipped classifier %s: %w", name, err)
	}
	return t, nil
}

// Classifier is the reference classifier on one backend, with buffers for
// batches of up to MaxRows images.
type Classifier struct {
	// Net is the model: Linear+ReLU, Dropout, Linear+ReLU, Dropout, Linear,
	// PyTorch's nn.Sequential names model.0 … model.6.
	Net *layer.Sequential
	// Params holds its weights.
	Params *nn.ParamSet
	// Meta is the metadata of the weights file it was loaded from (dataset,
	// seed, test accuracy, …); empty for a freshly initialised one.
	Meta map[string]string

	b       nn.Backend
	maxRows int
	in      nn.Mat // maxRows×784 input staging buffer
	host    []float32
	progs   map[int]*classifyProgram
}

// classifyProgram is the compiled evaluation-mode forward pass for n rows.
type classifyProgram struct {
	prog             *graph.Program
	x                *graph.Node
	features, logits *graph.Node
}

// featureEnd is the number of layers (of Net.Layers) whose output is the
// feature space: the second Linear and its ReLU.
const featureEnd = 5

// NewClassifier allocates an untrained classifier on b for batches of up to
// maxRows rows. Call [Classifier.Init] or [Classifier.Load] before use.
func NewClassifier(b nn.Backend, maxRows int) (*Classifier, error) {
	if maxRows < 1 {
		return nil, fmt.Errorf("classifier: batch of %d rows", maxRows)
	}
	ps := nn.NewParamSet(initStreamClassifier)
	net := layer.NewSequential(ps, "model",
		layer.Linear(imageDim, Hidden1), layer.ReLU(), layer.Dropout(ClassifierDropout),
		layer.Linear(Hidden1, FeatureDim), layer.ReLU(), layer.Dropout(ClassifierDropout),
		layer.Linear(FeatureDim, NumClasses),
	)
	c := &Classifier{Net: net, Params: ps, Meta: map[string]string{}, b: b, maxRows: maxRows, progs: map[int]*classifyProgram{}}
	if err := ps.Alloc(b); err != nil {
		ps.Free(b)
		return nil, fmt.Errorf("classifier: %w", err)
	}
	var err error
	if c.in, err = b.Alloc(maxRows, imageDim); err != nil {
		ps.Free(b)
		return nil, fmt.Errorf("classifier input buffer: %w", err)
	}
	return c, nil
}

// imageDim is the width of a flattened 28×28 image.
const imageDim = 28 * 28

// LoadClassifier builds a classifier on b and loads its weights: those of
// the file at path, or the shipped weights of dataset when path is "".
func LoadClassifier(b nn.Backend, dataset, path string, maxRows int) (*Classifier, error) {
	var t *nn.Tensors
	var err error
	if path == "" {
		t, err = EmbeddedWeights(dataset)
	} else {
		t, err = nn.ReadTensorsFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("loading classifier: %w", err)
	}
	c, err := NewClassifier(b, maxRows)
	if err != nil {
		return nil, err
	}
	if err := c.Load(t); err != nil {
		c.Free()
		if path != "" {
			return nil, fmt.Errorf("loading classifier %s: %w", path, err)
		}
		return nil, fmt.Errorf("loading the shipped %s classifier: %w", dataset, err)
	}
	return c, nil
}

// Init draws fresh weights from seed (PyTorch's nn.Linear init).
func (c *Classifier) Init(seed uint64) error {
	c.Net.Init(c.b, seed)
	return c.b.Sync()
}

// MaxRows is the largest batch the classifier runs at once.
func (c *Classifier) MaxRows() int { return c.maxRows }

// Free releases the classifier's device memory.
func (c *Classifier) Free() {
	for _, p := range c.progs {
		p.prog.Free()
	}
	c.progs = map[int]*classifyProgram{}
	c.Params.Free(c.b)
	if !c.in.Empty() {
		c.b.Free(c.in)
		c.in = nn.Mat{}
	}
}

// Load copies the weights in t onto the device. t must hold exactly the
// classifier's tensors with their shapes, and the classifier format.
func (c *Classifier) Load(t *nn.Tensors) error {
	if f := t.Meta["format"]; f != ClassifierFormat {
		return fmt.Errorf("not a classifier weights file (format %q, want %q)", f, ClassifierFormat)
	}
	params := c.Params.Params()
	if len(t.Names) != len(params) {
		return fmt.Errorf("weights file has %d tensors, the classifier has %d", len(t.Names), len(params))
	}
	for _, p := range params {
		v, ok := t.Data[p.Name]
		if !ok {
			return fmt.Errorf("weights file lacks tensor %s", p.Name)
		}
		if !slices.Equal(t.Shapes[p.Name], p.Shape) {
			return fmt.Errorf("tensor %s has shape %v, the classifier needs %v", p.Name, t.Shapes[p.Name], p.Shape)
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("tensor %s holds a non-finite value", p.Name)
			}
		}
		if err := c.b.Upload(p.Value, v); err != nil {
			return fmt.Errorf("uploading %s: %w", p.Name, err)
		}
	}
	c.Meta = map[string]string{}
	for k, v := range t.Meta {
		c.Meta[k] = v
	}
	return c.b.Sync()
}

// Tensors copies the weights to host memory in the weights-file layout,
// with meta added to the metadata (format and architecture are set here).
func (c *Classifier) Tensors(meta map[string]string) (*nn.Tensors, error) {
	t := nn.NewTensors()
	for _, p := range c.Params.Params() {
		v := make([]float32, p.Value.Len())
		if err := c.b.Download(v, p.Value); err != nil {
			return nil, fmt.Errorf("reading %s: %w", p.Name, err)
		}
		t.Add(p.Name, slices.Clone(p.Shape), v)
	}
	for k, v := range meta {
		t.Meta[k] = v
	}
	t.Meta["format"] = ClassifierFormat
	t.Meta["arch"] = ClassifierArch
	return t, nil
}

// TestAccuracy is the test-set accuracy recorded in the weights file's
// metadata, or NaN when it has none.
func (c *Classifier) TestAccuracy() float64 {
	v, err := strconv.ParseFloat(c.Meta["test_accuracy"], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// program returns the compiled evaluation-mode forward pass for n rows.
func (c *Classifier) program(n int) (*classifyProgram, error) {
	if p := c.progs[n]; p != nil {
		return p, nil
	}
	g := graph.New()
	p := &classifyProgram{x: g.Input("images", graph.Shape{n, imageDim})}
	ctx := &layer.Ctx{G: g}
	p.features = c.Net.ForwardRange(ctx, p.x, 0, featureEnd)
	p.logits = c.Net.ForwardRange(ctx, p.features, featureEnd, len(c.Net.Layers))
	g.Output(p.features, p.logits)
	prog, err := g.Compile(c.b)
	if err != nil {
		return nil, fmt.Errorf("classifier: %w", err)
	}
	p.prog = prog
	c.progs[n] = p
	return p, nil
}

// Outputs are the classifier's outputs on a set of images, on the host.
type Outputs struct {
	// N is the number of images.
	N int
	// Features holds the N×FeatureDim penultimate-layer activations.
	Features []float32
	// Probs holds the N×NumClasses softmax probabilities, computed in
	// float64 from the logits.
	Probs []float64
}

// Run classifies images (n×784 host values in [−1, 1]) in batches of
// MaxRows and returns features and class probabilities.
func (c *Classifier) Run(images []float32) (*Outputs, error) {
	if len(images)%imageDim != 0 {
		return nil, fmt.Errorf("classifier: %d values are not whole %d-pixel images", len(images), imageDim)
	}
	n := len(images) / imageDim
	out := &Outputs{N: n, Features: make([]float32, n*FeatureDim), Probs: make([]float64, n*NumClasses)}
	if len(c.host) < c.maxRows*NumClasses {
		c.host = make([]float32, c.maxRows*NumClasses)
	}
	for lo := 0; lo < n; lo += c.maxRows {
		m := min(c.maxRows, n-lo)
		x := c.in.RowView(0, m)
		if err := c.b.Upload(x, images[lo*imageDim:(lo+m)*imageDim]); err != nil {
			return nil, fmt.Errorf("classifier input: %w", err)
		}
		p, err := c.program(m)
		if err != nil {
			return nil, err
		}
		if err := p.prog.Bind(p.x, x); err != nil {
			return nil, err
		}
		if err := p.prog.Run(0, 0); err != nil {
			return nil, fmt.Errorf("classifier: %w", err)
		}
		if err := c.b.Download(out.Features[lo*FeatureDim:(lo+m)*FeatureDim], p.prog.Mat(p.features)); err != nil {
			return nil, fmt.Errorf("classifier features: %w", err)
		}
		if err := c.b.Download(c.host[:m*NumClasses], p.prog.Mat(p.logits)); err != nil {
			return nil, fmt.Errorf("classifier logits: %w", err)
		}
		for i := 0; i < m; i++ {
			softmax(out.Probs[(lo+i)*NumClasses:(lo+i+1)*NumClasses], c.host[i*NumClasses:(i+1)*NumClasses])
		}
	}
	return out, nil
}

// softmax writes the float64 softmax of the logits x into p.
func softmax(p []float64, x []float32) {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for i, v := range x {
		p[i] = math.Exp(float64(v) - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
}

// Argmax returns the most probable class of image i (first index wins ties).
func (o *Outputs) Argmax(i int) int {
	p := o.Probs[i*NumClasses : (i+1)*NumClasses]
	best := 0
	for k, v := range p {
		if v > p[best] {
			best = k
		}
	}
	return best
}

// Accuracy is the share of images whose most probable class is their label.
func (o *Outputs) Accuracy(labels []uint8) float64 {
	if o.N == 0 {
		return math.NaN()
	}
	correct := 0
	for i := 0; i < o.N; i++ {
		if o.Argmax(i) == int(labels[i]) {
			correct++
		}
	}
	return float64(correct) / float64(o.N)
}
