package eval

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// gaussianOf builds a Gaussian from a mean and a dense covariance.
func gaussianOf(mean []float64, cov []float64) *Gaussian {
	d := len(mean)
	return &Gaussian{N: 100, Mean: mean, Cov: mat.NewSymDense(d, cov), Dim: d}
}

// randomSPD returns a random symmetric positive definite d×d matrix.
func randomSPD(rng *rand.Rand, d int) []float64 {
	a := mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			a.Set(i, j, rng.NormFloat64())
		}
	}
	var s mat.Dense
	s.Mul(a, a.T())
	out := make([]float64, d*d)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			out[i*d+j] = s.At(i, j) + 0.1*b2f(i == j)
		}
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// For commuting (here diagonal) covariances the Fréchet distance is
// |μ1−μ2|² + Σ(√a_i − √b_i)², and rotating both covariances by the same
// orthogonal matrix leaves it unchanged.
func TestFrechetDiagonalAndRotated(t *testing.T) {
	a := []float64{4, 1, 0.25}
	b := []float64{1, 9, 0.25}
	// μ differ by (1, 0, 0); the covariance terms are (√4−√1)² + (√1−√9)² + 0.
	want := 1 + math.Pow(2-1, 2) + math.Pow(1-3, 2)
	diag := func(v []float64) []float64 {
		m := make([]float64, 9)
		for i := range v {
			m[i*3+i] = v[i]
		}
		return m
	}
	fd, err := FrechetDistance(gaussianOf([]float64{1, 0, 0}, diag(a)), gaussianOf([]float64{0, 0, 0}, diag(b)))
	require.NoError(t, err)
	assert.InDelta(t, want, fd, 1e-12)

	// Rotate both by the same orthogonal Q: Σ → QΣQᵀ.
	rng := rand.New(rand.NewPCG(1, 2))
	var qr mat.QR
	qr.Factorize(mat.NewDense(3, 3, randomSPD(rng, 3)))
	var q mat.Dense
	qr.QTo(&q)
	rot := func(v []float64) []float64 {
		var t1, t2 mat.Dense
		t1.Mul(&q, mat.NewDense(3, 3, diag(v)))
		t2.Mul(&t1, q.T())
		return mat.DenseCopyOf(&t2).RawMatrix().Data
	}
	fd, err = FrechetDistance(gaussianOf([]float64{1, 0, 0}, rot(a)), gaussianOf([]float64{0, 0, 0}, rot(b)))
	require.NoError(t, err)
	assert.InDelta(t, want, fd, 1e-9)
}

// For 2×2 matrices, Tr((Σ1Σ2)^½) = √(tr(Σ1Σ2) + 2√det(Σ1Σ2)): a closed
// form that checks the non-commuting case.
func TestFrechetNonCommuting2x2(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 20; trial++ {
		s1, s2 := randomSPD(rng, 2), randomSPD(rng, 2)
		m1 := []float64{rng.NormFloat64(), rng.NormFloat64()}
		m2 := []float64{rng.NormFloat64(), rng.NormFloat64()}
		var p mat.Dense
		p.Mul(mat.NewDense(2, 2, s1), mat.NewDense(2, 2, s2))
		trSqrt := math.Sqrt(mat.Trace(&p) + 2*math.Sqrt(mat.Det(&p)))
		want := math.Pow(m1[0]-m2[0], 2) + math.Pow(m1[1]-m2[1], 2) + s1[0] + s1[3] + s2[0] + s2[3] - 2*trSqrt
		fd, err := FrechetDistance(gaussianOf(m1, s1), gaussianOf(m2, s2))
		require.NoError(t, err)
		assert.InDelta(t, want, fd, 1e-9*(1+want), "trial %d", trial)
	}
}

