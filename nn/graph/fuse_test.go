package graph

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
)

// TestFusionKeepsTheBits builds a small network (a convolution, Linear
// layers, one with its bias an input bound at run time so that the pass
// must move input references, and a residual sum read through a
// LeakyReLU and by a square) and compiles it with and without the fusion
// pass: the fused program uses each fused op and fetches the same loss and
// gradients bit for bit. (A fetched bias_act would not be fused: it cannot
// work in place on the product.)
func TestFusionKeepsTheBits(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	ps := nn.NewParamSet(3)
	w1 := ps.Add("conv.weight", 4, 2, 3, 3)
	b1 := ps.Add("conv.bias", 4)
	w2 := ps.Add("fc.weight", 100, 7)
	w3 := ps.Add("skip.weight", 100, 7)
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	for i, p := range []*nn.Param{w1, b1, w2, w3} {
		b.RandUniform(p.Value, -0.5, 0.5, nn.RandKey{Seed: uint64(i)})
	}
	x, err := b.Alloc(3, 2*5*5)
	require.NoError(t, err)
	bias2, err := b.Alloc(1, 7)
	require.NoError(t, err)
	b.RandUniform(x, -1, 1, nn.RandKey{Seed: 9})
	b.RandUniform(bias2, -1, 1, nn.RandKey{Seed: 10})

	// pin also fetches the two activations, so that no gradient is placed
	// in their memory once the backward pass has read them (which would
	// keep the bias gradients' column sums apart: see apart).
	run := func(fuse, pin bool) (ops map[string]int, vals [][]float32) {
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
		r := g.Add(y, g.MatMul(h, g.Param(w3), false, false))
		s := g.Act(r, nn.Act{Kind: nn.ActLeakyReLU, Slope: 0.1})
		loss := g.Add(g.Sum(g.Square(s)), g.Sum(g.Square(r)))
		grads := g.Grad(loss, g.Param(w1), g.Param(b1), g.Param(w2), g.Param(w3), bin)
		fetch := append([]*Node{loss}, grads...)
		if pin {
			fetch = append(fetch, h, y)
		}
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
		ops = map[string]int{}
		for _, c := range p.code {
			ops[c.op.name()]++
		}
		return ops, vals
	}
	seen := map[string]int{}
	for _, pin := range []bool{false, true} {
		_, want := run(false, pin)
		ops, got := run(true, pin)
		for name, n := range ops {
			seen[name] += n
		}
		for i := range want {
			require.Equal(t, len(want[i]), len(got[i]))
			for j := range want[i] {
				require.Equal(t, math.Float32bits(want[i][j]), math.Float32bits(got[i][j]), "pin %v fetch %d element %d", pin, i, j)
			}
		}
	}
	for _, name := range []string{"matmul+bias_act(leaky_relu(0.2))", "matmul+bias_act(tanh)", "axpby+leaky_relu(0.1)", "axpby+leaky_relu(0.1)_backward",
		"leaky_relu(0.2)_backward+col_sum", "tanh_backward+col_sum"} {
		require.NotZero(t, seen[name], "%s in %v", name, seen)
	}
}
