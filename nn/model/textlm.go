package model

import (
	"fmt"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/text"
)

// LMKind is what a compiled program of a character language model
// (char-gpt, char-gru) computes.
type LMKind int

const (
	// LMStep is a training step: the mean next-character cross-entropy,
	// its backward pass and the optimiser's update.
	LMStep LMKind = iota
	// LMEval is the same loss in evaluation mode.
	LMEval
	// LMLogits is the logits of one sequence.
	LMLogits
)

// LMProgram is one compiled graph of a character language model over n
// sequences of T tokens, with the host buffers of its token ids.
type LMProgram struct {
	Prog        *graph.Program
	Tok, Tgt    *graph.Index
	Loss, Out   *graph.Node
	IDs, TgtIDs []int32
}

// LMPrograms compiles a language model's programs on first use, one per
// kind and sequence count, and runs what char-gpt and char-gru share: the
// training step, the loss and the logits of one sequence.
type LMPrograms struct {
	// Name names the model in errors ("char-gpt").
	Name string
	// T and V are the block (tokens per sequence) and the vocabulary size.
	T, V int
	// TimeMajor says the model's rows are time-major (token t of sequence
	// s at row t·n + s) rather than sequence-major.
	TimeMajor bool
	// Forward adds the model's logits (n·T rows of V) over n sequences of
	// the token indices tok to g; train selects training mode. It returns
	// a function that finishes the compiled program (binds model-specific
	// inputs), or nil.
	Forward func(g *graph.Graph, n int, tok *graph.Index, train bool) (*graph.Node, func(*graph.Program) error)
	// Params and Opt are what a training step differentiates and updates.
	Params *nn.ParamSet
	Opt    *nn.Adam

	b     nn.Backend
	eye   nn.Mat // V×V identity: one-hot targets are its rows
	cache [3]map[int]*LMProgram
}

// Alloc puts the V×V identity whose rows are the one-hot targets on b,
// where the programs will run; Free releases it.
func (ps *LMPrograms) Alloc(b nn.Backend) error {
	ps.b = b
	eye, err := b.Alloc(ps.V, ps.V)
	if err != nil {
		return fmt.Errorf("%s: %w", ps.Name, err)
	}
	ps.eye = eye
	host := make([]float32, ps.V*ps.V)
	for i := range ps.V {
		host[i*ps.V+i] = 1
	}
	if err := b.Upload(eye, host); err != nil {
		return fmt.Errorf("%s: %w", ps.Name, err)
	}
	return nil
}

// Get returns the program of kind over n sequences, compiling it the first
// time.
func (ps *LMPrograms) Get(n int, kind LMKind) (*LMProgram, error) {
	if ps.cache[kind] == nil {
		ps.cache[kind] = map[int]*LMProgram{}
	}
	if p := ps.cache[kind][n]; p != nil {
		return p, nil
	}
	p, err := ps.build(n, kind)
	if err != nil {
		return nil, err
	}
	ps.cache[kind][n] = p
	return p, nil
}

func (ps *LMPrograms) build(n int, kind LMKind) (*LMProgram, error) {
	g := graph.New()
	p := &LMProgram{IDs: make([]int32, n*ps.T), TgtIDs: make([]int32, n*ps.T)}
	p.Tok = g.Indices("tokens", n*ps.T)
	logits, finish := ps.Forward(g, n, p.Tok, kind == LMStep)
	var eye *graph.Node
	if kind == LMLogits {
		p.Out = logits
		g.Output(logits)
	} else {
		p.Tgt = g.Indices("targets", n*ps.T)
		eye = g.Input("one-hot", graph.Shape{ps.V, ps.V})
		p.Loss, _ = g.SoftmaxCE(logits, g.GatherRows(eye, p.Tgt))
		if kind == LMStep {
			g.Backward(p.Loss, ps.Params)
			g.Update(ps.Opt)
		}
		g.Fetch(p.Loss)
	}
	prog, err := g.Compile(ps.b)
	if err != nil {
		return nil, fmt.Errorf("%s program: %w", ps.Name, err)
	}
	p.Prog = prog
	if eye != nil {
		if err := prog.Bind(eye, ps.eye); err != nil {
			prog.Free()
			return nil, err
		}
	}
	if finish != nil {
		if err := finish(prog); err != nil {
			prog.Free()
			return nil, err
		}
	}
	return p, nil
}

