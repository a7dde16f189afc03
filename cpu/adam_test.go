package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

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
