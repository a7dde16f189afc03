// Package ganloss holds the GAN objectives as graph code, for every GAN
// family (the seed MLP GAN, the DCGAN, the conditional GANs): given the
// graph and D's raw outputs (logits) on a real and a generated batch, it
// builds D's loss and its statistics ([DLoss]); given D's outputs on a
// generated batch after D's update, G's loss ([GLoss]). A family reports
// [Stats] as its step statistics, in that order, so that metrics.csv, the
// progress line and the report show each loss's own quantities.
//
// The losses (n is the batch, D(·) a raw output, σ the logistic function):
//
//   - bce, the non-saturating GAN of Goodfellow et al. (the seed's):
//     D: BCE(σ(D(x)), 1) + BCE(σ(D(G(z))), 0), G: BCE(σ(D(G(z))), 1), with
//     the sigmoid fused into the loss. Statistics D(x) and D(G(z)): the
//     batch means of σ(D(·)).
//   - lsgan, least squares (Mao et al., as PyTorch-GAN's lsgan: MSELoss on
//     D's raw outputs): D: ½(E[(D(x)−1)²] + E[D(G(z))²]), G: E[(D(G(z))−1)²].
//     Statistics D(x), D(G(z)): batch means of the raw outputs.
//   - hinge (SAGAN, BigGAN): D: E[relu(1−D(x))] + E[relu(1+D(G(z)))],
//     G: −E[D(G(z))]. Statistics as lsgan's.
//   - wgan-gp (Gulrajani et al. 2017): a critic without sigmoid,
//     D: E[D(G(z))] − E[D(x)] + λ·E[(‖∇ₓ̂D(x̂)‖₂ − 1)²] with λ = 10 and
//     x̂ = ε·x + (1−ε)·G(z), one ε ~ U[0, 1) per sample, the norm taken over
//     the whole flattened sample; G: −E[D(G(z))]. Statistics W, the
//     critic's Wasserstein estimate E[D(x)] − E[D(G(z))], and gp, the
//     penalty term λ·E[(‖∇‖ − 1)²] as it enters the loss.
//
// The penalty is differentiated twice (D's loss depends on ∇ₓ̂D): package
// graph's Grad builds ∇ₓ̂D as ordinary ops, and the family's Backward over
// D's parameters differentiates through them. [PenaltyEps] inside the
// square root keeps that second derivative finite where ∇ₓ̂D = 0.
//
// Typical use in a family's training step (real and fake are the batches,
// critic applies D in training mode):
//
//	dr, df := critic(real), critic(fake)
//	d := ganloss.DLoss(g, cfg.Loss, ganloss.DInput{Real: dr, Fake: df,
//		Critic: critic, RealX: real, FakeX: fake,
//		Interp: graph.StepStream(nn.PurposeRandom, slots.Next())})
//	g.Backward(d.Loss, dParams); g.Update(optD)
//	gl := ganloss.GLoss(g, cfg.Loss, critic(fake)) // through the updated D
//	g.Backward(gl, gParams); g.Update(optG)
//	g.Fetch(d.Loss, gl); g.Fetch(d.Stats...)
package ganloss

import (
	"fmt"
	"strings"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/model"
)

// The loss names (model.Config.Loss, gan train --loss).
const (
	BCE    = "bce"
	LSGAN  = "lsgan"
	Hinge  = "hinge"
	WGANGP = "wgan-gp"
)

// Names lists the losses, in the order the flag's help shows them.
var Names = []string{BCE, LSGAN, Hinge, WGANGP}

// Lambda is the gradient penalty's weight λ (the paper's 10).
const Lambda = 10

// PenaltyEps is added to ‖∇ₓ̂D‖² inside the square root. Without it the
// second derivative of the norm, 1/(2‖∇‖), is infinite where the gradient
// is zero (a dead critic, or x̂ in a flat region), and infinity times the
// zero first derivative is NaN (PyTorch issue 2534). With it, d√(s+ε)/ds is
// at most 1/(2√ε) = 5·10⁵, finite in float32, so the product is 0 there.
// It changes nothing elsewhere: a squared norm above 1.7·10⁻⁵ (far below
// the ≈1 the penalty drives it to) absorbs 10⁻¹² within float32's rounding
// (2⁻²⁴ relative), and the float64 finite-difference tests see a bias of
// at most √ε = 10⁻⁶ in the norm only where the norm is 0.
const PenaltyEps = 1e-12

// Check returns an error unless name is one of [Names].
func Check(name string) error {
	for _, n := range Names {
		if n == name {
			return nil
		}
	}
	return fmt.Errorf("unknown loss %q (one of %s)", name, strings.Join(Names, ", "))
}

// Settings are the optimiser settings and critic steps a loss is trained
// with by default (a family may have its own: model.Family.LossDefaults).
type Settings = model.LossSettings

// Defaults returns the settings of the paper that introduced loss name
// when it prescribes its own (wgan-gp: Adam lr 1e-4, betas (0.5, 0.9),
// 5 critic steps per G step); ok is false for the others, which train with
// the family's settings. Command lines apply them to what the user did not
// set explicitly.
func Defaults(name string) (s Settings, ok bool) {
	if name == WGANGP {
		return Settings{LR: 1e-4, Beta1: 0.5, Beta2: 0.9, NCritic: 5}, true
	}
	return Settings{}, false
}

// HasLossFloor reports whether D's loss of loss name is bounded below by 0,
// so that a loss stuck near 0 means D wins outright (the divergence watch's
// loss floor). The critic's loss of wgan-gp is not: it is negative as soon
// as the critic separates the two batches at all.
func HasLossFloor(name string) bool { return name != WGANGP }