// A distribution is at distance 0 from itself, also with a singular
// covariance (fewer samples than dimensions), and the distance is symmetric.
func TestFrechetSelfAndSymmetry(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const dim = 16
	x := make([]float32, 10*dim) // 10 samples in 16-d: rank ≤ 9
	y := make([]float32, 200*dim)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range y {
		y[i] = float32(rng.NormFloat64()*2 + 1)
	}
	gx, err := FitGaussian(x, dim)
	require.NoError(t, err)
	gy, err := FitGaussian(y, dim)
	require.NoError(t, err)
	self, err := FrechetDistance(gx, gx)
	require.NoError(t, err)
	// A singular covariance costs accuracy: its zero eigenvalues come out
	// as ±ε·λ and their square roots as √(ε·λ) ≈ 1e-8·λ, so the tolerance
	// here is 1e-6 of the traces (about 16 and 64).
	assert.InDelta(t, 0, self, 1e-9)
	a, err := FrechetDistance(gx, gy)
	require.NoError(t, err)
	b, err := FrechetDistance(gy, gx)
	require.NoError(t, err)
	assert.InDelta(t, a, b, 1e-6*80)
	assert.Greater(t, a, 10.0)
}

// Samples of N(0, I) and N(m, I): the distance estimate approaches |m|².
func TestFrechetGaussianSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const dim, n = 4, 20000
	shift := []float64{1, -1, 0.5, 0}
	x := make([]float32, n*dim)
	y := make([]float32, n*dim)
	for i := 0; i < n; i++ {
		for j := 0; j < dim; j++ {
			x[i*dim+j] = float32(rng.NormFloat64())
			y[i*dim+j] = float32(rng.NormFloat64() + shift[j])
		}
	}
	gx, err := FitGaussian(x, dim)
	require.NoError(t, err)
	gy, err := FitGaussian(y, dim)
	require.NoError(t, err)
	fd, err := FrechetDistance(gx, gy)
	require.NoError(t, err)
	assert.InDelta(t, 2.25, fd, 0.05)
	// The fitted moments themselves.
	assert.InDelta(t, 1.0, gy.Mean[0], 0.03)
	assert.InDelta(t, 1.0, gy.Cov.At(1, 1), 0.05)
	assert.InDelta(t, 0.0, gy.Cov.At(0, 1), 0.05)
}

func TestFitGaussianRejects(t *testing.T) {
	_, err := FitGaussian(make([]float32, 5), 2)
	assert.Error(t, err)
	_, err = FitGaussian(make([]float32, 2), 2)
	assert.ErrorContains(t, err, "at least 2")
	_, err = FrechetDistance(gaussianOf([]float64{0}, []float64{1}), gaussianOf([]float64{0, 0}, []float64{1, 0, 0, 1}))
	assert.ErrorContains(t, err, "dimensions")
}

// oneHot returns n rows of k probabilities, row i certain of class cls(i).
func oneHot(n, k int, cls func(i int) int) []float64 {
	p := make([]float64, n*k)
	for i := 0; i < n; i++ {
		p[i*k+cls(i)] = 1
	}
	return p
}

func TestInceptionScore(t *testing.T) {
	// Confident and spread evenly: IS = k.
	assert.InDelta(t, 10, InceptionScore(oneHot(1000, 10, func(i int) int { return i % 10 }), 10), 1e-9)
	// Confident but all one class: IS = 1.
	assert.InDelta(t, 1, InceptionScore(oneHot(1000, 10, func(int) int { return 3 }), 10), 1e-9)
	// Uniform predictions: IS = 1.
	u := make([]float64, 100*10)
	for i := range u {
		u[i] = 0.1
	}
	assert.InDelta(t, 1, InceptionScore(u, 10), 1e-9)
	// Confident over 5 classes: IS = 5.
	assert.InDelta(t, 5, InceptionScore(oneHot(1000, 10, func(i int) int { return i % 5 }), 10), 1e-9)
	// A hand-computed case: two samples, p1 = (0.9, 0.1), p2 = (0.1, 0.9):
	// marginal (0.5, 0.5), KL = 0.9 ln 1.8 + 0.1 ln 0.2 for each.
	want := math.Exp(0.9*math.Log(1.8) + 0.1*math.Log(0.2))
	assert.InDelta(t, want, InceptionScore([]float64{0.9, 0.1, 0.1, 0.9}, 2), 1e-12)
	assert.True(t, math.IsNaN(InceptionScore(nil, 10)))
}

