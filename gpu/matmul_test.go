//go:build (cuda || cudaemu) && cgo

package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn"
)

// mmCase is one matrix product: op(A) m×k, op(B) k×n.
type mmCase struct {
	name           string
	m, n, k        int
	transA, transB bool // the seed shapes' own transposes; the small cases try all four
	seed           bool
}

// matmulCases are the sizes 1, 7, 33, 127, 129 and 1000 in every role,
// including the matrix-vector shapes, and the seed model's products at
// batch 64 (forward x·Wᵀ, weight gradient dzᵀ·x, input gradient dz·W; D
// runs at 2·64 rows in the D step).
func matmulCases() []mmCase {
	cs := []mmCase{
		{m: 1, n: 1, k: 1}, {m: 7, n: 7, k: 7}, {m: 33, n: 33, k: 33}, {m: 1, n: 7, k: 33}, {m: 7, n: 1, k: 33},
		{m: 33, n: 7, k: 1}, {m: 127, n: 129, k: 33}, {m: 129, n: 127, k: 7}, {m: 1000, n: 7, k: 33},
		{m: 7, n: 1000, k: 33}, {m: 33, n: 129, k: 1000}, {m: 1, n: 1000, k: 129}, {m: 1000, n: 1, k: 129},
		{m: 129, n: 1, k: 1000}, {m: 1, n: 129, k: 1000}, {m: 127, n: 33, k: 129}, {m: 129, n: 129, k: 127},
	}
	for i := range cs {
		cs[i].name = fmt.Sprintf("%dx%dx%d", cs[i].m, cs[i].n, cs[i].k)
	}
	for _, s := range []struct {
		name           string
		m, n, k        int
		transA, transB bool
	}{
		{"G1", 64, 256, 100, false, true}, {"G2", 64, 512, 256, false, true},
		{"G3", 64, 1024, 512, false, true}, {"G4", 64, 784, 1024, false, true},
		{"D1", 128, 1024, 784, false, true}, {"D2", 128, 512, 1024, false, true},
		{"D3", 128, 256, 512, false, true}, {"D4", 128, 1, 256, false, true},
		{"dW_G1", 256, 100, 64, true, false}, {"dW_G4", 784, 1024, 64, true, false},
		{"dW_D1", 1024, 784, 128, true, false}, {"dW_D4", 1, 256, 128, true, false},
		{"dX_G2", 64, 256, 512, false, false}, {"dX_D1", 128, 784, 1024, false, false},
		{"dX_D2", 128, 1024, 512, false, false}, {"dX_D4", 128, 256, 1, false, false},
	} {
		cs = append(cs, mmCase{name: s.name, m: s.m, n: s.n, k: s.k, transA: s.transA, transB: s.transB, seed: true})
	}
	return cs
}

// storage returns the rows×cols of the stored matrix behind an r×c op(X).
func storage(r, c int, trans bool) (int, int) {
	if trans {
		return c, r
	}
	return r, c
}

// reference computes op(A)·op(B) + beta·C0 in float64 and, per element,
// the bound of the error a float32 evaluation may make:
//
//	(0.1·K + 3·√(K+2))·2⁻²⁴·(|op(A)|·|op(B)| + |beta|·|C0|)ij
//
// A float32 evaluation rounds K partial sums, the beta term and the result,
// each by at most 2⁻²⁴ relative to the scale above, so K+2 times 2⁻²⁴ is
// the worst case. 0.1·K·2⁻²⁴ is /work/shared/STYLE.md's statistical bound,
// right for long sums; 3·√(K+2)·2⁻²⁴ (six standard deviations of K+2
// independent roundings) covers short ones, where the worst case is
// reached (7-term sums of positive products miss 0.1·K + 1 by 30%). An
// indexing bug makes errors of order 1/√K of the same scale, thousands of
// times the bound.
func reference(m, n, k int, a []float32, transA bool, b []float32, transB bool, beta float32, c0 []float32) (ref, bound []float64) {
	lda := k
	if transA {
		lda = m
	}
	ldb := n
	if transB {
		ldb = k
	}
	ref, bound = make([]float64, m*n), make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, abs float64
			for kk := 0; kk < k; kk++ {
				var av, bv float32
				if transA {
					av = a[kk*lda+i]
				} else {
					av = a[i*lda+kk]
				}
				if transB {
					bv = b[j*ldb+kk]
				} else {
					bv = b[kk*ldb+j]
				}
				s += float64(av) * float64(bv)
				abs += math.Abs(float64(av) * float64(bv))
			}
			if beta != 0 {
				s += float64(beta) * float64(c0[i*n+j])
				abs += math.Abs(float64(beta) * float64(c0[i*n+j]))
			}
			ref[i*n+j] = s
			bound[i*n+j] = (0.1*float64(k)+3*math.Sqrt(float64(k)+2))*0x1p-24*abs + 1e-37
		}
	}
	return ref, bound
}

func requireWithinBound(t testing.TB, ref, bound []float64, got []float32, what string) {
	t.Helper()
	require.Len(t, got, len(ref), what)
	for i := range ref {
		g := float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			require.Failf(t, "not finite", "%s: element %d is %g", what, i, g)
		}
		if math.Abs(g-ref[i]) > bound[i] {
			require.Failf(t, "outside the error bound", "%s: element %d: want %g, got %g (bound %g)",
				what, i, ref[i], g, bound[i])
		}
	}
}

