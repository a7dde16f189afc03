//go:build (gancuda || cudaemu) && cgo

package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
)

// reduced reports whether the long tests should run a subset: in the
// emulator, and with -short (which scripts/gpu-run.sh passes under
// compute-sanitizer, where kernels run many times slower).
func reduced() bool { return emulated || testing.Short() }

// pair is a CUDA backend and the CPU backend it is compared with.
type pair struct {
	g *Backend
	c *cpu.Backend
}

func newPair(t *testing.T) pair {
	t.Helper()
	g := testBackend(t)
	c := cpu.New()
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return pair{g: g, c: c}
}

// upload allocates a rows×cols matrix on b holding v.
func upload(t testing.TB, b nn.Backend, rows, cols int, v []float32) nn.Mat {
	t.Helper()
	m, err := b.Alloc(rows, cols)
	require.NoError(t, err)
	require.NoError(t, b.Upload(m, v))
	return m
}

// download returns m's values, failing t on a backend error.
func download(t testing.TB, b nn.Backend, m nn.Mat) []float32 {
	t.Helper()
	v := make([]float32, m.Len())
	require.NoError(t, b.Download(v, m))
	return v
}

// both uploads v as rows×cols to both backends.
func (p pair) both(t testing.TB, rows, cols int, v []float32) (g, c nn.Mat) {
	t.Helper()
	return upload(t, p.g, rows, cols, v), upload(t, p.c, rows, cols, v)
}

// randVals returns n values uniform in [lo, hi).
func randVals(rng *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return v
}

// requireSameBits requires got and want to be identical floats: equal bits,
// or both NaN (a GPU returns the canonical NaN where x86 keeps the payload).
func requireSameBits(t testing.TB, want, got []float32, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		w, g := want[i], got[i]
		if (w != w && g != g) || math.Float32bits(w) == math.Float32bits(g) {
			continue
		}
		require.Failf(t, "values differ", "%s: element %d: want %g (%#08x), got %g (%#08x)",
			what, i, w, math.Float32bits(w), g, math.Float32bits(g))
	}
}
