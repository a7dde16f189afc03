package seedgan

import (
	"fmt"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/model"
	"gan/nn/models/ganloss"
)

// The seed family off the seed's path: `--loss lsgan|hinge|wgan-gp`, or any
// loss with `--n-critic` above 1. The seed's own configuration (bce, one D
// step per G step) keeps its step of seedgan.go, bit for bit; these runs
// have a step of their own, built from package ganloss:
//
//   - D is the seed discriminator (with its dropout) for bce, lsgan and
//     hinge, and for wgan-gp the MLP critic of PyTorch-GAN's wgan_gp
//     ([NewCritic]: no dropout, no sigmoid, no batch norm); with Arch
//     "conv", for any loss, the convolutional critic of the WGAN-GP paper's
//     MNIST code ([NewConvCritic]). G is the seed generator, and with Arch
//     "conv" the generator of the same code ([NewConvGenerator], z of 128).
//   - One TrainStep is one critic step on one fresh batch: z ~ N(0, 1),
//     fake = G(z), D's loss on (real, fake) and one Adam step on D. Every
//     NCritic-th step (those with step % NCritic == 0, counting from 0 over
//     the whole run, as PyTorch-GAN's wgan_gp does within an epoch) G then
//     steps too, on the same fake batch through the updated D. So an epoch
//     is still one pass over the data, each critic step sees its own batch
//     (as in the paper's algorithm), and G takes ⌈steps/NCritic⌉ steps.
//   - g_loss is reported at every step (G's loss on the step's fake batch
//     through the updated D), whether or not G stepped, so that the
//     statistics of a step depend only on the state it started from.
//
// Random streams: z is graph.StepStream(PurposeNoise, 0); D's dropout masks
// (bce, lsgan, hinge) take the next slots in the order D is applied (real,
// fake, then the G pass); wgan-gp's interpolation coefficients are
// StepStream(PurposeRandom, slot) with the slot after those of D's passes
// on the two batches.
const lossRNG = "philox4x32-10; graph streams step<<16|slot (noise slot 0, then D's dropout masks and the interpolation coefficients in build order), shuffle stream = epoch"

// NewCritic builds the critic of PyTorch-GAN's wgan_gp in ps: PyTorch's
// nn.Sequential(Linear(784, 512), LeakyReLU(0.2), Linear(512, 256),
// LeakyReLU(0.2), Linear(256, 1)) as "model", with no dropout, no batch
// norm and no sigmoid.
func NewCritic(ps *nn.ParamSet) *layer.Sequential {
	return layer.NewSequential(ps, "model",
		layer.Linear(ImageDim, 512), layer.LeakyReLU(LeakySlope),
		layer.Linear(512, 256), layer.LeakyReLU(LeakySlope),
		layer.Linear(256, 1),
	)
}

// ArchConv is the Config.Arch (gan train --arch conv) of the WGAN-GP
// paper's MNIST networks: the generator of [NewConvGenerator] (DIM 64, z
// of 128) and the critic of [NewConvCritic].
const ArchConv = "conv"

// NewConvCritic builds the critic of the WGAN-GP paper's own MNIST code
// (gan_mnist.py of improved_wgan_training, DIM = 64) in ps, as PyTorch's
// nn.Sequential(Unflatten(1, (1, 28, 28)), Conv2d(1, 64, 5, 2, 2),
// LeakyReLU(0.2), Conv2d(64, 128, 5, 2, 2), LeakyReLU(0.2),
// Conv2d(128, 256, 5, 2, 2), LeakyReLU(0.2), Flatten(),
// Linear(4·4·256, 1)): 5×5 kernels of stride 2 taking 28×28 to 14×14, 7×7
// and 4×4 (PyTorch's padding 2 gives the sizes of TensorFlow's "SAME"), no
// batch norm, no sigmoid. dims scales the channels (64 for the preset).
func NewConvCritic(ps *nn.ParamSet, dims int) *layer.Sequential {
	return layer.NewSequential(ps, "model",
		layer.Unflatten(1, 28, 28),
		layer.Conv2d(1, dims, 5, 2, 2, true), layer.LeakyReLU(LeakySlope),
		layer.Conv2d(dims, 2*dims, 5, 2, 2, true), layer.LeakyReLU(LeakySlope),
		layer.Conv2d(2*dims, 4*dims, 5, 2, 2, true), layer.LeakyReLU(LeakySlope),
		layer.Flatten(),
		layer.Linear(4*4*4*dims, 1),
	)
}

