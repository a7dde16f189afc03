package eval

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
	"gan/nn/mnist"
	"gan/nn/model"
)

// TrainConfig defines a training run of the reference classifier; with the
// same config, data and backend, a run is reproduced bit for bit.
type TrainConfig struct {
	Epochs int     // passes over the training set
	Batch  int     // images per step
	LR     float32 // Adam's learning rate in the first epoch
	Decay  float32 // the learning rate is multiplied by Decay after each epoch
	Seed   uint64  // seed of the init, the shuffle, dropout and augmentation
	// Shift is the largest random translation, in pixels along each axis,
	// applied to each training image (0: no augmentation).
	Shift int
	// Steps stops the run after this many steps when > 0 (for tests).
	Steps int
}

// DefaultTrainConfig is the configuration of the shipped weights.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Epochs: 20, Batch: 128, LR: 1e-3, Decay: 0.85, Seed: 1, Shift: 2}
}

// Validate reports the first value that cannot be trained with.
func (c TrainConfig) Validate() error {
	switch {
	case c.Epochs < 1:
		return fmt.Errorf("epochs %d: must be at least 1", c.Epochs)
	case c.Batch < 1 || c.Batch > 1<<16:
		return fmt.Errorf("batch %d: must be between 1 and 65536", c.Batch)
	case !(c.LR > 0) || math.IsInf(float64(c.LR), 0):
		return fmt.Errorf("lr %g: must be a positive number", c.LR)
	case !(c.Decay > 0 && c.Decay <= 1):
		return fmt.Errorf("decay %g: must be in (0, 1]", c.Decay)
	case c.Shift < 0 || c.Shift > 8:
		return fmt.Errorf("shift %d: must be between 0 and 8 pixels", c.Shift)
	case c.Steps < 0:
		return fmt.Errorf("steps %d: must be 0 or more", c.Steps)
	}
	return nil
}

// purposeAugment is the purpose, in the shared generator's stream ids, of
// the classifier's augmentation shifts (index = step). The nn package's
// purposes are small numbers; this one stays clear of them.
const purposeAugment = nn.PurposeAugment

// EpochStats describe one finished epoch of classifier training.
type EpochStats struct {
	Epoch, Epochs int     // 1-based epoch and the total
	Steps         int     // steps done so far
	LR            float32 // learning rate used in this epoch
	Loss          float64 // mean training cross-entropy over the epoch's steps
	TrainAcc      float64 // mean training-batch accuracy (with dropout and shifts)
	TestAcc       float64 // accuracy on the test set, dropout off
}

// Train trains a fresh classifier on train, measures it on test after every
// epoch and calls onEpoch (which may be nil; its error stops the run). The
// returned classifier's Meta records the config and the final test accuracy.
// It runs on the training loop every model family uses ([model.Train]).
func Train(b nn.Backend, train, test *mnist.Set, dataset string, cfg TrainConfig, onEpoch func(EpochStats) error) (*Classifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if train.Pixels() != imageDim || test.Pixels() != imageDim {
		return nil, fmt.Errorf("classifier training: images are %dx%d, want 28x28", train.Rows, train.Cols)
	}
	c, err := NewClassifier(b, max(cfg.Batch, 1000))
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			c.Free()
		}
	}()
	if err := c.Init(cfg.Seed); err != nil {
		return nil, err
	}
	t, err := newTrainer(c, cfg, dataset)
	if err != nil {
		return nil, err
	}
	defer t.free()
	data := model.FromMNIST(train)
	dev, err := data.Upload(b)
	if err != nil {
		return nil, err
	}
	defer b.Free(dev)
	testPix := test.Float32()
	batches := model.BatchesPerEpoch(train.N, cfg.Batch)
	var lossSum, accSum float64
	steps := 0
	endEpoch := func(epoch int) error {
		out, err := c.Run(testPix)
		if err != nil {
			return err
		}
		s := EpochStats{Epoch: epoch + 1, Epochs: cfg.Epochs, Steps: t.Step(), LR: t.opt.LR,
			Loss: lossSum / float64(max(steps, 1)), TrainAcc: accSum / float64(max(steps, 1)),
			TestAcc: out.Accuracy(test.Labels)}
		lossSum, accSum, steps = 0, 0, 0
		c.Meta = map[string]string{
			"dataset":       dataset,
			"seed":          strconv.FormatUint(cfg.Seed, 10),
			"epochs":        strconv.Itoa(epoch + 1),
			"steps":         strconv.Itoa(t.Step()),
			"batch":         strconv.Itoa(cfg.Batch),
			"lr":            strconv.FormatFloat(float64(cfg.LR), 'g', -1, 32),
			"decay":         strconv.FormatFloat(float64(cfg.Decay), 'g', -1, 32),
			"shift":         strconv.Itoa(cfg.Shift),
			"device":        b.Name(),
			"test_accuracy": strconv.FormatFloat(s.TestAcc, 'f', 4, 64),
			"test_images":   strconv.Itoa(test.N),
		}
		if onEpoch != nil {
			return onEpoch(s)
		}
		return nil
	}
	hooks := model.Hooks{
		OnStep: func(p model.Progress) error {
			lossSum += p.Stats[0]
			accSum += p.Stats[1]
			steps++
			return nil
		},
		OnEpoch: func(p model.Progress) error { return endEpoch(p.Epoch) },
	}
	if err := model.Train(context.Background(), t, data, dev, cfg.Steps, hooks); err != nil {
		return nil, err
	}
	if t.Step()%batches != 0 { // stopped by cfg.Steps inside an epoch
		if err := endEpoch(t.Step() / batches); err != nil {
			return nil, err
		}
	}
	ok = true
	return c, nil
}

