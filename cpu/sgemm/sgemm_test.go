package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unitRoundoff is 2⁻²⁴, the unit roundoff of float32.
const unitRoundoff = 1.0 / (1 << 24)

// withKernels runs f once for every kernel set this machine can run, with
// impl switched to it.
func withKernels(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, ks := range kernelSets() {
		t.Run(ks.name, func(t *testing.T) {
			old := impl
			impl = ks
			defer func() { impl = old }()
			f(t)
		})
	}
}

// withWorkers runs f with SetWorkers(n) and restores the old value.
func withWorkers(n int, f func()) {
	old := int(workers.Load())
	SetWorkers(n)
	defer SetWorkers(old) // 0 restores the default
	f()
}

// randMat returns a rows×cols matrix with row stride ld, entries uniform in
// [-1, 1) and the padding between rows filled with NaN (which must never be
// read).
func randMat(rng *rand.Rand, rows, cols, ld int) []float32 {
	if rows == 0 || cols == 0 {
		return nil
	}
	x := make([]float32, (rows-1)*ld+cols)
	for i := range x {
		x[i] = float32(math.NaN())
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			x[i*ld+j] = 2*rng.Float32() - 1
		}
	}
	return x
}

// gemmCase is one call's arguments; product computes what to expect.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	lda, ldb, ldc  int
	a, b, c        []float32
}

// newCase builds random operands for op(A) m×k, op(B) k×n and C m×n, with
// every leading dimension pad elements wider than its row.
func newCase(rng *rand.Rand, transA, transB bool, m, n, k, pad int) gemmCase {
	ar, ac := stored(transA, m, k)
	br, bc := stored(transB, k, n)
	g := gemmCase{transA: transA, transB: transB, m: m, n: n, k: k,
		lda: max(1, ac+pad), ldb: max(1, bc+pad), ldc: max(1, n+pad)}
	g.a = randMat(rng, ar, ac, g.lda)
	g.b = randMat(rng, br, bc, g.ldb)
	g.c = randMat(rng, m, n, g.ldc)
	return g
}

// opA returns op(A)[i][p] in float64.
func (g *gemmCase) opA(i, p int) float64 {
	if g.transA {
		return float64(g.a[p*g.lda+i])
	}
	return float64(g.a[i*g.lda+p])
}

// opB returns op(B)[p][j] in float64.
func (g *gemmCase) opB(p, j int) float64 {
	if g.transB {
		return float64(g.b[j*g.ldb+p])
	}
	return float64(g.b[p*g.ldb+j])
}

// product returns op(A)·op(B) and |op(A)|·|op(B)| in float64, m×n dense.
func (g *gemmCase) product() (ab, absAB []float64) {
	// Dense float64 copies of op(A) and op(B) keep the triple loop simple.
	opA := make([]float64, g.m*g.k)
	for i := 0; i < g.m; i++ {
		for p := 0; p < g.k; p++ {
			opA[i*g.k+p] = g.opA(i, p)
		}
	}
	opB := make([]float64, g.k*g.n)
	for p := 0; p < g.k; p++ {
		for j := 0; j < g.n; j++ {
			opB[p*g.n+j] = g.opB(p, j)
		}
	}
	ab = make([]float64, g.m*g.n)
	absAB = make([]float64, g.m*g.n)
	for i := 0; i < g.m; i++ {
		abRow, absRow := ab[i*g.n:(i+1)*g.n], absAB[i*g.n:(i+1)*g.n]
		for p, av := range opA[i*g.k : (i+1)*g.k] {
			for j, bv := range opB[p*g.n : (p+1)*g.n] {
				abRow[j] += av * bv
				absRow[j] += math.Abs(av * bv)
			}
		}
	}
	return ab, absAB
}

// run calls Sgemm on a copy of C and returns it.
func (g *gemmCase) run(beta float32, c0 []float32) []float32 {
	c := append([]float32(nil), c0...)
	Sgemm(g.transA, g.transB, g.m, g.n, g.k, g.a, g.lda, g.b, g.ldb, beta, c, g.ldc)
	return c
}

