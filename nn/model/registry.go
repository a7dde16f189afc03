package model

import (
	"fmt"
	"sort"
	"strings"

	"gan/nn"
)

// Family is a kind of model that `gan train --model NAME` can train.
type Family struct {
	// Name is the --model name, e.g. "seed-mlp-gan".
	Name string
	// Summary describes the family in one line for `gan models`.
	Summary string
	// Defaults returns the family's default configuration (Model set).
	Defaults func() Config
	// Validate checks the family-specific parts of a configuration (nil:
	// nothing beyond Config.Validate).
	Validate func(Config) error
	// New builds a freshly initialised model on b.
	New func(b nn.Backend, cfg Config) (Model, error)
	// LossDefaults returns the family's own settings for a GAN loss on
	// the architecture preset arch (Config.Arch) where they differ from
	// the loss's (package ganloss's Defaults); ok false, or a nil
	// LossDefaults, means the loss's.
	LossDefaults func(loss, arch string) (s LossSettings, ok bool)
}

// LossSettings are the optimiser settings and critic steps a GAN loss is
// trained with by default.
type LossSettings struct {
	// LR, Beta1 and Beta2 are Adam's learning rate and betas.
	LR, Beta1, Beta2 float32
	// DScale is D's learning rate as a multiple of LR (Config.DLR; 0:
	// the same rate as G).
	DScale float32
	// NCritic is the number of critic steps per G step.
	NCritic int
}

var families = map[string]Family{}

// Register adds a family; it panics if the name is taken (a programming
// error, caught by any test that imports the families).
func Register(f Family) {
	if _, dup := families[f.Name]; dup {
		panic("model: family " + f.Name + " registered twice")
	}
	if f.Name == "" || f.New == nil || f.Defaults == nil {
		panic("model: incomplete family " + f.Name)
	}
	families[f.Name] = f
}

// Families lists the registered families by name.
func Families() []Family {
	out := make([]Family, 0, len(families))
	for _, f := range families {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the family named name, or an error listing the known
// ones.
func Lookup(name string) (Family, error) {
	f, ok := families[name]
	if !ok {
		var names []string
		for _, f := range Families() {
			names = append(names, f.Name)
		}
		return Family{}, fmt.Errorf("unknown model %q (this build has %s)", name, strings.Join(names, ", "))
	}
	return f, nil
}

// ValidateConfig checks cfg against the common rules and its family's.
func ValidateConfig(cfg Config) error {
	f, err := Lookup(cfg.Model)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if f.Validate != nil {
		return f.Validate(cfg)
	}
	return nil
}

// New builds a freshly initialised model of cfg's family on b.
func New(b nn.Backend, cfg Config) (Model, error) {
	if err := ValidateConfig(cfg); err != nil {
		return nil, err
	}
	f, _ := Lookup(cfg.Model)
	return f.New(b, cfg)
}
