package made

import (
	"fmt"
	"math/rand/v2"

	"gan/nn"
	"gan/nn/models/made/autoreg/artest"
)

// CheckCausality is the causality test of the masks, exported so that
// every backend's tests run it: a 3-ordering MADE of 64 hidden units on
// b, whose logits must stay bit for bit unchanged at positions 0 … t of
// each ordering when the pixel at position t is flipped (ordering 0 being
// the raster order), for a spread of positions t. It returns the number
// of flips that changed a later logit (pixel 783 sees pixel 782 only
// through a hidden unit of degree 783, so the last flips may change
// nothing), or the first violation.
func CheckCausality(b nn.Backend) (int, error) {
	cfg := DefaultConfig()
	cfg.Orders, cfg.Hidden, cfg.Batch = 3, 64, 16
	m, err := New(b, cfg)
	if err != nil {
		return 0, err
	}
	defer m.Free()
	w, err := m.download()
	if err != nil {
		return 0, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, D)
	for i := range x {
		x[i] = float32(rng.IntN(2))
	}
	positions := []int{0, 1, 2, 27, 28, 100, 391, 392, 500, 700, 782, 783}
	changed := 0
	for o := range m.K {
		order := make([]int, D)
		for d := range D {
			order[int(w.pos[o*D+d])-1] = d
		}
		if o == 0 {
			for i, d := range order {
				if i != d {
					return changed, fmt.Errorf("ordering 0 puts pixel %d at position %d, not the raster order", d, i)
				}
			}
		}
		n, err := artest.Causality(D, x, order, positions, func(x, out []float32) error { return m.Logits(x, o, out) })
		if err != nil {
			return changed, fmt.Errorf("ordering %d: %w", o, err)
		}
		if n < len(positions)-2 {
			return changed, fmt.Errorf("ordering %d: only %d of %d flips changed a later logit", o, n, len(positions))
		}
		changed += n
	}
	return changed, nil
}