// TestMatMulParity checks every SGEMM kernel (each tile size, the naive
// one, the matrix-vector ones) against a float64 reference for all four
// transpose combinations, beta 0 (with NaN in C, which must not leak) and
// beta ≠ 0, and checks the CPU backend against the GPU with PyTorch's
// CPU/GPU tolerance rtol = atol = 1e-3.
func TestMatMulParity(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, cs := range matmulCases() {
		trans := [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}}
		betas := []float32{0, 1, -0.5}
		if cs.seed {
			if reduced() {
				trans = [][2]bool{{cs.transA, cs.transB}}
				betas = []float32{0}
			} else {
				betas = []float32{0, 1}
			}
		}
		for _, tr := range trans {
			for _, beta := range betas {
				name := fmt.Sprintf("%s/%s/beta=%g", cs.name, transName(tr[0], tr[1]), beta)
				t.Run(name, func(t *testing.T) {
					checkMatMul(t, p, rng, cs.m, cs.n, cs.k, tr[0], tr[1], beta, cs.seed && reduced())
				})
			}
		}
	}
}

func transName(ta, tb bool) string {
	s := [2]string{"n", "t"}
	return s[b2i(ta)] + s[b2i(tb)]
}

// checkMatMul runs one product through every kernel that can compute it.
func checkMatMul(t *testing.T, p pair, rng *rand.Rand, m, n, k int, transA, transB bool, beta float32, quick bool) {
	ar, ac := storage(m, k, transA)
	br, bc := storage(k, n, transB)
	av, bv := randVals(rng, ar*ac, -1, 1), randVals(rng, br*bc, -1, 1)
	c0 := randVals(rng, m*n, -1, 1)
	if beta == 0 {
		for i := range c0 {
			c0[i] = float32(math.NaN())
		}
	}
	ref, bound := reference(m, n, k, av, transA, bv, transB, beta, c0)
	ag, acpu := p.both(t, ar, ac, av)
	bg, bcpu := p.both(t, br, bc, bv)
	cg, ccpu := p.both(t, m, n, c0)
	defer func() {
		for _, mm := range []nn.Mat{ag, bg, cg} {
			p.g.Free(mm)
		}
	}()

	// The CPU backend, compared with the tiled GPU result below.
	p.c.MatMul(ccpu, acpu, bcpu, transA, transB, beta)
	cpuOut := download(t, p.c, ccpu)

	variants := []int{0, 1, 2, 3, -1} // by size, each tile, naive
	if quick {
		variants = []int{1, 2, 3}
	}
	for _, v := range variants {
		require.NoError(t, p.g.Upload(cg, c0))
		what := "naive"
		if v >= 0 {
			p.g.tile = v
			what = fmt.Sprintf("tile %d", v)
			p.g.MatMul(cg, ag, bg, transA, transB, beta)
			p.g.tile = 0
		} else {
			p.g.matMulNaive(cg, ag, bg, transA, transB, beta)
		}
		got := download(t, p.g, cg)
		requireWithinBound(t, ref, bound, got, what)
		if v == 0 {
			requireClose(t, got, cpuOut, 1e-3, 1e-3, "cpu vs gpu")
		}
	}
}

// TestMatMulViews runs products on views whose offsets break the 16-byte
// alignment of the float4 paths and on aligned ones.
func TestMatMulViews(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(3, 4))
	const m, n, k = 37, 45, 52
	for _, off := range []int{1, 4} {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			t.Run(fmt.Sprintf("off=%d/%s", off, transName(tr[0], tr[1])), func(t *testing.T) {
				ar, ac := storage(m, k, tr[0])
				br, bc := storage(k, n, tr[1])
				av, bv := randVals(rng, ar*ac, -1, 1), randVals(rng, br*bc, -1, 1)
				// Each matrix sits off elements into a flat buffer.
				flat := func(v []float32) nn.Mat {
					buf := upload(t, p.g, 1, len(v)+off+3, append(append(make([]float32, off), v...), 7, 7, 7))
					return buf
				}
				a := flat(av).Slice(off, ar, ac)
				b := flat(bv).Slice(off, br, bc)
				cbuf := flat(make([]float32, m*n))
				c := cbuf.Slice(off, m, n)
				ref, bound := reference(m, n, k, av, tr[0], bv, tr[1], 0, nil)
				for tile := 1; tile <= 3; tile++ {
					p.g.tile = tile
					p.g.MatMul(c, a, b, tr[0], tr[1], 0)
					p.g.tile = 0
					requireWithinBound(t, ref, bound, download(t, p.g, c), fmt.Sprintf("tile %d", tile))
				}
				// The neighbours of C are untouched.
				all := download(t, p.g, cbuf)
				require.Equal(t, make([]float32, off), all[:off])
				require.Equal(t, []float32{7, 7, 7}, all[off+m*n:])
			})
		}
	}
}

// TestMatMulEmptyK: with k = 0 the product is empty and C = beta·C.
func TestMatMulEmptyK(t *testing.T) {
	p := newPair(t)
	a := upload(t, p.g, 5, 0, nil)
	b := upload(t, p.g, 0, 6, nil)
	c := upload(t, p.g, 5, 6, randVals(rand.New(rand.NewPCG(5, 6)), 30, 1, 2))
	old := download(t, p.g, c)
	p.g.MatMul(c, a, b, false, false, 0.5)
	got := download(t, p.g, c)
	for i := range old {
		require.Equal(t, 0.5*old[i], got[i])
	}
	p.g.MatMul(c, a, b, false, false, 0)
	require.Equal(t, make([]float32, 30), download(t, p.g, c))
}