// errBound returns the allowed error of one element of C in units of
// 2⁻²⁴·((|A||B|)ᵢⱼ + |β·Cᵢⱼ|):
//
//	min(0.1·K + 5, K + 2).
//
// 0.1·K is the growth with K of docs/tolerances.md's tolerance table (llm.c/ggml/PyTorch
// practice: error ≤ 0.1·K·2⁻²⁴·(|A||B|)ᵢⱼ against float64). It alone is
// not enough at small K: with random signs the error of a float32 dot
// product relative to Σ|aₚbₚ| stays at a few units of 2⁻²⁴ whatever K is
// (measured on all three kernel sets: 1.5 at K = 1, 3.3 at K = 7, at most
// 4.2 up to K = 1000), so 0.1·K fails below K ≈ 40; hence the constant 5.
// K + 2 is the classic worst-case bound γ_{K+2} (K roundings in the sum, one
// in β·C, one adding the two) for K within one K block; taking the minimum
// keeps the bound no looser than that at K ≤ 3. An indexing bug moves an
// element by about |aₚbₚ| ≈ (|A||B|)ᵢⱼ/K, far more than either term allows.
func errBound(k int) float64 { return math.Min(0.1*float64(k)+5, float64(k)+2) }

// checkResult compares got with beta·c0 + op(A)·op(B) elementwise, and that
// the padding of C is untouched.
func checkResult(t *testing.T, g *gemmCase, beta float32, c0, got []float32, ab, absAB []float64) {
	t.Helper()
	bad := 0
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.n; j++ {
			old := 0.0
			if beta != 0 {
				old = float64(beta) * float64(c0[i*g.ldc+j])
			}
			want := ab[i*g.n+j] + old
			bound := unitRoundoff*errBound(g.k)*(absAB[i*g.n+j]+math.Abs(old)) + 1e-30
			v := float64(got[i*g.ldc+j])
			if !(math.Abs(v-want) <= bound) {
				if bad < 5 {
					t.Errorf("C[%d][%d] = %g, want %g ± %g", i, j, v, want, bound)
				}
				bad++
			}
		}
		// Padding past column n keeps its NaN.
		for j := g.n; j < g.ldc && i < g.m-1; j++ {
			if !math.IsNaN(float64(got[i*g.ldc+j])) {
				t.Errorf("padding C[%d][%d] was written: %g", i, j, got[i*g.ldc+j])
				return
			}
		}
	}
	assert.Zero(t, bad, "elements outside the bound")
}

// shapes returns the (m, n, k) triples the accuracy test covers.
func shapes() [][3]int {
	var s [][3]int
	small := []int{1, 7, 33, 129}
	for _, m := range small {
		for _, n := range small {
			for _, k := range small {
				s = append(s, [3]int{m, n, k})
			}
		}
	}
	return append(s,
		[3]int{127, 127, 127}, [3]int{1000, 7, 33}, [3]int{7, 1000, 129}, [3]int{33, 129, 1000},
		[3]int{129, 33, 1000}, [3]int{1, 1000, 1000}, [3]int{1000, 1, 1000}, [3]int{1000, 1000, 1},
		[3]int{127, 1000, 7}, [3]int{5, 3, 1000},
		// Seed model shapes at batch 64: forward, dW, dX, matrix-vector.
		[3]int{64, 256, 100}, [3]int{64, 784, 1024}, [3]int{128, 1024, 784},
		[3]int{256, 100, 64}, [3]int{64, 100, 256}, [3]int{128, 1, 256}, [3]int{1, 256, 128},
		[3]int{128, 256, 1},
	)
}

func TestSgemmMatchesFloat64Reference(t *testing.T) {
	// The cases and their float64 references, made once for all kernel sets.
	type refCase struct {
		g         gemmCase
		ab, absAB []float64
	}
	var cases []refCase
	rng := rand.New(rand.NewPCG(1, 2))
	for si, s := range shapes() {
		for tr := 0; tr < 4; tr++ {
			pad := (si + tr) % 3 * 3 // 0, 3 or 6
			g := newCase(rng, tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], pad)
			ab, absAB := g.product()
			cases = append(cases, refCase{g, ab, absAB})
		}
	}
	withKernels(t, func(t *testing.T) {
		for i := range cases {
			rc := &cases[i]
			g := &rc.g
			for _, beta := range []float32{0, 1, 0.5} {
				got := g.run(beta, g.c)
				name := fmt.Sprintf("m%d_n%d_k%d_tA%v_tB%v_beta%g_ld+%d", g.m, g.n, g.k, g.transA, g.transB, beta, g.ldc-g.n)
				t.Run(name, func(t *testing.T) { checkResult(t, g, beta, g.c, got, rc.ab, rc.absAB) })
			}
		}
	})
}

func TestBetaZeroIgnoresNaN(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, s := range [][3]int{{33, 65, 17}, {1, 40, 9}, {40, 1, 9}, {1, 1, 5}, {9, 9, 0}} {
			for tr := 0; tr < 4; tr++ {
				g := newCase(rng, tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], 2)
				c := make([]float32, len(g.c))
				for i := range c {
					c[i] = float32(math.NaN())
				}
				ab, absAB := g.product()
				got := g.run(0, c)
				for i := 0; i < g.m; i++ {
					for j := 0; j < g.n; j++ {
						require.False(t, math.IsNaN(float64(got[i*g.ldc+j])), "shape %v trans %d: C[%d][%d] is NaN", s, tr, i, j)
					}
				}
				checkResult(t, &g, 0, c, got, ab, absAB)
			}
		}
	})
}

