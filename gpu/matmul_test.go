//go:build (gancuda || cudaemu) && cgo

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
// the worst case. 0.1·K·2⁻²⁴ is the statistical bound of docs/tolerances.md's
// tolerance table (llm.c/ggml/PyTorch practice), right for long sums; 3·√(K+2)·2⁻²⁴ (six standard deviations of K+2
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

// TestMatMulKernels checks every SGEMM kernel (each tile size, the naive
// one, the matrix-vector ones) against a float64 reference for all four
// transpose combinations, beta 0 (with NaN in C, which must not leak) and
// beta ≠ 0. The conformance suite compares MatMul with the CPU backend
// through the kernel the backend picks by size; this test forces each.
func TestMatMulKernels(t *testing.T) {
	b := testBackend(t)
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
					checkMatMul(t, b, rng, cs.m, cs.n, cs.k, tr[0], tr[1], beta, cs.seed && reduced())
				})
			}
		}
	}
}

func transName(ta, tb bool) string {
	s := [2]string{"n", "t"}
	return s[b2i(ta)] + s[b2i(tb)]
}

// checkMatMul runs one product through every kernel that can compute it:
// the tile the backend picks by size, each tile forced, and the naive
// kernel (quick: the three forced tiles only).
func checkMatMul(t *testing.T, b *Backend, rng *rand.Rand, m, n, k int, transA, transB bool, beta float32, quick bool) {
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
	a, bm, c := upload(t, b, ar, ac, av), upload(t, b, br, bc, bv), upload(t, b, m, n, c0)
	defer func() {
		for _, x := range []nn.Mat{a, bm, c} {
			b.Free(x)
		}
	}()
	variants := []int{0, 1, 2, 3, -1} // by size, each tile, naive
	if quick {
		variants = []int{1, 2, 3}
	}
	for _, v := range variants {
		require.NoError(t, b.Upload(c, c0))
		what := "naive"
		if v >= 0 {
			b.tile = v
			what = fmt.Sprintf("tile %d", v)
			b.MatMul(c, a, bm, transA, transB, beta)
			b.tile = 0
		} else {
			b.matMulNaive(c, a, bm, transA, transB, beta)
		}
		requireWithinBound(t, ref, bound, download(t, b, c), what)
	}
}

// TestMatMulViews runs products on views whose offsets break the 16-byte
// alignment of the float4 paths and on aligned ones.
func TestMatMulViews(t *testing.T) {
	b := testBackend(t)
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
					buf := upload(t, b, 1, len(v)+off+3, append(append(make([]float32, off), v...), 7, 7, 7))
					return buf
				}
				a := flat(av).Slice(off, ar, ac)
				bm := flat(bv).Slice(off, br, bc)
				cbuf := flat(make([]float32, m*n))
				c := cbuf.Slice(off, m, n)
				ref, bound := reference(m, n, k, av, tr[0], bv, tr[1], 0, nil)
				for tile := 1; tile <= 3; tile++ {
					b.tile = tile
					b.MatMul(c, a, bm, tr[0], tr[1], 0)
					b.tile = 0
					requireWithinBound(t, ref, bound, download(t, b, c), fmt.Sprintf("tile %d", tile))
				}
				// The neighbours of C are untouched.
				all := download(t, b, cbuf)
				require.Equal(t, make([]float32, off), all[:off])
				require.Equal(t, []float32{7, 7, 7}, all[off+m*n:])
			})
		}
	}
}

// layout is where a test matrix lives: columns [off, off+cols) of a
// rows×(off+cols+pad) parent, so that pad = off = 0 is a contiguous matrix
// and anything else a strided view.
type layout struct{ off, pad int }

var layouts = []layout{{0, 0}, {1, 2}, {4, 4}}

func (l layout) String() string {
	if l.off == 0 && l.pad == 0 {
		return "contiguous"
	}
	return fmt.Sprintf("cols+%d+%d", l.off, l.pad)
}

// placed is a test matrix on a backend: the view and the parent it is a
// view of, whose other elements hold fill.
type placed struct {
	m, parent nn.Mat
	fill      float32
}

// place uploads v as a rows×cols matrix laid out as l; the rest of the
// parent holds fill.
func place(t testing.TB, b nn.Backend, rows, cols int, l layout, v []float32, fill float32) placed {
	t.Helper()
	w := l.off + cols + l.pad
	all := make([]float32, rows*w)
	for i := range all {
		all[i] = fill
	}
	for r := 0; r < rows; r++ {
		copy(all[r*w+l.off:r*w+l.off+cols], v[r*cols:(r+1)*cols])
	}
	parent := upload(t, b, rows, w, all)
	return placed{m: parent.ColView(l.off, cols), parent: parent, fill: fill}
}

// read downloads p's view as a contiguous rows×cols slice, requiring the
// rest of the parent to still hold the fill value.
func (p placed) read(t testing.TB, b nn.Backend) []float32 {
	t.Helper()
	all := download(t, b, p.parent)
	w, off := p.parent.Cols, p.m.Off-p.parent.Off
	out := make([]float32, 0, p.m.Len())
	for r := 0; r < p.m.Rows; r++ {
		for c := 0; c < w; c++ {
			v := all[r*w+c]
			if c >= off && c < off+p.m.Cols {
				out = append(out, v)
			} else if math.Float32bits(v) != math.Float32bits(p.fill) {
				require.Failf(t, "written outside the view", "row %d column %d of the parent: %g", r, c, v)
			}
		}
	}
	return out
}

// TestMatMulStrided runs products whose operands are column blocks of
// wider matrices, through every kernel family: the tiled ones, the naive
// one and both matrix-vector ones (a strided x or y).
func TestMatMulStrided(t *testing.T) {
	b := testBackend(t)
	rng := rand.New(rand.NewPCG(45, 46))
	for _, mnk := range [][3]int{{37, 45, 52}, {7, 1, 33}, {1, 7, 33}, {33, 1, 129}, {1, 1, 20}} {
		m, n, k := mnk[0], mnk[1], mnk[2]
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, l := range layouts[1:] {
				t.Run(fmt.Sprintf("%dx%dx%d/%s/%v", m, n, k, transName(tr[0], tr[1]), l), func(t *testing.T) {
					ar, ac := storage(m, k, tr[0])
					br, bc := storage(k, n, tr[1])
					av, bv := randVals(rng, ar*ac, -1, 1), randVals(rng, br*bc, -1, 1)
					c0 := randVals(rng, m*n, -1, 1)
					a := place(t, b, ar, ac, l, av, 3)
					bm := place(t, b, br, bc, layout{l.pad, l.off}, bv, 3)
					for _, beta := range []float32{0, 0.5} {
						ref, bound := reference(m, n, k, av, tr[0], bv, tr[1], beta, c0)
						for v := 0; v <= 4; v++ {
							c := place(t, b, m, n, l, c0, 7)
							if v < 4 {
								b.tile = v
								b.MatMul(c.m, a.m, bm.m, tr[0], tr[1], beta)
								b.tile = 0
							} else {
								b.matMulNaive(c.m, a.m, bm.m, tr[0], tr[1], beta)
							}
							requireWithinBound(t, ref, bound, c.read(t, b), fmt.Sprintf("variant %d beta %g", v, beta))
						}
					}
				})
			}
		}
	}
}
