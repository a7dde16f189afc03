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
