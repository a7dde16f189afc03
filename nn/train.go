package nn

import "fmt"

// Progress says where a training run is.
type Progress struct {
	Step    int // steps done, counting the one just finished
	Epoch   int // 0-based epoch of that step
	Epochs  int
	Batch   int // 0-based batch of that step within its epoch
	Batches int // batches per epoch
	Stats   StepStats
}

// Hooks let the caller watch a run: the CLI attaches its progress bar,
// metrics log, sample grids and checkpoints here. A hook's error stops the
// run and is returned by [GAN.Train].
type Hooks struct {
	OnStep  func(p Progress) error // after every step
	OnEpoch func(p Progress) error // after the last step of each epoch
}

// BatchesPerEpoch is ⌈n/batch⌉: like the seed's DataLoader, the last batch
// of an epoch holds the remainder.
func (g *GAN) BatchesPerEpoch(n int) int { return (n + g.Cfg.Batch - 1) / g.Cfg.Batch }

// ShuffleKey is the stream of epoch e's permutation of the training set.
func (g *GAN) ShuffleKey(epoch int) RandKey {
	return RandKey{Seed: g.Cfg.Seed, Stream: StreamID(PurposeShuffle, uint64(epoch))}
}

// Train continues the run from g.Step until Cfg.Epochs epochs over the n
// rows of data (n×784 on g's backend) are done, or until maxSteps more
// steps were taken when maxSteps > 0. Each epoch visits the rows in the
// order of a fresh permutation; where a run resumes is a function of
// g.Step alone, so a resumed run continues exactly where the saved one was.
func (g *GAN) Train(data Mat, maxSteps int, h Hooks) error {
	n := data.Rows
	if n < 1 || data.Cols != ImageDim {
		return fmt.Errorf("training data is %v, want n×%d", data, ImageDim)
	}
	batches := g.BatchesPerEpoch(n)
	perm := make([]int32, n)
	permEpoch := -1
	for taken := 0; maxSteps <= 0 || taken < maxSteps; taken++ {
		epoch, batch := g.Step/batches, g.Step%batches
		if epoch >= g.Cfg.Epochs {
			return nil
		}
		if epoch != permEpoch {
			Permutation(perm, g.ShuffleKey(epoch))
			permEpoch = epoch
		}
		lo := batch * g.Cfg.Batch
		hi := min(lo+g.Cfg.Batch, n)
		stats, err := g.TrainStep(data, perm[lo:hi])
		if err != nil {
			return fmt.Errorf("epoch %d, batch %d: %w", epoch+1, batch+1, err)
		}
		p := Progress{Step: g.Step, Epoch: epoch, Epochs: g.Cfg.Epochs, Batch: batch, Batches: batches, Stats: stats}
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
