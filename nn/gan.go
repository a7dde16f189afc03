package nn

import (
	"fmt"
	"math"
)

// ModelSeedGAN names the seed MLP GAN in configs and checkpoints.
const ModelSeedGAN = "seed-mlp-gan"

// Config is everything that defines a training run's result: the model, the
// optimiser, the batch size, the seed and the data. It is stored in every
// checkpoint.
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
}

// DefaultConfig is the seed's configuration: 50 epochs of batch 64, Adam
// with lr 2e-4 and PyTorch's default betas (0.9, 0.999) and eps 1e-8.
func DefaultConfig() Config {
	return Config{Model: ModelSeedGAN, Epochs: 50, Batch: 64, LR: 2e-4,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Seed: 1, Dataset: "mnist"}
}

// Validate reports the first value that cannot be trained with.
func (c Config) Validate() error {
	switch {
	case c.Model != ModelSeedGAN:
		return fmt.Errorf("unknown model %q (this build has %q)", c.Model, ModelSeedGAN)
	case c.Batch < 1 || c.Batch > 1<<16:
		return fmt.Errorf("batch %d: must be between 1 and 65536", c.Batch)
	case c.Epochs < 1:
		return fmt.Errorf("epochs %d: must be at least 1", c.Epochs)
	case !(c.LR > 0) || math.IsInf(float64(c.LR), 0):
		return fmt.Errorf("lr %g: must be a positive number", c.LR)
	case !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("betas (%g, %g): must be in [0, 1)", c.Beta1, c.Beta2)
	case !(c.Eps > 0):
		return fmt.Errorf("eps %g: must be positive", c.Eps)
	}
	return nil
}

// StepStats are the seed's printed quantities for one training step.
type StepStats struct {
	DLoss float32 // BCE(D(x), 1) + BCE(D(G(z)), 0), means over the batch
	GLoss float32 // BCE(D(G(z)), 1) after D's update
	DX    float32 // mean D(x) on the real batch
	DGZ   float32 // mean D(G(z)) on the fake batch, in the D step
}

