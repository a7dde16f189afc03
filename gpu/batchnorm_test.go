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

// TestBatchNormMatchesCPU compares BatchNorm and BatchNormBackward with the
// CPU backend on shapes that exercise one and many row chunks, partial
// blocks of 32 columns and single columns, with and without gamma and
// beta, in place (y = x, dx = dy), and without dgamma or dbeta. The
// statistics and parameter gradients (float64 sums in another order) must
// agree to 1 float32 ulp; y must be bit-exact in every column whose mean
// and variance are, dx within 1 ulp (its column sums differ by float64
// rounding only). A second run must reproduce every bit.
func TestBatchNormMatchesCPU(t *testing.T) {
	p := newPair(t)
	shapes := [][2]int{{7, 1}, {1, 5}, {100, 3}, {600, 40}, {3136, 128}}
	if !reduced() {
		shapes = append(shapes, [2]int{50176, 1}, [2]int{50176, 64}, [2]int{300000, 2})
	} else {
		shapes = append(shapes, [2]int{50176, 1})
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for _, sh := range shapes {
		m, n := sh[0], sh[1]
		for _, v := range []struct {
			name                   string
			gamma, beta, inPlace   bool
			paramGrads, onlyDGamma bool
		}{
			{name: "affine", gamma: true, beta: true, paramGrads: true},
			{name: "none"},
			{name: "gamma in place", gamma: true, inPlace: true, paramGrads: true},
			{name: "beta, dgamma only", beta: true, paramGrads: true, onlyDGamma: true},
		} {
			t.Run(fmt.Sprintf("%dx%d/%s", m, n, v.name), func(t *testing.T) {
				x := randVals(rng, m*n, -3, 3)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						switch j % 4 {
						case 1:
							x[i*n+j] += 100 // far from zero: the variance must not cancel
						case 2:
							x[i*n+j] = 0.75 // variance 0
						}
					}
				}
				dy := randVals(rng, m*n, -1, 1)
				gamma, beta := randVals(rng, n, 0.5, 2), randVals(rng, n, -1, 1)
				eps := float32(1e-5)

				type out struct{ y, mean, variance, dx, dgamma, dbeta []float32 }
				// run does the forward pass, then the backward pass with the
				// statistics given (the CPU's, so that both backends' dx and
				// parameter gradients start from the same x̂).
				run := func(b nn.Backend, stats func(o out) (mean, variance []float32)) out {
					xm, dym := upload(t, b, m, n, x), upload(t, b, m, n, dy)
					mean, variance := upload(t, b, 1, n, make([]float32, n)), upload(t, b, 1, n, make([]float32, n))
					var gm, bm, dgm, dbm nn.Mat
					if v.gamma {
						gm = upload(t, b, 1, n, gamma)
					}
					if v.beta {
						bm = upload(t, b, 1, n, beta)
					}
					if v.paramGrads {
						dgm = upload(t, b, 1, n, randVals(rng, n, -1, 1)) // overwritten
						if !v.onlyDGamma {
							dbm = upload(t, b, 1, n, randVals(rng, n, -1, 1))
						}
					}
					y, dx := xm, dym
					if !v.inPlace {
						y = upload(t, b, m, n, make([]float32, m*n))
						dx = upload(t, b, m, n, make([]float32, m*n))
					}
					b.BatchNorm(y, mean, variance, xm, gm, bm, eps)
					o := out{y: download(t, b, y), mean: download(t, b, mean), variance: download(t, b, variance)}
					// Backward from the forward pass's input, which y = x
					// has overwritten.
					xb := xm
					if v.inPlace {
						xb = upload(t, b, m, n, x)
					}
					mu, vr := stats(o)
					require.NoError(t, b.Upload(mean, mu))
					require.NoError(t, b.Upload(variance, vr))
					b.BatchNormBackward(dx, dgm, dbm, dym, xb, mean, variance, gm, eps)
					o.dx = download(t, b, dx)
					if !dgm.Empty() {
						o.dgamma = download(t, b, dgm)
					}
					if !dbm.Empty() {
						o.dbeta = download(t, b, dbm)
					}
					return o
				}
				own := func(o out) ([]float32, []float32) { return o.mean, o.variance }
				want := run(p.c, own)
				cpuStats := func(out) ([]float32, []float32) { return want.mean, want.variance }
				got := run(p.g, cpuStats)
				requireULPs(t, want.mean, got.mean, 1, "mean")
				requireULPs(t, want.variance, got.variance, 1, "variance")
				requireULPs(t, want.dgamma, got.dgamma, 1, "dgamma")
				requireULPs(t, want.dbeta, got.dbeta, 1, "dbeta")
				requireULPs(t, want.dx, got.dx, 1, "dx")
				exact := 0
				for j := 0; j < n; j++ {
					same := want.mean[j] == got.mean[j] && want.variance[j] == got.variance[j]
					if same {
						exact++
					}
					// Otherwise y carries the 1-ulp differences of μ̃ (through
					// x − μ̃) and of σ̃² (through r, relatively 2⁻²⁴).
					r := 1 / math.Sqrt(float64(want.variance[j])+float64(eps))
					g, bt := 1.0, 0.0
					if v.gamma {
						g = math.Abs(float64(gamma[j]))
					}
					if v.beta {
						bt = math.Abs(float64(beta[j]))
					}
					for i := 0; i < m; i++ {
						k := i*n + j
						if same {
							require.Equal(t, math.Float32bits(want.y[k]), math.Float32bits(got.y[k]),
								"y[%d][%d]: want %g, got %g (column statistics identical)", i, j, want.y[k], got.y[k])
							continue
						}
						xh := math.Abs(float64(x[k])-float64(want.mean[j])) * r
						tol := 2*g*r*ulp32(float64(want.mean[j])) + g*xh*0x1p-21 + 4*ulp32(float64(want.y[k])) + 4*ulp32(bt)
						require.LessOrEqual(t, math.Abs(float64(want.y[k])-float64(got.y[k])), tol,
							"y[%d][%d]: want %g, got %g", i, j, want.y[k], got.y[k])
					}
				}
				require.Positive(t, exact, "no column with the CPU's statistics")

				again := run(p.g, cpuStats)
				requireSameBits(t, got.y, again.y, "y, second run")
				requireSameBits(t, got.mean, again.mean, "mean, second run")
				requireSameBits(t, got.variance, again.variance, "variance, second run")
				requireSameBits(t, got.dx, again.dx, "dx, second run")
				requireSameBits(t, got.dgamma, again.dgamma, "dgamma, second run")
				requireSameBits(t, got.dbeta, again.dbeta, "dbeta, second run")
			})
		}
	}
}

// requireULPs requires got to be within ulps float32 ulps of want, element
// by element (an ulp at the larger magnitude; equal values, zeros of either
// sign and NaNs at the same place pass).
func requireULPs(t testing.TB, want, got []float32, ulps int, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		w, g := want[i], got[i]
		if w == g || (w != w && g != g) {
			continue
		}
		ulp := ulp32(max(math.Abs(float64(w)), math.Abs(float64(g))))
		if math.Abs(float64(w)-float64(g)) > float64(ulps)*ulp {
			require.Failf(t, "values differ", "%s: element %d: want %g (%#08x), got %g (%#08x), %.3g ulps",
				what, i, w, math.Float32bits(w), g, math.Float32bits(g), math.Abs(float64(w)-float64(g))/ulp)
		}
	}
}

// ulp32 is the spacing of the float32 values at |a| (a a float32 value).
func ulp32(a float64) float64 {
	f := float32(math.Abs(a))
	return float64(math.Nextafter32(f, float32(math.Inf(1)))) - float64(f)
}
