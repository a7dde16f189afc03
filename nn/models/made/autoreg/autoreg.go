// Package autoreg is what the autoregressive families (MADE, PixelCNN)
// share: dynamic binarisation of the training images, the fixed binarised
// test set, exact log-likelihoods summed in float64, and Bernoulli draws
// from the shared generator for sequential sampling.
//
// The binarisation follows the VAE family's definitions (nn/models/vae):
// a training pixel of grey level p ∈ [0, 1] is 1 when a fresh uniform
// u < p (a new draw at every step, on the device), and the test set is
// binarised once, on the host, pixel j of the set being 1 when element j
// of the stream (seed 0, PurposeBinarize, index 0) is below its grey level.
// When a shared package for this lands (nn/likelihood), this one should
// be folded into it.
package autoreg

import (
	"fmt"
	"math"

	"gan/nn"
	"gan/nn/graph"
)

// Side is the image side the families model (binarised MNIST).
const Side = 28

// Dim is the number of pixels of an image.
const Dim = Side * Side

// binarizeScale maps every positive difference of two grey levels in
// [0, 1] far past tanh's saturation, and 1 to a finite float32.
const binarizeScale = 0x1p100

var relu = nn.Act{Kind: nn.ActLeakyReLU}

// Binarize returns the Bernoulli draws [u < p] of the grey levels p given
// the uniforms u in [0, 1), as exact zeros and ones from existing ops:
// tanh(2¹⁰⁰·relu(p − u)) (the VAE family's formula). No gradient flows
// through it.
func Binarize(g *graph.Graph, p, u *graph.Node) *graph.Node {
	return g.Act(g.Scale(g.Act(g.Sub(p, u), relu), binarizeScale), nn.Act{Kind: nn.ActTanh})
}

// Dynamic returns the training batch x (pixels in [−1, 1]) binarised with
// fresh uniforms at every step, drawn from the stream slot of the family's
// allocator.
func Dynamic(g *graph.Graph, x *graph.Node, slots *nn.StreamSlots) *graph.Node {
	p := g.AddConst(g.Scale(x, 0.5), 0.5)
	u := g.RandUniform(x.Shape(), 0, 1, graph.StepStream(nn.PurposeRandom, slots.Next()))
	return Binarize(g, p, u)
}

// TestKey is the stream of the fixed binarisation of an evaluation set.
var TestKey = nn.RandKey{Seed: 0, Stream: nn.StreamID(nn.PurposeBinarize, 0)}

// FixedBinarize returns the images pix (values in [−1, 1]) binarised once
// with TestKey: value j is 1 when uniform j < (pix[j]+1)/2, else 0.
func FixedBinarize(pix []float32) []float32 {
	out := make([]float32, len(pix))
	for blk := 0; blk*4 < len(pix); blk++ {
		w := TestKey.Block(uint64(blk))
		for k := 0; k < 4 && blk*4+k < len(pix); k++ {
			j := blk*4 + k
			if nn.UniformFromWord(w[k]) < (pix[j]+1)*0.5 {
				out[j] = 1
			}
		}
	}
	return out
}

// LogSigmoid is log σ(l) in float64, stable for large |l|.
func LogSigmoid(l float64) float64 {
	if l >= 0 {
		return -math.Log1p(math.Exp(-l))
	}
	return l - math.Log1p(math.Exp(l))
}

// LogProbRows adds to out[i] the Bernoulli log-likelihood of row i of the
// binary values x under the logits (both n×d, row after row), in float64:
// Σ_j x_j·log σ(l_j) + (1 − x_j)·log σ(−l_j).
func LogProbRows(x, logits []float32, d int, out []float64) {
	for i := range out {
		s := 0.0
		for j := i * d; j < (i+1)*d; j++ {
			l := float64(logits[j])
			if x[j] > 0.5 {
				s += LogSigmoid(l)
			} else {
				s += LogSigmoid(-l)
			}
		}
		out[i] += s
	}
}

// Likelihood is a model with an exact likelihood of binary images.
type Likelihood interface {
	// LogProb writes log p(x) in nats for each row of x (n×784 values 0 or
	// 1, host memory) to out (n values).
	LogProb(x []float32, out []float64) error
}

// Completer is a model that samples images pixel by pixel in raster order
// and so can complete an image whose first rows are given.
type Completer interface {
	// Complete writes n images to out (n×784 values in [−1, 1]): the first
	// rows rows of image i are copied from known (n×784 values 0 or 1), the
	// others are drawn pixel by pixel, pixel j of image i from the normal
	// z[i·784+j] (a Bernoulli draw: 1 when Φ(z) < σ(logit)).
	Complete(z, known []float32, rows int, out []float32) error
}

// Draw returns the Bernoulli draw of a pixel of logit l from the standard
// normal z: 1 when Φ(z) < σ(l). Φ(z) is uniform for a normal z, so the draw
// is 1 with probability σ(l); both sides are computed in float64.
func Draw(z float32, l float32) float32 {
	u := 0.5 * math.Erfc(-float64(z)/math.Sqrt2)
	p := 1 / (1 + math.Exp(-float64(l)))
	if u < p {
		return 1
	}
	return 0
}

// Result is a test-set likelihood.
type Result struct {
	N          int     // images
	NLL        float64 // mean −log p(x) in nats per image
	BitsPerDim float64 // NLL / (784·ln 2)
}

// String prints the result as the CLI reports it.
func (r Result) String() string {
	return fmt.Sprintf("test NLL %.3f nats (%.4f bits/dim) over %d binarised test images", r.NLL, r.BitsPerDim, r.N)
}

// Evaluate returns the mean negative log-likelihood of the binary images x
// (n×784), computed chunk by chunk with m and summed in float64.
func Evaluate(m Likelihood, x []float32, chunk int) (Result, error) {
	n := len(x) / Dim
	if n < 1 || len(x) != n*Dim {
		return Result{}, fmt.Errorf("likelihood: %d values are not a set of %d-pixel images", len(x), Dim)
	}
	lp := make([]float64, chunk)
	total := 0.0
	for lo := 0; lo < n; lo += chunk {
		k := min(chunk, n-lo)
		if err := m.LogProb(x[lo*Dim:(lo+k)*Dim], lp[:k]); err != nil {
			return Result{}, err
		}
		for _, v := range lp[:k] {
			total -= v
		}
	}
	nll := total / float64(n)
	return Result{N: n, NLL: nll, BitsPerDim: nll / (Dim * math.Ln2)}, nil
}
