package backendtest

import (
	"math"
	"math/rand/v2"
)

// Special values, where elementwise ops are easiest to get wrong.
var (
	negZero = float32(math.Copysign(0, -1))
	nan     = float32(math.NaN())
	inf     = float32(math.Inf(1))
	subMin  = math.Float32frombits(1)          // the smallest subnormal
	subMax  = math.Float32frombits(0x007fffff) // the largest subnormal
	maxF32  = float32(math.MaxFloat32)
)

// specials are every special value: signed zeros, subnormals, the largest
// finite values, infinities and NaN, and a few ordinary ones. They go to
// single-rounding ops, whose results are defined (and bit-exact) for all.
var specials = []float32{
	0, negZero, 1, -1, 0.5, -0.5, subMin, -subMin, subMax, -subMax, maxF32, -maxF32,
	inf, -inf, nan, 1e-30, -1e-30, 20, -20, 3.5,
}

// boundedSpecials leave out ±MaxFloat32, for ops of several roundings where
// a float32 intermediate could overflow while the exact result does not
// (the reference cannot reproduce such an overflow, and it means nothing).
var boundedSpecials = []float32{
	0, negZero, 1, -1, 0.5, -0.5, subMin, -subMin, subMax, -subMax,
	inf, -inf, nan, 1e-30, -1e-30, 20, -20, 3.5,
}

// uniform draws values uniformly from [lo, hi).
func uniform(lo, hi float64) gen {
	return func(r *rand.Rand, rows, cols int) []float32 {
		v := make([]float32, rows*cols)
		for i := range v {
			v[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return v
	}
}

// withSpecials puts sp in front of the values g draws (as many as fit).
func withSpecials(g gen, sp []float32) gen {
	return func(r *rand.Rand, rows, cols int) []float32 {
		v := g(r, rows, cols)
		copy(v, sp)
		return v
	}
}

// constant fills every element with c.
func constant(c float32) gen {
	return func(r *rand.Rand, rows, cols int) []float32 {
		v := make([]float32, rows*cols)
		for i := range v {
			v[i] = c
		}
		return v
	}
}

// garbage fills an output that the op must overwrite without reading:
// NaN, which would show wherever it leaked.
var garbage = constant(nan)

// dropoutMask draws a mask as Dropout(p) stores it: float32(1/(1−p)) with
// probability 1−p, else 0.
func dropoutMask(p float64) gen {
	return func(r *rand.Rand, rows, cols int) []float32 {
		v := make([]float32, rows*cols)
		for i := range v {
			if r.Float64() >= p {
				v[i] = float32(1 / (1 - p))
			}
		}
		return v
	}
}

// layerNormRows draws LayerNorm inputs: uniform rows, a row offset far
// from zero (the variance must not cancel), a constant row (variance 0) and
// one with specials-free tiny values.
func layerNormRows(r *rand.Rand, rows, cols int) []float32 {
	v := uniform(-3, 3)(r, rows, cols)
	for i := 0; i < rows; i++ {
		row := v[i*cols : (i+1)*cols]
		switch i % 5 {
		case 1:
			for j := range row {
				row[j] += 100
			}
		case 2:
			for j := range row {
				row[j] = 0.75
			}
		case 3:
			for j := range row {
				row[j] *= 1e-3
			}
		}
	}
	return v
}

// logits draws SoftmaxCE logits: uniform in [−4, 4), with ties between the
// first and last column in every fourth row (the first index must win) and
// a −Inf in column 1 of every seventh (its target is 0, so the loss stays
// finite).
func logits(r *rand.Rand, rows, cols int) []float32 {
	v := uniform(-4, 4)(r, rows, cols)
	for i := 0; i < rows; i++ {
		row := v[i*cols : (i+1)*cols]
		if i%4 == 0 && cols > 1 {
			row[0], row[cols-1] = 5, 5
		}
		if i%7 == 3 && cols > 2 {
			row[1] = -inf
		}
	}
	return v
}

// targets draws SoftmaxCE targets: one-hot rows, a soft distribution in
// every third, the tie columns of logits as labels in some rows, and never
// any weight on a −Inf logit.
func targets(r *rand.Rand, rows, cols int) []float32 {
	v := make([]float32, rows*cols)
	for i := 0; i < rows; i++ {
		row := v[i*cols : (i+1)*cols]
		banned := -1
		if i%7 == 3 && cols > 2 {
			banned = 1
		}
		if i%3 == 2 && cols > 2 {
			var s float32
			for j := range row {
				if j != banned {
					row[j] = r.Float32() + 0.01
					s += row[j]
				}
			}
			for j := range row {
				row[j] /= s
			}
			continue
		}
		label := r.IntN(cols)
		switch {
		case i%8 == 0:
			label = 0
		case i%8 == 4:
			label = cols - 1
		}
		if label == banned {
			label = 0
		}
		row[label] = 1
	}
	return v
}

// bceTargets draws SigmoidBCE targets: hard 0 and 1 labels and soft ones.
func bceTargets(r *rand.Rand, rows, cols int) []float32 {
	v := make([]float32, rows*cols)
	for i := range v {
		switch i % 3 {
		case 0:
			v[i] = float32(r.IntN(2))
		case 1:
			v[i] = r.Float32()
		default:
			v[i] = 0.3
		}
	}
	return v
}