// Stats are the statistics of a training step with loss name, in the
// order a family reports them: d_loss and g_loss, then [DTerms.Stats]'s.
// The first two are losses (the loss plot and the progress line show
// them).
func Stats(name string) []model.Stat {
	st := []model.Stat{
		{Name: "d_loss", Format: "%.4f", Loss: true},
		{Name: "g_loss", Format: "%.4f", Loss: true},
	}
	if name == WGANGP {
		return append(st,
			model.Stat{Name: "W", Format: "%.4f"},  // E[D(x)] − E[D(G(z))]
			model.Stat{Name: "gp", Format: "%.4f"}, // λ·E[(‖∇ₓ̂D(x̂)‖₂ − 1)²]
		)
	}
	return append(st,
		model.Stat{Name: "D(x)", Format: "%.2f"},    // bce: mean σ(D(x)); else mean D(x)
		model.Stat{Name: "D(G(z))", Format: "%.2f"}, // the same on the generated batch
	)
}

// Critic applies the discriminator (in training mode, as the step's other
// passes) to a batch and returns its raw outputs, one row per sample.
type Critic func(x *graph.Node) *graph.Node

// DInput is what D's loss is built from.
type DInput struct {
	// Real and Fake are D's raw outputs (n×1 logits, no sigmoid) on the
	// real and on the generated batch.
	Real, Fake *graph.Node

	// The gradient penalty's inputs (wgan-gp only). Critic is applied to
	// the interpolates of the batches RealX and FakeX (same shape, any
	// number of dimensions: the norm is over all but the first); Interp
	// is the stream of the per-sample interpolation coefficients (draw
	// afresh each step: graph.StepStream with a slot of the family's
	// nn.StreamSlots, purpose nn.PurposeRandom).
	Critic       Critic
	RealX, FakeX *graph.Node
	Interp       graph.Stream
}

// DTerms are D's loss and its statistics.
type DTerms struct {
	// Loss is the scalar D minimises.
	Loss *graph.Node
	// Stats are the scalars of [Stats] after d_loss and g_loss, in order.
	Stats []*graph.Node
	// Eps is the interpolation coefficients (wgan-gp; nil otherwise),
	// exposed for tests.
	Eps *graph.Node
}

// DLoss builds D's loss for loss name, one of [Names]: a family validates
// its configuration with [Check], so that another name here is a
// programming error, and panics.
func DLoss(g *graph.Graph, name string, in DInput) DTerms {
	switch name {
	case BCE:
		lr, dx := g.SigmoidBCE(in.Real, g.Const(in.Real.Shape(), 1))
		lf, dgz := g.SigmoidBCE(in.Fake, g.Const(in.Fake.Shape(), 0))
		return DTerms{Loss: g.Add(lr, lf), Stats: []*graph.Node{dx, dgz}}
	case LSGAN:
		lr := g.Mean(g.Square(g.AddConst(in.Real, -1)))
		lf := g.Mean(g.Square(in.Fake))
		return DTerms{Loss: g.Axpby(lr, lf, 0.5, 0.5), Stats: []*graph.Node{g.Mean(in.Real), g.Mean(in.Fake)}}
	case Hinge:
		relu := nn.Act{Kind: nn.ActLeakyReLU, Slope: 0}
		lr := g.Mean(g.Act(g.AddConst(g.Scale(in.Real, -1), 1), relu)) // relu(1 − D(x))
		lf := g.Mean(g.Act(g.AddConst(in.Fake, 1), relu))              // relu(1 + D(G(z)))
		return DTerms{Loss: g.Add(lr, lf), Stats: []*graph.Node{g.Mean(in.Real), g.Mean(in.Fake)}}
	case WGANGP:
		w := g.Sub(g.Mean(in.Real), g.Mean(in.Fake)) // the Wasserstein estimate
		eps := g.RandUniform(graph.Shape{in.RealX.Shape()[0], 1}, 0, 1, in.Interp)
		gp := Penalty(g, in.Critic, in.RealX, in.FakeX, eps)
		return DTerms{Loss: g.Axpby(gp, w, 1, -1), Stats: []*graph.Node{w, gp}, Eps: eps}
	}
	panic(fmt.Sprintf("ganloss: %v (validate with Check first)", Check(name)))
}

// Penalty is the gradient penalty λ·E[(‖∇ₓ̂D(x̂)‖₂ − 1)²] at the
// interpolates x̂ = eps·real + (1−eps)·fake, eps the n×1
// coefficients, the norm over each whole flattened sample with
// [PenaltyEps] inside the square root.
func Penalty(g *graph.Graph, critic Critic, real, fake, eps *graph.Node) *graph.Node {
	xHat := g.Lerp(fake, real, eps)
	gx := g.Grad(g.Sum(critic(xHat)), xHat)[0]
	norm := g.Sqrt(g.AddConst(g.RowSumSq(gx), PenaltyEps))
	return g.Scale(g.Mean(g.Square(g.AddConst(norm, -1))), Lambda)
}

// GLoss builds G's loss for loss name from D's raw outputs on the
// generated batch (n×1), taken through D as updated by its step; like
// [DLoss], it panics on a name that is not one of [Names].
func GLoss(g *graph.Graph, name string, fake *graph.Node) *graph.Node {
	switch name {
	case BCE:
		l, _ := g.SigmoidBCE(fake, g.Const(fake.Shape(), 1))
		return l
	case LSGAN:
		return g.Mean(g.Square(g.AddConst(fake, -1)))
	case Hinge, WGANGP:
		return g.Scale(g.Mean(fake), -1)
	}
	panic(fmt.Sprintf("ganloss: %v (validate with Check first)", Check(name)))
}
