package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"strings"

	"gan/nn"
	"gan/nn/imagefolder"
	"gan/nn/model"
	"gan/nn/models/ganloss"
	"gan/nn/models/seedgan" // registers the seed GAN
)

// defaultModel is the family that --model names when it is not given.
const defaultModel = seedgan.Name

func init() {
	register(command{"models", "list the model families this binary can train (the names --model takes)", runModels})
	register(command{"import", "turn a PyTorch state_dict (safetensors) into a checkpoint: import STATE_DICT -o CHECKPOINT", runImport})
}

func runModels(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("models", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	fams := model.Families()
	width := 0
	for _, f := range fams {
		width = max(width, len(f.Name))
	}
	for _, f := range fams {
		def := ""
		if f.Name == defaultModel {
			def = " (default)"
		}
		fmt.Fprintf(stdout, "%-*s  %s%s\n", width, f.Name, f.Summary, def)
	}
	return nil
}

// checkModelFlag returns a usage error naming --model and the known
// families when name is not one of them.
func checkModelFlag(name string) error {
	if _, err := model.Lookup(name); err != nil {
		return usagef("--model: %v; gan models describes them", err)
	}
	return nil
}

// loadModel rebuilds on b the model in the file path, given as flag
// ("--checkpoint" or "--resume"): a checkpoint of gan train or gan import,
// which names its own family and configuration, or a bare PyTorch
// state_dict, read as a model of family name with that family's default
// configuration and fresh optimiser state. When nameSet (--model given
// explicitly), a checkpoint of another family is an error.
func loadModel(b nn.Backend, flag, path, name string, nameSet bool) (model.Model, error) {
	t, err := nn.ReadTensorsFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if model.IsCheckpoint(t) {
		if nameSet {
			if c, err := model.ConfigOf(t); err == nil && c.Model != name {
				return nil, usagef("%s %s is a %s checkpoint, not --model %s (a checkpoint names its own model; leave out --model)", flag, path, c.Model, name)
			}
		}
		m, err := model.FromTensors(b, t, path, "")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		return m, nil
	}
	f, err := model.Lookup(name)
	if err != nil {
		return nil, usagef("--model: %v", err)
	}
	return fromStateDict(b, t, flag, path, f.Defaults())
}

// fromStateDict builds a fresh model of cfg on b and loads the bare
// state_dict t (read from path, given as flag) into it. Its errors say
// that the file was read as a state_dict and name the tensor at fault.
func fromStateDict(b nn.Backend, t *nn.Tensors, flag, path string, cfg model.Config) (model.Model, error) {
	m, err := model.New(b, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if err := model.RestoreStateDict(m, t); err != nil {
		m.Free()
		return nil, fmt.Errorf("%s %s: read as a bare PyTorch state_dict of --model %s (it has no gan checkpoint metadata): %w", flag, path, cfg.Model, err)
	}
	return m, nil
}

// configFlags are the training configuration's flags, shared by gan train
// and gan import.
type configFlags struct {
	model, dataset string
	epochs, batch  int
	lr, dlr        float64
	seed           uint64
	channels, size int // 0: the family's own
	loss           string
	nCritic        int
	arch           string
}

// register defines the flags on fs with the defaults of the default
// family; apply replaces those not given by the chosen family's.
func (c *configFlags) register(fs *flag.FlagSet) {
	def := seedgan.DefaultConfig()
	fs.StringVar(&c.model, "model", defaultModel, "model family (gan models lists them)")
	fs.IntVar(&c.epochs, "epochs", def.Epochs, "number of epochs (the default is the seed model's; another --model has its own)")
	fs.IntVar(&c.batch, "batch", def.Batch, "batch size (the default is the seed model's; another --model has its own)")
	fs.Float64Var(&c.lr, "lr", shortestFloat(def.LR), "Adam learning rate of every network but a GAN's D where --d-lr is given (the default is the seed model's; another --model has its own); with --resume, a new rate replaces the checkpoint's from then on")
	fs.Float64Var(&c.dlr, "d-lr", 0, "a GAN's D (critic) learning rate where it differs from --lr (0: --lr; the seed model's wgan-gp defaults it to twice --lr)")
	fs.Uint64Var(&c.seed, "seed", def.Seed, "seed of every random number (init, noise, dropout, shuffle)")
	fs.StringVar(&c.dataset, "dataset", def.Dataset, "mnist or fashion (the default is the model's)")
	fs.IntVar(&c.channels, "channels", 0, "image channels, 1 (gray) or 3 (RGB), for a family that takes them, e.g. dcgan (0: the family's own; the seed model makes 1×28×28)")
	fs.IntVar(&c.size, "size", 0, "image side in pixels for a family that takes any square size, e.g. dcgan (0: the family's own)")
	fs.StringVar(&c.loss, "loss", "", "GAN objective: "+strings.Join(ganloss.Names, ", ")+" (default the family's own, bce for the seed model); wgan-gp also defaults --lr 1e-4, Adam betas (0.5, 0.9) and --n-critic 5, and for the seed model's MLP critic --lr 2e-4, betas (0.5, 0.999), --d-lr twice --lr and --n-critic 5")
	fs.IntVar(&c.nCritic, "n-critic", 1, "D (critic) steps per G step; each D step takes its own batch (default 1, or the --loss's own: 5 for wgan-gp)")
	fs.StringVar(&c.arch, "arch", "", "architecture preset of --model (default the family's own); seed-mlp-gan: mlp, or conv for the WGAN-GP paper's convolutional generator (z of 128) and critic; cgan: mlp, or dcgan for the conditional DCGAN")
}

// shortestFloat is v as the float64 of its shortest decimal form: the
// float32 2e-4 printed as a float64 would read 0.000199999994…
func shortestFloat(v float32) float64 {
	var f float64
	fmt.Sscan(fmt.Sprint(v), &f)
	return f
}

// config checks the flags and returns the configuration they ask for: the
// family's defaults, with the flags given explicitly (set) on top.
func (c *configFlags) config(set map[string]bool) (model.Config, error) {
	if err := checkModelFlag(c.model); err != nil {
		return model.Config{}, err
	}
	if c.dataset != "mnist" && c.dataset != "fashion" {
		return model.Config{}, usagef("--dataset %q: must be mnist or fashion", c.dataset)
	}
	f, _ := model.Lookup(c.model)
	cfg := f.Defaults()
	cfg.Model = c.model
	if set["epochs"] {
		cfg.Epochs = c.epochs
	}
	if set["batch"] {
		cfg.Batch = c.batch
	}
	if set["lr"] {
		cfg.LR = float32(c.lr)
	}
	if set["seed"] {
		cfg.Seed = c.seed
	}
	if set["dataset"] {
		cfg.Dataset = c.dataset
	}
	if set["channels"] {
		if c.channels != 1 && c.channels != 3 {
			return model.Config{}, usagef("--channels %d: must be 1 (gray) or 3 (RGB)", c.channels)
		}
		cfg.Channels = c.channels
	}
	if set["size"] {
		if c.size < 1 || c.size > imagefolder.MaxSize {
			return model.Config{}, usagef("--size %d: must be between 1 and %d", c.size, imagefolder.MaxSize)
		}
		cfg.Size = c.size
	}
	if set["arch"] {
		cfg.Arch = c.arch
	}
	if set["loss"] {
		if err := ganloss.Check(c.loss); err != nil {
			return model.Config{}, usagef("--loss %q: must be one of %s", c.loss, strings.Join(ganloss.Names, ", "))
		}
		cfg.Loss = c.loss
		d, ok := ganloss.Defaults(c.loss)
		if f.LossDefaults != nil {
			if fd, fok := f.LossDefaults(c.loss, cfg.Arch); fok {
				d, ok = fd, true
			}
		}
		if ok && c.loss != f.Defaults().Loss {
			// The loss's own settings (the family's for it, where it
			// has them), under those given explicitly.
			cfg.Beta1, cfg.Beta2, cfg.NCritic = d.Beta1, d.Beta2, d.NCritic
			if !set["lr"] {
				cfg.LR = d.LR
			}
			if d.DScale > 0 {
				cfg.DLR = d.DScale * cfg.LR
			}
		}
	}
	if set["d-lr"] {
		if !(c.dlr > 0) || math.IsInf(c.dlr, 0) {
			return model.Config{}, usagef("--d-lr %g: must be a positive number", c.dlr)
		}
		cfg.DLR = float32(c.dlr)
	}
	if set["n-critic"] {
		if c.nCritic < 1 {
			return model.Config{}, usagef("--n-critic %d: must be at least 1", c.nCritic)
		}
		cfg.NCritic = c.nCritic
	}
	return cfg, nil
}

func runImport(args []string, stdout, stderr io.Writer) error {
	var c configFlags
	fs := newFlagSet("import", stderr)
	c.register(fs)
	out := fs.String("out", "", "checkpoint to write (required; -o is short for it)")
	fs.StringVar(out, "o", "", "short for --out")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: gan import [flags] STATE_DICT.safetensors -o CHECKPOINT

Reads a bare PyTorch state_dict saved with safetensors, for example
  safetensors.torch.save_file({**{"G." + k: v for k, v in G.state_dict().items()},
                               **{"D." + k: v for k, v in D.state_dict().items()}}, "seed.safetensors")
(tensors named G.model.0.weight ..., D.model.0.weight ..., float32, PyTorch's
shapes), and writes a checkpoint of --model with those weights, step 0 and
fresh optimiser state, which gan train --resume, gan sample and gan eval
take. The other flags set the checkpoint's training configuration.

flags:`)
		fs.PrintDefaults()
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return usagef("unexpected argument %q", rest[1])
	}
	if len(rest) == 0 {
		return usagef("give the state_dict to import: gan import STATE_DICT.safetensors -o CHECKPOINT")
	}
	in := rest[0]
	if *out == "" {
		return usagef("--out (-o) is required: the checkpoint to write")
	}
	cfg, err := c.config(setFlags(fs))
	if err != nil {
		return err
	}
	if err := model.ValidateConfig(cfg); err != nil {
		return usagef("%v", err)
	}
	t, err := nn.ReadTensorsFile(in)
	if err != nil {
		return fmt.Errorf("reading the state_dict: %w", err)
	}
	if model.IsCheckpoint(t) {
		return fmt.Errorf("%s is already a checkpoint of this program (format %q); it needs no import", in, t.Meta["format"])
	}
	b, err := openDevice("cpu", stderr)
	if err != nil {
		return err
	}
	defer b.Close()
	m, err := fromStateDict(b, t, "state_dict", in, cfg)
	if err != nil {
		return err
	}
	defer m.Free()
	if err := checkShapeFlags(m, setFlags(fs), c.channels, c.size); err != nil {
		return err
	}
	if err := model.Save(m, *out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	fmt.Fprintf(stdout, "imported %s (%d tensors) as a %s checkpoint at step 0: %s\n", in, len(t.Names), cfg.Model, *out)
	return nil
}
