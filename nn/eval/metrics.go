package eval

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Gaussian is the mean and covariance of a set of feature vectors, in
// float64: the statistics a Fréchet distance compares.
type Gaussian struct {
	N    int           // number of vectors
	Mean []float64     // Dim values
	Cov  *mat.SymDense // Dim×Dim, unbiased (divided by N−1)
	Dim  int
}

// FitGaussian computes the mean and unbiased covariance of the n vectors of
// width dim stored row-major in x (n ≥ 2).
func FitGaussian(x []float32, dim int) (*Gaussian, error) {
	if dim < 1 || len(x)%dim != 0 {
		return nil, fmt.Errorf("gaussian fit: %d values are not whole %d-vectors", len(x), dim)
	}
	n := len(x) / dim
	if n < 2 {
		return nil, fmt.Errorf("gaussian fit: %d vectors, need at least 2", n)
	}
	mean := make([]float64, dim)
	for i := 0; i < n; i++ {
		for j, v := range x[i*dim : (i+1)*dim] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	centred := mat.NewDense(n, dim, nil)
	for i := 0; i < n; i++ {
		row := centred.RawRowView(i)
		for j, v := range x[i*dim : (i+1)*dim] {
			row[j] = float64(v) - mean[j]
		}
	}
	cov := mat.NewSymDense(dim, nil)
	cov.SymOuterK(1/float64(n-1), centred.T())
	return &Gaussian{N: n, Mean: mean, Cov: cov, Dim: dim}, nil
}

// FrechetDistance is the Fréchet distance between two Gaussians,
//
//	d² = |μ1 − μ2|² + Tr(Σ1 + Σ2 − 2(Σ1Σ2)^½),
//
// the formula of FID (Heusel et al., 2017). The trace of the matrix square
// root is computed stably from symmetric eigendecompositions: with
// S = Σ1^½, Σ1Σ2 is similar to S·Σ2·S, which is symmetric positive
// semi-definite, so Tr((Σ1Σ2)^½) = Σ √λ over its eigenvalues λ (tiny
// negative ones, rounding noise, count as 0).
func FrechetDistance(a, b *Gaussian) (float64, error) {
	if a.Dim != b.Dim {
		return 0, fmt.Errorf("frechet distance: dimensions %d and %d differ", a.Dim, b.Dim)
	}
	var d2 float64
	for j := range a.Mean {
		d := a.Mean[j] - b.Mean[j]
		d2 += d * d
	}
	s, err := sqrtPSD(a.Cov)
	if err != nil {
		return 0, err
	}
	var t, m mat.Dense
	t.Mul(s, b.Cov)
	m.Mul(&t, s)
	sym := symmetrize(&m)
	var eig mat.EigenSym
	if !eig.Factorize(sym, false) {
		return 0, fmt.Errorf("frechet distance: eigendecomposition did not converge")
	}
	var trSqrt float64
	for _, l := range eig.Values(nil) {
		if l > 0 {
			trSqrt += math.Sqrt(l)
		}
	}
	// For positive semi-definite Σ1, Σ2, Tr((Σ1Σ2)^½) ≤ √(TrΣ1·TrΣ2)
	// (Cauchy–Schwarz). The eigendecomposition of a numerically degenerate
	// S·Σ2·S — a collapsed generator, whose features are all but identical,
	// leaves Σ1 as rounding noise — can return eigenvalues far beyond that
	// bound (a FID of −3e52 was seen on 10,000 samples of one digit); the
	// bound is the exact value when Σ1 is (a multiple of) 0, so clip to it.
	trA, trB := mat.Trace(a.Cov), mat.Trace(b.Cov)
	if bound := math.Sqrt(math.Max(trA, 0) * math.Max(trB, 0)); !(trSqrt <= bound) {
		trSqrt = bound
	}
	fd := d2 + trA + trB - 2*trSqrt
	// Near-equal distributions with singular covariances (fewer samples than
	// dimensions) leave rounding noise of order √ε·trace: an eigenvalue ε·λ
	// of the square root's input becomes √(ε·λ). Clip it at 0.
	if fd < 0 && fd > -1e-6*(mat.Trace(a.Cov)+mat.Trace(b.Cov)+1) {
		fd = 0
	}
	return fd, nil
}

// sqrtPSD returns the symmetric square root V·diag(√max(λ,0))·Vᵀ of a
// symmetric positive semi-definite matrix.
func sqrtPSD(a *mat.SymDense) (*mat.Dense, error) {
	var eig mat.EigenSym
	if !eig.Factorize(a, true) {
		return nil, fmt.Errorf("matrix square root: eigendecomposition did not converge")
	}
	vals := eig.Values(nil)
	var v mat.Dense
	eig.VectorsTo(&v)
	n := len(vals)
	scaled := mat.NewDense(n, n, nil)
	for j, l := range vals {
		r := 0.0
		if l > 0 {
			r = math.Sqrt(l)
		}
		for i := 0; i < n; i++ {
			scaled.Set(i, j, v.At(i, j)*r)
		}
	}
	var s mat.Dense
	s.Mul(scaled, v.T())
	return &s, nil
}

// symmetrize returns (m + mᵀ)/2, removing the rounding asymmetry of a
// product that is symmetric in exact arithmetic.
func symmetrize(m *mat.Dense) *mat.SymDense {
	n, _ := m.Dims()
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, (m.At(i, j)+m.At(j, i))/2)
		}
	}
	return s
}

