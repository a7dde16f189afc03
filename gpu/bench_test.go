//go:build gancuda && cgo

package gpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/model"
	"gan/nn/models/seedgan"
)

// BenchmarkMatMul times the seed model's products at batch 64 and 256 with
// the tiled kernels (tile chosen by size) and the naive baseline, in
// GFLOP/s; every iteration queues one product, and the timer includes the
// final synchronisation.
func BenchmarkMatMul(b *testing.B) {
	type shape struct {
		name           string
		m, n, k        int
		transA, transB bool
	}
	var shapes []shape
	for _, batch := range []int{64, 256} {
		for _, l := range [][2]int{{100, 256}, {256, 512}, {512, 1024}, {1024, 784}, {784, 1024}, {1024, 512}, {512, 256}, {256, 1}} {
			in, out := l[0], l[1]
			shapes = append(shapes,
				shape{fmt.Sprintf("B%d/fwd_%dx%d", batch, in, out), batch, out, in, false, true},
				shape{fmt.Sprintf("B%d/dW_%dx%d", batch, in, out), out, in, batch, true, false},
				shape{fmt.Sprintf("B%d/dX_%dx%d", batch, in, out), batch, in, out, false, false})
		}
	}
	shapes = append(shapes, shape{"square1024", 1024, 1024, 1024, false, false}, shape{"square4096", 4096, 4096, 4096, false, false})
	g := testBackend(b)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range shapes {
		ar, ac := storage(s.m, s.k, s.transA)
		br, bc := storage(s.k, s.n, s.transB)
		a := upload(b, g, ar, ac, randVals(rng, ar*ac, -1, 1))
		bm := upload(b, g, br, bc, randVals(rng, br*bc, -1, 1))
		c, err := g.Alloc(s.m, s.n)
		require.NoError(b, err)
		flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
		for _, naive := range []bool{false, true} {
			name := s.name + "/tiled"
			if naive {
				name = s.name + "/naive"
			}
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if naive {
						g.matMulNaive(c, a, bm, s.transA, s.transB, 0)
					} else {
						g.MatMul(c, a, bm, s.transA, s.transB, 0)
					}
				}
				require.NoError(b, g.Sync())
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
		g.Free(a)
		g.Free(bm)
		g.Free(c)
	}
}

// BenchmarkTrainStep times one training step of the seed GAN (the
// seed-mlp-gan family's compiled step) at batch 64: gather, G forward, D
// step, G step, both Adam updates, and the download of the step's losses,
// which waits for the device.
func BenchmarkTrainStep(b *testing.B) {
	g := testBackend(b)
	cfg := seedgan.DefaultConfig()
	const rows = 4096
	pixels := randVals(rand.New(rand.NewPCG(2, 2)), rows*seedgan.ImageDim, -1, 1)
	set := &model.Dataset{Name: "uniform random [-1, 1)", N: rows, C: 1, H: 28, W: 28, Pixels: pixels}
	data := upload(b, g, rows, seedgan.ImageDim, pixels)
	gan, err := seedgan.New(g, cfg)
	require.NoError(b, err)
	defer gan.Free()
	perm := make([]int32, rows)
	nn.Permutation(perm, nn.RandKey{Seed: 1, Stream: 1})
	step := func(i int) {
		lo := i * cfg.Batch % rows
		_, err := gan.TrainStep(&model.Batch{Data: set, Dev: data, Idx: perm[lo : lo+cfg.Batch], Index: i})
		require.NoError(b, err)
	}
	step(0) // warm up (compiles the step's program)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step(i)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
}

// BenchmarkAdam times one Adam update over both models' parameters
// (about 2.9 million), in GB/s of the memory it streams (four arrays
// read, three written).
func BenchmarkAdam(b *testing.B) {
	g := testBackend(b)
	const n = 2_946_577
	mats := make([]nn.Mat, 4)
	for i := range mats {
		m, err := g.Alloc(1, n)
		require.NoError(b, err)
		mats[i] = m
	}
	g.RandNormal(mats[1], 0, 1e-3, nn.RandKey{Seed: 3})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.Adam(mats[0], mats[1], mats[2], mats[3], nn.AdamStep{LR: 2e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: i + 1})
	}
	require.NoError(b, g.Sync())
	b.ReportMetric(float64(b.N)*7*4*n/b.Elapsed().Seconds()/1e9, "GB/s")
}