// WGANDefaults are the settings `gan train --loss wgan-gp` trains the seed
// generator against the MLP critic ([NewCritic]) with: PyTorch-GAN's
// wgan_gp's Adam (lr 2e-4, betas (0.5, 0.999)) with 5 critic steps per G
// step, and the critic at twice G's learning rate (the two time-scale
// update rule). With the paper's Adam (lr 1e-4, betas (0.5, 0.9)) every
// seed of the stability study fell to 9 classes (8s at about 3% of the
// samples from epoch 3 to 12); with PyTorch-GAN's at one rate for both
// networks the class shares swing at epochs 2-4 and 3 of the 5 seeds
// dropped a class below 2% of 5,000 samples there. With the critic at
// twice G's rate seeds 1-10 kept all ten classes at every per-epoch
// evaluation from epoch 2 to 6 (the thinnest 2.1% of the samples, 8s at
// epoch 2), and seeds 2 and 5 to epoch 12.
var WGANDefaults = model.LossSettings{LR: 2e-4, Beta1: 0.5, Beta2: 0.999, DScale: 2, NCritic: 5}

// lossDefaults is the family's LossDefaults: [WGANDefaults] for wgan-gp on
// the MLP critic; the loss's own (package ganloss) otherwise, among them
// wgan-gp with ArchConv (the paper's networks).
func lossDefaults(loss, arch string) (model.LossSettings, bool) {
	if loss == ganloss.WGANGP && arch != ArchConv {
		return WGANDefaults, true
	}
	return model.LossSettings{}, false
}

// pathLoss is the loss of cfg's step: "" for the seed's own path (bce with
// one D step per G step and the seed's D), else the loss.
func pathLoss(cfg model.Config) string {
	loss := cfg.Loss
	if loss == "" {
		loss = ganloss.BCE
	}
	if loss == ganloss.BCE && cfg.NCritic <= 1 && cfg.Arch != ArchConv {
		return ""
	}
	return loss
}

// validate checks the family's own fields: the loss and the critic steps.
func validate(c model.Config) error {
	if c.Loss != "" {
		if err := ganloss.Check(c.Loss); err != nil {
			return err
		}
	}
	if c.NCritic < 0 {
		return fmt.Errorf("n_critic %d: must be at least 1 (0 means 1)", c.NCritic)
	}
	if c.Arch != "" && c.Arch != "mlp" && c.Arch != ArchConv {
		return fmt.Errorf("arch %q: the %s family has mlp (the seed's D, or PyTorch-GAN's MLP critic for wgan-gp) and conv (the WGAN-GP paper's convolutional generator and critic)", c.Arch, Name)
	}
	return nil
}

// lossKey names a compiled step: its batch size and whether G steps too.
type lossKey struct {
	n     int
	withG bool
}

// lossStep is a compiled step off the seed's path.
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
// for batches of n rows of data (N×784); see the comment at the top of
// this file.
func (m *GAN) buildLossStep(n int, data nn.Mat, withG bool) (*lossStep, error) {
	g := graph.New()
	var slots nn.StreamSlots
	s := &lossStep{}
	s.data = g.Input("training set", graph.Shape{data.Rows, ImageDim})
	s.ix = g.Indices("batch", n)
	real := g.GatherRows(s.data, s.ix)
	z := g.RandNormal(graph.Shape{n, m.zDim}, 0, 1, graph.StepStream(nn.PurposeNoise, slots.Next()))
	ctx := &layer.Ctx{G: g, Train: true, Slots: &slots}
	fake := m.G.Forward(ctx, z)
	critic := func(x *graph.Node) *graph.Node { return m.D.Forward(ctx, x) }

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
	prog, err := m.compile(g)
	if err != nil {
		return nil, fmt.Errorf("seed GAN training step (loss %s): %w", m.loss, err)
	}
	s.prog = prog
	return s, nil
}

// compile compiles g on m's backend and sets the indices of the paper
// generator's crop (if G is that generator) in the program.
func (m *GAN) compile(g *graph.Graph) (*graph.Program, error) {
	prog, err := g.Compile(m.B)
	if m.crop == nil {
		return prog, err
	}
	if err != nil {
		_ = m.crop.SetIndices(nil)
		return nil, err
	}
	if err := m.crop.SetIndices(prog); err != nil {
		prog.Free()
		return nil, err
	}
	return prog, nil
}

// lossTrainStep is TrainStep off the seed's path.
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
