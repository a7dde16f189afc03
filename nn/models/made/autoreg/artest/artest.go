// Package artest holds the test harness the autoregressive families
// share: a finite-difference check of a masked parameter's gradient on the
// float64 reference backend, and the causality check of a network's
// logits.
package artest

import (
	"fmt"
	"math"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/ref"
)

// FDStep and FDTol are the step of the central differences and the
// tolerance, relative to max(1, the largest gradient element), of the
// graph package's finite-difference tests (docs/tolerances.md, "fd").
const (
	FDStep = 1e-5
	FDTol  = 1e-6
)

// MaskedGradCheck runs prog (compiled on b, with loss an output and the
// gradient of loss bound to p.Grad) and checks p's gradient: exactly zero
// where mask is 0, equal to central differences of loss where it is 1
// (at most maxChecked such elements, spread over the tensor). It returns
// the worst relative error, the number of elements compared and the
// number of masked elements, or an error naming the first failure.
func MaskedGradCheck(b *ref.Backend, prog *graph.Program, loss *graph.Node, p *nn.Param, mask []float64, maxChecked int) (worst float64, checked, masked int, err error) {
	lossValue := func() (float64, error) {
		if err := prog.Run(1, 3); err != nil {
			return 0, err
		}
		var v [1]float64
		err := b.Download64(v[:], prog.Mat(loss))
		return v[0], err
	}
	if _, err := lossValue(); err != nil {
		return 0, 0, 0, err
	}
	grad := make([]float64, p.Len())
	if err := b.Download64(grad, p.Grad); err != nil {
		return 0, 0, 0, err
	}
	if len(mask) != len(grad) {
		return 0, 0, 0, fmt.Errorf("%s: mask of %d for %d values", p.Name, len(mask), len(grad))
	}
	scale := 1.0
	for _, g := range grad {
		scale = math.Max(scale, math.Abs(g))
	}
	vals := make([]float64, p.Len())
	if err := b.Download64(vals, p.Value); err != nil {
		return 0, 0, 0, err
	}
	open := 0
	for j, mv := range mask {
		if mv == 0 {
			masked++
			if grad[j] != 0 {
				return 0, 0, 0, fmt.Errorf("%s[%d] is masked but its gradient is %g", p.Name, j, grad[j])
			}
		} else {
			open++
		}
	}
	stride := max(1, open/maxChecked)
	k := 0
	for j, mv := range mask {
		if mv == 0 {
			continue
		}
		k++
		if k%stride != 0 {
			continue
		}
		orig := vals[j]
		vals[j] = orig + FDStep
		if err := b.Upload64(p.Value, vals); err != nil {
			return 0, 0, 0, err
		}
		up, err := lossValue()
		if err != nil {
			return 0, 0, 0, err
		}
		vals[j] = orig - FDStep
		if err := b.Upload64(p.Value, vals); err != nil {
			return 0, 0, 0, err
		}
		down, err := lossValue()
		if err != nil {
			return 0, 0, 0, err
		}
		vals[j] = orig
		if err := b.Upload64(p.Value, vals); err != nil {
			return 0, 0, 0, err
		}
		fd := (up - down) / (2 * FDStep)
		e := math.Abs(fd-grad[j]) / scale
		if !(e <= FDTol) {
			return e, checked, masked, fmt.Errorf("%s[%d]: analytic %g, finite difference %g", p.Name, j, grad[j], fd)
		}
		worst = math.Max(worst, e)
		checked++
	}
	return worst, checked, masked, nil
}

// Causality checks the logits of an autoregressive model of d-pixel
// binary images: logits(x, out) writes the logits of the image x, and
// order lists the pixels in the model's order. For each position t in
// positions, flipping pixel order[t] must leave the logits of positions
// 0 … t bit for bit unchanged. It returns the number of flips that did
// change a later logit (the test asserts that the masks do not cut
// everything) and the first violation.
func Causality(d int, x []float32, order, positions []int, logits func(x, out []float32) error) (int, error) {
	base := make([]float32, d)
	if err := logits(x, base); err != nil {
		return 0, err
	}
	got := make([]float32, d)
	y := append([]float32(nil), x...)
	flips := 0
	for _, t := range positions {
		p := order[t]
		y[p] = 1 - y[p]
		err := logits(y, got)
		y[p] = x[p]
		if err != nil {
			return flips, err
		}
		flips++
		for s := 0; s <= t; s++ {
			if q := order[s]; got[q] != base[q] {
				return flips, fmt.Errorf("flipping pixel %d (position %d) changed the logit of pixel %d (position %d): %g → %g", p, t, q, s, base[q], got[q])
			}
		}
		changed := false
		for s := t + 1; s < d && !changed; s++ {
			changed = got[order[s]] != base[order[s]]
		}
		if !changed {
			flips--
		}
	}
	return flips, nil
}
