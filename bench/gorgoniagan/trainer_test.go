package gorgoniagan

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkAdamFirstStep checks that after Adam's first step every parameter
// moved by −lr·g/(|g|+eps), Adam's first update (m̂ = g, v̂ = g²), for the
// gradient g that GANGrads computes. Gorgonia's float32 Adam carries a
// relative error of about 1e-5 in the step size, and reading the step back
// from two float32 parameters adds up to two ulps of the parameter.
func checkAdamFirstStep(t *testing.T, name string, before, after mlp64, grad Weights) {
	t.Helper()
	for l := range before.W {
		for _, p := range []struct {
			kind          string
			before, after []float64
			grad          []float32
		}{{"W", before.W[l], after.W[l], grad.W[l]}, {"b", before.B[l], after.B[l], grad.B[l]}} {
			require.Len(t, p.grad, len(p.before))
			bad, moved := 0, 0
			for i, g := range p.grad {
				want := -adamLR * float64(g) / (math.Abs(float64(g)) + adamEps)
				got := p.after[i] - p.before[i]
				if got != 0 {
					moved++
				}
				if math.Abs(got-want) > 1e-3*adamLR+2.4e-7*math.Abs(p.before[i]) {
					bad++
				}
			}
			assert.Zerof(t, bad, "%s.%s%d: %d of %d entries did not move as Adam's first step predicts", name, p.kind, l, bad, len(p.grad))
			assert.Greaterf(t, moved, len(p.grad)/2, "%s.%s%d: only %d of %d entries moved", name, p.kind, l, moved, len(p.grad))
		}
	}
}

// TestTrainerStepMatchesGANGrads checks the wiring of a Trainer step: the
// D update must be Adam's first step on GANGrads' D gradient at the initial
// weights, and the G update Adam's first step on GANGrads' G gradient taken
// through the updated D, with the data and masks the step drew.
func TestTrainerStepMatchesGANGrads(t *testing.T) {
	tr, err := NewTrainer(7, 4)
	require.NoError(t, err)
	defer func() { assert.NoError(t, tr.Close()) }()
	s := tr.s

	g0, err := s.getParams(s.gParams)
	require.NoError(t, err)
	d0, err := s.getParams(s.dParams)
	require.NoError(t, err)

	require.NoError(t, tr.Step())
	dLoss, gLoss := tr.Losses()

	g1, err := s.getParams(s.gParams)
	require.NoError(t, err)
	d1, err := s.getParams(s.dParams)
	require.NoError(t, err)
	// The G-step graph must see the updated D: its D nodes share the tensors.
	d1InG, err := s.getParams(s.gdParams)
	require.NoError(t, err)
	assert.Equal(t, d1, d1InG, "the G step's D weights are not the updated D weights")
	assert.NotEqual(t, d0, d1, "D did not change")

	in := lastInput(tr)
	atD0, err := GANGrads(narrowMLP(g0), narrowMLP(d0), in)
	require.NoError(t, err)
	atD1, err := GANGrads(narrowMLP(g0), narrowMLP(d1), in)
	require.NoError(t, err)

	assert.InDelta(t, atD0.DLoss, dLoss, 1e-6, "d_loss")
	assert.InDelta(t, atD1.GLoss, gLoss, 1e-6, "g_loss")
	assert.NotEqual(t, atD0.GLoss, atD1.GLoss, "g_loss does not depend on the D update")
	checkAdamFirstStep(t, "D", d0, d1, atD0.GradD)
	checkAdamFirstStep(t, "G", g0, g1, atD1.GradG)

	// A second step must use the new data and the updated G for its fake batch.
	require.NoError(t, tr.Step())
	dLoss, gLoss = tr.Losses()
	d2, err := s.getParams(s.dParams)
	require.NoError(t, err)
	in = lastInput(tr)
	atD1, err = GANGrads(narrowMLP(g1), narrowMLP(d1), in)
	require.NoError(t, err)
	atD2, err := GANGrads(narrowMLP(g1), narrowMLP(d2), in)
	require.NoError(t, err)
	assert.InDelta(t, atD1.DLoss, dLoss, 1e-6, "second step d_loss")
	assert.InDelta(t, atD2.GLoss, gLoss, 1e-6, "second step g_loss")
}

// lastInput returns copies of the data and masks of the trainer's last step.
func lastInput(tr *Trainer) StepInput {
	s := tr.s
	cp := func(x []float32) []float32 { return append([]float32(nil), x...) }
	return StepInput{
		Batch:  s.batch,
		Real:   cp(tr.x[:s.batch*s.dDims[0]]),
		Z:      cp(tr.z),
		MaskD1: cp(tr.maskD1), MaskD2: cp(tr.maskD2), MaskG1: cp(tr.maskG1), MaskG2: cp(tr.maskG2),
	}
}

// TestTrainerSteps runs a few steps and checks that the losses stay finite
// and plausible and that the weights keep moving.
func TestTrainerSteps(t *testing.T) {
	tr, err := NewTrainer(3, 8)
	require.NoError(t, err)
	defer func() { assert.NoError(t, tr.Close()) }()
	prev, err := tr.s.getParams(tr.s.gParams)
	require.NoError(t, err)
	for i := range 3 {
		require.NoError(t, tr.Step(), "step %d", i)
		dLoss, gLoss := tr.Losses()
		// At initialisation D(x) ≈ 0.5, so d_loss ≈ 2·ln 2 and g_loss ≈ ln 2.
		assert.InDelta(t, 2*math.Ln2, dLoss, 0.2, "step %d d_loss", i)
		assert.InDelta(t, math.Ln2, gLoss, 0.2, "step %d g_loss", i)
		cur, err := tr.s.getParams(tr.s.gParams)
		require.NoError(t, err)
		assert.NotEqual(t, prev, cur, "step %d: G did not change", i)
		prev = cur
	}
}

// TestNewTrainerRejectsTinyBatch checks the batch-size check.
func TestNewTrainerRejectsTinyBatch(t *testing.T) {
	for _, b := range []int{-1, 0, 1} {
		_, err := NewTrainer(1, b)
		assert.Error(t, err, fmt.Sprint("batch ", b))
	}
}

// BenchmarkGorgoniaSeedStep times one whole seed-GAN training step at batch
// 64 on Gorgonia: new data and masks, G forward, D step, Adam on D, G step
// (with its G forward recomputed, see [Trainer]) and Adam on G.
func BenchmarkGorgoniaSeedStep(b *testing.B) {
	tr, err := NewTrainer(1, 64)
	require.NoError(b, err)
	defer func() { require.NoError(b, tr.Close()) }()
	require.NoError(b, tr.Step()) // warm up: first-step allocations of the machines and solvers
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := tr.Step(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(1/sec, "steps/s")
	b.ReportMetric(1e3*sec, "ms/step")
}

// BenchmarkGorgoniaGForward times the G forward pass alone (batch 64), the
// part of BenchmarkGorgoniaSeedStep that Gorgonia's TapeMachine computes
// twice per step where PyTorch computes it once.
func BenchmarkGorgoniaGForward(b *testing.B) {
	tr, err := NewTrainer(1, 64)
	require.NoError(b, err)
	defer func() { require.NoError(b, tr.Close()) }()
	b.ReportAllocs()
	for b.Loop() {
		if err := tr.fwd.RunAll(); err != nil {
			b.Fatal(err)
		}
		tr.fwd.Reset()
	}
	b.ReportMetric(1e3*b.Elapsed().Seconds()/float64(b.N), "ms/op")
}
