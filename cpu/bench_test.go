package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gan/nn"
)

// benchMat allocates a rows×cols matrix of values in [-1, 1).
func benchMat(b *testing.B, be *Backend, rng *rand.Rand, rows, cols int) nn.Mat {
	m, _ := randMat(b, be, rng, rows, cols, -1, 1)
	return m
}

// BenchmarkMatMul times the three products of each Linear layer of the seed
// GAN at batch 64 (y = x·Wᵀ, dx = dy·W, dW = dyᵀ·x) and reports GFLOP/s.
func BenchmarkMatMul(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	be := New()
	defer be.Close()
	const batch = 64
	for _, l := range [][2]int{{100, 256}, {256, 512}, {512, 1024}, {1024, 784}, {784, 1024}, {1024, 512}, {512, 256}, {256, 1}} {
		in, out := l[0], l[1]
		x, w, y := benchMat(b, be, rng, batch, in), benchMat(b, be, rng, out, in), benchMat(b, be, rng, batch, out)
		for _, p := range []struct {
			name           string
			c, a, bm       nn.Mat
			transA, transB bool
		}{
			{"fwd", y, x, w, false, true},
			{"dx", x, y, w, false, false},
			{"dW", w, y, x, true, false},
		} {
			b.Run(fmt.Sprintf("%dx%d/%s", in, out, p.name), func(b *testing.B) {
				for b.Loop() {
					be.MatMul(p.c, p.a, p.bm, p.transA, p.transB, 0)
				}
				b.ReportMetric(2*float64(batch*in*out)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
	if err := be.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOps times the elementwise ops and reductions of a training step
// at the seed GAN's largest activation (64×1024) and the Adam update of the
// generator's 1,486,352 parameters.
func BenchmarkOps(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	be := New()
	defer be.Close()
	const rows, cols = 64, 1024
	y, dy, mask, bias, db := benchMat(b, be, rng, rows, cols), benchMat(b, be, rng, rows, cols),
		benchMat(b, be, rng, rows, cols), benchMat(b, be, rng, 1, cols), benchMat(b, be, rng, 1, cols)
	logit, target, grad, stats := benchMat(b, be, rng, 128, 1), benchMat(b, be, rng, 128, 1), benchMat(b, be, rng, 128, 1), benchMat(b, be, rng, 1, 2)
	const params = 100*256 + 256 + 256*512 + 512 + 512*1024 + 1024 + 1024*784 + 784
	p, g, m, v := benchMat(b, be, rng, 1, params), benchMat(b, be, rng, 1, params), benchMat(b, be, rng, 1, params), benchMat(b, be, rng, 1, params)
	be.Fill(v, 0.5)
	leaky := nn.Act{Kind: nn.ActLeakyReLU, Slope: 0.2}
	step := nn.AdamStep{LR: 2e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	for _, op := range []struct {
		name string
		n    int
		f    func()
	}{
		{"BiasAct-leaky", rows * cols, func() { be.BiasAct(y, bias, leaky) }},
		{"BiasAct-tanh", rows * cols, func() { be.BiasAct(y, bias, nn.Act{Kind: nn.ActTanh}) }},
		{"ActBackward-leaky", rows * cols, func() { be.ActBackward(dy, dy, y, leaky) }},
		{"ColSum", rows * cols, func() { be.ColSum(db, dy, 0) }},
		{"Dropout", rows * cols, func() { be.Dropout(y, mask, y, 0.3, nn.RandKey{Seed: 1}) }},
		{"DropoutBackward", rows * cols, func() { be.DropoutBackward(dy, dy, mask) }},
		{"RandNormal", rows * cols, func() { be.RandNormal(y, 0, 1, nn.RandKey{Seed: 1}) }},
		{"SigmoidBCE-128", 128, func() { be.SigmoidBCE(grad, stats, logit, target, 1.0/128) }},
		{"Adam-G", params, func() { step.Step++; be.Adam(p, g, m, v, step) }},
	} {
		b.Run(op.name, func(b *testing.B) {
			for b.Loop() {
				op.f()
			}
			b.ReportMetric(float64(op.n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
	}
	if err := be.Sync(); err != nil {
		b.Fatal(err)
	}
}
