package likelihood

import (
	"fmt"
	"math"
)

// Input complexity (Serrà et al., "Input complexity and out-of-distribution
// detection with likelihood-based generative models", ICLR 2020): a
// generative model gives simple images (few lit pixels, smooth strokes) a
// high likelihood whatever it was trained on, so −log p(x) ranks images by
// their complexity as much as by how typical they are of the training data.
// Subtracting the code length L(x) of a generic lossless compressor, one
// that has learnt nothing from the data, leaves
//
//	S(x) = −log p(x) − L(x),
//
// a log likelihood ratio between the model and a universal one, which is
// large when the model explains x worse than a generic coder does.
//
// For bilevel images the generic coder here is the adaptive context model
// of JBIG-style coders: the pixels are coded in raster order, each under a
// context of its four causal neighbours (west, north-west, north,
// north-east; pixels outside the image count as 0), with the
// Krichevsky–Trofimov estimator p(1) = (n₁ + ½)/(n₀ + n₁ + 1) of the counts
// seen so far in that context within the same image. L(x) is the ideal
// code length −Σ log p, in nats; nothing is learnt across images.

// ComplexityContexts is the number of contexts of [Complexity]'s model.
const ComplexityContexts = 16

// Complexity returns the code length L(x) in nats of the w×h binary image
// bits (row-major, every value 0 or 1) under the adaptive context model
// described above, or an error naming the first value that is not 0 or 1.
func Complexity(bits []float32, w, h int) (float64, error) {
	if w <= 0 || h <= 0 || len(bits) != w*h {
		return 0, fmt.Errorf("complexity: %d values for a %d×%d image", len(bits), w, h)
	}
	var n [ComplexityContexts][2]float64
	at := func(r, c int) int {
		if r < 0 || c < 0 || c >= w {
			return 0
		}
		return int(bits[r*w+c])
	}
	L := 0.0
	for r := range h {
		for c := range w {
			v := bits[r*w+c]
			if v != 0 && v != 1 {
				return 0, fmt.Errorf("complexity: pixel (%d, %d) is %g, not 0 or 1 (binarise the image first)", r, c, v)
			}
			ctx := at(r, c-1)<<3 | at(r-1, c-1)<<2 | at(r-1, c)<<1 | at(r-1, c+1)
			x := int(v)
			cnt := &n[ctx]
			L -= math.Log((cnt[x] + 0.5) / (cnt[0] + cnt[1] + 1))
			cnt[x]++
		}
	}
	return L, nil
}

// Complexities returns [Complexity] of each of the len(x)/(w·h) images in x.
func Complexities(x []float32, w, h int) ([]float64, error) {
	dim := w * h
	if dim <= 0 || len(x)%dim != 0 {
		return nil, fmt.Errorf("complexity: %d values are not whole %d×%d images", len(x), w, h)
	}
	out := make([]float64, len(x)/dim)
	for i := range out {
		l, err := Complexity(x[i*dim:(i+1)*dim], w, h)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", i, err)
		}
		out[i] = l
	}
	return out, nil
}
