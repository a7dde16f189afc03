package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSmallMatchesSgemm: Small gives Sgemm's bits for every shape it takes
// (m a multiple of 4, n of 16, k ≤ 256, each transpose but both, beta 0, 1 and
// other, strided operands, NaN in an old C that beta = 0 must not read),
// and declines the others without touching C.
func TestSmallMatchesSgemm(t *testing.T) {
	if !smallKernels || impl.name != "avx2" {
		t.Skip("no avx2 small kernels on this machine")
	}
	r := rand.New(rand.NewPCG(7, 8))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return x
	}
	cases := 0
	for _, m := range []int{4, 8, 20, 64} {
		for _, n := range []int{16, 48, 64} {
			for _, k := range []int{1, 3, 8, 13, 32, 64, 256} {
				for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}} {
					for _, beta := range []float32{0, 1, 0.75} {
						ta, tb := tr[0], tr[1]
						ar, ac := stored(ta, m, k)
						br, bc := stored(tb, k, n)
						lda, ldb, ldc := ac+5, bc+3, n+8
						a, b := fill(ar*lda), fill(br*ldb)
						c0 := fill(m * ldc)
						if beta == 0 {
							c0[0] = float32(math.NaN())
						}
						want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
						SgemmWorkers(1, ta, tb, m, n, k, a, lda, b, ldb, beta, want, ldc)
						require.True(t, Small(ta, tb, m, n, k, a, lda, b, ldb, beta, got, ldc))
						for i := range want {
							if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
								t.Fatalf("m %d n %d k %d trans %v beta %v: element %d: %v, Sgemm %v", m, n, k, tr, beta, i, got[i], want[i])
							}
						}
						cases++
					}
				}
			}
		}
	}
	t.Logf("%d products equal", cases)
	big := fill(64 * 300)
	old := append([]float32(nil), big...)
	for _, s := range []struct {
		m, n, k int
		ta, tb  bool
	}{{6, 16, 8, false, false}, {8, 8, 8, false, false}, {8, 16, 257, false, false}, {8, 16, 0, false, false}, {8, 16, 8, true, true}} {
		assert.False(t, Small(s.ta, s.tb, s.m, s.n, s.k, big, 300, big, 300, 0, big, 300), "%+v", s)
	}
	assert.Equal(t, old, big, "C untouched")
}

// packedSgemm is Sgemm forced onto the packed path.
func packedSgemm(workers int, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ctx := getCtx()
	ctx.ks, ctx.maxW = impl, workers
	ctx.p = problem{transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	ctx.gemm()
	ctx.p = problem{}
	putCtx(ctx)
}

// TestWeightGradPath: Sgemm's weight-gradient path (Aᵀ·B, long K, small
// m×n) gives the packed path's bits, for one and two workers, K not a
// multiple of the block, beta 0, 1 and other, strided operands.
func TestWeightGradPath(t *testing.T) {
	if !smallKernels || impl.name != "avx2" {
		t.Skip("no avx2 small kernels on this machine")
	}
	r := rand.New(rand.NewPCG(9, 10))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return x
	}
	for _, s := range [][3]int{{4, 16, 4096}, {32, 64, 5000}, {32, 192, 9000}, {64, 32, 4100}, {128, 512, 4096}} {
		m, n, k := s[0], s[1], s[2]
		for _, beta := range []float32{0, 1, -0.5} {
			for _, w := range []int{1, 2} {
				lda, ldb, ldc := m+4, n+16, n+3
				a, b, c0 := fill(k*lda), fill(k*ldb), fill(m*ldc)
				require.True(t, weightGrad(impl, &problem{transA: true, m: m, n: n, k: k}))
				want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
				packedSgemm(w, true, false, m, n, k, a, lda, b, ldb, beta, want, ldc)
				SgemmWorkers(w, true, false, m, n, k, a, lda, b, ldb, beta, got, ldc)
				for i := range want {
					if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
						t.Fatalf("m %d n %d k %d beta %v workers %d: element %d: %v, packed %v", m, n, k, beta, w, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// BenchmarkWeightGrad times weight-gradient shapes (PixelCNN's 3×3 and
// 1×1 convolutions over 64 images, char-gpt's MLP) on the packed path and
// on the weight-gradient path.
func BenchmarkWeightGrad(b *testing.B) {
	for _, s := range [][3]int{{32, 192, 50176}, {32, 64, 50176}, {64, 32, 50176}, {128, 512, 768}, {512, 128, 768}} {
		m, n, k := s[0], s[1], s[2]
		a, bm, c := make([]float32, k*m), make([]float32, k*n), make([]float32, m*n)
		for _, packed := range []bool{true, false} {
			name := fmt.Sprintf("m%d_n%d_k%d/packed=%v", m, n, k, packed)
			b.Run(name, func(b *testing.B) {
				for range b.N {
					if packed {
						packedSgemm(0, true, false, m, n, k, a, m, bm, n, 0, c, n)
					} else {
						SgemmWorkers(0, true, false, m, n, k, a, m, bm, n, 0, c, n)
					}
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