func TestZeroSizes(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		// m == 0 or n == 0: nothing is touched, even with nil slices.
		assert.NotPanics(t, func() { Sgemm(false, false, 0, 5, 3, nil, 3, make([]float32, 15), 5, 1, nil, 5) })
		assert.NotPanics(t, func() { Sgemm(false, false, 5, 0, 3, make([]float32, 15), 3, nil, 1, 1, nil, 1) })
		// k == 0: C = beta·C.
		c := []float32{1, 2, 99, 3, 4}
		Sgemm(false, true, 2, 2, 0, nil, 1, nil, 1, 0.5, c, 3)
		assert.Equal(t, []float32{0.5, 1, 99, 1.5, 2}, c)
		nan := float32(math.NaN())
		c = []float32{nan, nan, 99, nan, nan}
		Sgemm(true, false, 2, 2, 0, nil, 2, nil, 2, 0, c, 3)
		assert.Equal(t, []float32{0, 0, 99, 0, 0}, c)
	})
}

func TestBadArgumentsPanic(t *testing.T) {
	a := make([]float32, 12)
	b := make([]float32, 12)
	c := make([]float32, 9)
	assert.NotPanics(t, func() { Sgemm(false, false, 3, 3, 4, a, 4, b, 3, 0, c, 3) })
	assert.Panics(t, func() { Sgemm(false, false, -1, 3, 4, a, 4, b, 3, 0, c, 3) })
	assert.Panics(t, func() { Sgemm(false, false, 3, 3, 4, a, 3, b, 3, 0, c, 3) }, "lda < k")
	assert.Panics(t, func() { Sgemm(false, false, 3, 3, 4, a[:11], 4, b, 3, 0, c, 3) }, "short A")
	assert.Panics(t, func() { Sgemm(false, true, 3, 3, 4, a, 4, b, 3, 0, c, 3) }, "ldb < k for Bᵀ")
	assert.Panics(t, func() { Sgemm(false, false, 3, 3, 4, a, 4, b, 3, 0, c[:8], 3) }, "short C")
	assert.Panics(t, func() { Sgemm(true, false, 3, 3, 4, a, 2, b, 3, 0, c, 3) }, "lda < m for Aᵀ")
	assert.Panics(t, func() { Sgemm(false, false, 3, 3, 4, a, math.MaxInt/2, b, 3, 0, c, 3) }, "(m−1)·lda overflows")
}

func TestBitIdenticalForAnyWorkerCount(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		// Large enough to be split (parMinGemm, parMinGemv), with edges.
		split := [][3]int{{131, 157, 300}, {64, 784, 1024}, {300, 45, 600}, {1, 700, 300}, {700, 1, 300}, {20, 2000, 120}}
		for _, s := range split {
			if s[0] > 1 && s[1] > 1 {
				require.GreaterOrEqual(t, s[0]*s[1]*s[2], parMinGemm, "shape %v would not be split", s)
			} else {
				require.GreaterOrEqual(t, s[0]*s[1]*s[2], parMinGemv, "shape %v would not be split", s)
			}
		}
		for _, s := range split {
			for tr := 0; tr < 4; tr++ {
				g := newCase(rng, tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], 1)
				var want []float32
				for _, w := range []int{1, 2, 3, 4} {
					var got []float32
					withWorkers(w, func() { got = g.run(0.5, g.c) })
					if want == nil {
						want = got
						continue
					}
					require.Equal(t, bitsOf(want), bitsOf(got), "shape %v trans %d: workers %d differ from 1", s, tr, w)
				}
			}
		}
	})
}

