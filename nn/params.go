package nn

import "fmt"

// Param is one named parameter tensor of a model. Value and Grad are views
// into the model's flat arenas (see [ParamSet]), so that the optimiser can
// update every parameter of a model in a single pass.
type Param struct {
	Name       string
	Rows, Cols int
	Value      Mat
	Grad       Mat
	off        int
}

// ParamSet collects the parameters of one model in two flat arenas, one for
// the values and one for the gradients. Layers register their tensors with
// [ParamSet.Add] while the model is built; [ParamSet.Alloc] then allocates
// the arenas and fills in every Param's views.
type ParamSet struct {
	Value, Grad Mat // 1×N flat arenas, after Alloc
	params      []*Param
	n           int
	initStream  uint64 // stream index of the first tensor's initialisation
}

// NewParamSet returns an empty set whose tensors draw their initial values
// from the init streams initStream, initStream+1, … in registration order.
func NewParamSet(initStream uint64) *ParamSet { return &ParamSet{initStream: initStream} }

// Add registers a rows×cols tensor named name.
func (ps *ParamSet) Add(name string, rows, cols int) *Param {
	if !ps.Value.Empty() {
		panic("nn: ParamSet.Add after Alloc")
	}
	p := &Param{Name: name, Rows: rows, Cols: cols, off: ps.n}
	ps.params = append(ps.params, p)
	ps.n += rows * cols
	return p
}

// Params lists the tensors in registration order.
func (ps *ParamSet) Params() []*Param { return ps.params }

// Size is the total number of parameters.
func (ps *ParamSet) Size() int { return ps.n }

// InitKey is the random stream of the i-th registered tensor.
func (ps *ParamSet) InitKey(seed uint64, i int) RandKey {
	return RandKey{Seed: seed, Stream: StreamID(PurposeInit, ps.initStream+uint64(i))}
}

// Alloc allocates the value and gradient arenas on b.
func (ps *ParamSet) Alloc(b Backend) error {
	var err error
	if ps.Value, err = b.Alloc(1, ps.n); err != nil {
		return fmt.Errorf("allocating %d parameters: %w", ps.n, err)
	}
	if ps.Grad, err = b.Alloc(1, ps.n); err != nil {
		return fmt.Errorf("allocating %d gradients: %w", ps.n, err)
	}
	for _, p := range ps.params {
		p.Value = ps.Value.Slice(p.off, p.Rows, p.Cols)
		p.Grad = ps.Grad.Slice(p.off, p.Rows, p.Cols)
	}
	return nil
}

// Free releases the arenas.
func (ps *ParamSet) Free(b Backend) {
	if !ps.Value.Empty() {
		b.Free(ps.Value)
		b.Free(ps.Grad)
	}
}
