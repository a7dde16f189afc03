package nn

import "fmt"

// Adam is PyTorch's Adam optimiser (no weight decay, no amsgrad) over all
// parameters of one model, updated in a single backend call per step.
type Adam struct {
	LR, Beta1, Beta2, Eps float32
	// Step counts the updates done so far (PyTorch's state["step"]).
	Step int
	// M and V are the first and second moment estimates, flat like the
	// model's parameter arena.
	M, V Mat

	b      Backend
	params *ParamSet
}

// NewAdam allocates Adam's moments for ps on b.
func NewAdam(b Backend, ps *ParamSet, lr, beta1, beta2, eps float32) (*Adam, error) {
	a := &Adam{LR: lr, Beta1: beta1, Beta2: beta2, Eps: eps, b: b, params: ps}
	var err error
	if a.M, err = b.Alloc(1, ps.Size()); err != nil {
		return nil, fmt.Errorf("allocating Adam moments: %w", err)
	}
	if a.V, err = b.Alloc(1, ps.Size()); err != nil {
		b.Free(a.M)
		return nil, fmt.Errorf("allocating Adam moments: %w", err)
	}
	return a, nil
}

// Update applies one step using the gradients in the parameter set's arena.
func (a *Adam) Update() {
	a.Step++
	a.b.Adam(a.params.Value, a.params.Grad, a.M, a.V,
		AdamStep{LR: a.LR, Beta1: a.Beta1, Beta2: a.Beta2, Eps: a.Eps, Step: a.Step})
}

// Free releases the moments.
func (a *Adam) Free() { free(a.b, a.M, a.V) }

// Params returns the parameter set the optimiser updates.
func (a *Adam) Params() *ParamSet { return a.params }

// Backend returns the backend the optimiser's moments live on.
func (a *Adam) Backend() Backend { return a.b }

func free(b Backend, ms ...Mat) {
	for _, m := range ms {
		if !m.Empty() {
			b.Free(m)
		}
	}
}
