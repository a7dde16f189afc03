package sgemm_test

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"gan/cpu/sgemm"
)

var benchBig = flag.Bool("sgemm.big", false, "also benchmark the 4096×4096 square GEMM")

// layer is one Linear layer of the seed GAN.
type layer struct {
	name    string
	in, out int
}

var seedLayers = []layer{
	{"G1", 100, 256}, {"G2", 256, 512}, {"G3", 512, 1024}, {"G4", 1024, 784},
	{"D1", 784, 1024}, {"D2", 1024, 512}, {"D3", 512, 256}, {"D4", 256, 1},
}

// gemmShape is one GEMM: op(A) m×k, op(B) k×n.
type gemmShape struct {
	transA, transB bool
	m, n, k        int
}

// layerShapes returns a layer's three GEMMs at batch size bs: forward
// Y = X·Wᵀ, weight gradient dW = dYᵀ·X and input gradient dX = dY·W.
func layerShapes(l layer, bs int) map[string]gemmShape {
	return map[string]gemmShape{
		"fwd": {false, true, bs, l.out, l.in},
		"dW":  {true, false, l.out, l.in, bs},
		"dX":  {false, false, bs, l.in, l.out},
	}
}

// operands returns random A, B and C for s, densely stored.
func operands(s gemmShape) (a, b, c []float32, lda, ldb int) {
	rng := rand.New(rand.NewPCG(1, 1))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = 2*rng.Float32() - 1
		}
		return x
	}
	lda, ldb = s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	return fill(s.m * s.k), fill(s.k * s.n), fill(s.m * s.n), lda, ldb
}

// benchOurs times sgemm.Sgemm on s and reports GFLOP/s.
func benchOurs(b *testing.B, s gemmShape) {
	a, bm, c, lda, ldb := operands(s)
	b.ResetTimer()
	for b.Loop() {
		sgemm.Sgemm(s.transA, s.transB, s.m, s.n, s.k, a, lda, bm, ldb, 0, c, s.n)
	}
	reportFlops(b, s)
}

// benchGonum times gonum's blas32.Gemm on s and reports GFLOP/s.
func benchGonum(b *testing.B, s gemmShape) {
	a, bm, c, lda, ldb := operands(s)
	ar, ac := s.m, s.k
	if s.transA {
		ar, ac = s.k, s.m
	}
	br, bc := s.k, s.n
	if s.transB {
		br, bc = s.n, s.k
	}
	ga := blas32.General{Rows: ar, Cols: ac, Stride: lda, Data: a}
	gb := blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: bm}
	gc := blas32.General{Rows: s.m, Cols: s.n, Stride: s.n, Data: c}
	ta, tb := blas.NoTrans, blas.NoTrans
	if s.transA {
		ta = blas.Trans
	}
	if s.transB {
		tb = blas.Trans
	}
	b.ResetTimer()
	for b.Loop() {
		blas32.Gemm(ta, tb, 1, ga, gb, 0, gc)
	}
	reportFlops(b, s)
}

func reportFlops(b *testing.B, s gemmShape) {
	flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSeed runs every GEMM of the seed GAN's layers at batch 64, 256
// and 1024, ours beside gonum's.
func BenchmarkSeed(b *testing.B) {
	for _, bs := range []int{64, 256, 1024} {
		for _, l := range seedLayers {
			shapes := layerShapes(l, bs)
			for _, pass := range []string{"fwd", "dW", "dX"} {
				s := shapes[pass]
				name := fmt.Sprintf("B%d/%s_%dx%d/%s", bs, l.name, l.in, l.out, pass)
				b.Run(name+"/ours", func(b *testing.B) { benchOurs(b, s) })
				b.Run(name+"/gonum", func(b *testing.B) { benchGonum(b, s) })
			}
		}
	}
}

// BenchmarkSquare runs square GEMMs; 4096 only with -sgemm.big.
func BenchmarkSquare(b *testing.B) {
	sizes := []int{1024}
	if *benchBig {
		sizes = append(sizes, 4096)
	}
	for _, n := range sizes {
		s := gemmShape{false, false, n, n, n}
		b.Run(fmt.Sprintf("%d/ours", n), func(b *testing.B) { benchOurs(b, s) })
		b.Run(fmt.Sprintf("%d/gonum", n), func(b *testing.B) { benchGonum(b, s) })
	}
}

// BenchmarkDirectA times products whose row-major A is read in place by
// the direct kernels (n ≤ directMaxN) against the same products with A
// packed: the 32×32 DCGAN's convolutions (Im2Col patches times the weight,
// the output gradient times the weight) and the seed model's forward
// products.
func BenchmarkDirectA(b *testing.B) {
	shapes := map[string]gemmShape{
		"D2fwd-4096x128x1024-NT":   {false, true, 4096, 128, 1024},
		"D3fwd-1024x256x2048-NT":   {false, true, 1024, 256, 2048},
		"D2dx-4096x1024x128-NN":    {false, false, 4096, 1024, 128},
		"seedD1fwd-64x1024x784-NT": {false, true, 64, 1024, 784},
		"seedG3fwd-64x1024x512-NT": {false, true, 64, 1024, 512},
		"D1dW-64x16x16384-TN":      {true, false, 64, 16, 16384},
	}
	for name, s := range shapes {
		for _, direct := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/direct=%v", name, direct), func(b *testing.B) {
				old := sgemm.SetDirectMaxN(-1)
				if direct {
					sgemm.SetDirectMaxN(old)
				}
				defer sgemm.SetDirectMaxN(old)
				benchOurs(b, s)
			})
		}
	}
}
