package layer_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/ref"
)

// TestRNNNamesShapesAndInitArePyTorchs: a 2-layer GRU (LSTM) registers
// PyTorch's nn.GRU (nn.LSTM) state_dict names and shapes, and draws every
// tensor uniform in ±1/√H.
func TestRNNNamesShapesAndInitArePyTorchs(t *testing.T) {
	for _, cell := range []layer.Cell{layer.GRU, layer.LSTM} {
		ps := nn.NewParamSet(0)
		r := layer.NewRNN(ps, "rnn", cell, 5, 16, 2, 0)
		g := cell.Gates() * 16
		var got [][2]any
		for _, p := range ps.Params() {
			got = append(got, [2]any{p.Name, p.Shape})
		}
		assert.Equal(t, [][2]any{
			{"rnn.weight_ih_l0", []int{g, 5}}, {"rnn.weight_hh_l0", []int{g, 16}}, {"rnn.bias_ih_l0", []int{g}}, {"rnn.bias_hh_l0", []int{g}},
			{"rnn.weight_ih_l1", []int{g, 16}}, {"rnn.weight_hh_l1", []int{g, 16}}, {"rnn.bias_ih_l1", []int{g}}, {"rnn.bias_hh_l1", []int{g}},
		}, got, cell.String())
		b := cpu.New()
		require.NoError(t, ps.Alloc(b))
		r.Init(b, 1)
		for _, p := range ps.Params() {
			v := make([]float32, p.Len())
			require.NoError(t, b.Download(v, p.Value))
			lo, hi := float32(1), float32(-1)
			for _, x := range v {
				lo, hi = min(lo, x), max(hi, x)
			}
			assert.GreaterOrEqual(t, lo, float32(-0.25), p.Name)
			assert.Less(t, hi, float32(0.25), p.Name)
			assert.Less(t, lo, float32(-0.2), "%s: spans the interval", p.Name)
			assert.Greater(t, hi, float32(0.2), "%s: spans the interval", p.Name)
		}
		ps.Free(b)
		b.Close()
	}
	c, err := layer.ParseCell("lstm")
	require.NoError(t, err)
	assert.Equal(t, layer.LSTM, c)
	_, err = layer.ParseCell("rnn")
	require.Error(t, err)
}

// rnnCase is a small recurrent stack on the reference backend with its
// inputs: x [T·N, In] and, unless zeroState, h0 (and c0) per layer.
type rnnCase struct {
	cell                  layer.Cell
	in, hidden, layers    int
	t, n                  int
	dropout               float32
	zeroState             bool
	b                     *ref.Backend
	ps                    *nn.ParamSet
	r                     *layer.RNNLayer
	g                     *graph.Graph
	x                     *graph.Node
	h0, c0                []*graph.Node
	mats                  map[*graph.Node]nn.Mat
	out                   *graph.Node
	state                 *layer.RNNState
	rng                   *rand.Rand
	inputVals             map[*graph.Node][]float64
	train                 bool
	lossNode, weightsNode *graph.Node
}

// newRNNCase builds the layer, draws its weights and inputs, and adds the
// forward pass to a new graph.
func newRNNCase(t *testing.T, c rnnCase) *rnnCase {
	c.b = ref.New()
	c.ps = nn.NewParamSet(0)
	c.r = layer.NewRNN(c.ps, "rnn", c.cell, c.in, c.hidden, c.layers, c.dropout)
	require.NoError(t, c.ps.Alloc(c.b))
	c.r.Init(c.b, 5)
	c.rng = rand.New(rand.NewPCG(3, uint64(c.cell)))
	c.g = graph.New()
	c.mats = map[*graph.Node]nn.Mat{}
	c.inputVals = map[*graph.Node][]float64{}
	input := func(name string, rows, cols int) *graph.Node {
		n := c.g.Input(name, graph.Shape{rows, cols})
		m, err := c.b.Alloc(rows, cols)
		require.NoError(t, err)
		v := make([]float64, rows*cols)
		for i := range v {
			v[i] = 2*c.rng.Float64() - 1
		}
		require.NoError(t, c.b.Upload64(m, v))
		c.mats[n], c.inputVals[n] = m, v
		return n
	}
	c.x = input("x", c.t*c.n, c.in)
	var st *layer.RNNState
	if !c.zeroState {
		st = &layer.RNNState{}
		for l := range c.layers {
			c.h0 = append(c.h0, input(fmt.Sprintf("h0_%d", l), c.n, c.hidden))
			if c.cell == layer.LSTM {
				c.c0 = append(c.c0, input(fmt.Sprintf("c0_%d", l), c.n, c.hidden))
			}
		}
		st.H, st.C = c.h0, c.c0
	}
	ctx := &layer.Ctx{G: c.g, Train: c.train, Slots: &nn.StreamSlots{}}
	c.out, c.state = c.r.Forward(ctx, c.x, c.t, st)
	return &c
}

