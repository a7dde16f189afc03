package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gan/nn"
	"gan/nn/imageio"
	"gan/nn/mnist"
)

// testHookAfterStep, when set by a test, runs after every training step
// (the tests use it to poison the weights and check the NaN guard).
var testHookAfterStep func(g *nn.GAN, p nn.Progress)

func init() {
	register(command{"train", "train the seed GAN and write samples, metrics, plots and checkpoints", runTrain})
}

type trainFlags struct {
	device, out, resume, data, dataset string
	epochs, batch, steps               int
	lr                                 float64
	seed                               uint64
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	def := nn.DefaultConfig()
	var f trainFlags
	fs := newFlagSet("train", stderr)
	fs.StringVar(&f.device, "device", "cpu", "where to train: cpu, cuda or auto")
	fs.IntVar(&f.epochs, "epochs", def.Epochs, "number of epochs")
	fs.IntVar(&f.batch, "batch", def.Batch, "batch size")
	fs.Float64Var(&f.lr, "lr", float64(def.LR), "Adam learning rate (both models)")
	fs.Uint64Var(&f.seed, "seed", def.Seed, "seed of every random number (init, noise, dropout, shuffle)")
	fs.StringVar(&f.out, "out", "run", "output directory: samples/, metrics.csv, loss.png, checkpoint.safetensors")
	fs.IntVar(&f.steps, "steps", 0, "stop after this many steps (0: run all epochs)")
	fs.StringVar(&f.resume, "resume", "", "continue from this checkpoint")
	fs.StringVar(&f.data, "data", "", "directory with idx files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz])")
	fs.StringVar(&f.dataset, "dataset", def.Dataset, "mnist or fashion")
	if err := parse(fs, args); err != nil {
		return err
	}
	set := setFlags(fs)
	if f.steps < 0 {
		return usagef("--steps %d: must be 0 or more", f.steps)
	}
	if f.dataset != "mnist" && f.dataset != "fashion" {
		return usagef("--dataset %q: must be mnist or fashion", f.dataset)
	}
	cfg := def
	cfg.Epochs, cfg.Batch, cfg.LR, cfg.Seed, cfg.Dataset = f.epochs, f.batch, float32(f.lr), f.seed, f.dataset
	if f.resume == "" {
		if err := cfg.Validate(); err != nil {
			return usagef("%v", err)
		}
	}

	b, err := openDevice(f.device)
	if err != nil {
		return err
	}
	defer b.Close()

	var g *nn.GAN
	if f.resume != "" {
		if g, err = nn.LoadGAN(b, f.resume); err != nil {
			return err
		}
		if err := reconcileResume(&g.Cfg, cfg, set); err != nil {
			return err
		}
	} else if g, err = nn.NewGAN(b, cfg); err != nil {
		return err
	}
	defer g.Free()

	train, err := mnist.Load(g.Cfg.Dataset, f.data, true)
	if err != nil {
		return err
	}
	data, err := b.Alloc(train.N, nn.ImageDim)
	if err != nil {
		return fmt.Errorf("copying the training set to %s: %w", b.Name(), err)
	}
	defer b.Free(data)
	if err := b.Upload(data, train.Float32()); err != nil {
		return fmt.Errorf("copying the training set to %s: %w", b.Name(), err)
	}

	r, err := newRunDir(f.out, g.Step)
	if err != nil {
		return err
	}
	defer r.close()

	fmt.Fprintf(stdout, "training %s on %s: %d images (%s), %d epochs of batch %d, lr %g, seed %d, from step %d; output in %s\n",
		g.Cfg.Model, b.Name(), train.N, train.Name, g.Cfg.Epochs, g.Cfg.Batch, g.Cfg.LR, g.Cfg.Seed, g.Step, f.out)
	bar := newProgress(stderr)
	start := time.Now()
	hooks := nn.Hooks{
		OnStep: func(p nn.Progress) error {
			if testHookAfterStep != nil {
				testHookAfterStep(g, p)
			}
			bar.step(p)
			return r.metrics.add(p, r.secondsBefore+time.Since(start).Seconds())
		},
		OnEpoch: func(p nn.Progress) error {
			bar.clear()
			s := p.Stats
			fmt.Fprintf(stdout, "Epoch [%d/%d], d_loss: %.4f, g_loss: %.4f, D(x): %.2f, D(G(z)): %.2f\n",
				p.Epoch+1, p.Epochs, s.DLoss, s.GLoss, s.DX, s.DGZ)
			return r.endOfEpoch(g, fmt.Sprintf("epoch_%03d.png", p.Epoch+1), p.Batches)
		},
	}
	trainErr := g.Train(data, f.steps, hooks)
	bar.clear()
	if trainErr != nil {
		r.metrics.flush()
		return fmt.Errorf("%w (the last good checkpoint, if any, is %s)", trainErr, r.checkpoint)
	}
	if g.Step%g.BatchesPerEpoch(train.N) != 0 { // stopped by --steps inside an epoch
		if err := r.endOfEpoch(g, fmt.Sprintf("step_%07d.png", g.Step), g.BatchesPerEpoch(train.N)); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "done: %d steps in %.1f s; checkpoint %s\n", g.Step, time.Since(start).Seconds(), r.checkpoint)
	return nil
}

