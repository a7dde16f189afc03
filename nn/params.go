package nn

import (
	"fmt"
	"slices"
)

// Param is one named tensor of a model: a trainable parameter, or a buffer
// (a non-trainable tensor saved with the model, such as batch norm's
// running statistics). Value and Grad are views into the set's flat arenas
// (see [ParamSet]), so that the optimiser updates every parameter of a
// model in a single pass.
type Param struct {
	// Name is PyTorch's state_dict key within its module, e.g.
	// "model.0.weight".
	Name string
	// Shape is PyTorch's shape of the tensor, e.g. [1 256] for the weight
	// of a Linear(256, 1) and [256] for its bias.
	Shape []int
	// Rows and Cols are the matrix the backends see: a 1-D tensor is a row
	// (1×n); otherwise the first dimension gives the rows and the product
	// of the others the columns.
	Rows, Cols int
	// Buffer marks a non-trainable tensor: it has no gradient.
	Buffer bool
	// Int64 marks a buffer that PyTorch keeps as int64 (BatchNorm's
	// num_batches_tracked): held as float32 here, saved as I64.
	Int64 bool
	// InitIndex numbers the tensor's initialisation stream (see
	// [PurposeInit]).
	InitIndex uint64
	Value     Mat
	Grad      Mat // the zero Mat for a buffer
	off       int
}

// Len is the number of elements.
func (p *Param) Len() int { return p.Rows * p.Cols }

// InitKey is the random stream of the tensor's initial values.
func (p *Param) InitKey(seed uint64) RandKey {
	return RandKey{Seed: seed, Stream: StreamID(PurposeInit, p.InitIndex)}
}

// MatShape returns the rows×cols matrix that holds a tensor of shape.
func MatShape(shape []int) (rows, cols int) {
	if len(shape) == 0 {
		return 1, 1
	}
	if len(shape) == 1 {
		return 1, shape[0]
	}
	cols = 1
	for _, d := range shape[1:] {
		cols *= d
	}
	return shape[0], cols
}

// ParamSet collects the tensors of one network in flat arenas: one for the
// parameters' values, one for their gradients and one for the buffers.
// Layers register their tensors with [ParamSet.Add] and
// [ParamSet.AddBuffer] while the network is built; [ParamSet.Alloc] then
// allocates the arenas and fills in every Param's views.
type ParamSet struct {
	// Value and Grad are the 1×N arenas of the trainable parameters, and
	// Buffers the 1×M arena of the buffers, after Alloc.
	Value, Grad, Buffers Mat
	params               []*Param
	n, nbuf              int
	nextInit             func() uint64
}

// NewParamSet returns an empty set whose tensors draw their initial values
// from the init streams initStream, initStream+1, … in registration order
// (the numbering of the seed GAN and the reference classifier).
func NewParamSet(initStream uint64) *ParamSet {
	next := initStream
	return &ParamSet{nextInit: func() uint64 { next++; return next - 1 }}
}

// NewParamSetFrom returns an empty set whose tensors take their init
// stream numbers from streams, which the other networks of the same model
// family share, so that no two tensors of a run share a stream.
func NewParamSetFrom(streams *InitStreams) *ParamSet {
	return &ParamSet{nextInit: streams.Next}
}

func (ps *ParamSet) add(name string, shape []int, buffer bool) *Param {
	if !ps.Value.Empty() || !ps.Buffers.Empty() {
		panic("nn: ParamSet.Add after Alloc")
	}
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("nn: tensor %s has a negative dimension %v", name, shape))
		}
	}
	rows, cols := MatShape(shape)
	p := &Param{Name: name, Shape: slices.Clone(shape), Rows: rows, Cols: cols, Buffer: buffer, InitIndex: ps.nextInit()}
	if buffer {
		p.off = ps.nbuf
		ps.nbuf += rows * cols
	} else {
		p.off = ps.n
		ps.n += rows * cols
	}
	ps.params = append(ps.params, p)
	return p
}

// Add registers a trainable tensor of PyTorch shape shape named name.
func (ps *ParamSet) Add(name string, shape ...int) *Param { return ps.add(name, shape, false) }

// AddBuffer registers a non-trainable tensor (no gradient, not updated by
// the optimiser, saved in checkpoints).
func (ps *ParamSet) AddBuffer(name string, shape ...int) *Param { return ps.add(name, shape, true) }

// Params lists the trainable tensors and the buffers in registration
// order.
func (ps *ParamSet) Params() []*Param { return ps.params }

// Trainable lists the trainable tensors in registration order.
func (ps *ParamSet) Trainable() []*Param {
	var out []*Param
	for _, p := range ps.params {
		if !p.Buffer {
			out = append(out, p)
		}
	}
	return out
}

// Lookup returns the tensor named name, or nil.
func (ps *ParamSet) Lookup(name string) *Param {
	for _, p := range ps.params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Size is the total number of trainable parameters.
func (ps *ParamSet) Size() int { return ps.n }

// BufferSize is the total number of buffer elements.
func (ps *ParamSet) BufferSize() int { return ps.nbuf }

// Slice returns the part of the flat arena m (the value, gradient or an
// optimiser's moment arena of this set) that belongs to p.
func (p *Param) Slice(m Mat) Mat { return m.Slice(p.off, p.Rows, p.Cols) }

// Alloc allocates the arenas on b.
func (ps *ParamSet) Alloc(b Backend) error {
	var err error
	if ps.Value, err = b.Alloc(1, ps.n); err != nil {
		return fmt.Errorf("allocating %d parameters: %w", ps.n, err)
	}
	if ps.Grad, err = b.Alloc(1, ps.n); err != nil {
		return fmt.Errorf("allocating %d gradients: %w", ps.n, err)
	}
	if ps.nbuf > 0 {
		if ps.Buffers, err = b.Alloc(1, ps.nbuf); err != nil {
			return fmt.Errorf("allocating %d buffer elements: %w", ps.nbuf, err)
		}
	}
	for _, p := range ps.params {
		if p.Buffer {
			p.Value = ps.Buffers.Slice(p.off, p.Rows, p.Cols)
			continue
		}
		p.Value = ps.Value.Slice(p.off, p.Rows, p.Cols)
		p.Grad = ps.Grad.Slice(p.off, p.Rows, p.Cols)
	}
	return nil
}

// Free releases the arenas.
func (ps *ParamSet) Free(b Backend) {
	for _, m := range []Mat{ps.Value, ps.Grad, ps.Buffers} {
		if !m.Empty() {
			b.Free(m)
		}
	}
	ps.Value, ps.Grad, ps.Buffers = Mat{}, Mat{}, Mat{}
}