// trainer is the classifier as a [model.Model]: its training step
// (augmentation on the host, then one compiled graph: forward with
// dropout, softmax cross-entropy, backward, Adam) for the shared loop.
type trainer struct {
	model.Base
	c      *Classifier
	tc     TrainConfig
	opt    *nn.Adam
	eye    nn.Mat // the 10×10 identity: one-hot targets are its rows
	pix    []float32
	labels []int32
	progs  map[int]*trainProgram
	stats  []float64
}

type trainProgram struct {
	prog      *graph.Program
	x         *graph.Node
	labels    *graph.Index
	loss, acc *graph.Node
}

func newTrainer(c *Classifier, cfg TrainConfig, dataset string) (*trainer, error) {
	b := c.b
	t := &trainer{c: c, tc: cfg, progs: map[int]*trainProgram{}, stats: make([]float64, 2),
		pix: make([]float32, cfg.Batch*imageDim), labels: make([]int32, cfg.Batch)}
	t.Base = model.Base{Cfg: model.Config{Model: "reference-classifier", Epochs: cfg.Epochs, Batch: cfg.Batch, LR: cfg.LR,
		Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Seed: cfg.Seed, Dataset: dataset}, B: b}
	var err error
	if t.opt, err = nn.NewAdam(b, c.Params, cfg.LR, 0.9, 0.999, 1e-8); err != nil {
		return nil, err
	}
	if t.eye, err = b.Alloc(NumClasses, NumClasses); err != nil {
		t.opt.Free()
		return nil, fmt.Errorf("classifier training buffers: %w", err)
	}
	id := make([]float32, NumClasses*NumClasses)
	for k := 0; k < NumClasses; k++ {
		id[k*NumClasses+k] = 1
	}
	if err := b.Upload(t.eye, id); err != nil {
		t.free()
		return nil, err
	}
	return t, nil
}

func (t *trainer) free() {
	for _, p := range t.progs {
		p.prog.Free()
	}
	t.opt.Free()
	t.B.Free(t.eye)
}

// Free releases the training state (the classifier stays).
func (t *trainer) Free() { t.free() }

// Nets is the classifier with its optimiser.
func (t *trainer) Nets() []model.Net {
	return []model.Net{{Name: "classifier", Params: t.c.Params, Opt: t.opt}}
}

// Stats are the step's mean cross-entropy and batch accuracy.
func (t *trainer) Stats() []model.Stat {
	return []model.Stat{{Name: "loss", Format: "%.4f", Loss: true}, {Name: "accuracy", Format: "%.4f"}}
}

// RNG describes the streams.
func (t *trainer) RNG() string {
	return "philox4x32-10; dropout streams = step, augmentation stream = step, shuffle stream = epoch"
}

