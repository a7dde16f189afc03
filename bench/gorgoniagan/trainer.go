package gorgoniagan

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Seed optimiser settings (PyTorch's Adam with lr 2e-4 and default betas).
const (
	adamLR    = 2e-4
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// Trainer runs whole training steps of the seed GAN in float32 on Gorgonia's
// TapeMachine, as the seed does them:
//
//  1. fake = G(z);
//  2. D step on [real; fake] with fake detached, then Adam on D;
//  3. G step: g_loss = BCE(D(fake), 1) through the updated D, then Adam on G.
//
// Both optimisers are Gorgonia's AdamSolver (lr 2e-4, betas 0.9/0.999,
// eps 1e-8). Each step draws new data: real images uniform in [−1, 1], z
// standard normal, and the four dropout masks (keep probability 0.7, kept
// value 1/0.7), from a math/rand/v2 PCG generator; drawing them is part of
// the step's time. Weights start from PyTorch's default Linear
// initialisation, U(±1/√in) for weights and biases.
//
// Gorgonia's TapeMachine runs a compiled graph whole, forward and backward
// together, so step 3 cannot reuse step 1's activations (they were computed
// before D was updated): the G-step machine recomputes G(z), one G forward
// pass (about a tenth of the step's arithmetic) that the seed's PyTorch
// autograd does not repeat. BenchmarkGorgoniaGForward times that pass alone.
type Trainer struct {
	s       *stepGraphs
	fwd     G.VM // G(z) only: a machine over the G-step graph's subgraph rooted at fake
	dm, gm  G.VM // D step, G step
	dSolver *G.AdamSolver
	gSolver *G.AdamSolver
	rng     *rand.Rand

	// Backing arrays of the input tensors, written in place every step.
	x, z                           []float32
	maskD1, maskD2, maskG1, maskG2 []float32

	dLoss, gLoss float64
	steps        int
}

// NewTrainer builds the seed GAN's graphs and machines for batch rows per
// step, with weights and data drawn from seed.
func NewTrainer(seed int64, batch int) (*Trainer, error) {
	if batch < 2 {
		return nil, fmt.Errorf("gorgoniagan: trainer batch %d, want at least 2", batch)
	}
	s, err := newStepGraphs(tensor.Float32, batch, SeedGDims, SeedDDims)
	if err != nil {
		return nil, fmt.Errorf("gorgoniagan: trainer: %w", err)
	}
	t := &Trainer{
		s:   s,
		rng: rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
	}
	for _, p := range []struct {
		dst *[]float32
		n   *G.Node
	}{
		{&t.x, s.x}, {&t.z, s.z},
		{&t.maskD1, s.maskD1}, {&t.maskD2, s.maskD2}, {&t.maskG1, s.maskG1}, {&t.maskG2, s.maskG2},
	} {
		if *p.dst, err = float32Data(p.n); err != nil {
			return nil, fmt.Errorf("gorgoniagan: trainer: %w", err)
		}
	}
	if err := t.initParams(s.gParams); err != nil {
		return nil, fmt.Errorf("gorgoniagan: trainer: generator init: %w", err)
	}
	if err := t.initParams(s.dParams); err != nil {
		return nil, fmt.Errorf("gorgoniagan: trainer: discriminator init: %w", err)
	}
	t.fwd = G.NewTapeMachine(s.gg.SubgraphRoots(s.fake))
	t.dm = G.NewTapeMachine(s.dg, G.BindDualValues(s.dParams...))
	t.gm = G.NewTapeMachine(s.gg, G.BindDualValues(s.gParams...))
	newAdam := func() *G.AdamSolver {
		return G.NewAdamSolver(G.WithLearnRate(adamLR), G.WithBeta1(adamBeta1), G.WithBeta2(adamBeta2), G.WithEps(adamEps))
	}
	t.dSolver, t.gSolver = newAdam(), newAdam()
	return t, nil
}

// float32Data returns the float32 backing array of the tensor bound to n.
func float32Data(n *G.Node) ([]float32, error) {
	raw, err := nodeData(n)
	if err != nil {
		return nil, err
	}
	d, ok := raw.([]float32)
	if !ok {
		return nil, fmt.Errorf("node %s: element type %T, want []float32", n.Name(), raw)
	}
	return d, nil
}

// initParams draws PyTorch's default Linear initialisation into ps.
func (t *Trainer) initParams(ps []*G.Node) error {
	for k := 0; k < len(ps); k += 2 {
		w, err := float32Data(ps[k])
		if err != nil {
			return err
		}
		b, err := float32Data(ps[k+1])
		if err != nil {
			return err
		}
		bound := 1 / math.Sqrt(float64(ps[k].Shape()[0])) // Wt is In×Out
		for _, p := range [][]float32{w, b} {
			for i := range p {
				p[i] = float32((2*t.rng.Float64() - 1) * bound)
			}
		}
	}
	return nil
}

// fillMask draws a dropout mask: 1/(1−p) with probability 1−p, else 0.
func (t *Trainer) fillMask(m []float32) {
	const keep = 1 / (1 - DropoutP)
	for i := range m {
		m[i] = 0
		if t.rng.Float32() >= DropoutP {
			m[i] = keep
		}
	}
}

// Step runs one training step: new data, D step with its Adam update, then
// G step through the updated D with its Adam update.
func (t *Trainer) Step() error {
	s := t.s
	nReal := s.batch * s.dDims[0]
	for i := range t.x[:nReal] {
		t.x[i] = 2*t.rng.Float32() - 1
	}
	for i := range t.z {
		t.z[i] = float32(t.rng.NormFloat64())
	}
	for _, m := range [][]float32{t.maskD1, t.maskD2, t.maskG1, t.maskG2} {
		t.fillMask(m)
	}

	// fake = G(z), copied into the fake rows of the D step's input.
	if err := t.fwd.RunAll(); err != nil {
		return fmt.Errorf("gorgoniagan: step %d: G forward: %w", t.steps, err)
	}
	t.fwd.Reset()
	raw, err := valueData("fake", s.fakeV)
	if err != nil {
		return fmt.Errorf("gorgoniagan: step %d: %w", t.steps, err)
	}
	fake, ok := raw.([]float32)
	if !ok || len(fake) != len(t.x)-nReal {
		return fmt.Errorf("gorgoniagan: step %d: fake batch is %T of length %d", t.steps, raw, len(fake))
	}
	copy(t.x[nReal:], fake)

	// D step.
	if err := t.dm.RunAll(); err != nil {
		return fmt.Errorf("gorgoniagan: step %d: D step: %w", t.steps, err)
	}
	t.dm.Reset()
	if t.dLoss, err = scalar(s.dLossV); err != nil {
		return fmt.Errorf("gorgoniagan: step %d: D step: %w", t.steps, err)
	}
	if err := t.dSolver.Step(G.NodesToValueGrads(s.dParams)); err != nil {
		return fmt.Errorf("gorgoniagan: step %d: Adam on D: %w", t.steps, err)
	}

	// G step; the G-step graph's D nodes share the tensors Adam just updated.
	if err := t.gm.RunAll(); err != nil {
		return fmt.Errorf("gorgoniagan: step %d: G step: %w", t.steps, err)
	}
	t.gm.Reset()
	if t.gLoss, err = scalar(s.gLossV); err != nil {
		return fmt.Errorf("gorgoniagan: step %d: G step: %w", t.steps, err)
	}
	if err := t.gSolver.Step(G.NodesToValueGrads(s.gParams)); err != nil {
		return fmt.Errorf("gorgoniagan: step %d: Adam on G: %w", t.steps, err)
	}
	t.steps++
	return nil
}

// Losses returns d_loss and g_loss of the last step.
func (t *Trainer) Losses() (dLoss, gLoss float64) { return t.dLoss, t.gLoss }

// Close releases the machines.
func (t *Trainer) Close() error {
	for _, m := range []G.VM{t.fwd, t.dm, t.gm} {
		if err := m.Close(); err != nil {
			return fmt.Errorf("gorgoniagan: closing a machine: %w", err)
		}
	}
	return nil
}