// compile compiles the graph and binds the inputs.
func (c *rnnCase) compile(t *testing.T) *graph.Program {
	prog, err := c.g.Compile(c.b)
	require.NoError(t, err)
	for n, m := range c.mats {
		require.NoError(t, prog.Bind(n, m))
	}
	return prog
}

// TestRNNGradientsMatchFiniteDifferences: through 3 or 4 time steps of a
// 2-layer GRU and LSTM (with inter-layer dropout, and from the zero state),
// the gradients of L = Σ outputs ⊙ w + Σ final h ⊙ w′ (+ Σ final c ⊙ w″)
// with respect to the inputs, every weight and bias, and the initial
// states match central differences in float64 within fdTol relative.
func TestRNNGradientsMatchFiniteDifferences(t *testing.T) {
	const step, tol = 1e-5, 1e-6
	for _, tc := range []rnnCase{
		{cell: layer.GRU, in: 3, hidden: 4, layers: 2, t: 3, n: 2},
		{cell: layer.LSTM, in: 3, hidden: 4, layers: 2, t: 3, n: 2},
		{cell: layer.GRU, in: 2, hidden: 3, layers: 2, t: 4, n: 2, dropout: 0.4, train: true, zeroState: true},
		{cell: layer.LSTM, in: 2, hidden: 3, layers: 1, t: 4, n: 1, zeroState: true},
	} {
		name := fmt.Sprintf("%v %d layers, %d steps, zero state %v, dropout %g", tc.cell, tc.layers, tc.t, tc.zeroState, tc.dropout)
		t.Run(name, func(t *testing.T) {
			c := newRNNCase(t, tc)
			g := c.g
			weighted := func(x *graph.Node) *graph.Node {
				r, cols := x.Shape().Mat()
				w := g.Input("w", x.Shape())
				m, err := c.b.Alloc(r, cols)
				require.NoError(t, err)
				v := make([]float64, r*cols)
				for i := range v {
					v[i] = 2*c.rng.Float64() - 1
				}
				require.NoError(t, c.b.Upload64(m, v))
				c.mats[w] = m
				return g.Sum(g.Mul(x, w))
			}
			last := c.layers - 1
			loss := g.Add(weighted(c.out), weighted(c.state.H[0]))
			if c.cell == layer.LSTM {
				loss = g.Add(loss, weighted(c.state.C[last]))
			}
			wrt := []*graph.Node{c.x}
			wrt = append(wrt, c.h0...)
			wrt = append(wrt, c.c0...)
			var wrtMats []nn.Mat
			var names []string
			for _, n := range wrt {
				wrtMats, names = append(wrtMats, c.mats[n]), append(names, fmt.Sprint(n))
			}
			for _, p := range c.ps.Params() {
				wrt = append(wrt, g.Param(p))
				wrtMats, names = append(wrtMats, p.Value), append(names, p.Name)
			}
			grads := g.Grad(loss, wrt...)
			for i := range grads {
				grads[i] = g.Copy(grads[i])
			}
			g.Output(loss)
			g.Output(grads...)
			prog := c.compile(t)
			defer prog.Free()
			value := func() float64 {
				require.NoError(t, prog.Run(11, 2))
				var v [1]float64
				require.NoError(t, c.b.Download64(v[:], prog.Mat(loss)))
				return v[0]
			}
			value()
			analytic := make([][]float64, len(grads))
			for i, gn := range grads {
				analytic[i] = make([]float64, gn.Shape().Len())
				require.NoError(t, c.b.Download64(analytic[i], prog.Mat(gn)))
			}
			worst := 0.0
			for i, m := range wrtMats {
				vals := make([]float64, m.Len())
				require.NoError(t, c.b.Download64(vals, m))
				scale := 1.0
				for _, a := range analytic[i] {
					scale = math.Max(scale, math.Abs(a))
				}
				nonzero := false
				for j := range vals {
					orig := vals[j]
					vals[j] = orig + step
					require.NoError(t, c.b.Upload64(m, vals))
					up := value()
					vals[j] = orig - step
					require.NoError(t, c.b.Upload64(m, vals))
					down := value()
					vals[j] = orig
					require.NoError(t, c.b.Upload64(m, vals))
					fd := (up - down) / (2 * step)
					e := math.Abs(fd-analytic[i][j]) / scale
					if !(e <= tol) {
						require.Failf(t, "gradient differs from finite differences", "%s[%d]: analytic %v, finite difference %v", names[i], j, analytic[i][j], fd)
					}
					worst = math.Max(worst, e)
					nonzero = nonzero || analytic[i][j] != 0
				}
				assert.True(t, nonzero, "%s: the gradient is not all zero", names[i])
			}
			t.Logf("worst relative error %.2g", worst)
		})
	}
}

