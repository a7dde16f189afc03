package layer

import (
	"fmt"
	"math"

	"gan/nn"
	"gan/nn/graph"
)

// ---- recurrent layers

// Cell is the recurrent cell of an [RNNLayer].
type Cell int

// The cells, with PyTorch's gate order.
const (
	// GRU is PyTorch's nn.GRU cell: gates r, z, n (rows [0, H), [H, 2H),
	// [2H, 3H) of the weights) with
	//
	//	r = σ(W_ir x + b_ir + W_hr h + b_hr)
	//	z = σ(W_iz x + b_iz + W_hz h + b_hz)
	//	n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
	//	h′ = (1 − z) ⊙ n + z ⊙ h
	GRU Cell = iota
	// LSTM is PyTorch's nn.LSTM cell: gates i, f, g, o with
	//
	//	i = σ(W_ii x + b_ii + W_hi h + b_hi), f, o likewise
	//	g = tanh(W_ig x + b_ig + W_hg h + b_hg)
	//	c′ = f ⊙ c + i ⊙ g
	//	h′ = o ⊙ tanh(c′)
	LSTM
)

// String is the cell's name ("gru", "lstm").
func (c Cell) String() string {
	switch c {
	case GRU:
		return "gru"
	case LSTM:
		return "lstm"
	}
	return fmt.Sprintf("cell(%d)", int(c))
}

// Gates is the number of gates (3 for a GRU, 4 for an LSTM).
func (c Cell) Gates() int {
	if c == LSTM {
		return 4
	}
	return 3
}

// ParseCell returns the cell named s ("gru" or "lstm").
func ParseCell(s string) (Cell, error) {
	switch s {
	case "gru":
		return GRU, nil
	case "lstm":
		return LSTM, nil
	}
	return 0, fmt.Errorf("cell %q: gru or lstm", s)
}

// RNNLayer is PyTorch's nn.GRU or nn.LSTM (batch_first=False, one
// direction, biases): Layers stacked cells of Hidden units, layer l's
// parameters registered as name.weight_ih_l{l} [G·H, in],
// name.weight_hh_l{l} [G·H, H], name.bias_ih_l{l} and name.bias_hh_l{l}
// [G·H] (G = 3 gates for a GRU, 4 for an LSTM, in PyTorch's order), so
// state_dicts move between the two. Dropout P (in training) applies to the
// output of every layer but the last, as PyTorch's dropout argument.
type RNNLayer struct {
	Cell               Cell
	In, Hidden, Layers int
	Dropout            float32
	Wih, Whh, Bih, Bhh []*nn.Param // per layer
}

// NewRNN registers a stack of layers recurrent cells of hidden units over
// inputs of in features under name (e.g. "rnn": rnn.weight_ih_l0, …).
func NewRNN(ps *nn.ParamSet, name string, cell Cell, in, hidden, layers int, dropout float32) *RNNLayer {
	r := &RNNLayer{Cell: cell, In: in, Hidden: hidden, Layers: layers, Dropout: dropout}
	g := cell.Gates() * hidden
	for l := range layers {
		width := in
		if l > 0 {
			width = hidden
		}
		r.Wih = append(r.Wih, ps.Add(fmt.Sprintf("%s.weight_ih_l%d", name, l), g, width))
		r.Whh = append(r.Whh, ps.Add(fmt.Sprintf("%s.weight_hh_l%d", name, l), g, hidden))
		r.Bih = append(r.Bih, ps.Add(fmt.Sprintf("%s.bias_ih_l%d", name, l), g))
		r.Bhh = append(r.Bhh, ps.Add(fmt.Sprintf("%s.bias_hh_l%d", name, l), g))
	}
	return r
}

// Init is PyTorch's default: every weight and bias uniform in ±1/√Hidden,
// each tensor from its own stream.
func (r *RNNLayer) Init(b nn.Backend, seed uint64) {
	bound := float32(1 / math.Sqrt(float64(r.Hidden)))
	for l := range r.Layers {
		for _, p := range []*nn.Param{r.Wih[l], r.Whh[l], r.Bih[l], r.Bhh[l]} {
			b.RandUniform(p.Value, -bound, bound, p.InitKey(seed))
		}
	}
}

// RNNState is the recurrent state of every layer of an [RNNLayer]: H[l]
// (and, for an LSTM, the cell state C[l]) of shape [N, Hidden]. A nil
// entry (or a nil *RNNState) is the zero state, which the first step then
// skips the h·W_hhᵀ product of.
type RNNState struct {
	H, C []*graph.Node
}

