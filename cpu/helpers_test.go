package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn"
)

// newTestBackend returns a backend with the given number of workers, closed
// when the test ends.
func newTestBackend(t testing.TB, workers int) *Backend {
	t.Helper()
	b := NewWithWorkers(workers)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// matOf allocates a rows×cols matrix on b holding vals.
func matOf(t testing.TB, b *Backend, rows, cols int, vals []float32) nn.Mat {
	t.Helper()
	m, err := b.Alloc(rows, cols)
	require.NoError(t, err)
	require.NoError(t, b.Upload(m, vals))
	return m
}

// randMat allocates a rows×cols matrix of uniform values in [lo, hi).
func randMat(t testing.TB, b *Backend, rng *rand.Rand, rows, cols int, lo, hi float32) (nn.Mat, []float32) {
	t.Helper()
	v := randVals(rng, rows*cols, lo, hi)
	return matOf(t, b, rows, cols, v), v
}

// randVals returns n uniform values in [lo, hi).
func randVals(rng *rand.Rand, n int, lo, hi float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + (hi-lo)*rng.Float32()
	}
	return v
}

// download copies m to a new slice, requiring success.
func download(t testing.TB, b *Backend, m nn.Mat) []float32 {
	t.Helper()
	out := make([]float32, m.Len())
	require.NoError(t, b.Download(out, m))
	return out
}

// to64 widens a float32 slice.
func to64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// requireClose checks |got−want| ≤ atol + rtol·|want| element by element.
func requireClose(t testing.TB, want []float64, got []float32, atol, rtol float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		g := float64(got[i])
		if !(math.Abs(g-want[i]) <= atol+rtol*math.Abs(want[i])) || math.IsInf(g, 0) {
			require.Failf(t, "values differ", "%s[%d]: got %v, want %v (atol %g, rtol %g)", what, i, g, want[i], atol, rtol)
		}
	}
}

// requireBits checks that two float32 slices are bit-identical.
func requireBits(t testing.TB, want, got []float32, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			require.Failf(t, "bits differ", "%s[%d]: got %v (%#08x), want %v (%#08x)", what, i,
				got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// Finite-difference settings (gradcheck's defaults).
const (
	fdEps  = 1e-6
	fdAtol = 1e-5
	fdRtol = 1e-3
)

// fdGrad returns the central-difference gradient of f at x, in float64.
func fdGrad(f func(x []float64) float64, x []float64) []float64 {
	g := make([]float64, len(x))
	xs := append([]float64(nil), x...)
	for i := range xs {
		v := xs[i]
		xs[i] = v + fdEps
		fp := f(xs)
		xs[i] = v - fdEps
		fm := f(xs)
		xs[i] = v
		g[i] = (fp - fm) / (2 * fdEps)
	}
	return g
}

// dot is Σ w_i·y_i in float64: the loss whose upstream gradient is w.
func dot(w, y []float64) float64 {
	var s float64
	for i := range w {
		s += w[i] * y[i]
	}
	return s
}