// sigm is the logistic function in float64.
func sigm(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// TestRNNMatchesPyTorchsCellEquations: two steps of a one-layer GRU and
// LSTM from a given state match PyTorch's cell equations (see
// torch.nn.GRU and torch.nn.LSTM) written out in float64, within 1e-12.
func TestRNNMatchesPyTorchsCellEquations(t *testing.T) {
	const in, hd, n, steps = 3, 4, 2, 2
	for _, cell := range []layer.Cell{layer.GRU, layer.LSTM} {
		c := newRNNCase(t, rnnCase{cell: cell, in: in, hidden: hd, layers: 1, t: steps, n: n})
		c.g.Output(c.out)
		if cell == layer.LSTM {
			c.g.Output(c.state.C[0])
		}
		prog := c.compile(t)
		require.NoError(t, prog.Run(1, 0))
		got := make([]float64, steps*n*hd)
		require.NoError(t, c.b.Download64(got, prog.Mat(c.out)))
		w := map[string][]float64{}
		for _, p := range c.ps.Params() {
			v := make([]float64, p.Len())
			require.NoError(t, c.b.Download64(v, p.Value))
			w[p.Name] = v
		}
		wih, whh, bih, bhh := w["rnn.weight_ih_l0"], w["rnn.weight_hh_l0"], w["rnn.bias_ih_l0"], w["rnn.bias_hh_l0"]
		// gate k's pre-activations: W_ik x + b_ik and W_hk h + b_hk.
		pre := func(k int, x, h []float64) (xi, hh []float64) {
			xi, hh = make([]float64, hd), make([]float64, hd)
			for j := range hd {
				row := k*hd + j
				xi[j], hh[j] = bih[row], bhh[row]
				for q := range in {
					xi[j] += wih[row*in+q] * x[q]
				}
				for q := range hd {
					hh[j] += whh[row*hd+q] * h[q]
				}
			}
			return xi, hh
		}
		xs := c.inputVals[c.x]
		for s := range n {
			h := append([]float64(nil), c.inputVals[c.h0[0]][s*hd:(s+1)*hd]...)
			var cs []float64
			if cell == layer.LSTM {
				cs = append([]float64(nil), c.inputVals[c.c0[0]][s*hd:(s+1)*hd]...)
			}
			for step := range steps {
				x := xs[(step*n+s)*in : (step*n+s+1)*in]
				next := make([]float64, hd)
				if cell == layer.GRU {
					ri, rh := pre(0, x, h)
					zi, zh := pre(1, x, h)
					ni, nh := pre(2, x, h)
					for j := range hd {
						r := sigm(ri[j] + rh[j])
						z := sigm(zi[j] + zh[j])
						nv := math.Tanh(ni[j] + r*nh[j])
						next[j] = (1-z)*nv + z*h[j]
					}
				} else {
					ii, ih := pre(0, x, h)
					fi, fh := pre(1, x, h)
					gi, gh := pre(2, x, h)
					oi, oh := pre(3, x, h)
					for j := range hd {
						cs[j] = sigm(fi[j]+fh[j])*cs[j] + sigm(ii[j]+ih[j])*math.Tanh(gi[j]+gh[j])
						next[j] = sigm(oi[j]+oh[j]) * math.Tanh(cs[j])
					}
				}
				h = next
				for j := range hd {
					assert.InDelta(t, h[j], got[(step*n+s)*hd+j], 1e-12, "%v: sequence %d, step %d, unit %d", cell, s, step, j)
				}
			}
			if cell == layer.LSTM {
				gotC := make([]float64, n*hd)
				require.NoError(t, c.b.Download64(gotC, prog.Mat(c.state.C[0])))
				for j := range hd {
					assert.InDelta(t, cs[j], gotC[s*hd+j], 1e-12, "lstm: final cell state of sequence %d", s)
				}
			}
		}
		prog.Free()
	}
}

// TestRNNZeroStateIsTheZeroInput: running from the nil state gives the
// outputs of running from explicit zero states, bit for bit (the first
// step's skipped h·W_hhᵀ contributes exact zeros).
func TestRNNZeroStateIsTheZeroInput(t *testing.T) {
	for _, cell := range []layer.Cell{layer.GRU, layer.LSTM} {
		c := newRNNCase(t, rnnCase{cell: cell, in: 3, hidden: 4, layers: 2, t: 3, n: 2})
		for _, s := range append(append([]*graph.Node(nil), c.h0...), c.c0...) {
			require.NoError(t, c.b.Upload64(c.mats[s], make([]float64, s.Shape().Len())))
		}
		ctx := &layer.Ctx{G: c.g, Slots: &nn.StreamSlots{}}
		zero, _ := c.r.Forward(ctx, c.x, c.t, nil)
		c.g.Output(c.out, zero)
		prog := c.compile(t)
		require.NoError(t, prog.Run(1, 0))
		a, b := make([]float64, c.out.Shape().Len()), make([]float64, c.out.Shape().Len())
		require.NoError(t, c.b.Download64(a, prog.Mat(c.out)))
		require.NoError(t, c.b.Download64(b, prog.Mat(zero)))
		assert.Equal(t, a, b, cell.String())
		prog.Free()
	}
}