func TestHistogramKLCoverage(t *testing.T) {
	probs := oneHot(100, 10, func(i int) int {
		switch {
		case i < 50:
			return 0
		case i < 99:
			return 1 + i%8 // classes 1…8
		}
		return 9 // one sample: 1% < 2%
	})
	h := Histogram(probs, 10)
	assert.Equal(t, 100, sum(h))
	assert.Equal(t, 50, h[0])
	assert.Equal(t, 1, h[9])
	s := Shares(h)
	assert.Equal(t, 9, Covered(s)) // class 9 holds 1%
	// KL by hand: Σ h log(10 h).
	var want float64
	for _, v := range s {
		if v > 0 {
			want += v * math.Log(10*v)
		}
	}
	assert.InDelta(t, want, KLToUniform(s), 1e-12)
	assert.InDelta(t, 0, KLToUniform([]float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}), 1e-12)
	assert.InDelta(t, math.Log(10), KLToUniform([]float64{0, 0, 1, 0, 0, 0, 0, 0, 0, 0}), 1e-12)
	assert.Equal(t, []float64{0, 0}, Shares([]int{0, 0}))
	// Ties go to the first class.
	assert.Equal(t, []int{1, 0}, Histogram([]float64{0.5, 0.5}, 2))
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}

func TestConfidentShare(t *testing.T) {
	p := []float64{
		0.95, 0.05, // confident
		0.9, 0.1, // exactly 0.9: not above
		0.5, 0.5,
		0.05, 0.95, // confident
	}
	assert.InDelta(t, 0.5, ConfidentShare(p, 2), 1e-12)
	assert.True(t, math.IsNaN(ConfidentShare(nil, 2)))
}

func TestMeanMedian(t *testing.T) {
	m, med := meanMedian([]float64{3, 1, 2, 10})
	assert.InDelta(t, 4, m, 1e-12)
	assert.InDelta(t, 2.5, med, 1e-12)
	m, med = meanMedian([]float64{5, 1, 3})
	assert.InDelta(t, 3, m, 1e-12)
	assert.InDelta(t, 3, med, 1e-12)
	m, _ = meanMedian(nil)
	assert.True(t, math.IsNaN(m))
}

func TestDiagnose(t *testing.T) {
	real := &Metrics{N: 100, FID: 2, Covered: 10, ClassKL: 0.01, Confident: 0.95, NNDist: 10}
	ok := &Metrics{N: 100, FID: 15, Covered: 10, ClassKL: 0.05, Confident: 0.9, NNDist: 9}
	assert.Empty(t, Diagnose(ok, real))
	bad := &Metrics{N: 100, FID: 100, Covered: 3, ClassKL: 1.2, Confident: 0.2, NNDist: 1}
	flags := Diagnose(bad, real)
	require.Len(t, flags, 5)
	for i, want := range []string{"mode collapse", "uneven classes", "far from the data", "unrecognisable", "possible memorisation"} {
		assert.Contains(t, flags[i], want)
	}
	// A NaN FID is flagged, not silently passed.
	nan := *ok
	nan.FID = math.NaN()
	assert.Len(t, Diagnose(&nan, real), 1)
}

// TestFrechetOfACollapsedGenerator: samples that are all one image up to
// rounding are at distance |μ1 − μ2|² + TrΣ2 from the data. (The features
// of a real collapsed run, 10,000 samples of one digit, once gave −3e52:
// the eigendecomposition of the degenerate product returned eigenvalues
// far beyond the Cauchy–Schwarz bound, which FrechetDistance now clips to;
// with the clip that run's FID is 345.48, as with 2,000 samples. This
// synthetic case does not reproduce the eigensolver's failure; it checks
// the value the clip must give.)
func TestFrechetOfACollapsedGenerator(t *testing.T) {
	const dim, n = 64, 5000
	rng := rand.New(rand.NewPCG(9, 10))
	one := make([]float32, dim)
	for j := range one {
		one[j] = float32(rng.NormFloat64() * 3)
	}
	same := make([]float32, 0, n*dim)
	for range n {
		for _, v := range one { // one image, up to float32 rounding
			same = append(same, v*(1+float32(rng.NormFloat64())*1e-7))
		}
	}
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	a, err := FitGaussian(same, dim)
	require.NoError(t, err)
	b, err := FitGaussian(data, dim)
	require.NoError(t, err)
	fd, err := FrechetDistance(a, b)
	require.NoError(t, err)
	want := mat.Trace(b.Cov)
	for j := range a.Mean {
		d := a.Mean[j] - b.Mean[j]
		want += d * d
	}
	require.InDelta(t, want, fd, 1e-4*want)
}