// Free releases every compiled program and the identity.
func (ps *LMPrograms) Free() {
	for k, c := range ps.cache {
		for _, p := range c {
			p.Prog.Free()
		}
		ps.cache[k] = nil
	}
	if !ps.eye.Empty() {
		ps.b.Free(ps.eye)
		ps.eye = nn.Mat{}
	}
}

// run sets p's inputs and targets from sequences of T+1 ids and runs it.
func (ps *LMPrograms) run(p *LMProgram, tokens []int32, seed uint64, step int) error {
	if err := text.NextChars(ps.Name, tokens, ps.T, ps.V, ps.TimeMajor, p.IDs, p.TgtIDs); err != nil {
		return err
	}
	if err := p.Prog.SetIndices(p.Tok, p.IDs); err != nil {
		return err
	}
	if err := p.Prog.SetIndices(p.Tgt, p.TgtIDs); err != nil {
		return err
	}
	return p.Prog.Run(seed, uint64(step))
}

// TrainStep does one optimiser step of m on the batch's Tokens (sequences
// of T+1 ids, at most batch of them), advances m's step and returns stats
// with the batch's loss in stats[0], checked finite against defs.
func (ps *LMPrograms) TrainStep(m *Base, tokens []int32, stats []float64, defs []Stat) ([]float64, error) {
	n, err := text.Sequences(ps.Name, tokens, ps.T, m.Cfg.Batch)
	if err != nil {
		return nil, fmt.Errorf("train step: %w", err)
	}
	p, err := ps.Get(n, LMStep)
	if err != nil {
		return nil, err
	}
	err = ps.run(p, tokens, m.Cfg.Seed, m.Step())
	m.Advance()
	if err != nil {
		return nil, fmt.Errorf("train step %d: %w", m.Step(), err)
	}
	stats[0] = float64(p.Prog.Value(p.Loss))
	return stats, Finite(m.Step(), defs, stats)
}

// Loss is the mean next-character cross-entropy of tokens in evaluation
// mode.
func (ps *LMPrograms) Loss(m *Base, tokens []int32) (float64, error) {
	n, err := text.Sequences(ps.Name, tokens, ps.T, m.Cfg.Batch)
	if err != nil {
		return 0, err
	}
	p, err := ps.Get(n, LMEval)
	if err != nil {
		return 0, err
	}
	if err := ps.run(p, tokens, m.Cfg.Seed, m.Step()); err != nil {
		return 0, fmt.Errorf("%s loss: %w", ps.Name, err)
	}
	return float64(p.Prog.Value(p.Loss)), nil
}

// Logits writes the logits of the T ids (one sequence) to out (T·V
// values, row j predicting the character after ids[j]).
func (ps *LMPrograms) Logits(m *Base, ids []int32, out []float32) error {
	if len(ids) != ps.T || len(out) != ps.T*ps.V {
		return fmt.Errorf("%s logits: %d ids, %d outputs: want %d and %d", ps.Name, len(ids), len(out), ps.T, ps.T*ps.V)
	}
	for _, id := range ids {
		if id < 0 || int(id) >= ps.V {
			return fmt.Errorf("%s: token id %d outside the vocabulary of %d", ps.Name, id, ps.V)
		}
	}
	p, err := ps.Get(1, LMLogits)
	if err != nil {
		return err
	}
	if err := p.Prog.SetIndices(p.Tok, ids); err != nil {
		return err
	}
	if err := p.Prog.Run(m.Cfg.Seed, uint64(m.Step())); err != nil {
		return fmt.Errorf("%s logits: %w", ps.Name, err)
	}
	return m.B.Download(out, p.Prog.Mat(p.Out))
}
