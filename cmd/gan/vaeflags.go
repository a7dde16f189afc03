package main

import (
	"flag"
	"fmt"
	"math"
	"strings"

	"gan/nn/model"
	"gan/nn/models/vae"
)

// vaeFlags are gan train's flags of the VAE families.
type vaeFlags struct {
	latent, iw int
	beta       float64
	binarize   string
}

// vaeFlagNames are the flags only a VAE family takes.
var vaeFlagNames = []string{"latent", "beta", "binarize", "iw"}

func (v *vaeFlags) register(fs *flag.FlagSet) {
	def := vae.DefaultConfig()
	fs.IntVar(&v.latent, "latent", def.Latent, "VAE: latent width (2 for the manifold pictures)")
	fs.Float64Var(&v.beta, "beta", float64(def.KLBeta), "VAE: weight of the KL term (β-VAE; 1 is the plain VAE)")
	fs.StringVar(&v.binarize, "binarize", def.Binarize, "VAE: training data: dynamic (a fresh Bernoulli draw of every pixel from its grey level at every step, as the likelihood literature) or none (grey levels, as pytorch/examples)")
	fs.IntVar(&v.iw, "iw", def.IW, "VAE: importance samples per image of the training bound (1: the ELBO; K > 1: the IWAE bound)")
}

// apply checks the VAE flags given (set) and writes them into cfg; they
// are an error with any other family. When resuming a checkpoint whose
// family is not known yet (no --model), the values are written for
// reconcileResume to compare with the checkpoint's.
func (v *vaeFlags) apply(cfg *model.Config, set map[string]bool, resuming bool) error {
	if !vae.IsVAE(cfg.Model) && !resuming {
		for _, name := range vaeFlagNames {
			if set[name] {
				return usagef("--%s: only the VAE families (%s, %s) take it, not --model %s", name, vae.MLPName, vae.ConvName, cfg.Model)
			}
		}
		return nil
	}
	if set["latent"] {
		if v.latent < 1 || v.latent > vae.MaxLatent {
			return usagef("--latent %d: must be between 1 and %d", v.latent, vae.MaxLatent)
		}
		cfg.Latent = v.latent
	}
	if set["beta"] {
		if !(v.beta >= 0) || math.IsInf(v.beta, 0) {
			return usagef("--beta %g: must be a number ≥ 0", v.beta)
		}
		cfg.KLBeta = float32(v.beta)
	}
	if set["binarize"] {
		if v.binarize != vae.BinarizeDynamic && v.binarize != vae.BinarizeNone {
			return usagef("--binarize %q: must be %s", v.binarize, strings.Join([]string{vae.BinarizeDynamic, vae.BinarizeNone}, " or "))
		}
		cfg.Binarize = v.binarize
	}
	if set["iw"] {
		if v.iw < 1 || v.iw > vae.MaxIW {
			return usagef("--iw %d: must be between 1 and %d", v.iw, vae.MaxIW)
		}
		cfg.IW = v.iw
	}
	return nil
}

// vaeSummary describes a VAE configuration in a few words.
func vaeSummary(c *model.Config) string {
	return fmt.Sprintf("latent %d, β %g, binarize %s, iw %d", c.Latent, c.KLBeta, c.Binarize, c.IW)
}
