package bench

import (
	"fmt"

	"gan/nn/models/vae"
)

// The vae group: the MLP VAE's training step (pytorch/examples' VAE,
// grey-level data) at batch 128, the peer of bench/pytorch/bench_vae.py.
const (
	// GroupVAE selects the group in [Options.Groups] (`gan bench --what vae`).
	GroupVAE = "vae"
	// GroupVAEStep holds the VAE training step (Value in steps/s).
	GroupVAEStep = "vae-step"
	// VAEBatch is the batch of the timed step (the examples' and the issue's).
	VAEBatch = 128
)

// vaeStep times [vae.VAE.TrainStep] (gather, forward, the summed BCE and
// KL, backward, Adam 1e-3) at batch 128 on random grey images uploaded
// once, four batches used in turn.
func (s *suite) vaeStep() error {
	batch := VAEBatch
	cfg := vae.DefaultConfig()
	cfg.Batch = batch
	m, err := vae.New(s.b, cfg)
	if err != nil {
		return err
	}
	defer m.Free()
	st, err := s.timeImageSteps(m, 71, batch, 1, vae.Side, vae.Side)
	if err != nil {
		return err
	}
	sps := 1 / st.Median
	s.add(Result{Key: fmt.Sprintf("vae-step/b%d", batch), Group: GroupVAEStep,
		Label: fmt.Sprintf("VAE step b%d (784-400-%d, grey)", batch, m.LatentDim()),
		Batch: batch, Seconds: st, Value: sps, Unit: UnitSteps, ImagesPerS: sps * float64(batch)})
	return nil
}
