package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gan/nn"
	"gan/nn/eval"
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
	evalEvery, evalN, nnRef            int
	watch                              bool
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	def := nn.DefaultConfig()
	var f trainFlags
	fs := newFlagSet("train", stderr)
	fs.StringVar(&f.device, "device", "cpu", "where to train: cpu, cuda or auto")
	fs.IntVar(&f.epochs, "epochs", def.Epochs, "number of epochs")
	fs.IntVar(&f.batch, "batch", def.Batch, "batch size")
	// The float32 default printed as float64 would read 0.000199999994…;
	// parsing its shortest decimal form gives the value users expect to see.
	defLR, _ := strconv.ParseFloat(strconv.FormatFloat(float64(def.LR), 'g', -1, 32), 64)
	fs.Float64Var(&f.lr, "lr", defLR, "Adam learning rate (both models)")
	fs.Uint64Var(&f.seed, "seed", def.Seed, "seed of every random number (init, noise, dropout, shuffle)")
	fs.StringVar(&f.out, "out", "run", "output directory: samples/, metrics.csv, loss.png, checkpoint.safetensors")
	fs.IntVar(&f.steps, "steps", 0, "stop after this many steps (0: run all epochs)")
	fs.StringVar(&f.resume, "resume", "", "continue from this checkpoint")
	fs.StringVar(&f.data, "data", "", "directory with idx files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz])")
	fs.StringVar(&f.dataset, "dataset", def.Dataset, "mnist or fashion")
	fs.IntVar(&f.evalEvery, "eval-every", 0, "every N epochs (and after the last), measure the generator as gan eval does and add the metrics to metrics.csv and the plots (0: never)")
	fs.IntVar(&f.evalN, "eval-n", 10000, "samples per --eval-every evaluation (noise of --seed, as gan eval --seed)")
	fs.IntVar(&f.nnRef, "eval-nn-ref", eval.DefaultNNRef, "training images searched for nearest neighbours in --eval-every evaluations")
	fs.BoolVar(&f.watch, "watch", true, "divergence watch: warn when D's loss stays below 1e-3 for 100 steps, the fixed-noise batch covers fewer than 5 classes, or a gradient norm exceeds 100")
	if err := parse(fs, args); err != nil {
		return err
	}
	set := setFlags(fs)
	if f.steps < 0 {
		return usagef("--steps %d: must be 0 or more", f.steps)
	}
	if f.evalEvery < 0 {
		return usagef("--eval-every %d: must be 0 or more", f.evalEvery)
	}
	if f.evalN < 2 || f.evalN > 1_000_000 {
		return usagef("--eval-n %d: must be between 2 and 1000000", f.evalN)
	}
	if f.nnRef < 1 {
		return usagef("--eval-nn-ref %d: must be at least 1", f.nnRef)
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
	if err := r.setUpMeasurement(g, &f, train); err != nil {
		return err
	}
	r.log = stdout

	fmt.Fprintf(stdout, "training %s on %s: %d images (%s), %d epochs of batch %d, lr %g, seed %d, from step %d; output in %s\n",
		g.Cfg.Model, b.Name(), train.N, train.Name, g.Cfg.Epochs, g.Cfg.Batch, g.Cfg.LR, g.Cfg.Seed, g.Step, f.out)
	bar := newProgress(stderr)
	start := time.Now()
	hooks := nn.Hooks{
		OnStep: func(p nn.Progress) error {
			if testHookAfterStep != nil {
				testHookAfterStep(g, p)
			}
			gradG, gradD, err := r.watchStep(p, bar)
			if err != nil {
				return err
			}
			bar.step(p)
			return r.metrics.add(p, r.secondsBefore+time.Since(start).Seconds(), gradG, gradD)
		},
		OnEpoch: func(p nn.Progress) error {
			bar.clear()
			s := p.Stats
			fmt.Fprintf(stdout, "Epoch [%d/%d], d_loss: %.4f, g_loss: %.4f, D(x): %.2f, D(G(z)): %.2f\n",
				p.Epoch+1, p.Epochs, s.DLoss, s.GLoss, s.DX, s.DGZ)
			evalNow := f.evalEvery > 0 && ((p.Epoch+1)%f.evalEvery == 0 || p.Epoch+1 == p.Epochs)
			return r.endOfEpoch(g, fmt.Sprintf("epoch_%03d.png", p.Epoch+1), p.Batches, p.Epoch+1, evalNow)
		},
	}
	trainErr := g.Train(data, f.steps, hooks)
	bar.clear()
	if trainErr != nil {
		r.metrics.flush()
		return fmt.Errorf("%w (the last good checkpoint, if any, is %s)", trainErr, r.checkpoint)
	}
	if g.Step%g.BatchesPerEpoch(train.N) != 0 { // stopped by --steps inside an epoch
		epoch := g.Step/g.BatchesPerEpoch(train.N) + 1
		if err := r.endOfEpoch(g, fmt.Sprintf("step_%07d.png", g.Step), g.BatchesPerEpoch(train.N), epoch, f.evalEvery > 0); err != nil {
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
	step                     int // the step the run starts (or resumes) at

	log       io.Writer        // where warnings and evaluations are printed
	watch     *eval.Watch      // the divergence watch (nil: off)
	norms     *eval.GradNorms  // gradient norms for the watch
	clf       *eval.Classifier // classifies the fixed-noise batch for the watch
	evaluator *eval.Evaluator  // --eval-every (nil: off)
	warnings  *warningsLog     // warnings.jsonl
	evalN     int              // samples per evaluation
	evalSeed  uint64           // their noise seed
	freeMeas  []func()         // releases the measurement's device memory
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
	r.step = step
	return r, nil
}

func (r *runDir) close() {
	r.metrics.close()
	if r.warnings != nil {
		r.warnings.close()
	}
	for i := len(r.freeMeas) - 1; i >= 0; i-- {
		r.freeMeas[i]()
	}
}

// setUpMeasurement prepares the divergence watch (--watch) and the
// periodic evaluation (--eval-every) on g's backend.
func (r *runDir) setUpMeasurement(g *nn.GAN, f *trainFlags, train *mnist.Set) error {
	r.log = io.Discard
	r.evalN, r.evalSeed = f.evalN, g.Cfg.Seed
	wpath := filepath.Join(r.dir, warningsFile)
	if !f.watch && r.step == 0 {
		// A fresh run without the watch: no warnings file, not even a stale one.
		if err := os.Remove(wpath); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if !f.watch && f.evalEvery == 0 {
		return nil
	}
	var err error
	if r.clf, err = eval.LoadClassifier(g.B, g.Cfg.Dataset, "", 500); err != nil {
		return err
	}
	r.freeMeas = append(r.freeMeas, r.clf.Free)
	if f.watch {
		if r.warnings, err = openWarnings(wpath, r.step); err != nil {
			return err
		}
		r.watch = eval.NewWatch(eval.DefaultWatchConfig())
		if r.norms, err = eval.NewGradNorms(g.B, g.G.Params, g.D.Params); err != nil {
			return err
		}
		r.freeMeas = append(r.freeMeas, r.norms.Free)
	}
	if f.evalEvery > 0 {
		test, err := mnist.Load(g.Cfg.Dataset, f.data, false)
		if err != nil {
			return fmt.Errorf("--eval-every needs the test set: %w", err)
		}
		if r.evaluator, err = eval.NewEvaluator(g.B, r.clf, train, test, eval.Options{NNRef: f.nnRef}); err != nil {
			return err
		}
		r.freeMeas = append(r.freeMeas, r.evaluator.Free)
	}
	return nil
}

// watchStep measures the gradient norms of the step just taken and passes
// them with D's loss to the divergence watch; it returns the norms (NaN
// when the watch is off).
func (r *runDir) watchStep(p nn.Progress, bar *progress) (gradG, gradD float64, err error) {
	if r.watch == nil {
		return math.NaN(), math.NaN(), nil
	}
	norms, err := r.norms.Compute()
	if err != nil {
		return 0, 0, err
	}
	ws := r.watch.Step(p.Step, p.Epoch+1, float64(p.Stats.DLoss), norms[0], norms[1])
	if len(ws) > 0 {
		bar.clear()
	}
	return norms[0], norms[1], r.warn(ws)
}

// warn prints warnings to the log and appends them to warnings.jsonl.
func (r *runDir) warn(ws []eval.Warning) error {
	for _, w := range ws {
		fmt.Fprintln(r.log, w.String())
		if err := r.warnings.add(w); err != nil {
			return err
		}
	}
	return nil
}

// endOfEpoch writes the fixed-noise sample grid, checks its classes, runs
// the evaluation when evalNow, and writes the metrics, the plots and the
// checkpoint (last, so that it is only replaced once the rest is saved).
func (r *runDir) endOfEpoch(g *nn.GAN, gridName string, batches, epoch int, evalNow bool) error {
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
	if r.watch != nil {
		o, err := r.clf.Run(r.fixed)
		if err != nil {
			return fmt.Errorf("divergence watch: %w", err)
		}
		if err := r.warn(r.watch.Classes(g.Step, epoch, eval.Histogram(o.Probs, eval.NumClasses))); err != nil {
			return err
		}
	}
	if evalNow && r.evaluator != nil {
		if err := r.evaluate(g, epoch); err != nil {
			return err
		}
	}
	if err := r.metrics.flush(); err != nil {
		return err
	}
	if r.warnings != nil {
		if err := r.warnings.flush(); err != nil {
			return err
		}
	}
	if err := writeLossPlot(filepath.Join(r.dir, "loss.png"), r.metrics.rows, batches); err != nil {
		return err
	}
	if err := writeEvalPlot(filepath.Join(r.dir, "eval.png"), r.metrics.rows, batches); err != nil {
		return err
	}
	return g.Save(r.checkpoint)
}

// evaluate measures evalN samples as gan eval does and records the
// metrics on the epoch's last row of metrics.csv.
func (r *runDir) evaluate(g *nn.GAN, epoch int) error {
	pix, err := generateSamples(g, r.evalN, r.evalSeed)
	if err != nil {
		return err
	}
	m, err := r.evaluator.Evaluate(pix)
	if err != nil {
		return fmt.Errorf("evaluation after epoch %d: %w", epoch, err)
	}
	r.metrics.setEval(evalPoint{fid: m.FID, is: m.InceptionScore, kl: m.ClassKL, covered: float64(m.Covered), confident: m.Confident, nnDist: m.NNDist})
	fmt.Fprintf(r.log, "eval after epoch %d (%d samples): FID (classifier features) %.3f, IS %.3f, class KL %.4f, classes covered %d, confident %.1f%%, nearest-train distance %.3f\n",
		epoch, m.N, m.FID, m.InceptionScore, m.ClassKL, m.Covered, 100*m.Confident, m.NNDist)
	return nil
}
