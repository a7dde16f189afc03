// Package model is what every model family has in common: the [Model]
// interface a family implements, the registry of families that
// `gan train --model NAME` looks names up in, the [Config] stored in every
// checkpoint, image datasets, checkpoints, and the one training loop with
// hooks ([Train]) that serves every family and the reference classifier.
//
// A family (nn/models/…) builds its networks from package layer, writes
// its training step as graph code (package graph) compiled once per batch
// size, names the statistics the step reports, and registers itself in an
// init function. The command line, metrics.csv, the progress line and the
// report are driven by those names, so a new family needs no change
// outside its own package.
package model

import (
	"fmt"
	"math"

	"gan/nn"
)

// Config is everything that defines a training run's result: the model
// family, the optimiser, the batch size, the seed and the data. It is
// stored in every checkpoint as JSON. Fields a family does not use are
// left at their zero values and omitted.
type Config struct {
	Model   string  `json:"model"`
	Epochs  int     `json:"epochs"`
	Batch   int     `json:"batch"`
	LR      float32 `json:"lr"`
	Beta1   float32 `json:"beta1"`
	Beta2   float32 `json:"beta2"`
	Eps     float32 `json:"eps"`
	Seed    uint64  `json:"seed"`
	Dataset string  `json:"dataset"`
	// Channels and Size are the images' shape (Channels×Size×Size) for
	// families that take any square size (0: the family's own, 1×28×28 for
	// MNIST-style data).
	Channels int `json:"channels,omitempty"`
	Size     int `json:"size,omitempty"`
	// Loss is a GAN family's objective (bce, lsgan, hinge, wgan-gp; empty:
	// the family's own).
	Loss string `json:"loss,omitempty"`
	// NCritic is the number of D (critic) steps per G step (0: 1).
	NCritic int `json:"n_critic,omitempty"`
	// DLR is a GAN's D (critic) learning rate where it differs from G's
	// (the two time-scale update rule; 0: LR for both networks).
	DLR float32 `json:"d_lr,omitempty"`
	// Arch selects a family's architecture preset (e.g. "mlp" or "dcgan"
	// for the conditional GAN; empty: the family's default).
	Arch string `json:"arch,omitempty"`
	// Latent is a VAE's latent width (0 for other families).
	Latent int `json:"latent,omitempty"`
	// KLBeta weights a VAE's KL term (β-VAE; 1 is the plain VAE).
	KLBeta float32 `json:"kl_beta,omitempty"`
	// Binarize is a VAE's training data: "dynamic" (a fresh Bernoulli draw
	// of every pixel from its grey level at every step) or "none" (grey
	// levels in [0, 1], as pytorch/examples' VAE).
	Binarize string `json:"binarize,omitempty"`
	// IW is the number of importance samples per image of a VAE's training
	// bound (1: the ELBO; K > 1: the IWAE bound of Burda et al.).
	IW int `json:"iw,omitempty"`
	// Orders is the number of MADE orderings (masks) trained and averaged
	// at test time (0: one).
	Orders int `json:"orders,omitempty"`
	// Hidden is an autoregressive model's width: MADE's hidden units,
	// PixelCNN's residual channels, char-gru's recurrent units (0: the
	// family's own).
	Hidden int `json:"hidden,omitempty"`
	// Blocks is the number of PixelCNN residual blocks (0: the family's
	// own).
	Blocks int `json:"blocks,omitempty"`
	// The shape of a Transformer text model (char-gpt, named as nanoGPT's
	// GPTConfig): Layers blocks of Heads heads over an embedding of Embd,
	// a context of Context characters, dropout probability Dropout (0 for
	// other families).
	Layers  int     `json:"n_layer,omitempty"`
	Heads   int     `json:"n_head,omitempty"`
	Embd    int     `json:"n_embd,omitempty"`
	Context int     `json:"block_size,omitempty"`
	Dropout float32 `json:"dropout,omitempty"`
	// Vocab is a text model's vocabulary: its characters in token id
	// order, so that a checkpoint samples without its corpus.
	Vocab string `json:"vocab,omitempty"`
	// Cell is a recurrent text model's cell: "gru" or "lstm" (char-gru;
	// empty for other families).
	Cell string `json:"cell,omitempty"`
	// Tau is the Gumbel-softmax temperature of the text GAN (text-gan; 0
	// for other families).
	Tau float32 `json:"tau,omitempty"`
}