// Finite reports whether every value is a finite number.
func (s StepStats) Finite() bool {
	for _, v := range [...]float32{s.DLoss, s.GLoss, s.DX, s.DGZ} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

// GAN is the seed GAN on one backend: both models, both optimisers and the
// buffers of a training step, allocated once.
type GAN struct {
	Cfg        Config
	B          Backend
	G, D       *Sequential
	OptG, OptD *Adam
	// Step counts the training steps done so far; it addresses the noise
	// and dropout streams and, with the batch count per epoch, the data.
	Step int

	z      Mat // Batch×ZDim noise
	dIn    Mat // 2·Batch×784: [real; fake], the D step's input
	dLogit Mat // 2·Batch×1 logit gradients
	ones   Mat // Batch×1 targets 1
	zeros  Mat // Batch×1 targets 0
	stats  Mat // 1×6: [real loss, D(x), fake loss, D(G(z)), G loss, D(G(z)) in G step]
	host   [6]float32

	passG, passD, passDG, passEval Pass
}

// NewGAN builds the seed GAN on b and initialises its weights from
// cfg.Seed. Generation batches of up to max(cfg.Batch, 64) rows fit.
func NewGAN(b Backend, cfg Config) (*GAN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &GAN{Cfg: cfg, B: b}
	rows := max(cfg.Batch, 64)
	g.G = NewGenerator(rows)
	g.D = NewDiscriminator(2 * cfg.Batch)
	if err := g.alloc(); err != nil {
		g.Free()
		return nil, err
	}
	g.G.InitParams(cfg.Seed)
	g.D.InitParams(cfg.Seed)
	b.Fill(g.ones, 1)
	return g, b.Sync()
}

func (g *GAN) alloc() error {
	b, bs := g.B, g.Cfg.Batch
	var err error
	if err = g.G.Alloc(b); err != nil {
		return err
	}
	if err = g.D.Alloc(b); err != nil {
		return err
	}
	c := g.Cfg
	if g.OptG, err = NewAdam(b, g.G.Params, c.LR, c.Beta1, c.Beta2, c.Eps); err != nil {
		return err
	}
	if g.OptD, err = NewAdam(b, g.D.Params, c.LR, c.Beta1, c.Beta2, c.Eps); err != nil {
		return err
	}
	for _, a := range []struct {
		m          *Mat
		what       string
		rows, cols int
	}{
		{&g.z, "noise", max(bs, 64), ZDim},
		{&g.dIn, "discriminator input", 2 * bs, ImageDim},
		{&g.dLogit, "logit gradient", 2 * bs, 1},
		{&g.ones, "targets", bs, 1},
		{&g.zeros, "targets", bs, 1},
		{&g.stats, "loss statistics", 1, 6},
	} {
		if *a.m, err = alloc(b, a.what, a.rows, a.cols); err != nil {
			return err
		}
	}
	return nil
}

// Free releases everything allocated on the backend.
func (g *GAN) Free() {
	b := g.B
	if g.G != nil {
		g.G.Free()
	}
	if g.D != nil {
		g.D.Free()
	}
	if g.OptG != nil {
		g.OptG.Free()
	}
	if g.OptD != nil {
		g.OptD.Free()
	}
	free(b, g.z, g.dIn, g.dLogit, g.ones, g.zeros, g.stats)
}

// NoiseKey is the stream of the generator's input at a training step.
func (g *GAN) NoiseKey(step int) RandKey {
	return RandKey{Seed: g.Cfg.Seed, Stream: StreamID(PurposeNoise, uint64(step))}
}

// TrainStep does one step of the seed's training loop on the real images
// data[idx[0]], data[idx[1]], … (len(idx) ≤ Batch rows of the N×784 data):
//
//  1. z ~ N(0, 1), fake = G(z);
//  2. D step: d_loss = BCE(D(real), 1) + BCE(D(fake.detach()), 0), one Adam
//     step on D (real and fake go through D as one batch of 2n rows: D has
//     no batch statistics, so this equals the seed's two passes);
//  3. G step: g_loss = BCE(D(fake), 1) through the updated D with fresh
//     dropout masks, one Adam step on G.
//
// It waits for the device once, to read the losses, and returns an error
// if the backend failed or a loss is not finite.
func (g *GAN) TrainStep(data Mat, idx []int32) (StepStats, error) {
	n := len(idx)
	if n < 1 || n > g.Cfg.Batch {
		return StepStats{}, fmt.Errorf("train step: %d rows, batch is %d", n, g.Cfg.Batch)
	}
	b := g.B
	seed := g.Cfg.Seed

	real := g.dIn.RowView(0, n)
	fakeSlot := g.dIn.RowView(n, n)
	b.GatherRows(real, data, idx)
	z := g.z.RowView(0, n)
	b.RandNormal(z, 0, 1, g.NoiseKey(g.Step))
	g.passG = Pass{Train: true, Seed: seed, ParamGrads: true}
	fake := g.G.Forward(z, &g.passG)
	b.Copy(fakeSlot, fake)

	// D step on [real; fake].
	g.passD = Pass{Train: true, Seed: seed, DropoutIndex: 2 * uint64(g.Step), ParamGrads: true}
	logits := g.D.Forward(g.dIn.RowView(0, 2*n), &g.passD)
	inv := 1 / float32(n)
	b.SigmoidBCE(g.dLogit.RowView(0, n), g.stats.Slice(0, 1, 2), logits.RowView(0, n), g.ones.RowView(0, n), inv)
	b.SigmoidBCE(g.dLogit.RowView(n, n), g.stats.Slice(2, 1, 2), logits.RowView(n, n), g.zeros.RowView(0, n), inv)
	g.D.Backward(g.dLogit.RowView(0, 2*n), &g.passD)
	g.OptD.Update()

	// G step through the updated D.
	g.passDG = Pass{Train: true, Seed: seed, DropoutIndex: 2*uint64(g.Step) + 1, InputGrad: true}
	logits = g.D.Forward(fake, &g.passDG)
	b.SigmoidBCE(g.dLogit.RowView(0, n), g.stats.Slice(4, 1, 2), logits, g.ones.RowView(0, n), inv)
	dFake := g.D.Backward(g.dLogit.RowView(0, n), &g.passDG)
	g.G.Backward(dFake, &g.passG)
	g.OptG.Update()
	g.Step++

	if err := b.Download(g.host[:], g.stats); err != nil {
		return StepStats{}, fmt.Errorf("train step %d: %w", g.Step, err)
	}
	h := g.host
	s := StepStats{DLoss: h[0] + h[2], GLoss: h[4], DX: h[1], DGZ: h[3]}
	if !s.Finite() {
		return s, fmt.Errorf("train step %d: loss is not finite (d_loss %g, g_loss %g)", g.Step, s.DLoss, s.GLoss)
	}
	return s, nil
}

// Generate runs G in evaluation mode on z (n×100, n ≤ max(Batch, 64)) and
// returns its n×784 output in [−1, 1], a view of G's output buffer that
// the next forward pass overwrites.
func (g *GAN) Generate(z Mat) Mat {
	g.passEval = Pass{Seed: g.Cfg.Seed}
	return g.G.Forward(z, &g.passEval)
}

// Noise fills the first n rows of the GAN's noise buffer from key and
// returns them, for [GAN.Generate].
func (g *GAN) Noise(n int, key RandKey) Mat {
	z := g.z.RowView(0, n)
	g.B.RandNormal(z, 0, 1, key)
	return z
}

// MaxGenerate is the largest batch [GAN.Generate] accepts.
func (g *GAN) MaxGenerate() int { return g.z.Rows }
