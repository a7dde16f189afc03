package model

import (
	"fmt"

	"gan/nn"
)

// GANPair holds what every GAN family has beside its layers: the parameter
// sets of G and D and an Adam optimiser for each. Families embed it, so
// that PG, PD, OptG and OptD and the Nets method are theirs.
type GANPair struct {
	PG, PD     *nn.ParamSet
	OptG, OptD *nn.Adam
}

// Alloc allocates both parameter sets on b and an Adam optimiser with c's
// settings for each: learning rate c.LR for G, and c.DLR (c.LR where 0)
// for D.
func (p *GANPair) Alloc(b nn.Backend, c Config) error {
	if err := p.PG.Alloc(b); err != nil {
		return fmt.Errorf("G: %w", err)
	}
	if err := p.PD.Alloc(b); err != nil {
		return fmt.Errorf("D: %w", err)
	}
	var err error
	if p.OptG, err = nn.NewAdam(b, p.PG, c.LR, c.Beta1, c.Beta2, c.Eps); err != nil {
		return err
	}
	dlr := c.LR
	if c.DLR > 0 {
		dlr = c.DLR
	}
	p.OptD, err = nn.NewAdam(b, p.PD, dlr, c.Beta1, c.Beta2, c.Eps)
	return err
}

// FreePair releases the optimisers and the parameter sets (whatever Alloc
// got to allocate).
func (p *GANPair) FreePair(b nn.Backend) {
	for _, o := range []*nn.Adam{p.OptG, p.OptD} {
		if o != nil {
			o.Free()
		}
	}
	p.OptG, p.OptD = nil, nil
	p.PG.Free(b)
	p.PD.Free(b)
}

// Nets lists G and D with their optimisers, in checkpoint order.
func (p *GANPair) Nets() []Net {
	return []Net{{Name: "G", Params: p.PG, Opt: p.OptG}, {Name: "D", Params: p.PD, Opt: p.OptD}}
}