func (s *RNNState) layer(l int) (h, c *graph.Node) {
	if s == nil {
		return nil, nil
	}
	if l < len(s.H) {
		h = s.H[l]
	}
	if l < len(s.C) {
		c = s.C[l]
	}
	return h, c
}

// Forward runs the stack over t time steps of the time-major input x
// ([t·N, In]: rows [s·N, s·N+N) are step s of the N sequences) from the
// state h0 (nil: zeros). It returns the last layer's outputs, time-major
// [t·N, Hidden], and the state after the last step. As cuDNN does, each
// layer computes the input projections of all t steps in one product
// x·W_ihᵀ + b_ih and only h·W_hhᵀ + b_hh step by step; the unrolled graph
// is differentiated through time by the graph's reverse mode.
func (r *RNNLayer) Forward(ctx *Ctx, x *graph.Node, t int, h0 *RNNState) (*graph.Node, *RNNState) {
	g := ctx.G
	rows := x.Shape().Rows()
	if t < 1 || rows%t != 0 || x.Shape().Cols() != r.In {
		g.Errorf("rnn", "input %v for %d steps of %d features", x.Shape(), t, r.In)
		return x, &RNNState{}
	}
	n := rows / t
	out := &RNNState{H: make([]*graph.Node, r.Layers)}
	if r.Cell == LSTM {
		out.C = make([]*graph.Node, r.Layers)
	}
	steps := make([]*graph.Node, t)
	for l := range r.Layers {
		restore := g.Scope(fmt.Sprintf("rnn.l%d", l))
		if l > 0 && ctx.Train && r.Dropout > 0 {
			if ctx.Slots == nil {
				panic("layer: a training-mode dropout needs Ctx.Slots")
			}
			x = g.Dropout(x, r.Dropout, graph.StepStream(nn.PurposeDropout, ctx.Slots.Next()))
		}
		gi := g.BiasAct(g.MatMul(x, g.Param(r.Wih[l]), false, true), g.Param(r.Bih[l]), nn.Act{})
		h, c := h0.layer(l)
		for s := range t {
			h, c = r.step(g, l, g.Rows(gi, s*n, n), h, c)
			steps[s] = h
		}
		out.H[l] = h
		if r.Cell == LSTM {
			out.C[l] = c
		}
		if t == 1 {
			x = steps[0]
		} else {
			x = g.ConcatRows(steps...)
		}
		restore()
	}
	return x, out
}

var (
	sigmoid = nn.Act{Kind: nn.ActSigmoid}
	tanh    = nn.Act{Kind: nn.ActTanh}
)

// step is one time step of layer l: gi is the step's input projection
// x·W_ihᵀ + b_ih ([N, G·H]); h and c the state before it (nil: zeros; an
// LSTM's c alone may be given).
func (r *RNNLayer) step(g *graph.Graph, l int, gi, h, c *graph.Node) (*graph.Node, *graph.Node) {
	hd := r.Hidden
	var gh *graph.Node // h·W_hhᵀ + b_hh
	if h == nil {
		gh = g.BroadcastRows(g.Param(r.Bhh[l]), gi.Shape())
	} else {
		gh = g.BiasAct(g.MatMul(h, g.Param(r.Whh[l]), false, true), g.Param(r.Bhh[l]), nn.Act{})
	}
	if r.Cell == GRU {
		rz := g.Act(g.Add(g.Cols(gi, 0, 2*hd), g.Cols(gh, 0, 2*hd)), sigmoid)
		rg, z := g.Cols(rz, 0, hd), g.Cols(rz, hd, hd)
		cand := g.Act(g.Add(g.Cols(gi, 2*hd, hd), g.Mul(rg, g.Cols(gh, 2*hd, hd))), tanh)
		// h′ = (1 − z) ⊙ n + z ⊙ h = n + z ⊙ (h − n).
		if h == nil {
			return g.Sub(cand, g.Mul(z, cand)), nil
		}
		return g.Add(cand, g.Mul(z, g.Sub(h, cand))), nil
	}
	a := g.Add(gi, gh)
	ifg := g.Act(g.Cols(a, 0, 2*hd), sigmoid)
	i, f := g.Cols(ifg, 0, hd), g.Cols(ifg, hd, hd)
	gg := g.Act(g.Cols(a, 2*hd, hd), tanh)
	o := g.Act(g.Cols(a, 3*hd, hd), sigmoid)
	c2 := g.Mul(i, gg)
	if c != nil {
		c2 = g.Add(g.Mul(f, c), c2)
	}
	return g.Mul(o, g.Act(c2, tanh)), c2
}