// program compiles the training step for n rows. Dropout keeps the legacy
// streams of the classifier: index step<<8 | position in the fused layer
// list.
func (t *trainer) program(n int) (*trainProgram, error) {
	if p := t.progs[n]; p != nil {
		return p, nil
	}
	g := graph.New()
	p := &trainProgram{x: g.Input("images", graph.Shape{n, imageDim}), labels: g.Indices("labels", n)}
	ctx := &layer.Ctx{G: g, Train: true, DropoutStream: func(pos int) graph.Stream {
		return graph.Stream{Purpose: nn.PurposeDropout, Slot: uint64(pos), Shift: 8, PerStep: true}
	}}
	logits := t.c.Net.Forward(ctx, p.x)
	targets := g.GatherRows(g.External(t.eye, graph.Shape{NumClasses, NumClasses}), p.labels)
	p.loss, p.acc = g.SoftmaxCE(logits, targets)
	g.Backward(p.loss, t.c.Params)
	g.Update(t.opt)
	g.Fetch(p.loss, p.acc)
	prog, err := g.Compile(t.B)
	if err != nil {
		return nil, fmt.Errorf("classifier training step: %w", err)
	}
	p.prog = prog
	t.progs[n] = p
	return p, nil
}

// TrainStep shifts the batch's images (the augmentation), uploads them and
// runs one step, with the learning rate of the batch's epoch.
func (t *trainer) TrainStep(bt *model.Batch) ([]float64, error) {
	n := len(bt.Idx)
	step := t.Step()
	key := nn.RandKey{Seed: t.tc.Seed, Stream: nn.StreamID(purposeAugment, uint64(step))}
	pix := bt.Data.Pixels
	for i, j := range bt.Idx {
		t.labels[i] = int32(bt.Data.Labels[j])
		dx, dy := shiftOf(key, i, t.tc.Shift)
		Shift(t.pix[i*imageDim:(i+1)*imageDim], pix[int(j)*imageDim:(int(j)+1)*imageDim], dx, dy)
	}
	x := t.c.in.RowView(0, n)
	if err := t.B.Upload(x, t.pix[:n*imageDim]); err != nil {
		return nil, err
	}
	p, err := t.program(n)
	if err != nil {
		return nil, err
	}
	if err := p.prog.Bind(p.x, x); err != nil {
		return nil, err
	}
	if err := p.prog.SetIndices(p.labels, t.labels[:n]); err != nil {
		return nil, err
	}
	t.opt.LR = t.tc.LR * float32(math.Pow(float64(t.tc.Decay), float64(bt.Epoch)))
	err = p.prog.Run(t.tc.Seed, uint64(step))
	t.Advance()
	if err != nil {
		return nil, fmt.Errorf("classifier step %d: %w", t.Step(), err)
	}
	t.stats[0], t.stats[1] = float64(p.prog.Value(p.loss)), float64(p.prog.Value(p.acc))
	if math.IsNaN(t.stats[0]) || math.IsInf(t.stats[0], 0) {
		return nil, fmt.Errorf("classifier step %d: loss is not finite", t.Step())
	}
	return t.stats, nil
}

// shiftOf draws image i's translation, each axis uniform in [−max, max],
// from words 2i and 2i+1 of key.
func shiftOf(key nn.RandKey, i, maxShift int) (dx, dy int) {
	if maxShift == 0 {
		return 0, 0
	}
	span := uint32(2*maxShift + 1)
	dx = int(nn.Uniform32n(key.Uint32(uint64(2*i)), span)) - maxShift
	dy = int(nn.Uniform32n(key.Uint32(uint64(2*i+1)), span)) - maxShift
	return dx, dy
}

// Shift writes src (a 28×28 image in [−1, 1]) translated by dx columns and
// dy rows into dst; uncovered pixels are background (−1).
func Shift(dst, src []float32, dx, dy int) {
	const side = 28
	for y := 0; y < side; y++ {
		sy := y - dy
		for x := 0; x < side; x++ {
			sx := x - dx
			v := float32(-1)
			if sy >= 0 && sy < side && sx >= 0 && sx < side {
				v = src[sy*side+sx]
			}
			dst[y*side+x] = v
		}
	}
}
