package nn

import (
	"fmt"
	"math"
)

// Pass describes one forward/backward pass through a model: whether it
// trains (dropout on), which random streams its dropout masks use, and
// which gradients its backward pass must produce.
type Pass struct {
	Train bool
	Seed  uint64
	// DropoutIndex identifies the pass among all passes of a run; layer l's
	// mask uses stream StreamID(PurposeDropout, DropoutIndex<<8 | l).
	DropoutIndex uint64
	// ParamGrads asks Backward for parameter gradients (written into the
	// model's gradient arena, overwriting it).
	ParamGrads bool
	// InputGrad asks Backward for the gradient with respect to the input.
	InputGrad bool
}

// Layer is one stage of a [Sequential] model. A layer owns the buffers of its
// outputs and gradients, allocated once for up to maxRows rows by Init, and
// returns views of them: a forward or backward call allocates nothing.
type Layer interface {
	// Init registers parameters with ps (before ps.Alloc) and records the
	// backend and the largest batch; buffers are allocated by Alloc.
	Init(ps *ParamSet, maxRows int)
	// Alloc allocates the layer's buffers on b (after ps.Alloc).
	Alloc(b Backend) error
	// InitParams draws the initial parameter values.
	InitParams(b Backend, ps *ParamSet, seed uint64)
	// Forward computes the output for x (n×In) and keeps what Backward needs.
	Forward(x Mat, p *Pass, index int) Mat
	// Backward takes dL/dy and returns dL/dx when p.InputGrad is set (the
	// zero Mat otherwise). It may overwrite dy.
	Backward(dy Mat, p *Pass) Mat
	// Free releases the buffers.
	Free(b Backend)
	// Out is the output width.
	Out() int
}

// alloc allocates rows×cols on b, adding context to the error.
func alloc(b Backend, what string, rows, cols int) (Mat, error) {
	m, err := b.Alloc(rows, cols)
	if err != nil {
		return Mat{}, fmt.Errorf("allocating %s (%dx%d): %w", what, rows, cols, err)
	}
	return m, nil
}

func free(b Backend, ms ...Mat) {
	for _, m := range ms {
		if !m.Empty() {
			b.Free(m)
		}
	}
}

// Linear is a fully connected layer y = act(x·Wᵀ + b) with W of shape Out×In
// (PyTorch's layout). The activation is fused into the bias add; [Sequential]
// folds a Linear followed by an activation layer into one Linear.
type Linear struct {
	In, OutN int
	Act      Act
	Name     string // parameter prefix, e.g. "model.0"
	W, B     *Param

	b       Backend
	maxRows int
	x       Mat // the input of the last forward
	y       Mat // output buffer, maxRows×Out
	dz      Mat // gradient before the activation
	dx      Mat // input gradient buffer
}

// NewLinear returns an In→Out linear layer with no activation.
func NewLinear(in, out int) *Linear { return &Linear{In: in, OutN: out} }

// Out is the output width.
func (l *Linear) Out() int { return l.OutN }

// Init registers W and b.
func (l *Linear) Init(ps *ParamSet, maxRows int) {
	l.W = ps.Add(l.Name+".weight", l.OutN, l.In)
	l.B = ps.Add(l.Name+".bias", 1, l.OutN)
	l.maxRows = maxRows
}

// Alloc allocates the output and gradient buffers.
func (l *Linear) Alloc(b Backend) error {
	l.b = b
	var err error
	if l.y, err = alloc(b, l.Name+" output", l.maxRows, l.OutN); err != nil {
		return err
	}
	if l.Act.Kind != ActNone {
		if l.dz, err = alloc(b, l.Name+" activation gradient", l.maxRows, l.OutN); err != nil {
			return err
		}
	}
	l.dx, err = alloc(b, l.Name+" input gradient", l.maxRows, l.In)
	return err
}

// InitParams is PyTorch's default nn.Linear init: W and b uniform in
// ±1/√In (kaiming_uniform_ with a = √5 reduces to this bound).
func (l *Linear) InitParams(b Backend, ps *ParamSet, seed uint64) {
	bound := float32(1 / math.Sqrt(float64(l.In)))
	for i, p := range ps.Params() {
		if p == l.W || p == l.B {
			b.RandUniform(p.Value, -bound, bound, ps.InitKey(seed, i))
		}
	}
}

