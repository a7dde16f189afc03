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
