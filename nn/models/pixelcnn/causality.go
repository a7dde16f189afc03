package pixelcnn

import (
	"fmt"
	"math/rand/v2"

	"gan/nn"
	"gan/nn/models/made/autoreg/artest"
)

// CheckCausality is the causality test of the masks, exported so that
// every backend's tests run it: a tiny PixelCNN (h 4, 2 blocks) on b, of
// each architecture (residual, gated),
// whose logits, on a 9×11 image, must stay bit for bit unchanged at a
// pixel and every pixel before it when that pixel is flipped, and change
// at a later one; on a 28×28 image the same for a spread of positions. It
// returns the number of flips checked.
func CheckCausality(b nn.Backend) (int, error) {
	flips := 0
	for _, arch := range []string{"", ArchGated} {
		n, err := checkCausality(b, arch)
		flips += n
		if err != nil {
			return flips, fmt.Errorf("arch %q: %w", arch, err)
		}
	}
	return flips, nil
}

func checkCausality(b nn.Backend, arch string) (int, error) {
	cfg := DefaultConfig()
	cfg.Hidden, cfg.Blocks, cfg.Batch, cfg.Arch = 4, 2, 8, arch
	m, err := New(b, cfg)
	if err != nil {
		return 0, err
	}
	defer m.Free()
	flips := 0
	for _, sz := range [][2]int{{9, 11}, {Side, Side}} {
		hgt, wid := sz[0], sz[1]
		d := hgt * wid
		order := make([]int, d)
		for i := range order {
			order[i] = i
		}
		positions := order[:d-1] // the last pixel has no later logit to change
		if d == D {
			positions = []int{0, 1, 27, 28, 29, 300, 391, 392, 405, 600, 755, 782}
		}
		rng := rand.New(rand.NewPCG(uint64(d), 1))
		x := make([]float32, d)
		for i := range x {
			x[i] = float32(rng.IntN(2))
		}
		n, err := artest.Causality(d, x, order, positions, func(x, out []float32) error { return m.run(x, 1, hgt, wid, out) })
		if err != nil {
			return flips, fmt.Errorf("%dx%d: %w", hgt, wid, err)
		}
		if n != len(positions) {
			return flips, fmt.Errorf("%dx%d: %d of %d flips changed no later logit", hgt, wid, len(positions)-n, len(positions))
		}
		flips += n
	}
	return flips, nil
}