// Forward computes act(x·Wᵀ + b).
func (l *Linear) Forward(x Mat, _ *Pass, _ int) Mat {
	l.x = x
	y := l.y.RowView(0, x.Rows)
	l.b.MatMul(y, x, l.W.Value, false, true, 0)
	l.b.BiasAct(y, l.B.Value, l.Act)
	return y
}

// Backward computes dW = dzᵀ·x, db = Σ dz and dx = dz·W, where dz is dy
// through the activation's derivative.
func (l *Linear) Backward(dy Mat, p *Pass) Mat {
	n := dy.Rows
	dz := dy
	if l.Act.Kind != ActNone {
		dz = l.dz.RowView(0, n)
		l.b.ActBackward(dz, dy, l.y.RowView(0, n), l.Act)
	}
	if p.ParamGrads {
		l.b.MatMul(l.W.Grad, dz, l.x, true, false, 0)
		l.b.ColSum(l.B.Grad, dz, 0)
	}
	if !p.InputGrad {
		return Mat{}
	}
	dx := l.dx.RowView(0, n)
	l.b.MatMul(dx, dz, l.W.Value, false, false, 0)
	return dx
}

// Free releases the buffers.
func (l *Linear) Free(b Backend) { free(b, l.y, l.dz, l.dx) }

// Activation is a standalone elementwise activation layer.
type Activation struct {
	Act   Act
	Width int

	b       Backend
	maxRows int
	y, dx   Mat
}

// NewLeakyReLU returns a LeakyReLU layer with the given negative slope (≥ 0).
func NewLeakyReLU(slope float32) *Activation {
	return &Activation{Act: Act{Kind: ActLeakyReLU, Slope: slope}}
}

// NewTanh returns a Tanh layer.
func NewTanh() *Activation { return &Activation{Act: Act{Kind: ActTanh}} }

// Out is the output width (equal to the input width).
func (a *Activation) Out() int { return a.Width }

// Init records the batch size; an activation has no parameters.
func (a *Activation) Init(_ *ParamSet, maxRows int) { a.maxRows = maxRows }

// Alloc allocates the output and gradient buffers.
func (a *Activation) Alloc(b Backend) error {
	a.b = b
	var err error
	if a.y, err = alloc(b, "activation output", a.maxRows, a.Width); err != nil {
		return err
	}
	a.dx, err = alloc(b, "activation gradient", a.maxRows, a.Width)
	return err
}

// InitParams does nothing.
func (a *Activation) InitParams(Backend, *ParamSet, uint64) {}

// Forward computes act(x).
func (a *Activation) Forward(x Mat, _ *Pass, _ int) Mat {
	y := a.y.RowView(0, x.Rows)
	a.b.Activate(y, x, a.Act)
	return y
}

// Backward computes dy ⊙ act'.
func (a *Activation) Backward(dy Mat, p *Pass) Mat {
	if !p.InputGrad {
		return Mat{}
	}
	dx := a.dx.RowView(0, dy.Rows)
	a.b.ActBackward(dx, dy, a.y.RowView(0, dy.Rows), a.Act)
	return dx
}

// Free releases the buffers.
func (a *Activation) Free(b Backend) { free(b, a.y, a.dx) }

// Dropout zeroes each input with probability P in training passes and scales
// the rest by 1/(1−P), as PyTorch's nn.Dropout; in evaluation it is the
// identity. Masks come from the shared generator (see [Pass]).
type Dropout struct {
	P     float32
	Width int

	b           Backend
	maxRows     int
	y, mask, dx Mat
	train       bool
}

// NewDropout returns a dropout layer with drop probability p.
func NewDropout(p float32) *Dropout { return &Dropout{P: p} }

// Out is the output width.
func (d *Dropout) Out() int { return d.Width }

// Init records the batch size.
func (d *Dropout) Init(_ *ParamSet, maxRows int) { d.maxRows = maxRows }

// Alloc allocates the output, mask and gradient buffers.
func (d *Dropout) Alloc(b Backend) error {
	d.b = b
	var err error
	if d.y, err = alloc(b, "dropout output", d.maxRows, d.Width); err != nil {
		return err
	}
	if d.mask, err = alloc(b, "dropout mask", d.maxRows, d.Width); err != nil {
		return err
	}
	d.dx, err = alloc(b, "dropout gradient", d.maxRows, d.Width)
	return err
}

// InitParams does nothing.
func (d *Dropout) InitParams(Backend, *ParamSet, uint64) {}