// InceptionScore is exp(E_x KL(p(y|x) ‖ p(y))) over the n rows of probs
// (n×k class probabilities), with p(y) the mean row: the Inception score of
// Salimans et al. (2016) computed on one split with any classifier. It is 1
// when every sample gets the same prediction and k when predictions are
// confident and spread evenly over the k classes.
func InceptionScore(probs []float64, k int) float64 {
	n := len(probs) / k
	if n == 0 {
		return math.NaN()
	}
	marginal := make([]float64, k)
	for i := 0; i < n; i++ {
		for c, p := range probs[i*k : (i+1)*k] {
			marginal[c] += p
		}
	}
	for c := range marginal {
		marginal[c] /= float64(n)
	}
	var kl float64
	for i := 0; i < n; i++ {
		for c, p := range probs[i*k : (i+1)*k] {
			if p > 0 {
				kl += p * (math.Log(p) - math.Log(marginal[c]))
			}
		}
	}
	return math.Exp(kl / float64(n))
}

// Histogram counts the arg max class of each row of probs (n×k), first
// index winning ties.
func Histogram(probs []float64, k int) []int {
	h := make([]int, k)
	n := len(probs) / k
	for i := 0; i < n; i++ {
		row := probs[i*k : (i+1)*k]
		best := 0
		for c, p := range row {
			if p > row[best] {
				best = c
			}
		}
		h[best]++
	}
	return h
}

// Shares turns counts into fractions of their total (all zero when the
// total is zero).
func Shares(counts []int) []float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	s := make([]float64, len(counts))
	if total == 0 {
		return s
	}
	for i, c := range counts {
		s[i] = float64(c) / float64(total)
	}
	return s
}

// KLToUniform is KL(h ‖ uniform) in nats, Σ h_c·log(k·h_c) over the k
// shares h (0·log 0 = 0): 0 for a uniform histogram, log k when every
// sample falls in one class.
func KLToUniform(shares []float64) float64 {
	k := float64(len(shares))
	var kl float64
	for _, h := range shares {
		if h > 0 {
			kl += h * math.Log(k*h)
		}
	}
	return kl
}

// CoverageShare is the share of samples a class must hold to count as
// covered by [Covered].
const CoverageShare = 0.02

// Covered counts the classes holding at least CoverageShare of the samples.
func Covered(shares []float64) int {
	n := 0
	for _, h := range shares {
		if h >= CoverageShare {
			n++
		}
	}
	return n
}

// ConfidenceThreshold is the probability above which a prediction counts as
// confident in [ConfidentShare].
const ConfidenceThreshold = 0.9

// ConfidentShare is the share of rows of probs (n×k) whose largest
// probability exceeds ConfidenceThreshold.
func ConfidentShare(probs []float64, k int) float64 {
	n := len(probs) / k
	if n == 0 {
		return math.NaN()
	}
	c := 0
	for i := 0; i < n; i++ {
		mx := 0.0
		for _, p := range probs[i*k : (i+1)*k] {
			mx = math.Max(mx, p)
		}
		if mx > ConfidenceThreshold {
			c++
		}
	}
	return float64(c) / float64(n)
}
