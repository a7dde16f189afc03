package dcgan

import (
	"fmt"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/model"
	"gan/nn/models/ganloss"
)

// The family off the examples' path: `--loss lsgan|hinge|wgan-gp`, or any
// loss with `--n-critic` above 1. The examples' configuration (bce, one D
// step per G step) keeps its step of dcgan.go unchanged; these runs have a
// step of their own, built from package ganloss, with the conventions of
// the seed family (nn/models/seedgan/losses.go):
//
//   - G is always the examples' generator. D is the examples'
//     discriminator (with its batch norms) for bce, lsgan and hinge; for
//     wgan-gp it is the critic of [NewCritic]: the same convolutions
//     without batch norm and without sigmoid.
//   - One TrainStep is one critic step on one fresh batch: z ~ N(0, 1),
//     fake = G(z), D on the real batch and on fake in separate passes (as
//     the examples do, for the batch statistics), D's loss and one Adam
//     step on D. Every NCritic-th step (step % NCritic == 0, counting from
//     0 over the whole run) G then steps too, on the same fake batch
//     through the updated D. g_loss is reported at every step (G's loss on
//     the step's fake batch through the updated D, one more D pass in
//     training mode), whether or not G stepped.
//   - wgan-gp's penalty takes the real and the generated batch flattened
//     to n×(C·H·W) rows, so that its interpolation coefficient is one per
//     sample and its norm is over the whole flattened sample; the critic
//     sees the interpolates reshaped to images.
//
// Random streams: z is graph.StepStream(PurposeNoise, 0); wgan-gp's
// interpolation coefficients are StepStream(PurposeRandom, 1).
const lossRNG = "philox4x32-10; graph streams step<<16|slot (noise slot 0, the interpolation coefficients of wgan-gp slot 1); init: one stream per tensor from 1<<32; shuffle stream = epoch"

// NewCritic builds the critic of the wgan-gp loss for c×size×size images
// in ps, as "main": the examples' discriminator with its BatchNorm2d
// layers left out and a bias on every convolution (the paper's critic
// has them, and they stand for the batch norms' β), LeakyReLU 0.2, no
// sigmoid. WGAN-GP's penalty is per sample, which batch norm's batch
// statistics break (Gulrajani et al. §4), and the paper's own MNIST
// critic (gan_mnist.py) has no normalisation at all: so none here rather
// than layer norm. With the batch norms gone the layer indices close up:
// at 28×28 main.0, main.2 and main.4 are the convolutions (the examples'
// D has main.0, main.2, main.5).
// Its weights are drawn as the examples' (convolutions N(0, 0.02), the
// biases by PyTorch's default).
func NewCritic(ps *nn.ParamSet, c, size int) *layer.Sequential { return newCritic(ps, c, size, NDF) }

// newCritic is [NewCritic] with ndf feature maps in the first layer.
func newCritic(ps *nn.ParamSet, c, size, ndf int) *layer.Sequential {
	s0, k, _ := levels(size)
	specs := []layer.Spec{layer.Conv2d(c, ndf, 4, 2, 1, true), layer.LeakyReLU(0.2)}
	ch := ndf
	for range k - 1 {
		specs = append(specs, layer.Conv2d(ch, ch*2, 4, 2, 1, true), layer.LeakyReLU(0.2))
		ch *= 2
	}
	specs = append(specs, layer.Conv2d(ch, 1, s0, 1, 0, true))
	return layer.NewSequential(ps, "main", specs...)
}

// pathLoss is the loss of cfg's step: "" for the examples' own path (bce
// with one D step per G step), else the loss.
func pathLoss(cfg model.Config) string {
	loss := cfg.Loss
	if loss == "" {
		loss = ganloss.BCE
	}
	if loss == ganloss.BCE && cfg.NCritic <= 1 {
		return ""
	}
	return loss
}

// lossKey names a compiled step: its batch size and whether G steps too.
type lossKey struct {
	n     int
	withG bool
}

// lossStep is a compiled step off the examples' path.
type lossStep struct {
	prog         *graph.Program
	data         *graph.Node
	ix           *graph.Index
	bound        nn.Mat
	dLoss, gLoss *graph.Node
	extra        []*graph.Node
}

// nCritic is the number of critic steps per G step.
func (m *GAN) nCritic() int { return max(m.Cfg.NCritic, 1) }

// buildLossStep compiles a critic step (and, withG, the G step after it)
// for batches of n rows of data; see the comment at the top of this file.
func (m *GAN) buildLossStep(n int, data nn.Mat, withG bool) (*lossStep, error) {
	g := graph.New()
	var slots nn.StreamSlots
	s := &lossStep{}
	dim := m.Cfg.Channels * m.Cfg.Size * m.Cfg.Size
	s.data = g.Input("training set", graph.Shape{data.Rows, dim})
	s.ix = g.Indices("batch", n)
	real := g.GatherRows(s.data, s.ix)
	z := g.RandNormal(graph.Shape{n, ZDim, 1, 1}, 0, 1, graph.StepStream(nn.PurposeNoise, slots.Next()))
	ctx := &layer.Ctx{G: g, Train: true, Slots: &slots}
	fake := g.Flatten(m.G.Forward(ctx, z))
	critic := func(x *graph.Node) *graph.Node {
		return g.Reshape(m.D.Forward(ctx, g.Reshape(x, m.imageShape(n))), graph.Shape{n, 1})
	}

	dr, df := critic(real), critic(fake)
	d := ganloss.DLoss(g, m.loss, ganloss.DInput{Real: dr, Fake: df,
		Critic: critic, RealX: real, FakeX: fake, Interp: graph.StepStream(nn.PurposeRandom, slots.Next())})
	g.Backward(d.Loss, m.PD)
	g.Update(m.OptD)

	s.gLoss = ganloss.GLoss(g, m.loss, critic(fake))
	if withG {
		g.Backward(s.gLoss, m.PG)
		g.Update(m.OptG)
	}
	s.dLoss, s.extra = d.Loss, d.Stats
	g.Fetch(s.dLoss, s.gLoss)
	g.Fetch(s.extra...)
	prog, err := g.Compile(m.B)
	if err != nil {
		return nil, fmt.Errorf("DCGAN training step (loss %s): %w", m.loss, err)
	}
	s.prog = prog
	return s, nil
}

// lossTrainStep is TrainStep off the examples' path.
func (m *GAN) lossTrainStep(b *model.Batch) ([]float64, error) {
	key := lossKey{n: len(b.Idx), withG: m.Step()%m.nCritic() == 0}
	s := m.lsteps[key]
	if s == nil {
		var err error
		if s, err = m.buildLossStep(key.n, b.Dev, key.withG); err != nil {
			return nil, err
		}
		m.lsteps[key] = s
	}
	if s.bound != b.Dev {
		if err := s.prog.Bind(s.data, b.Dev); err != nil {
			return nil, err
		}
		s.bound = b.Dev
	}
	if err := s.prog.SetIndices(s.ix, b.Idx); err != nil {
		return nil, err
	}
	err := s.prog.Run(m.Cfg.Seed, uint64(m.Step()))
	m.Advance()
	if err != nil {
		return nil, fmt.Errorf("train step %d: %w", m.Step(), err)
	}
	p := s.prog
	m.stats[0] = float64(p.Value(s.dLoss))
	m.stats[1] = float64(p.Value(s.gLoss))
	for i, x := range s.extra {
		m.stats[2+i] = float64(p.Value(x))
	}
	return m.stats, model.Finite(m.Step(), m.Stats(), m.stats)
}