// reconcileResume keeps the checkpoint's config, except for --epochs, and
// refuses flags that would silently change what is being trained.
func reconcileResume(ck *nn.Config, asked nn.Config, set map[string]bool) error {
	differs := map[string]bool{
		"batch":   asked.Batch != ck.Batch,
		"lr":      asked.LR != ck.LR,
		"seed":    asked.Seed != ck.Seed,
		"dataset": asked.Dataset != ck.Dataset,
	}
	for name, d := range differs {
		if set[name] && d {
			return usagef("--%s differs from the checkpoint's config; a resumed run keeps it (%+v)", name, *ck)
		}
	}
	if set["epochs"] {
		ck.Epochs = asked.Epochs
		if err := ck.Validate(); err != nil {
			return usagef("%v", err)
		}
	}
	return nil
}

// runDir is a training run's output directory.
type runDir struct {
	dir, samples, checkpoint string
	metrics                  *metricsLog
	secondsBefore            float64 // training seconds of earlier sessions of a resumed run
	fixed                    []float32
}

// newRunDir creates (or reopens, for a resumed run at step) the output
// directory and checks that it is writable before any training happens.
func newRunDir(dir string, step int) (*runDir, error) {
	r := &runDir{dir: dir, samples: filepath.Join(dir, "samples"), checkpoint: filepath.Join(dir, "checkpoint.safetensors")}
	if err := os.MkdirAll(r.samples, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".writable*")
	if err != nil {
		return nil, fmt.Errorf("--out %s: not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	if r.metrics, r.secondsBefore, err = openMetrics(filepath.Join(dir, "metrics.csv"), step); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *runDir) close() { r.metrics.close() }

// endOfEpoch writes the fixed-noise sample grid, the loss plot and the
// checkpoint (last, so that it is only replaced once the rest is saved).
func (r *runDir) endOfEpoch(g *nn.GAN, gridName string, batches int) error {
	const n = 64
	z := g.Noise(n, nn.RandKey{Seed: g.Cfg.Seed, Stream: nn.StreamID(nn.PurposeFixed, 0)})
	out := g.Generate(z)
	if r.fixed == nil {
		r.fixed = make([]float32, n*nn.ImageDim)
	}
	if err := g.B.Download(r.fixed, out); err != nil {
		return fmt.Errorf("sample grid: %w", err)
	}
	if err := imageio.WritePNG(filepath.Join(r.samples, gridName), imageio.Grid(r.fixed, n, 8, 2)); err != nil {
		return err
	}
	if err := r.metrics.flush(); err != nil {
		return err
	}
	if err := writeLossPlot(filepath.Join(r.dir, "loss.png"), r.metrics.rows, batches); err != nil {
		return err
	}
	return g.Save(r.checkpoint)
}
