package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
)

// refAdam is PyTorch's Adam (no weight decay) in float64.
func refAdam(p, g, m, v []float64, lr, beta1, beta2, eps float64, step int) {
	bc1 := 1 - math.Pow(beta1, float64(step))
	bc2 := 1 - math.Pow(beta2, float64(step))
	for i := range p {
		m[i] = beta1*m[i] + (1-beta1)*g[i]
		v[i] = beta2*v[i] + (1-beta2)*g[i]*g[i]
		p[i] -= lr / bc1 * m[i] / (math.Sqrt(v[i])/math.Sqrt(bc2) + eps)
	}
}

func TestAdamMatchesFloat64Reference(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	b := newTestBackend(t, 2)
	const n = 70001 // split over the workers
	s := nn.AdamStep{LR: 2e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	p, pv := randMat(t, b, rng, 1, n, -1, 1)
	m, err := b.Alloc(1, n)
	require.NoError(t, err)
	v, err := b.Alloc(1, n)
	require.NoError(t, err)
	g, err := b.Alloc(1, n)
	require.NoError(t, err)
	p64 := to64(pv)
	m64, v64 := make([]float64, n), make([]float64, n)
	for step := 1; step <= 5; step++ {
		gv := randVals(rng, n, -1, 1)
		gv[0] = 0            // a zero gradient at the first step: m/denom = 0/eps
		gv[1] = 1e-6 * gv[1] // tiny gradients make the step ≈ lr·sign(g)
		require.NoError(t, b.Upload(g, gv))
		s.Step = step
		b.Adam(p, g, m, v, s)
		require.NoError(t, b.Sync())
		refAdam(p64, to64(gv), m64, v64, float64(s.LR), float64(s.Beta1), float64(s.Beta2), float64(s.Eps), step)
		// STYLE.md: within atol 1e-7 + rtol 1e-6 after a step.
		requireClose(t, p64, download(t, b, p), 1e-7, 1e-6, "p")
		requireClose(t, m64, download(t, b, m), 1e-7, 1e-6, "m")
		requireClose(t, v64, download(t, b, v), 1e-12, 1e-5, "v")
	}
	// The first step moves each parameter by about lr against its gradient.
	b2 := newTestBackend(t, 1)
	p1 := matOf(t, b2, 1, 2, []float32{0, 0})
	g1 := matOf(t, b2, 1, 2, []float32{3, -0.01})
	m1, _ := b2.Alloc(1, 2)
	v1, _ := b2.Alloc(1, 2)
	b2.Adam(p1, g1, m1, v1, nn.AdamStep{LR: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1})
	require.NoError(t, b2.Sync())
	got := download(t, b2, p1)
	assert.InDelta(t, -0.01, got[0], 1e-8)
	assert.InDelta(t, 0.01, got[1], 1e-7)
}

// TestAdamVectorMatchesScalar checks that the vector kernel (AVX on amd64;
// none with -tags purego, where this compares the Go loop with itself)
// gives bit for bit the Go loop's results, on lengths that are not a
// multiple of its width and on extreme gradients.
func TestAdamVectorMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const n = 1003
	p, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range p {
		p[i] = 2*rng.Float32() - 1
		g[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(20)-10)))
		m[i] = float32(rng.NormFloat64() * 1e-3)
		v[i] = float32(rng.Float64() * 1e-6)
	}
	g[0], g[1], g[2], g[3] = 0, float32(math.Copysign(0, -1)), 1e-38, -3e38
	v[4] = 0
	for _, step := range []int{1, 2, 1000} {
		bc1 := 1 - math.Pow(0.9, float64(step))
		bc2 := 1 - math.Pow(0.999, float64(step))
		j := adamJob{w1: float32(1 - 0.9), beta2: 0.999, w2: float32(1 - 0.999),
			stepSize: float32(2e-4 / bc1), bc2sqrt: float32(math.Sqrt(bc2)), eps: 1e-8}
		for _, lo := range []int{0, 3} {
			pv, mv, vv := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
			ps, ms, vs := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
			j.p, j.g, j.m, j.v = pv, g, mv, vv
			j.run(lo, n)
			j.scalar(ps[lo:], g[lo:], ms[lo:], vs[lo:])
			for i := range pv {
				require.Equal(t, math.Float32bits(ps[i]), math.Float32bits(pv[i]), "p[%d], step %d, from %d", i, step, lo)
				require.Equal(t, math.Float32bits(ms[i]), math.Float32bits(mv[i]), "m[%d], step %d, from %d", i, step, lo)
				require.Equal(t, math.Float32bits(vs[i]), math.Float32bits(vv[i]), "v[%d], step %d, from %d", i, step, lo)
			}
		}
	}
}
