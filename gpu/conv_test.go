//go:build (gancuda || cudaemu) && cgo

package gpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn"
)

// TestConvGridStride runs im2col and col2im with the grid capped at 3
// blocks, so that every thread loops over several elements (the
// conformance cases fit in one pass of a full grid), and requires the CPU
// backend's bits; on a GPU without -short it adds a DCGAN layer at batch
// 64 on the full grid.
func TestConvGridStride(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(11, 11))
	type run struct {
		g         nn.ConvGeom
		maxBlocks int
	}
	runs := []run{
		{nn.ConvGeom{N: 3, C: 5, H: 9, W: 7, KH: 4, KW: 3, SH: 2, SW: 1, PH: 1, PW: 1, OH: 4, OW: 7}, 3},
		{nn.ConvGeom{N: 3, C: 5, H: 9, W: 7, KH: 4, KW: 3, SH: 2, SW: 1, PH: 1, PW: 1, OH: 4, OW: 7, Layout: nn.NCHW}, 3},
	}
	if !reduced() {
		runs = append(runs, run{nn.ConvGeom{N: 64, C: 128, H: 16, W: 16, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1, OH: 8, OW: 8}, p.g.maxBlocks})
	}
	saved := p.g.maxBlocks
	defer func() { p.g.maxBlocks = saved }()
	for _, r := range runs {
		p.g.maxBlocks = r.maxBlocks
		g := r.g
		ir, ic := g.ImageShape()
		cr, cc := g.ColsShape()
		iv, cv, i0 := randVals(rng, ir*ic, -1, 1), randVals(rng, cr*cc, -1, 1), randVals(rng, ir*ic, -1, 1)
		gi, ci := p.both(t, ir, ic, iv)
		gc, cc2 := p.both(t, cr, cc, make([]float32, cr*cc))
		p.g.Im2Col(gc, gi, g)
		p.c.Im2Col(cc2, ci, g)
		requireSameBits(t, download(t, p.c, cc2), download(t, p.g, gc), fmt.Sprintf("%v: Im2Col", g))
		gy, cy := p.both(t, cr, cc, cv)
		for _, beta := range []float32{0, 0.5} {
			gx, cx := p.both(t, ir, ic, i0)
			p.g.Col2Im(gx, gy, g, beta)
			p.c.Col2Im(cx, cy, g, beta)
			requireSameBits(t, download(t, p.c, cx), download(t, p.g, gx), fmt.Sprintf("%v: Col2Im beta=%v", g, beta))
		}
		require.NoError(t, p.g.Sync())
		require.NoError(t, p.c.Sync())
	}
}
