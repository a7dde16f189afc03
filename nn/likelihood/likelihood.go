// Package likelihood measures latent-variable models in nats, as the
// likelihood literature does: the data (a fixed binarisation of a test
// set), the negative evidence lower bound, and the importance-weighted
// estimate of −log p(x) of Burda et al. (2016),
//
//	log p̂(x) = log (1/k) Σₖ wₖ,  wₖ = p(x|zₖ) p(zₖ) / q(zₖ|x),  zₖ ~ q(z|x),
//
// a lower bound of log p(x) in expectation that tightens as k grows
// (k = 5000 in the literature's tables). The log weights come from the
// model in float32; their log-mean-exp and every sum over images are taken
// in float64 on the host. It also holds the AUROC used to score anomaly
// detection.
package likelihood

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"gan/nn"
)

// DefaultK is the literature's number of importance samples.
const DefaultK = 5000

// Model is a latent-variable model that draws importance weights (the
// VAE families implement it).
type Model interface {
	// Sizes returns the values per image and the latent width.
	Sizes() (image, latent int)
	// LogWeights draws k samples per image of the targets x and writes the
	// log weights and log p(x|z) (image-major) and the closed-form KL per
	// image, numbering its noise from run; it returns the next run number.
	LogWeights(x []float32, k int, seed, run uint64, logw, logpx, kl []float32) (uint64, error)
}

// Binarize returns the fixed binarisation of images in [−1, 1] (the
// project's layout): value j is 1 when the uniform j of the stream {seed,
// PurposeBinarize, 0} is below its grey level (x+1)/2, else 0. The same
// seed gives the same set, so every model is measured on the same bits.
func Binarize(pix []float32, seed uint64) []float32 {
	key := nn.RandKey{Seed: seed, Stream: nn.StreamID(nn.PurposeBinarize, 0)}
	out := make([]float32, len(pix))
	for j, v := range pix {
		if key.Uniform(uint64(j)) < (v+1)/2 {
			out[j] = 1
		}
	}
	return out
}

// Grey maps images in [−1, 1] to grey levels in [0, 1].
func Grey(pix []float32) []float32 {
	out := make([]float32, len(pix))
	for j, v := range pix {
		out[j] = (v + 1) / 2
	}
	return out
}

// LogMeanExp returns log((1/n) Σ exp(vᵢ)) in float64, shifted by the
// largest value so that nothing overflows.
func LogMeanExp(v []float32) float64 {
	if len(v) == 0 {
		return math.Inf(-1)
	}
	mx := math.Inf(-1)
	for _, x := range v {
		mx = math.Max(mx, float64(x))
	}
	if math.IsInf(mx, 0) || math.IsNaN(mx) {
		return mx
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(float64(x) - mx)
	}
	return mx + math.Log(s/float64(len(v)))
}

// Result is a likelihood evaluation of N images with K samples each.
type Result struct {
	N, K int
	// NLL is the mean over images of −log p̂(x), the importance-weighted
	// estimate with K samples, in nats.
	NLL float64
	// NegELBO is the mean of −ELBO = E_q[−log p(x|z)] + KL(q(z|x) ‖ p(z)),
	// the expectation estimated with the same K samples and the KL in
	// closed form, in nats.
	NegELBO float64
	// Rec and KL are NegELBO's two terms (means over images).
	Rec, KL float64
	// ImageNLL and ImageNegELBO are the per-image values (anomaly scores).
	ImageNLL, ImageNegELBO []float64
	// Seconds is the wall-clock time taken.
	Seconds float64
}

// String is the result in one line.
func (r *Result) String() string {
	return fmt.Sprintf("%d images, k = %d: −log p(x) ≈ %.3f nats (importance-weighted), −ELBO %.3f (reconstruction %.3f + KL %.3f), %.1f s",
		r.N, r.K, r.NLL, r.NegELBO, r.Rec, r.KL, r.Seconds)
}

