package eval

import (
	"fmt"
	"math"
	"strconv"

	"gan/nn"
	"gan/nn/mnist"
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
const purposeAugment = 0x100

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
func Train(b nn.Backend, train, test *mnist.Set, dataset string, cfg TrainConfig, onEpoch func(EpochStats) error) (*Classifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if train.Pixels() != nn.ImageDim || test.Pixels() != nn.ImageDim {
		return nil, fmt.Errorf("classifier training: images are %dx%d, want 28x28", train.Rows, train.Cols)
	}
	rows := max(cfg.Batch, 1000)
	c, err := NewClassifier(b, rows)
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
	opt, err := nn.NewAdam(b, c.Net.Params, cfg.LR, 0.9, 0.999, 1e-8)
	if err != nil {
		return nil, err
	}
	defer opt.Free()
	var eye, targets, grad, stats nn.Mat
	for _, a := range []struct {
		m          *nn.Mat
		rows, cols int
	}{{&eye, NumClasses, NumClasses}, {&targets, cfg.Batch, NumClasses}, {&grad, cfg.Batch, NumClasses}, {&stats, 1, 2}} {
		if *a.m, err = b.Alloc(a.rows, a.cols); err != nil {
			return nil, fmt.Errorf("classifier training buffers: %w", err)
		}
		defer b.Free(*a.m)
	}
	id := make([]float32, NumClasses*NumClasses)
	for k := 0; k < NumClasses; k++ {
		id[k*NumClasses+k] = 1
	}
	if err := b.Upload(eye, id); err != nil {
		return nil, err
	}

	pix := train.Float32()
	testPix := test.Float32()
	perm := make([]int32, train.N)
	batchPix := make([]float32, cfg.Batch*nn.ImageDim)
	labels := make([]int32, cfg.Batch)
	var host [2]float32
	step := 0
	for epoch := 0; epoch < cfg.Epochs; epoch++ {
		nn.Permutation(perm, nn.RandKey{Seed: cfg.Seed, Stream: nn.StreamID(nn.PurposeShuffle, uint64(epoch))})
		opt.LR = cfg.LR * float32(math.Pow(float64(cfg.Decay), float64(epoch)))
		var lossSum, accSum float64
		batches := 0
		for lo := 0; lo < train.N; lo += cfg.Batch {
			if cfg.Steps > 0 && step >= cfg.Steps {
				break
			}
			n := min(cfg.Batch, train.N-lo)
			key := nn.RandKey{Seed: cfg.Seed, Stream: nn.StreamID(purposeAugment, uint64(step))}
			for i := 0; i < n; i++ {
				j := perm[lo+i]
				labels[i] = int32(train.Labels[j])
				dx, dy := shiftOf(key, i, cfg.Shift)
				Shift(batchPix[i*nn.ImageDim:(i+1)*nn.ImageDim], pix[int(j)*nn.ImageDim:(int(j)+1)*nn.ImageDim], dx, dy)
			}
			x := c.in.RowView(0, n)
			if err := b.Upload(x, batchPix[:n*nn.ImageDim]); err != nil {
				return nil, err
			}
			t := targets.RowView(0, n)
			b.GatherRows(t, eye, labels[:n])
			pass := nn.Pass{Train: true, Seed: cfg.Seed, DropoutIndex: uint64(step), ParamGrads: true}
			logits := c.Net.Forward(x, &pass)
			b.SoftmaxCE(grad.RowView(0, n), stats, logits, t, 1/float32(n))
			c.Net.Backward(grad.RowView(0, n), &pass)
			opt.Update()
			step++
			if err := b.Download(host[:], stats); err != nil {
				return nil, fmt.Errorf("classifier step %d: %w", step, err)
			}
			if math.IsNaN(float64(host[0])) || math.IsInf(float64(host[0]), 0) {
				return nil, fmt.Errorf("classifier step %d: loss is not finite", step)
			}
			lossSum += float64(host[0])
			accSum += float64(host[1])
			batches++
		}
		out, err := c.Run(testPix)
		if err != nil {
			return nil, err
		}
		s := EpochStats{Epoch: epoch + 1, Epochs: cfg.Epochs, Steps: step, LR: opt.LR,
			Loss: lossSum / float64(max(batches, 1)), TrainAcc: accSum / float64(max(batches, 1)),
			TestAcc: out.Accuracy(test.Labels)}
		c.Meta = map[string]string{
			"dataset":       dataset,
			"seed":          strconv.FormatUint(cfg.Seed, 10),
			"epochs":        strconv.Itoa(epoch + 1),
			"steps":         strconv.Itoa(step),
			"batch":         strconv.Itoa(cfg.Batch),
			"lr":            strconv.FormatFloat(float64(cfg.LR), 'g', -1, 32),
			"decay":         strconv.FormatFloat(float64(cfg.Decay), 'g', -1, 32),
			"shift":         strconv.Itoa(cfg.Shift),
			"device":        b.Name(),
			"test_accuracy": strconv.FormatFloat(s.TestAcc, 'f', 4, 64),
			"test_images":   strconv.Itoa(test.N),
		}
		if onEpoch != nil {
			if err := onEpoch(s); err != nil {
				return nil, err
			}
		}
		if cfg.Steps > 0 && step >= cfg.Steps {
			break
		}
	}
	ok = true
	return c, nil
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
