package sgemm

import (
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
						ar, ac := m, k
						if ta {
							ar, ac = k, m
						}
						br, bc := k, n
						if tb {
							br, bc = n, k
						}
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