func TestConcurrentCallsShareThePool(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cases := []gemmCase{
		newCase(rng, false, true, 96, 200, 240, 0),
		newCase(rng, true, false, 150, 64, 480, 2),
		newCase(rng, false, false, 1, 900, 300, 0),
		newCase(rng, false, false, 40, 50, 20, 1),
	}
	want := make([][]float32, len(cases))
	withWorkers(1, func() {
		for i := range cases {
			want[i] = cases[i].run(0.5, cases[i].c)
		}
	})
	withWorkers(2, func() {
		errs := make(chan string, 4*len(cases))
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for rep := 0; rep < 5; rep++ {
					for i := range cases {
						got := cases[(i+g)%len(cases)].run(0.5, cases[(i+g)%len(cases)].c)
						if !assert.ObjectsAreEqual(bitsOf(want[(i+g)%len(cases)]), bitsOf(got)) {
							errs <- fmt.Sprintf("goroutine %d, case %d differs", g, (i+g)%len(cases))
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	})
}

// bitsOf returns the bit patterns of x, so that comparisons are exact.
func bitsOf(x []float32) []uint32 {
	u := make([]uint32, len(x))
	for i, v := range x {
		u[i] = math.Float32bits(v)
	}
	return u
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range [][3]int{{128, 256, 200}, {1, 512, 512}, {512, 1, 512}, {20, 30, 10}} {
		g := newCase(rng, false, true, s[0], s[1], s[2], 0)
		withWorkers(2, func() {
			allocs := testing.AllocsPerRun(20, func() {
				Sgemm(g.transA, g.transB, g.m, g.n, g.k, g.a, g.lda, g.b, g.ldb, 1, g.c, g.ldc)
			})
			assert.Zero(t, allocs, "shape %v", s)
		})
	}
}

func TestPackersMatchLoops(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		ks := impl
		for _, width := range []int{ks.mr, ks.nr, ks.nr / 2} {
			for _, cnt := range []int{1, 3, 4, 5, width - 1, width} {
				if cnt < 1 || cnt > width {
					continue
				}
				for _, kc := range []int{1, 7, 8, 9, 16, 37} {
					ld := kc + 3
					src := randMat(rng, cnt, kc, ld)
					dst := make([]float32, kc*width)
					for i := range dst {
						dst[i] = float32(math.NaN())
					}
					packTransPanel(ks, dst, src, ld, kc, cnt, width)
					for p := 0; p < kc; p++ {
						for r := 0; r < width; r++ {
							want := float32(0)
							if r < cnt {
								want = src[r*ld+p]
							}
							require.Equal(t, want, dst[p*width+r], "trans width %d rows %d kc %d: [%d][%d]", width, cnt, kc, p, r)
						}
					}
					ld = cnt + 2
					src = randMat(rng, kc, cnt, ld)
					packCopyPanel(ks, dst, src, ld, kc, cnt, width)
					for p := 0; p < kc; p++ {
						for j := 0; j < width; j++ {
							want := float32(0)
							if j < cnt {
								want = src[p*ld+j]
							}
							require.Equal(t, want, dst[p*width+j], "copy width %d cols %d kc %d: [%d][%d]", width, cnt, kc, p, j)
						}
					}
				}
			}
		}
	})
}

func TestKernelNamesTheSetInUse(t *testing.T) {
	assert.Equal(t, kernelSets()[0].name, Kernel())
	assert.Contains(t, []string{"avx512", "avx2", "generic"}, Kernel())
}

func TestKBlocksDependOnKOnly(t *testing.T) {
	for _, k := range []int{1, 7, 8, 100, 256, 257, 784, 1024, 4096} {
		kc := kBlocks(k, 256)
		assert.LessOrEqual(t, kc, 256+7, "k=%d", k)
		assert.Zero(t, kc%8, "k=%d", k)
		assert.GreaterOrEqual(t, kc*((k+255)/256), k, "k=%d: blocks cover K", k)
	}
}

// TestDirectAIsPacked checks that reading A in place (the direct kernels,
// for n ≤ directMaxN, A transposed or not) gives the packed path's results
// bit for bit, for every beta mode, with partial row and column panels,
// on one and on several workers.
func TestDirectAIsPacked(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		if impl.direct == nil {
			t.Skipf("kernel set %s has no direct kernels", impl.name)
		}
		rng := rand.New(rand.NewPCG(7, 8))
		shapes := [][3]int{{6, 16, 1}, {7, 9, 5}, {64, 8, 300}, {131, 157, 300}, {600, 128, 1030}, {253, 500, 257}, {64, 16, 3000}}
		for _, s := range shapes {
			for tr := 0; tr < 4; tr++ {
				transA, transB := tr&1 != 0, tr&2 != 0
				for _, beta := range []float32{0, 1, 0.5} {
					g := newCase(rng, transA, transB, s[0], s[1], s[2], 1)
					for _, w := range []int{1, 2} {
						var direct, packed []float32
						withWorkers(w, func() {
							direct = g.run(beta, g.c)
							old := directMaxN
							directMaxN = -1
							packed = g.run(beta, g.c)
							directMaxN = old
						})
						require.Equal(t, bitsOf(packed), bitsOf(direct), "shape %v transA %v transB %v beta %v workers %d", s, transA, transB, beta, w)
					}
				}
			}
		}
	})
}
