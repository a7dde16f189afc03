package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"gan/bench/gorgoniagan"
	"gan/cpu"
	"gan/cpu/sgemm"
	"gan/nn"
	"gan/nn/model"
	"gan/nn/models/seedgan"
)

// Run these side by side with
//
//	go test -run '^$' -bench . -benchtime 0.2s -count 3 ./bench/ | tee gobench.txt
//
// and compare with `benchstat -col /impl gobench.txt`, or merge them into a
// results page with `gan bench-report --gobench gobench.txt`.

// goBenchShapes are the matrix products of BenchmarkMatMul: every product
// of the seed model at batch 64, 256 and 1024, and the 1024 square.
func goBenchShapes() []MatMulShape {
	return MatMulShapes([]int{64, 256, 1024}, []int{1024})
}

// shapeName turns "matmul/b64/G1.fwd" into "b64.G1.fwd".
func shapeName(s MatMulShape) string {
	return strings.ReplaceAll(strings.TrimPrefix(s.Key, "matmul/"), "/", ".")
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*rng.Float32() - 1
	}
	return s
}

// BenchmarkMatMul compares, at the seed model's shapes, the CPU backend's
// MatMul (impl=ours, what training runs), the gan/cpu/sgemm kernel called
// directly (impl=ours-sgemm) and gonum's pure-Go Sgemm (impl=gonum), all on
// GOMAXPROCS threads.
func BenchmarkMatMul(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	be := cpu.New()
	defer be.Close()
	for _, sh := range goBenchShapes() {
		ar, ac := sh.M, sh.K
		if sh.TransA {
			ar, ac = ac, ar
		}
		br, bc := sh.K, sh.N
		if sh.TransB {
			br, bc = bc, br
		}
		a, bm, c := randSlice(rng, ar*ac), randSlice(rng, br*bc), make([]float32, sh.M*sh.N)
		ma, err := be.Alloc(ar, ac)
		require.NoError(b, err)
		mb, err := be.Alloc(br, bc)
		require.NoError(b, err)
		mc, err := be.Alloc(sh.M, sh.N)
		require.NoError(b, err)
		require.NoError(b, be.Upload(ma, a))
		require.NoError(b, be.Upload(mb, bm))
		tA, tB := blas.NoTrans, blas.NoTrans
		if sh.TransA {
			tA = blas.Trans
		}
		if sh.TransB {
			tB = blas.Trans
		}
		for _, impl := range []struct {
			name string
			f    func()
		}{
			{"ours", func() { be.MatMul(mc, ma, mb, sh.TransA, sh.TransB, 0) }},
			{"ours-sgemm", func() { sgemm.Sgemm(sh.TransA, sh.TransB, sh.M, sh.N, sh.K, a, ac, bm, bc, 0, c, sh.N) }},
			{"gonum", func() { gonum.Implementation{}.Sgemm(tA, tB, sh.M, sh.N, sh.K, 1, a, ac, bm, bc, 0, c, sh.N) }},
		} {
			b.Run(fmt.Sprintf("shape=%s/impl=%s", shapeName(sh), impl.name), func(b *testing.B) {
				for b.Loop() {
					impl.f()
				}
				require.NoError(b, be.Sync())
				b.ReportMetric(sh.Flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, UnitGFLOPS)
			})
		}
		be.Free(ma)
		be.Free(mb)
		be.Free(mc)
	}
}

// BenchmarkTrainStep compares our CPU training step (the seed-mlp-gan
// family's compiled step, seedgan.GAN.TrainStep, on random images uploaded
// once; impl=ours) with Gorgonia's step of the same model (impl=gorgonia;
// it draws its random images, noise and dropout masks on the CPU inside the
// step, and recomputes G's forward pass for the G step, see
// gorgoniagan.Trainer), both after one warm-up step.
func BenchmarkTrainStep(b *testing.B) {
	for _, batch := range []int{64, 256} {
		b.Run(fmt.Sprintf("batch=%d/impl=ours", batch), func(b *testing.B) {
			be := cpu.New()
			defer be.Close()
			cfg := seedgan.DefaultConfig()
			cfg.Batch = batch
			g, err := seedgan.New(be, cfg)
			require.NoError(b, err)
			defer g.Free()
			const windows = 4
			rows := windows * batch
			data, err := be.Alloc(rows, seedgan.ImageDim)
			require.NoError(b, err)
			be.RandUniform(data, -1, 1, nn.RandKey{Seed: 3})
			// The images exist only on the backend; the Dataset describes them.
			set := &model.Dataset{Name: "uniform random [-1, 1)", N: rows, C: 1, H: 28, W: 28}
			perm := make([]int32, rows)
			nn.Permutation(perm, nn.RandKey{Seed: 3, Stream: 1})
			step := func(i int) {
				w := i % windows
				if _, err := g.TrainStep(&model.Batch{Data: set, Dev: data, Idx: perm[w*batch : (w+1)*batch], Index: w}); err != nil {
					b.Fatal(err)
				}
			}
			step(0) // warm-up (compiles the step's program)
			i := 1
			for b.Loop() {
				step(i)
				i++
			}
			reportSteps(b, batch)
		})
		b.Run(fmt.Sprintf("batch=%d/impl=gorgonia", batch), func(b *testing.B) {
			tr, err := gorgoniagan.NewTrainer(1, batch)
			require.NoError(b, err)
			defer func() { require.NoError(b, tr.Close()) }()
			require.NoError(b, tr.Step()) // warm-up
			for b.Loop() {
				if err := tr.Step(); err != nil {
					b.Fatal(err)
				}
			}
			reportSteps(b, batch)
		})
	}
}

func reportSteps(b *testing.B, batch int) {
	sps := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(sps, UnitSteps)
	b.ReportMetric(sps*float64(batch), "images/s")
}
