package bench

import (
	"fmt"

	"gan/nn/models/pixelcnn"
)

// The pixelcnn group: the PixelCNN training step at the family's default
// network (h 32, 5 blocks) and batch 64, the peer of
// bench/pytorch/bench_pixelcnn.py.
const (
	// GroupPixelCNN selects the group in [Options.Groups] (`gan bench --what pixelcnn`).
	GroupPixelCNN = "pixelcnn"
	// GroupPixelCNNStep holds the PixelCNN training step (Value in steps/s).
	GroupPixelCNNStep = "pixelcnn-step"
	// PixelCNNBatch is the batch of the timed step (the target).
	PixelCNNBatch = 64
)

// pixelcnnStep times [pixelcnn.PixelCNN.TrainStep] (dynamic binarisation,
// forward, backward, Adam) at batch 64 on random 28×28 grey images
// uploaded once, four batches used in turn.
func (s *suite) pixelcnnStep() error {
	batch := PixelCNNBatch
	cfg := pixelcnn.DefaultConfig()
	cfg.Batch = batch
	m, err := pixelcnn.New(s.b, cfg)
	if err != nil {
		return err
	}
	defer m.Free()
	st, err := s.timeImageSteps(m, 61, batch, 1, pixelcnn.Side, pixelcnn.Side)
	if err != nil {
		return err
	}
	sps := 1 / st.Median
	s.add(Result{Key: fmt.Sprintf("pixelcnn-step/b%d", batch), Group: GroupPixelCNNStep,
		Label: fmt.Sprintf("PixelCNN step b%d (h %d, %d blocks)", batch, m.H, m.Blocks),
		Batch: batch, Seconds: st, Value: sps, Unit: UnitSteps, ImagesPerS: sps * float64(batch)})
	return nil
}
