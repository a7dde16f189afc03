package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	"gan/nn"
	"gan/nn/eval"
	"gan/nn/imageio"
	"gan/nn/mnist"
	"gan/nn/model"
	"gan/nn/models/ganloss"
)

// testHookAfterStep, when set by a test, runs after every training step,
// before the step is measured and logged (the tests use it to poison the
// weights, blow up gradients or send a signal).
var testHookAfterStep func(m model.Model, p model.Progress)

// interruptSignals stop gan train cleanly: it saves a checkpoint of the
// step reached and exits with status 130.
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// exitInterrupted is the exit status of a run stopped by a signal, as
// shells report a process killed by SIGINT (128 + 2).
const exitInterrupted = 130

func init() {
	register(command{"train", "train a model (--model, default the seed GAN) and write samples, metrics, plots and checkpoints", runTrain})
}

type trainFlags struct {
	configFlags
	device, out, resume, data string
	images                    string // --images: a folder of the user's pictures
	steps                     int
	evalEvery, evalN, nnRef   int
	watch                     bool
	vae                       vaeFlags  // vaeflags.go
	ar                        arFlags   // autoregressive.go
	text                      textFlags // text.go
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	var f trainFlags
	fs := newFlagSet("train", stderr)
	f.configFlags.register(fs)
	f.vae.register(fs)
	f.ar.register(fs)
	f.text.register(fs)
	fs.StringVar(&f.device, "device", "cpu", "where to train: cpu, cuda or auto (auto says on stderr why it falls back to the CPU)")
	fs.StringVar(&f.out, "out", "run", "output directory: samples/, metrics.csv, warnings.jsonl, loss.png, checkpoint.safetensors")
	fs.IntVar(&f.steps, "steps", 0, "stop after this many steps of this run (with --resume, counted from the checkpoint's step; 0: run all epochs)")
	fs.StringVar(&f.resume, "resume", "", "continue from this checkpoint (metrics.csv and warnings.jsonl in --out are continued), or start from the weights of a bare PyTorch state_dict of --model (see gan import)")
	fs.StringVar(&f.data, "data", "", "directory with idx files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz])")
	fs.StringVar(&f.images, "images", "", "train on your own pictures instead of --data/--dataset: the PNG and JPEG files in this folder and its subfolders, centre-cropped and resized to the model's image shape (see --channels, --size); unreadable files are skipped")
	fs.IntVar(&f.evalEvery, "eval-every", 0, "every N epochs (and after the last), measure the generator as gan eval does and add the metrics to metrics.csv and the plots (0: never)")
	fs.IntVar(&f.evalN, "eval-n", 10000, "samples per --eval-every evaluation (noise of --seed, as gan eval --seed)")
	fs.IntVar(&f.nnRef, "eval-nn-ref", eval.DefaultNNRef, "training images searched for nearest neighbours in --eval-every evaluations")
	fs.BoolVar(&f.watch, "watch", true, "divergence watch: warn when the first loss stays below 1e-3 for 100 steps, the fixed-noise batch covers fewer than 5 classes, or a gradient norm exceeds 100")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: gan train [flags]

Trains a model of the family --model (gan models lists them) and writes into
--out: samples/epoch_NNN.png (a fixed-noise grid after each epoch),
metrics.csv (one row per step, a column per statistic of the model, written
as the run goes), warnings.jsonl (the divergence watch), loss.png, eval.png
and checkpoint.safetensors (after each epoch). Ctrl-C or SIGTERM saves a
checkpoint of the step reached and exits with status 130; --resume it to go
on.

flags:`)
		fs.PrintDefaults()
	}
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
	cfg, err := f.config(set)
	if err != nil {
		return err
	}
	if isTextModel(cfg.Model) || resumesText(&f, set) { // text.go
		return runTrainText(&f, cfg, set, stdout, stderr)
	}
	if err := checkNoTextFlags(cfg.Model, set); err != nil {
		return err
	}
	if err := f.vae.apply(&cfg, set, f.resume != "" && !set["model"]); err != nil {
		return err
	}
	if err := f.ar.apply(&cfg, set); err != nil {
		return err
	}
	if f.images != "" {
		for _, other := range []string{"data", "dataset"} {
			if set[other] {
				return usagef("--images and --%s: give one source of training images (--images is a folder of your own pictures, --data/--dataset an MNIST-style set)", other)
			}
		}
		cfg.Dataset = imagesDataset
	}
	if err := model.ValidateConfig(cfg); err != nil {
		return usagef("%v", err)
	}

	b, err := openDevice(f.device, stderr)
	if err != nil {
		return err
	}
	defer b.Close()

	var m model.Model
	if f.resume != "" {
		m, err = resumeModel(b, f.resume, cfg, set, stderr)
	} else {
		m, err = model.New(b, cfg)
	}
	if err != nil {
		return err
	}
	defer m.Free()
	cfg = *m.Config()
	if err := checkShapeFlags(m, set, f.channels, f.size); err != nil {
		return err
	}
	if err := checkResumeSource(f.resume, cfg.Dataset, f.images); err != nil {
		return err
	}

	var train *mnist.Set // nil for --images
	var data *model.Dataset
	if f.images != "" {
		if data, err = loadImages(f.images, m, stderr); err != nil {
			return err
		}
		if f.evalEvery > 0 {
			fmt.Fprintln(stderr, "--eval-every: left out: the evaluation's classifier reads MNIST-style digits, not --images pictures")
			f.evalEvery = 0
		}
	} else {
		if train, err = mnist.Load(cfg.Dataset, f.data, true); err != nil {
			return err
		}
		data = model.FromMNIST(train)
		if g, ok := m.(model.Generator); ok {
			if c, h, w := g.ImageShape(); (imageio.Shape{C: c, H: h, W: w}) == imageio.Padded && data.H == imageio.Side && data.W == imageio.Side {
				data = data.Pad((imageio.Padded.H - imageio.Side) / 2) // digits centred in 32×32, as LeNet-5 read them
			}
		}
	}
	if g, ok := m.(model.Generator); ok {
		if c, h, w := g.ImageShape(); c != data.C || h != data.H || w != data.W {
			return fmt.Errorf("--dataset %s: %d×%d×%d images, the %s model makes %d×%d×%d", cfg.Dataset, data.C, data.H, data.W, cfg.Model, c, h, w)
		}
	}
	if f.evalEvery > 0 {
		if _, err := mnistGenerator(m, "--eval-every"); err != nil {
			return usageError{err}
		}
	}
	dev, err := data.Upload(b)
	if err != nil {
		return err
	}
	defer b.Free(dev)

	r, err := newRunDir(f.out, m, stderr)
	if err != nil {
		return err
	}
	defer r.close()
	if f.images != "" && r.view != nil {
		r.view = nil // the classifier would read the pictures as digits
		if f.watch {
			fmt.Fprintln(stderr, "--watch: the class-coverage check is left out: the classifier reads MNIST-style digits, not --images pictures (the loss and gradient checks stay on)")
		}
	}
	if err := r.setUpMeasurement(m, &f, train); err != nil {
		return err
	}
	r.log = stdout

	lr := fmt.Sprintf("lr %g", cfg.LR)
	if cfg.DLR > 0 {
		lr += fmt.Sprintf(" (D %g)", cfg.DLR)
	}
	fmt.Fprintf(stdout, "training %s on %s: %d images (%s), %d epochs of batch %d, %s, seed %d, from step %d; output in %s\n",
		cfg.Model, b.Name(), data.N, data.Name, cfg.Epochs, cfg.Batch, lr, cfg.Seed, m.Step(), f.out)
	stats := m.Stats()
	bar := newProgress(stderr, stats)
	startStep := m.Step()
	bar.lastStep = startStep
	evalDue := func(epoch int) bool { // epoch 0-based
		return f.evalEvery > 0 && ((epoch+1)%f.evalEvery == 0 || epoch+1 == cfg.Epochs)
	}
	start := time.Now()
	hooks := model.Hooks{
		OnStep: func(p model.Progress) error {
			if testHookAfterStep != nil {
				testHookAfterStep(m, p)
			}
			grads, err := r.watchStep(p, bar)
			if err != nil {
				return err
			}
			bar.step(p)
			// A row that an evaluation will complete is held back until it has.
			last := p.Batch == p.Batches-1
			final := f.steps > 0 && p.Step-startStep == f.steps
			hold := (last && evalDue(p.Epoch)) || (final && !last && f.evalEvery > 0)
			return r.metrics.add(p, r.secondsBefore+time.Since(start).Seconds(), grads, hold)
		},
		OnEpoch: func(p model.Progress) error {
			bar.clear()
			fmt.Fprintln(stdout, epochLine(p, stats))
			return r.endOfEpoch(m, fmt.Sprintf("epoch_%03d.png", p.Epoch+1), p.Batches, p.Epoch+1, evalDue(p.Epoch))
		},
	}
	ctx, stop := signal.NotifyContext(context.Background(), interruptSignals...)
	defer stop()
	trainErr := model.Train(ctx, m, data, dev, f.steps, hooks)
	bar.clear()
	batches := model.BatchesPerEpoch(data.N, cfg.Batch)
	switch {
	case trainErr != nil && ctx.Err() != nil && errors.Is(trainErr, ctx.Err()):
		stop() // a second Ctrl-C kills the process, should saving hang
		return r.interrupted(m, batches)
	case trainErr != nil:
		r.metrics.flush()
		return fmt.Errorf("%w (the last good checkpoint, if any, is %s)", trainErr, r.checkpoint)
	}
	if step := m.Step(); step%batches != 0 { // stopped by --steps inside an epoch
		if err := r.endOfEpoch(m, fmt.Sprintf("step_%07d.png", step), batches, step/batches+1, f.evalEvery > 0); err != nil {
			return err
		}
	}
	if err := r.close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "done: %d steps in %.1f s; checkpoint %s\n", m.Step(), time.Since(start).Seconds(), r.checkpoint)
	return nil
}

// epochLine is the line printed after each epoch: "Epoch [e/E]" and each
// statistic of the epoch's last step in the model's format, which for the
// seed GAN is the seed's own line,
//
//	Epoch [1/50], d_loss: 0.8251, g_loss: 1.9017, D(x): 0.71, D(G(z)): 0.27
func epochLine(p model.Progress, stats []model.Stat) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Epoch [%d/%d]", p.Epoch+1, p.Epochs)
	for i, s := range stats {
		format := s.Format
		if format == "" {
			format = "%.4g"
		}
		fmt.Fprintf(&sb, ", %s: "+format, s.Name, p.Stats[i])
	}
	return sb.String()
}

// resumeModel loads --resume path: a checkpoint, whose configuration the
// run keeps except for --epochs and --lr (see reconcileResume), or a bare PyTorch
// state_dict, whose weights start a fresh run of asked.
func resumeModel(b nn.Backend, path string, asked model.Config, set map[string]bool, stderr io.Writer) (model.Model, error) {
	t, err := nn.ReadTensorsFile(path)
	if err != nil {
		return nil, fmt.Errorf("--resume: %w", err)
	}
	if !model.IsCheckpoint(t) {
		return fromStateDict(b, t, "--resume", path, asked)
	}
	if c, err := model.ConfigOf(t); err == nil && set["model"] && c.Model != asked.Model {
		return nil, usagef("--model %s: --resume %s is a %s checkpoint (a resumed run keeps its model)", asked.Model, path, c.Model)
	}
	m, err := model.FromTensors(b, t, path, "")
	if err != nil {
		return nil, fmt.Errorf("--resume: %w", err)
	}
	if err := reconcileResume(m, asked, set, stderr); err != nil {
		m.Free()
		return nil, err
	}
	return m, nil
}

// reconcileResume keeps the checkpoint's config, except for --epochs and
// --lr, and refuses flags that would silently change what is being
// trained. A new --lr (a learning-rate step down, say) replaces the
// checkpoint's in every optimiser that used it (a GAN's D with its own
// --d-lr keeps that) and in the config the next checkpoint records.
func reconcileResume(m model.Model, asked model.Config, set map[string]bool, stderr io.Writer) error {
	ck := m.Config()
	for _, d := range []struct {
		flag    string
		differs bool
	}{
		{"batch", asked.Batch != ck.Batch},
		{"d-lr", asked.DLR != ck.DLR},
		{"seed", asked.Seed != ck.Seed},
		{"dataset", asked.Dataset != ck.Dataset},
		{"loss", asked.Loss != ck.Loss},
		{"n-critic", asked.NCritic != ck.NCritic},
		{"latent", asked.Latent != ck.Latent},
		{"beta", asked.KLBeta != ck.KLBeta},
		{"binarize", asked.Binarize != ck.Binarize},
		{"iw", asked.IW != ck.IW},
	} {
		if set[d.flag] && d.differs {
			return usagef("--%s differs from the checkpoint's config; a resumed run keeps it (%+v)", d.flag, *ck)
		}
	}
	if set["epochs"] {
		ck.Epochs = asked.Epochs
		if err := model.ValidateConfig(*ck); err != nil {
			return usagef("%v", err)
		}
	}
	if set["lr"] && asked.LR != ck.LR {
		old := ck.LR
		ck.LR = asked.LR
		if err := model.ValidateConfig(*ck); err != nil {
			return usagef("%v", err)
		}
		for _, n := range m.Nets() {
			if n.Opt != nil && n.Opt.LR == old && !(n.Name == "D" && ck.DLR != 0) {
				n.Opt.LR = asked.LR
			}
		}
		fmt.Fprintf(stderr, "gan train: --lr %g replaces the checkpoint's %g from step %d on\n", asked.LR, old, m.Step())
	}
	return nil
}

// runDir is a training run's output directory.
type runDir struct {
	dir, samples, checkpoint string
	metrics                  *metricsLog
	secondsBefore            float64 // training seconds of earlier sessions of a resumed run
	step                     int     // the step the run starts (or resumes) at
	closed                   bool

	gen    model.Generator // the model as a generator (nil: it makes no images)
	shape  imageio.Shape   // its images' shape
	view   model.Generator // the generator as the classifier sees it (nil: it cannot read its images)
	fixed  []float32       // the fixed-noise batch's images
	seed   uint64          // the run's seed
	nets   []string        // the model's networks, in the order of the gradient norms
	lossAt int             // index of the first loss statistic (-1: none)

	log       io.Writer        // where warnings and evaluations are printed
	watch     *eval.Watch      // the divergence watch (nil: off)
	norms     *eval.GradNorms  // gradient norms for the watch
	clf       *eval.Classifier // classifies the fixed-noise batch for the watch
	evaluator *eval.Evaluator  // --eval-every (nil: off)
	warnings  *warningsLog     // warnings.jsonl
	evalN     int              // samples per evaluation
	freeMeas  []func()         // releases the measurement's device memory
}

// staleTemp matches the temporary files that nn.WriteFileAtomic creates
// beside its target (".NAME.tmpDIGITS") and the writability probe of
// newRunDir (".writableDIGITS"): a save killed before its rename leaves one.
var staleTemp = regexp.MustCompile(`^\.(.+\.tmp|writable)[0-9]+$`)

// removeStaleTemps deletes the temporary files that killed saves left in
// dirs and reports each on log.
func removeStaleTemps(log io.Writer, dirs ...string) error {
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || !staleTemp.MatchString(e.Name()) {
				continue
			}
			path := filepath.Join(dir, e.Name())
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("--out: removing a stale temporary file: %w", err)
			}
			fmt.Fprintf(log, "removed %s, a temporary file left by an interrupted save\n", path)
		}
	}
	return nil
}

// newRunDir creates (or reopens, for a run resumed at m's step) the output
// directory, checks that it is writable before any training happens,
// removes the temporary files of saves that were killed, and opens
// metrics.csv with m's columns; notices go to log.
func newRunDir(dir string, m model.Model, log io.Writer) (*runDir, error) {
	r := &runDir{dir: dir, samples: filepath.Join(dir, "samples"), checkpoint: filepath.Join(dir, "checkpoint.safetensors"),
		step: m.Step(), seed: m.Config().Seed, lossAt: -1, log: io.Discard}
	if err := os.MkdirAll(r.samples, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: %w", dir, err)
	}
	if err := removeStaleTemps(log, dir, r.samples); err != nil {
		return nil, err
	}
	probe, err := os.CreateTemp(dir, ".writable*")
	if err != nil {
		return nil, fmt.Errorf("--out %s: not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	if r.metrics, r.secondsBefore, err = openMetrics(filepath.Join(dir, "metrics.csv"), layoutOf(m), r.step); err != nil {
		return nil, err
	}
	for i, s := range m.Stats() {
		if s.Loss && ganloss.HasLossFloor(m.Config().Loss) { // a critic's loss has no floor to watch
			r.lossAt = i
			break
		}
	}
	for _, n := range m.Nets() {
		r.nets = append(r.nets, n.Name)
	}
	if g, s, err := generatorOf(m, "--out"); err == nil {
		r.gen, r.shape, r.view = g, s, mnistView(g, s)
	}
	return r, nil
}

// close writes what is left of the logs and releases the measurement; it
// may be called more than once.
func (r *runDir) close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.metrics.close()
	if r.warnings != nil {
		if werr := r.warnings.close(); err == nil {
			err = werr
		}
	}
	for i := len(r.freeMeas) - 1; i >= 0; i-- {
		r.freeMeas[i]()
	}
	return err
}

// setUpMeasurement prepares the divergence watch (--watch) and the
// periodic evaluation (--eval-every) on m's backend.
func (r *runDir) setUpMeasurement(m model.Model, f *trainFlags, train *mnist.Set) error {
	r.evalN = f.evalN
	b, cfg := m.Backend(), m.Config()
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
	if r.view != nil {
		if r.clf, err = eval.LoadClassifier(b, cfg.Dataset, "", 500); err != nil {
			return err
		}
		r.freeMeas = append(r.freeMeas, r.clf.Free)
	}
	if f.watch {
		if r.warnings, err = openWarnings(wpath, r.step); err != nil {
			return err
		}
		r.watch = eval.NewWatch(eval.DefaultWatchConfig())
		var sets []*nn.ParamSet
		for _, n := range m.Nets() {
			sets = append(sets, n.Params)
		}
		if r.norms, err = eval.NewGradNorms(b, sets...); err != nil {
			return err
		}
		r.freeMeas = append(r.freeMeas, r.norms.Free)
	}
	if f.evalEvery > 0 {
		test, err := mnist.Load(cfg.Dataset, f.data, false)
		if err != nil {
			return fmt.Errorf("--eval-every needs the test set: %w", err)
		}
		if r.evaluator, err = eval.NewEvaluator(b, r.clf, train, test, eval.Options{NNRef: f.nnRef}); err != nil {
			return err
		}
		r.freeMeas = append(r.freeMeas, r.evaluator.Free)
	}
	return nil
}

// watchStep measures the gradient norm of every network after the step
// just taken and passes them with the first loss to the divergence watch
// (whose gradient checks are those of the networks named G and D); it
// returns the norms in the order of the model's networks (nil when the
// watch is off).
func (r *runDir) watchStep(p model.Progress, bar *progress) ([]float64, error) {
	if r.watch == nil {
		return nil, nil
	}
	norms, err := r.norms.Compute()
	if err != nil {
		return nil, fmt.Errorf("divergence watch: %w", err)
	}
	gradG, gradD, loss := math.NaN(), math.NaN(), math.NaN()
	if i := slices.Index(r.nets, "G"); i >= 0 {
		gradG = norms[i]
	}
	if i := slices.Index(r.nets, "D"); i >= 0 {
		gradD = norms[i]
	}
	if r.lossAt >= 0 {
		loss = p.Stats[r.lossAt]
	}
	ws := r.watch.Step(p.Step, p.Epoch+1, loss, gradG, gradD)
	if len(ws) > 0 {
		bar.clear()
	}
	return norms, r.warn(ws)
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

// fixedGridSize is the number of images of the per-epoch sample grid.
const fixedGridSize = 64

// endOfEpoch writes the fixed-noise sample grid, checks its classes, runs
// the evaluation when evalNow, and writes the metrics, the plots and the
// checkpoint (last, so that it is only replaced once the rest is saved).
func (r *runDir) endOfEpoch(m model.Model, gridName string, batches, epoch int, evalNow bool) error {
	if r.gen != nil {
		grid, err := r.fixedGrid() // conditional.go: one class per row for a conditional model
		if err != nil {
			return err
		}
		if err := imageio.WritePNG(filepath.Join(r.samples, gridName), grid); err != nil {
			return err
		}
		if r.watch != nil && r.clf != nil {
			fixed, err := r.fixedForClassifier()
			if err != nil {
				return err
			}
			o, err := r.clf.Run(fixed)
			if err != nil {
				return fmt.Errorf("divergence watch: %w", err)
			}
			if err := r.warn(r.watch.Classes(m.Step(), epoch, eval.Histogram(o.Probs, eval.NumClasses))); err != nil {
				return err
			}
		}
	}
	if evalNow && r.evaluator != nil {
		if err := r.evaluate(epoch); err != nil {
			return err
		}
	}
	if err := r.metrics.flush(); err != nil {
		return err
	}
	if err := writeLossPlot(filepath.Join(r.dir, "loss.png"), m.Stats(), &r.metrics.metricsTable, batches); err != nil {
		return err
	}
	if err := writeEvalPlot(filepath.Join(r.dir, "eval.png"), &r.metrics.metricsTable, batches); err != nil {
		return err
	}
	return model.Save(m, r.checkpoint)
}

// interrupted ends a run stopped by a signal: it writes the logs and a
// checkpoint of the step reached, and returns the error that makes gan
// exit with status 130.
func (r *runDir) interrupted(m model.Model, batches int) error {
	if err := r.close(); err != nil {
		return err
	}
	if err := model.Save(m, r.checkpoint); err != nil {
		return exitError{fmt.Errorf("interrupted at step %d, and the checkpoint could not be saved: %w", m.Step(), err), exitInterrupted}
	}
	return exitError{fmt.Errorf("interrupted at step %d (epoch %d, %d of %d batches done): saved %s; continue with gan train --resume %s --out %s",
		m.Step(), m.Step()/batches+1, m.Step()%batches, batches, r.checkpoint, r.checkpoint, r.dir), exitInterrupted}
}

// fixedForClassifier returns the fixed-noise batch as the classifier
// reads it: the images themselves, or the centres of padded digits.
func (r *runDir) fixedForClassifier() ([]float32, error) {
	if r.shape == imageio.MNIST {
		return r.fixed, nil
	}
	n := len(r.fixed) / r.shape.Size()
	out := make([]float32, n*imageio.MNIST.Size())
	if err := imageio.CropCentre(r.fixed, n, r.shape, imageio.MNIST, out); err != nil {
		return nil, fmt.Errorf("divergence watch: %w", err)
	}
	return out, nil
}

// evaluate measures evalN samples as gan eval does and records the
// metrics on the last row of metrics.csv.
func (r *runDir) evaluate(epoch int) error {
	pix, labels, err := generateFor(r.view, imageio.MNIST, r.evalN, r.seed, noLabel)
	if err != nil {
		return err
	}
	m, err := r.evaluator.Evaluate(pix)
	if err != nil {
		return fmt.Errorf("evaluation after epoch %d: %w", epoch, err)
	}
	ev := evalPoint{fid: m.FID, is: m.InceptionScore, kl: m.ClassKL, covered: float64(m.Covered), confident: m.Confident, nnDist: m.NNDist}
	fmt.Fprintf(r.log, "eval after epoch %d (%d samples): FID (classifier features) %.3f, IS %.3f, class KL %.4f, classes covered %d, confident %.1f%%, nearest-train distance %.3f\n",
		epoch, m.N, m.FID, m.InceptionScore, m.ClassKL, m.Covered, 100*m.Confident, m.NNDist)
	if labels != nil { // a conditional model: the per-class figures too
		c, err := r.evaluator.Conditional(pix, labels)
		if err != nil {
			return fmt.Errorf("evaluation after epoch %d: %w", epoch, err)
		}
		ev.cond = condValues(c)
		fmt.Fprintf(r.log, "  requested label recognised in %.2f%% of the samples (lowest class %.2f%%), mean per-class FID %.3f\n",
			100*c.Recognised, 100*c.MinRecognised, c.MeanFID)
	}
	r.metrics.setEval(ev)
	return nil
}
