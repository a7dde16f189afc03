package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
)

// refMatMul computes op(A)·op(B) + beta·C0 in float64 from the row-major
// storages a (m×k, or k×m when transA), b (k×n, or n×k when transB) and c0
// (m×n), and also |op(A)|·|op(B)| + |beta·C0|, the scale of the rounding
// error.
func refMatMul(transA, transB bool, m, n, k int, a, b, c0 []float32, beta float32) (c, scale []float64) {
	// Rows of op(A) and columns of op(B), contiguous in float64.
	ar := make([]float64, m*k)
	bc := make([]float64, n*k)
	for i := 0; i < m; i++ {
		for p := 0; p < k; p++ {
			if transA {
				ar[i*k+p] = float64(a[p*m+i])
			} else {
				ar[i*k+p] = float64(a[i*k+p])
			}
		}
	}
	for j := 0; j < n; j++ {
		for p := 0; p < k; p++ {
			if transB {
				bc[j*k+p] = float64(b[j*k+p])
			} else {
				bc[j*k+p] = float64(b[p*n+j])
			}
		}
	}
	c = make([]float64, m*n)
	scale = make([]float64, m*n)
	for i := 0; i < m; i++ {
		ai := ar[i*k : (i+1)*k]
		for j := 0; j < n; j++ {
			bj := bc[j*k : (j+1)*k]
			var s, sa float64
			for p, x := range ai {
				s += x * bj[p]
				sa += math.Abs(x * bj[p])
			}
			if beta != 0 {
				s += float64(beta) * float64(c0[i*n+j])
				sa += math.Abs(float64(beta) * float64(c0[i*n+j]))
			}
			c[i*n+j], scale[i*n+j] = s, sa
		}
	}
	return c, scale
}

// offsetMat allocates rows×cols holding vals as a view one row into a
// larger buffer, so that ops must honour Off.
func offsetMat(t *testing.T, b *Backend, rows, cols int, vals []float32) nn.Mat {
	t.Helper()
	big, err := b.Alloc(rows+2, cols)
	require.NoError(t, err)
	all := Data(big)
	for i := range all {
		all[i] = float32(math.NaN()) // poison the margins
	}
	m := big.RowView(1, rows)
	require.NoError(t, b.Upload(m, vals))
	return m
}

// matmulTolerance is the allowed error of element ij as a multiple of
// 2⁻²⁴·(|op(A)||op(B)| + |beta·C0|)ij. STYLE.md's 0.1·K is a statistical
// bound: it holds for large K (the largest error seen here for K ≥ 100 is
// 0.04·K) but not for small ones, where a single correctly rounded product
// already errs by up to 1·2⁻²⁴|a||b| and the beta·C add is one more
// rounding (1.5·K is seen at K = 1). Below K = 100 we therefore use the
// worst-case bound of recursive summation, (K+2)·2⁻²⁴: K roundings of the
// products and partial sums, the beta product and the final add. An
// indexing error is of order 1·scale, far above either.
func matmulTolerance(k int) float64 {
	if k >= 100 {
		return 0.1 * float64(k) * 0x1p-24
	}
	return float64(k+2) * 0x1p-24
}

// matmulCase is one product to check.
type matmulCase struct {
	m, n, k        int
	transA, transB bool
	beta           float32
}

