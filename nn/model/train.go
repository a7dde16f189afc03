package model

import (
	"context"
	"fmt"

	"gan/nn"
)

// Progress says where a training run is after a step.
type Progress struct {
	Step    int // steps done, counting the one just finished
	Epoch   int // 0-based epoch of that step
	Epochs  int
	Batch   int // 0-based batch of that step within its epoch
	Batches int // batches per epoch
	// Stats are the step's statistics, in the order of Model.Stats (valid
	// until the next step).
	Stats []float64
}

// Hooks let the caller watch a run: the CLI attaches its progress bar,
// metrics log, sample grids and checkpoints here. A hook's error stops the
// run and is returned by [Train].
type Hooks struct {
	OnStep  func(p Progress) error // after every step
	OnEpoch func(p Progress) error // after the last step of each epoch
}

// BatchesPerEpoch is ⌈n/batch⌉: like PyTorch's DataLoader, the last batch
// of an epoch holds the remainder.
func BatchesPerEpoch(n, batch int) int { return (n + batch - 1) / batch }

// ShuffleKey is the stream of epoch e's permutation of the training set.
func ShuffleKey(seed uint64, epoch int) nn.RandKey {
	return nn.RandKey{Seed: seed, Stream: nn.StreamID(nn.PurposeShuffle, uint64(epoch))}
}

// Train continues m from m.Step() until its Config().Epochs epochs over
// data (dev is data's copy on m's backend) are done, until maxSteps more
// steps were taken when maxSteps > 0, or until ctx is cancelled (between
// two steps; the error is then ctx.Err()). Each epoch visits the images in
// the order of a fresh permutation of the run's seed; where a run resumes
// is a function of m.Step() alone, so a resumed run continues exactly where
// the saved one was.
func Train(ctx context.Context, m Model, data *Dataset, dev nn.Mat, maxSteps int, h Hooks) error {
	cfg := m.Config()
	n := data.N
	if n < 1 || dev.Rows != n || dev.Cols != data.Dim() {
		return fmt.Errorf("training data: %d images, device copy %v, want %dx%d", n, dev, n, data.Dim())
	}
	batches := BatchesPerEpoch(n, cfg.Batch)
	perm := make([]int32, n)
	permEpoch := -1
	done := ctx.Done()
	b := &Batch{Data: data, Dev: dev}
	for taken := 0; maxSteps <= 0 || taken < maxSteps; taken++ {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		step := m.Step()
		epoch, batch := step/batches, step%batches
		if epoch >= cfg.Epochs {
			return nil
		}
		if epoch != permEpoch {
			nn.Permutation(perm, ShuffleKey(cfg.Seed, epoch))
			permEpoch = epoch
		}
		lo := batch * cfg.Batch
		hi := min(lo+cfg.Batch, n)
		b.Idx, b.Epoch, b.Index = perm[lo:hi], epoch, batch
		stats, err := m.TrainStep(b)
		if err != nil {
			return fmt.Errorf("epoch %d, batch %d: %w", epoch+1, batch+1, err)
		}
		p := Progress{Step: m.Step(), Epoch: epoch, Epochs: cfg.Epochs, Batch: batch, Batches: batches, Stats: stats}
		if h.OnStep != nil {
			if err := h.OnStep(p); err != nil {
				return err
			}
		}
		if batch == batches-1 && h.OnEpoch != nil {
			if err := h.OnEpoch(p); err != nil {
				return err
			}
		}
	}
	return nil
}
