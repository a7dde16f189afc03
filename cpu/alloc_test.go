package cpu

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
)

// TestTrainingStepOpsDoNotAllocate calls each op of a training step, at the
// seed GAN's sizes and on the parallel path, and checks that a call in the
// steady state allocates nothing.
func TestTrainingStepOpsDoNotAllocate(t *testing.T) {
	b := newTestBackend(t, 2)
	rng := rand.New(rand.NewPCG(41, 42))
	mat := func(r, c int) nn.Mat {
		m, _ := randMat(t, b, rng, r, c, -1, 1)
		return m
	}
	const batch = 64
	x, w, y := mat(batch, 512), mat(1024, 512), mat(batch, 1024)
	dy, dx, dw := mat(batch, 1024), mat(batch, 512), mat(1024, 512)
	bias, db := mat(1, 1024), mat(1, 1024)
	h, w1, logit := mat(2*batch, 256), mat(1, 256), mat(2*batch, 1)
	mask, t1, grad, stats := mat(batch, 1024), mat(2*batch, 1), mat(2*batch, 1), mat(1, 2)
	cls, onehot, clsGrad := mat(2*batch, 10), mat(2*batch, 10), mat(2*batch, 10)
	am, av := mat(1024, 512), mat(1024, 512)
	data := mat(1000, 784)
	img := mat(batch, 784)
	idx := make([]int32, batch)
	for i := range idx {
		idx[i] = int32(rng.IntN(1000))
	}
	leaky := nn.Act{Kind: nn.ActLeakyReLU, Slope: 0.2}
	step := nn.AdamStep{LR: 2e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1}
	ops := map[string]func(){
		"MatMul forward":  func() { b.MatMul(y, x, w, false, true, 0) },
		"MatMul dx":       func() { b.MatMul(dx, dy, w, false, false, 0) },
		"MatMul dW":       func() { b.MatMul(dw, dy, x, true, false, 0) },
		"MatMul n=1":      func() { b.MatMul(logit, h, w1, false, true, 0) },
		"BiasAct":         func() { b.BiasAct(y, bias, leaky) },
		"AddBias":         func() { b.AddBias(y, bias) },
		"ColSum":          func() { b.ColSum(db, dy, 0) },
		"RowSumSq":        func() { b.RowSumSq(db.Reshape(1024, 1), dw.Reshape(1024, 512)) },
		"Activate":        func() { b.Activate(y, y, nn.Act{Kind: nn.ActTanh}) },
		"ActBackward":     func() { b.ActBackward(dy, dy, y, leaky) },
		"Dropout":         func() { b.Dropout(y, mask, y, 0.3, nn.RandKey{Seed: 1, Stream: 2}) },
		"DropoutBackward": func() { b.DropoutBackward(dy, dy, mask) },
		"SigmoidBCE":      func() { b.SigmoidBCE(grad, stats, logit, t1, 1.0/64) },
		"Softmax":         func() { b.Softmax(clsGrad, cls) },
		"SoftmaxCE":       func() { b.SoftmaxCE(clsGrad, stats, cls, onehot, 1.0/128) },
		"Adam": func() {
			step.Step++
			b.Adam(w, dw, am, av, step)
		},
		"RandNormal":  func() { b.RandNormal(y, 0, 1, nn.RandKey{Seed: 3, Stream: 4}) },
		"RandUniform": func() { b.RandUniform(y, -1, 1, nn.RandKey{Seed: 3, Stream: 4}) },
		"GatherRows":  func() { b.GatherRows(img, data, idx) },
		"Copy":        func() { b.Copy(dy, y) },
		"Fill":        func() { b.Fill(dy, 0) },
	}
	for name, op := range ops {
		op() // the first call may grow scratch space
		allocs := testing.AllocsPerRun(20, op)
		require.NoError(t, b.Sync(), name)
		assert.Zero(t, allocs, "%s allocates %v times per call", name, allocs)
	}
}
