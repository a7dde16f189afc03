package graph

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
)

// TestFusionKeepsTheBits builds a small network (a convolution and two
// Linear layers, one with its bias an input bound at run time, so that the
// pass must move input references) and compiles it with and without the
// fusion pass: the fused program has one instruction less per
// bias_act and fetches the same loss and gradients bit for bit. (A fetched
// bias_act would not be fused: it cannot work in place on the product.)
func TestFusionKeepsTheBits(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	ps := nn.NewParamSet(3)
	w1 := ps.Add("conv.weight", 4, 2, 3, 3)
	b1 := ps.Add("conv.bias", 4)
	w2 := ps.Add("fc.weight", 100, 7)
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	for i, p := range []*nn.Param{w1, b1, w2} {
		b.RandUniform(p.Value, -0.5, 0.5, nn.RandKey{Seed: uint64(i)})
	}
	x, err := b.Alloc(3, 2*5*5)
	require.NoError(t, err)
	bias2, err := b.Alloc(1, 7)
	require.NoError(t, err)
	b.RandUniform(x, -1, 1, nn.RandKey{Seed: 9})
	b.RandUniform(bias2, -1, 1, nn.RandKey{Seed: 10})

	run := func(fuse bool) (instrs int, vals [][]float32) {
		old := fuseOps
		fuseOps = fuse
		defer func() { fuseOps = old }()
		g := New()
		in := g.Input("x", Shape{3, 2, 5, 5})
		bin := g.Input("bias", Shape{1, 7})
		im := Image{N: 3, C: 2, H: 5, W: 5, Layout: nn.NCHW}
		h, _ := g.Conv2d(in, im, g.Param(w1), g.Param(b1), 1, 1, 1, 1, nn.Act{Kind: nn.ActLeakyReLU, Slope: 0.2})
		h = g.Reshape(h, Shape{3, 100})
		y := g.BiasAct(g.MatMul(h, g.Param(w2), false, false), bin, nn.Act{Kind: nn.ActTanh})
		loss := g.Sum(g.Square(y))
		grads := g.Grad(loss, g.Param(w1), g.Param(b1), g.Param(w2), bin)
		fetch := append([]*Node{loss}, grads...)
		g.Fetch(fetch...)
		p, err := g.Compile(b)
		require.NoError(t, err)
		defer p.Free()
		require.NoError(t, p.Bind(in, x))
		require.NoError(t, p.Bind(bin, bias2))
		require.NoError(t, p.Run(1, 1))
		for _, n := range fetch {
			vals = append(vals, p.Values(n))
		}
		return p.Instrs, vals
	}
	n0, want := run(false)
	n1, got := run(true)
	require.Equal(t, n0-2, n1, "two bias_acts fused")
	for i := range want {
		require.Equal(t, len(want[i]), len(got[i]))
		for j := range want[i] {
			require.Equal(t, math.Float32bits(want[i][j]), math.Float32bits(got[i][j]), "fetch %d element %d", i, j)
		}
	}
}
