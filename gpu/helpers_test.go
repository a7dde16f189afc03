//go:build (cuda || cudaemu) && cgo

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

// specials are the values where elementwise ops are easiest to get wrong:
// signed zeros, subnormals, infinities, NaN, the extremes.
var specials = []float32{
	0, float32(math.Copysign(0, -1)), math.Float32frombits(1), -math.Float32frombits(1),
	math.Float32frombits(0x007FFFFF), -math.Float32frombits(0x007FFFFF), math.SmallestNonzeroFloat32 * 3,
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
	math.MaxFloat32, -math.MaxFloat32, 1, -1, 1e-30, -1e-30, 3.5, -3.5, 20, -20,
}

// withSpecials returns n random values in [lo, hi) with specials at the front.
func withSpecials(rng *rand.Rand, n int, lo, hi float64) []float32 {
	v := randVals(rng, n, lo, hi)
	copy(v, specials)
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

// ulps is the distance between a and b in units in the last place
// (0 for two NaNs, a large number for one NaN).
func ulps(a, b float32) int64 {
	if a != a || b != b {
		if a != a && b != b {
			return 0
		}
		return math.MaxInt32
	}
	ord := func(x float32) int64 {
		u := int64(math.Float32bits(x))
		if u&0x80000000 != 0 {
			return 0x80000000 - u
		}
		return u
	}
	d := ord(a) - ord(b)
	if d < 0 {
		d = -d
	}
	return d
}

// requireULPs requires got within maxULP float32 ulps of want elementwise.
func requireULPs(t testing.TB, want, got []float32, maxULP int64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		if d := ulps(want[i], got[i]); d > maxULP {
			require.Failf(t, "values differ", "%s: element %d: want %g, got %g (%d ulp apart, at most %d allowed)",
				what, i, want[i], got[i], d, maxULP)
		}
	}
}

// requireClose requires |got − want| ≤ atol + rtol·|want| elementwise, with
// no NaN or infinity on either side.
func requireClose(t testing.TB, want, got []float32, rtol, atol float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) || math.IsNaN(w) || math.IsInf(w, 0) {
			require.Failf(t, "not finite", "%s: element %d: want %g, got %g", what, i, w, g)
		}
		if math.Abs(g-w) > atol+rtol*math.Abs(w) {
			require.Failf(t, "values differ", "%s: element %d: want %g, got %g (|diff| %g > %g)",
				what, i, w, g, math.Abs(g-w), atol+rtol*math.Abs(w))
		}
	}
}
