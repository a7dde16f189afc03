package graph_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/ref"
)

// TestShapeErrorsNameTheOpAndShapes checks that a shape mistake is reported
// by Compile with the op, the layer scope and both shapes, and that later
// builder calls do not replace the first error.
func TestShapeErrorsNameTheOpAndShapes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(g *graph.Graph)
		want  []string
	}{
		{"matmul", func(g *graph.Graph) {
			done := g.Scope("D.model.0")
			y := g.MatMul(g.Input("x", graph.Shape{3, 4}), g.Input("w", graph.Shape{5, 6}), false, false)
			done()
			g.Output(g.Act(y, nn.Act{Kind: nn.ActTanh})) // after the error: ignored
		}, []string{"matmul", "D.model.0", "3x4", "5x6"}},
		{"mul", func(g *graph.Graph) {
			g.Output(g.Mul(g.Input("a", graph.Shape{2, 3}), g.Input("b", graph.Shape{3, 2})))
		}, []string{"mul", "2x3", "3x2"}},
		{"loss", func(g *graph.Graph) {
			l, _ := g.SigmoidBCE(g.Input("x", graph.Shape{4, 1}), g.Const(graph.Shape{5, 1}, 1))
			g.Output(l)
		}, []string{"sigmoid_bce", "4x1", "5x1"}},
		{"grad of a non-scalar", func(g *graph.Graph) {
			x := g.Input("x", graph.Shape{2, 2})
			g.Output(g.Grad(g.Square(x), x)...)
		}, []string{"grad", "not a scalar"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := graph.New()
			tc.build(g)
			_, err := g.Compile(ref.New())
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestReadingAParameterFromBeforeItsUpdateIsAnError: a node built after an
// optimiser step that reads the old parameter node would see the updated
// values, silently; the graph refuses it.
func TestReadingAParameterFromBeforeItsUpdateIsAnError(t *testing.T) {
	b := ref.New()
	ps := nn.NewParamSet(0)
	p := ps.Add("w", 3, 3)
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	opt, err := nn.NewAdam(b, ps, 1e-3, 0.9, 0.999, 1e-8)
	require.NoError(t, err)
	defer opt.Free()

	g := graph.New()
	w := g.Param(p)
	x := g.Input("x", graph.Shape{2, 3})
	g.Backward(g.Sum(g.MatMul(x, w, false, false)), ps)
	g.Update(opt)
	g.Output(g.MatMul(x, w, false, false)) // w is the node from before the update
	_, err = g.Compile(b)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reads w as it was before the update")

	// Asking for the parameter again after the update is fine.
	g = graph.New()
	x = g.Input("x", graph.Shape{2, 3})
	g.Backward(g.Sum(g.MatMul(x, g.Param(p), false, false)), ps)
	g.Update(opt)
	g.Output(g.MatMul(x, g.Param(p), false, false))
	prog, err := g.Compile(b)
	require.NoError(t, err)
	prog.Free()
}

// mlp builds a small Linear–LeakyReLU–Linear network's forward pass and
// its gradients with an Adam step, as a model family would.
func mlp(t *testing.T, b nn.Backend, batch int) (*graph.Program, *graph.Node, func()) {
	t.Helper()
	ps := nn.NewParamSet(0)
	net := layer.NewSequential(ps, "net", layer.Linear(32, 64), layer.LeakyReLU(0.2), layer.Linear(64, 64),
		layer.LeakyReLU(0.2), layer.Linear(64, 1))
	require.NoError(t, ps.Alloc(b))
	net.Init(b, 1)
	opt, err := nn.NewAdam(b, ps, 1e-3, 0.9, 0.999, 1e-8)
	require.NoError(t, err)
	g := graph.New()
	x := g.Input("x", graph.Shape{batch, 32})
	logits := net.Forward(&layer.Ctx{G: g, Train: true, Slots: &nn.StreamSlots{}}, x)
	loss, _ := g.SigmoidBCE(logits, g.Const(graph.Shape{batch, 1}, 1))
	g.Backward(loss, ps)
	g.Update(opt)
	g.Fetch(loss)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	return prog, x, func() { prog.Free(); opt.Free(); ps.Free(b) }
}

// TestPlannerWorksInPlaceAndReusesBuffers checks the arena plan of a small
// training step: BiasAct runs in place on its MatMul's output (no copies),
// parameter gradients are computed straight into the gradient arena (no
// copies either), and intermediate buffers are reused, so the peak is below
// the sum of all intermediate sizes.
func TestPlannerWorksInPlaceAndReusesBuffers(t *testing.T) {
	const batch = 16
	prog, _, free := mlp(t, ref.New(), batch)
	defer free()
	t.Log(prog)
	assert.Zero(t, prog.Copies, "copies in the plan")
	// Forward activations (kept for the backward pass) and their gradients:
	// 16×64 + 16×64 + 16×1 each way, plus the loss's gradient.
	all := 2 * (batch*64 + batch*64 + batch)
	assert.Less(t, prog.PeakElems, all, "the plan reuses no buffer")

	// An in-place op on an input that lives on must copy it first.
	g := graph.New()
	x := g.Input("x", graph.Shape{4, 3})
	y := g.BiasAct(x, g.Const(graph.Shape{3}, 1), nn.Act{Kind: nn.ActTanh})
	g.Output(y, g.Square(x))
	p2, err := g.Compile(ref.New())
	require.NoError(t, err)
	defer p2.Free()
	assert.Equal(t, 1, p2.Copies)
}

// TestRunDoesNotAllocate: a compiled step on the CPU backend allocates
// nothing per run (the values fetched are read from the program's block).
func TestRunDoesNotAllocate(t *testing.T) {
	b := cpu.NewWithWorkers(2)
	defer b.Close()
	const batch = 16
	prog, x, free := mlp(t, b, batch)
	defer free()
	data, err := b.Alloc(batch, 32)
	require.NoError(t, err)
	defer b.Free(data)
	b.RandNormal(data, 0, 1, nn.RandKey{Seed: 1, Stream: 9})
	require.NoError(t, b.Sync())
	require.NoError(t, prog.Bind(x, data))
	step := uint64(0)
	allocs := testing.AllocsPerRun(20, func() {
		if err := prog.Run(1, step); err != nil {
			t.Fatal(err)
		}
		step++
	})
	assert.Zero(t, allocs)
}
