package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gan/nn"
)

// TestConvWorkersAgree checks that Im2Col and Col2Im give the same bits on
// 1, 3 and 7 workers, for geometries whose parallel split falls inside
// images and image rows (the jobs step n, y and x from the split point
// without dividing): the conformance suite runs on two workers only.
func TestConvWorkersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	geoms := []nn.ConvGeom{
		{N: 5, C: 40, H: 13, W: 11, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1, OH: 6, OW: 5},
		{N: 5, C: 40, H: 13, W: 11, KH: 3, KW: 5, SH: 1, SW: 2, PH: 2, PW: 0, OH: 15, OW: 4, Layout: nn.NCHW},
		{N: 3, C: 300, H: 7, W: 5, KH: 2, KW: 2, SH: 1, SW: 1, OH: 6, OW: 4},
	}
	for _, g := range geoms {
		ir, ic := g.ImageShape()
		cr, cc := g.ColsShape()
		iv, cv, i0 := randVals(rng, ir*ic, -1, 1), randVals(rng, cr*cc, -1, 1), randVals(rng, ir*ic, -1, 1)
		var want [3][]float32
		for _, workers := range []int{1, 3, 7} {
			b := newTestBackend(t, workers)
			img, cols := matOf(t, b, ir, ic, iv), matOf(t, b, cr, cc, make([]float32, cr*cc))
			b.Im2Col(cols, img, g)
			c2, im := matOf(t, b, cr, cc, cv), matOf(t, b, ir, ic, i0)
			b.Col2Im(im, c2, g, 0)
			im2 := matOf(t, b, ir, ic, i0)
			b.Col2Im(im2, c2, g, -0.5)
			got := [3][]float32{download(t, b, cols), download(t, b, im), download(t, b, im2)}
			if workers == 1 {
				want = got
				continue
			}
			for k, what := range []string{"Im2Col", "Col2Im beta=0", "Col2Im beta=-0.5"} {
				requireBits(t, want[k], got[k], fmt.Sprintf("%v: %s on %d workers", g, what, workers))
			}
		}
	}
}