// blockValues bounds the log weights held at once.
const blockValues = 1 << 20

// Evaluate estimates the likelihood of the images x (targets: n×image
// values in [0, 1], binary for a Bernoulli model's honest likelihood) with
// k samples each, drawing from seed. progress, when not nil, is told the
// images done after each block.
func Evaluate(m Model, x []float32, k int, seed uint64, progress func(done, n int)) (*Result, error) {
	image, _ := m.Sizes()
	if image < 1 || len(x)%image != 0 || len(x) == 0 {
		return nil, fmt.Errorf("likelihood: %d values are not whole %d-value images", len(x), image)
	}
	if k < 1 {
		return nil, fmt.Errorf("likelihood: k = %d samples, need at least 1", k)
	}
	start := time.Now()
	n := len(x) / image
	per := max(1, min(n, blockValues/k))
	logw := make([]float32, per*k)
	logpx := make([]float32, per*k)
	kl := make([]float32, per)
	r := &Result{N: n, K: k, ImageNLL: make([]float64, n), ImageNegELBO: make([]float64, n)}
	var run uint64
	var sumNLL, sumELBO, sumRec, sumKL float64
	for lo := 0; lo < n; lo += per {
		ni := min(per, n-lo)
		var err error
		run, err = m.LogWeights(x[lo*image:(lo+ni)*image], k, seed, run, logw[:ni*k], logpx[:ni*k], kl[:ni])
		if err != nil {
			return nil, err
		}
		for i := range ni {
			nll := -(LogMeanExp(logw[i*k : (i+1)*k]))
			rec := 0.0
			for _, v := range logpx[i*k : (i+1)*k] {
				rec -= float64(v)
			}
			rec /= float64(k)
			elbo := rec + float64(kl[i])
			if math.IsNaN(nll) || math.IsInf(nll, 0) || math.IsNaN(elbo) || math.IsInf(elbo, 0) {
				return nil, fmt.Errorf("likelihood: image %d: −log p̂ %g, −ELBO %g are not finite", lo+i, nll, elbo)
			}
			r.ImageNLL[lo+i], r.ImageNegELBO[lo+i] = nll, elbo
			sumNLL += nll
			sumELBO += elbo
			sumRec += rec
			sumKL += float64(kl[i])
		}
		if progress != nil {
			progress(lo+ni, n)
		}
	}
	r.NLL, r.NegELBO = sumNLL/float64(n), sumELBO/float64(n)
	r.Rec, r.KL = sumRec/float64(n), sumKL/float64(n)
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// AUROC returns the area under the ROC curve of scores that should be
// higher for the positives (anomalies): the probability that a random
// positive scores above a random negative, ties counting one half (the
// Mann–Whitney statistic, from average ranks).
func AUROC(scores []float64, positive []bool) (float64, error) {
	if len(scores) != len(positive) {
		return 0, fmt.Errorf("auroc: %d scores, %d labels", len(scores), len(positive))
	}
	idx := make([]int, len(scores))
	var npos int
	for i := range idx {
		idx[i] = i
		if math.IsNaN(scores[i]) {
			return 0, fmt.Errorf("auroc: score %d is NaN", i)
		}
		if positive[i] {
			npos++
		}
	}
	nneg := len(scores) - npos
	if npos == 0 || nneg == 0 {
		return 0, errors.New("auroc: needs both positives and negatives")
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	rankSum := 0.0
	for lo := 0; lo < len(idx); {
		hi := lo + 1
		for hi < len(idx) && scores[idx[hi]] == scores[idx[lo]] {
			hi++
		}
		avg := float64(lo+hi+1) / 2 // ranks lo+1 … hi
		for _, i := range idx[lo:hi] {
			if positive[i] {
				rankSum += avg
			}
		}
		lo = hi
	}
	u := rankSum - float64(npos)*float64(npos+1)/2
	return u / (float64(npos) * float64(nneg)), nil
}