// Forward applies a fresh mask in training passes.
func (d *Dropout) Forward(x Mat, p *Pass, index int) Mat {
	d.train = p.Train && d.P > 0
	if !d.train {
		return x
	}
	y := d.y.RowView(0, x.Rows)
	key := RandKey{Seed: p.Seed, Stream: StreamID(PurposeDropout, p.DropoutIndex<<8|uint64(index))}
	d.b.Dropout(y, d.mask.RowView(0, x.Rows), x, d.P, key)
	return y
}

// Backward multiplies by the mask of the last forward.
func (d *Dropout) Backward(dy Mat, p *Pass) Mat {
	if !p.InputGrad {
		return Mat{}
	}
	if !d.train {
		return dy
	}
	dx := d.dx.RowView(0, dy.Rows)
	d.b.DropoutBackward(dx, dy, d.mask.RowView(0, dy.Rows))
	return dx
}

// Free releases the buffers.
func (d *Dropout) Free(b Backend) { free(b, d.y, d.mask, d.dx) }

// Sequential runs layers one after another, like PyTorch's nn.Sequential.
// Parameter names follow PyTorch's state_dict keys ("model.0.weight"): the
// index is the layer's position in the list given to [NewSequential].
type Sequential struct {
	Prefix string
	In     int
	Layers []Layer
	Params *ParamSet

	b     Backend
	inner Pass // reused by Backward, so that no Pass escapes per call
}

// NewSequential builds a model for inputs of width in and batches of up to
// maxRows rows. A Linear immediately followed by a LeakyReLU or Tanh layer
// is fused into one Linear with that activation. Parameters are registered
// in a new ParamSet whose tensors use init streams from initStream on.
func NewSequential(prefix string, in, maxRows int, initStream uint64, layers ...Layer) *Sequential {
	s := &Sequential{Prefix: prefix, In: in, Params: NewParamSet(initStream)}
	width := in
	for i := 0; i < len(layers); i++ {
		switch l := layers[i].(type) {
		case *Linear:
			if l.In != width {
				panic(fmt.Sprintf("nn: %s layer %d: Linear expects %d inputs, gets %d", prefix, i, l.In, width))
			}
			l.Name = fmt.Sprintf("model.%d", i)
			if a, ok := next(layers, i).(*Activation); ok && l.Act.Kind == ActNone {
				l.Act = a.Act
				s.Layers = append(s.Layers, l)
				i++ // the activation is fused
				width = l.OutN
				continue
			}
		case *Activation:
			l.Width = width
		case *Dropout:
			l.Width = width
		}
		s.Layers = append(s.Layers, layers[i])
		width = layers[i].Out()
	}
	for _, l := range s.Layers {
		l.Init(s.Params, maxRows)
	}
	return s
}

func next(layers []Layer, i int) Layer {
	if i+1 < len(layers) {
		return layers[i+1]
	}
	return nil
}

// Alloc allocates parameters and buffers on b.
func (s *Sequential) Alloc(b Backend) error {
	s.b = b
	if err := s.Params.Alloc(b); err != nil {
		return fmt.Errorf("%s: %w", s.Prefix, err)
	}
	for _, l := range s.Layers {
		if err := l.Alloc(b); err != nil {
			return fmt.Errorf("%s: %w", s.Prefix, err)
		}
	}
	return nil
}

// InitParams draws every parameter from its init stream.
func (s *Sequential) InitParams(seed uint64) {
	for _, l := range s.Layers {
		l.InitParams(s.b, s.Params, seed)
	}
}

// Out is the output width.
func (s *Sequential) Out() int { return s.Layers[len(s.Layers)-1].Out() }

// Forward runs every layer on x.
func (s *Sequential) Forward(x Mat, p *Pass) Mat {
	for i, l := range s.Layers {
		x = l.Forward(x, p, i)
	}
	return x
}

// Backward runs every layer's backward in reverse. Intermediate layers
// always propagate input gradients; the first one only if p.InputGrad.
func (s *Sequential) Backward(dy Mat, p *Pass) Mat {
	s.inner = *p
	s.inner.InputGrad = true
	for i := len(s.Layers) - 1; i >= 0; i-- {
		if i == 0 {
			s.inner.InputGrad = p.InputGrad
		}
		dy = s.Layers[i].Backward(dy, &s.inner)
	}
	return dy
}

// Free releases parameters and buffers.
func (s *Sequential) Free() {
	for _, l := range s.Layers {
		l.Free(s.b)
	}
	s.Params.Free(s.b)
}