func TestMatMulMatchesFloat64Reference(t *testing.T) {
	var cases []matmulCase
	// Every transpose combination and beta on awkward sizes.
	for _, s := range [][3]int{ // m, n, k
		{1, 1, 1}, {7, 7, 7}, {33, 33, 33}, {127, 127, 127}, {129, 129, 129},
		{1, 129, 33}, {129, 1, 127}, {7, 33, 129}, {33, 129, 1}, {127, 7, 33},
		{129, 127, 7}, {1, 7, 129}, {129, 33, 1}, {7, 1, 1}, {1, 1, 129}, {200, 300, 5},
	} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, beta := range []float32{0, 1, 0.5} {
				cases = append(cases, matmulCase{s[0], s[1], s[2], tr[0], tr[1], beta})
			}
		}
	}
	// The seed GAN's layers (batch, in, out) as the Linear layer multiplies:
	// y = x·Wᵀ, dx = dy·W, dW = dyᵀ·x. D's 1024→784 product is G's last one
	// transposed, so it is left out to keep the test short.
	for _, l := range [][3]int{
		{64, 100, 256}, {64, 256, 512}, {64, 512, 1024}, {64, 1024, 784},
		{64, 1024, 512}, {64, 512, 256}, {64, 256, 1},
	} {
		batch, in, out := l[0], l[1], l[2]
		cases = append(cases,
			matmulCase{batch, out, in, false, true, 0},
			matmulCase{batch, in, out, false, false, 0},
			matmulCase{out, in, batch, true, false, 0})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b := newTestBackend(t, 2)
	worst := map[bool]float64{} // largest error / (K·2⁻²⁴·scale), for K < 100 and K ≥ 100
	for _, tc := range cases {
		m, n, k, beta := tc.m, tc.n, tc.k, tc.beta
		name := fmt.Sprintf("%dx%dx%d/tA=%v/tB=%v/beta=%v", m, n, k, tc.transA, tc.transB, beta)
		av := randVals(rng, m*k, -1, 1)
		bv := randVals(rng, k*n, -1, 1)
		cv := randVals(rng, m*n, -1, 1)
		if beta == 0 {
			cv[0] = float32(math.NaN()) // must not propagate
		}
		ar, ac := m, k
		if tc.transA {
			ar, ac = k, m
		}
		br, bc := k, n
		if tc.transB {
			br, bc = n, k
		}
		a := offsetMat(t, b, ar, ac, av)
		bm := offsetMat(t, b, br, bc, bv)
		c := offsetMat(t, b, m, n, cv)
		b.MatMul(c, a, bm, tc.transA, tc.transB, beta)
		require.NoError(t, b.Sync(), name)
		got := download(t, b, c)
		want, scale := refMatMul(tc.transA, tc.transB, m, n, k, av, bv, cv, beta)
		for i := range want {
			// Plain comparisons first: testify per element would dominate the run time.
			g := float64(got[i])
			err := math.Abs(g - want[i])
			if !(err <= matmulTolerance(k)*scale[i]) { // NaN fails too
				require.Failf(t, "matmul error", "%s: C[%d] = %v, want %v ± %v", name, i, g, want[i], matmulTolerance(k)*scale[i])
			}
			if scale[i] > 0 {
				worst[k >= 100] = max(worst[k >= 100], err/(float64(k)*0x1p-24*scale[i]))
			}
		}
		// The margins around C are untouched.
		all := Data(nn.Mat{Rows: m + 2, Cols: n, Buf: c.Buf})
		for i, v := range all {
			if (i < n || i >= (m+1)*n) && !math.IsNaN(float64(v)) {
				require.Failf(t, "matmul wrote outside C", "%s: element %d of the buffer", name, i)
			}
		}
		for _, x := range []nn.Mat{a, bm, c} {
			b.Free(x)
		}
	}
	t.Logf("largest error in units of K·2⁻²⁴·(|A||B|)ij: %.3g for K < 100, %.3g for K ≥ 100", worst[false], worst[true])
}

func TestMatMulEmptyInnerDimension(t *testing.T) {
	b := newTestBackend(t, 1)
	a, err := b.Alloc(3, 0)
	require.NoError(t, err)
	bm, err := b.Alloc(0, 2)
	require.NoError(t, err)
	c := matOf(t, b, 3, 2, []float32{1, 2, 3, 4, 5, float32(math.NaN())})
	b.MatMul(c, a, bm, false, false, 2)
	require.NoError(t, b.Sync())
	got := download(t, b, c)
	assert.Equal(t, []float32{2, 4, 6, 8, 10}, got[:5])
	assert.True(t, math.IsNaN(float64(got[5])))
	b.MatMul(c, a, bm, false, false, 0)
	require.NoError(t, b.Sync())
	assert.Equal(t, make([]float32, 6), download(t, b, c))
}

// TestMatMulGradientsOfLinear checks the three products of a Linear layer,
// y = x·Wᵀ, dx = dy·W, dW = dyᵀ·x, against finite differences of the float64
// forward pass under the loss L = Σ dy ⊙ y.
func TestMatMulGradientsOfLinear(t *testing.T) {
	const batch, in, out = 5, 7, 3
	rng := rand.New(rand.NewPCG(3, 4))
	b := newTestBackend(t, 1)
	x, xv := randMat(t, b, rng, batch, in, -1, 1)
	w, wv := randMat(t, b, rng, out, in, -1, 1)
	dy, dyv := randMat(t, b, rng, batch, out, -1, 1)
	dx, err := b.Alloc(batch, in)
	require.NoError(t, err)
	dw, err := b.Alloc(out, in)
	require.NoError(t, err)
	b.MatMul(dx, dy, w, false, false, 0)
	b.MatMul(dw, dy, x, true, false, 0)
	require.NoError(t, b.Sync())

	forward := func(x, w []float64) []float64 { // y = x·Wᵀ
		y := make([]float64, batch*out)
		for i := 0; i < batch; i++ {
			for o := 0; o < out; o++ {
				for p := 0; p < in; p++ {
					y[i*out+o] += x[i*in+p] * w[o*in+p]
				}
			}
		}
		return y
	}
	x64, w64, dy64 := to64(xv), to64(wv), to64(dyv)
	wantDx := fdGrad(func(x []float64) float64 { return dot(dy64, forward(x, w64)) }, x64)
	wantDw := fdGrad(func(w []float64) float64 { return dot(dy64, forward(x64, w)) }, w64)
	requireClose(t, wantDx, download(t, b, dx), fdAtol, fdRtol, "dx")
	requireClose(t, wantDw, download(t, b, dw), fdAtol, fdRtol, "dW")

	// The forward product itself, through the n = 1 path too.
	for _, o := range []int{out, 1} {
		y, err := b.Alloc(batch, o)
		require.NoError(t, err)
		wo := w.RowView(0, o)
		b.MatMul(y, x, wo, false, true, 0)
		require.NoError(t, b.Sync())
		want := forward(x64, w64)
		got := download(t, b, y)
		for i := 0; i < batch; i++ {
			for j := 0; j < o; j++ {
				assert.InDelta(t, want[i*out+j], got[i*o+j], 1e-5)
			}
		}
	}
}
