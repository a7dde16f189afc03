package graph_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn/graph"
	"gan/nn/ref"
)

// attentionFDCases are the finite-difference cases of the attention ops:
// BatchMatMul for each transpose pair, CausalSoftmax, a whole causal
// self-attention on column views of one projection, GELU, and the
// gradients of the gradients of GELU and CausalSoftmax.
func attentionFDCases() []fdCase {
	var cs []fdCase
	const batch, heads = 2, 2
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		ta, tb := tr[0], tr[1]
		a, bs := graph.Shape{batch * 3, heads * 4}, graph.Shape{batch * 4, heads * 2}
		if ta {
			a = graph.Shape{batch * 4, heads * 3}
		}
		if tb {
			bs = graph.Shape{batch * 2, heads * 4}
		}
		cs = append(cs, fdCase{name: fmt.Sprintf("batch_matmul/ta=%v/tb=%v", ta, tb), shapes: []graph.Shape{a, bs},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				return g.BatchMatMul(x[0], x[1], batch, heads, ta, tb)
			}})
	}
	cs = append(cs,
		fdCase{name: "causal_softmax", shapes: []graph.Shape{{2 * 4, 3 * 4}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				return g.CausalSoftmax(x[0], 4, 0.7)
			}},
		// Causal self-attention of two sequences of T = 3 tokens, two heads
		// of size 2: queries, keys and values are column views of one
		// [6, 12] projection, as a fused QKV Linear layer leaves them.
		fdCase{name: "causal_self_attention", shapes: []graph.Shape{{batch * 3, 3 * heads * 2}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				const t, d = 3, 2
				q, k, v := g.Cols(x[0], 0, heads*d), g.Cols(x[0], heads*d, heads*d), g.Cols(x[0], 2*heads*d, heads*d)
				s := g.BatchMatMul(q, k, batch, heads, false, true)
				p := g.CausalSoftmax(s, t, 0.7071)
				return g.BatchMatMul(p, v, batch, heads, false, false)
			}},
		fdCase{name: "gelu", shapes: []graph.Shape{{4, 6}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node { return g.GELU(x[0]) }},
		// x1 ⊙ GELU′(x0) through Grad, differentiated again with respect
		// to x0 (GELU″) and x1.
		fdCase{name: "gelu/double_backward", shapes: []graph.Shape{{4, 6}, {4, 6}},
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				return g.Grad(g.Sum(g.Mul(g.GELU(x[0]), x[1])), x[0])[0]
			}},
		// The scores' gradient CausalSoftmaxBackward(w, y), differentiated
		// with respect to w (the scores x1 are held fixed).
		fdCase{name: "causal_softmax/double_backward", shapes: []graph.Shape{{8, 8}, {8, 8}}, fixed: 1,
			build: func(g *graph.Graph, x []*graph.Node, _ *graph.Index) *graph.Node {
				return g.Grad(g.Sum(g.Mul(g.CausalSoftmax(x[1], 4, 1.3), x[0])), x[1])[0]
			}},
	)
	return cs
}

// TestCausalSelfAttentionIsCausal builds causal self-attention (two
// sequences of T = 5 tokens, two heads of size 3, queries, keys and values
// as column views of one projection) and checks that changing token t's
// projection changes no output of an earlier token of its sequence, bit
// for bit, and does change token t's own output.
func TestCausalSelfAttentionIsCausal(t *testing.T) {
	const batch, heads, T, d = 2, 2, 5, 3
	b := ref.New()
	g := graph.New()
	x := g.Input("qkv", graph.Shape{batch * T, 3 * heads * d})
	q, k, v := g.Cols(x, 0, heads*d), g.Cols(x, heads*d, heads*d), g.Cols(x, 2*heads*d, heads*d)
	p := g.CausalSoftmax(g.BatchMatMul(q, k, batch, heads, false, true), T, 1/float32(math.Sqrt(d)))
	y := g.BatchMatMul(p, v, batch, heads, false, false)
	g.Output(y)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	m, err := b.Alloc(batch*T, 3*heads*d)
	require.NoError(t, err)
	defer b.Free(m)
	require.NoError(t, prog.Bind(x, m))
	rng := rand.New(rand.NewPCG(5, 6))
	vals := make([]float64, m.Len())
	for i := range vals {
		vals[i] = 2*rng.Float64() - 1
	}
	outputs := func(in []float64) []float64 {
		require.NoError(t, b.Upload64(m, in))
		require.NoError(t, prog.Run(1, 1))
		return download64(t, b, prog.Mat(y))
	}
	base := outputs(vals)
	cols := heads * d
	for s := 0; s < batch; s++ {
		for tok := 0; tok < T; tok++ {
			changed := slices.Clone(vals)
			row := s*T + tok
			for j := 0; j < 3*heads*d; j++ {
				changed[row*3*heads*d+j] += 0.5
			}
			got := outputs(changed)
			for r := 0; r < batch*T; r++ {
				same := slices.Equal(got[r*cols:(r+1)*cols], base[r*cols:(r+1)*cols])
				switch {
				case r/T == s && r%T < tok && !same:
					t.Errorf("changing token %d of sequence %d changed the output of token %d", tok, s, r%T)
				case r/T != s && !same:
					t.Errorf("changing token %d of sequence %d changed sequence %d", tok, s, r/T)
				case r == row && same:
					t.Errorf("changing token %d of sequence %d left its own output alone", tok, s)
				}
			}
		}
	}
}