// Validate reports the first value that cannot be trained with, among the
// fields every family uses; [Family.Validate] checks the rest.
func (c Config) Validate() error {
	switch {
	case c.Batch < 1 || c.Batch > 1<<16:
		return fmt.Errorf("batch %d: must be between 1 and 65536", c.Batch)
	case c.Epochs < 1:
		return fmt.Errorf("epochs %d: must be at least 1", c.Epochs)
	case !(c.LR > 0) || math.IsInf(float64(c.LR), 0):
		return fmt.Errorf("lr %g: must be a positive number", c.LR)
	case !(c.DLR >= 0) || math.IsInf(float64(c.DLR), 0):
		return fmt.Errorf("d_lr %g: must be a positive number (0: lr)", c.DLR)
	case !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("betas (%g, %g): must be in [0, 1)", c.Beta1, c.Beta2)
	case !(c.Eps > 0):
		return fmt.Errorf("eps %g: must be positive", c.Eps)
	}
	return nil
}

// Stat describes one statistic a training step reports: its column in
// metrics.csv and its place in the epoch line.
type Stat struct {
	// Name is the column name and the label in the epoch line, e.g.
	// "d_loss" or "D(x)".
	Name string
	// Format prints the value in the epoch line, e.g. "%.4f".
	Format string
	// Loss marks a loss: the divergence watch and the loss plot use the
	// first one.
	Loss bool
}

// Net is one network of a model with its optimiser, as checkpoints and
// the gradient norms of the divergence watch see it.
type Net struct {
	// Name prefixes the network's tensors in checkpoints ("G" gives
	// "G.model.0.weight").
	Name   string
	Params *nn.ParamSet
	// Opt is the network's optimiser (nil for none); its moments are saved
	// as Name.adam.exp_avg.<param> and Name.adam.exp_avg_sq.<param>.
	Opt *nn.Adam
}

// Model is a trainable model of one family on one backend.
type Model interface {
	// Config is the model's configuration.
	Config() *Config
	// Backend is where the model lives.
	Backend() nn.Backend
	// Nets lists the networks, in checkpoint order.
	Nets() []Net
	// Stats names the statistics TrainStep returns, in order.
	Stats() []Stat
	// TrainStep does one training step on the batch, advances the step
	// counter, and returns the step's statistics in the order of Stats (a
	// slice the next step overwrites). A statistic that is not finite is an
	// error.
	TrainStep(b *Batch) ([]float64, error)
	// Step is the number of training steps done; it addresses every random
	// stream and, with the batch count per epoch, the data.
	Step() int
	// SetStep sets the step counter (when a checkpoint is restored).
	SetStep(step int)
	// RNG describes the layout of the model's random streams, for the
	// checkpoint's metadata.
	RNG() string
	// Free releases everything the model holds on its backend.
	Free()
}

// Generator is a model that turns latent noise into images: the GANs'
// generators and the VAE's decoder. Sampling, the per-epoch grids,
// interpolation and evaluation use it.
type Generator interface {
	// LatentDim is the width of the noise z.
	LatentDim() int
	// ImageShape is the C×H×W of one image.
	ImageShape() (c, h, w int)
	// Generate maps the n×LatentDim noise z (host values) to n images,
	// written to out (n·C·H·W host values in [−1, 1]), in evaluation mode.
	Generate(z, out []float32) error
}

// ConditionalGenerator is a generator that takes a class label with each
// noise vector (the conditional GANs): sampling, grids and evaluation ask
// it for given classes.
type ConditionalGenerator interface {
	Generator
	// Classes is the number of labels (0 … Classes−1).
	Classes() int
	// GenerateLabels is Generate with label[i] the class of row i of z
	// (len(labels) = number of rows); a label outside [0, Classes) is an
	// error.
	GenerateLabels(z []float32, labels []int32, out []float32) error
}

// Base holds what every model has; families embed it.
type Base struct {
	Cfg  Config
	B    nn.Backend
	step int
}

// Config returns the configuration.
func (m *Base) Config() *Config { return &m.Cfg }

// Backend returns the backend.
func (m *Base) Backend() nn.Backend { return m.B }

// Step returns the number of steps done.
func (m *Base) Step() int { return m.step }

// SetStep sets the step counter.
func (m *Base) SetStep(step int) { m.step = step }

// Advance counts a finished step.
func (m *Base) Advance() { m.step++ }

// Finite returns an error naming the first statistic that is NaN or
// infinite.
func Finite(step int, stats []Stat, v []float64) error {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("train step %d: %s is not finite (%g)", step, stats[i].Name, x)
		}
	}
	return nil
}
