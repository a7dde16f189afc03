package bench

import (
	"fmt"

	"gan/nn"
	"gan/nn/model"
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
	const windows = 4
	rows := windows * batch
	ms, release, err := s.mats(71, [2]int{rows, vae.ImageDim})
	if err != nil {
		return err
	}
	defer release()
	set := &model.Dataset{Name: "uniform random [-1, 1)", N: rows, C: 1, H: vae.Side, W: vae.Side}
	perm := make([]int32, rows)
	nn.Permutation(perm, nn.RandKey{Seed: 0x7ae, Stream: nn.StreamID(nn.PurposeShuffle, 0)})
	i := 0
	var stepErr error
	op := func() {
		if stepErr != nil {
			return
		}
		w := i % windows
		i++
		_, stepErr = m.TrainStep(&model.Batch{Data: set, Dev: ms[0], Idx: perm[w*batch : (w+1)*batch], Index: w})
	}
	sync := func() error {
		if stepErr != nil {
			return stepErr
		}
		return s.b.Sync()
	}
	timer := s.o.Timer
	if s.o.StepTimer.MinRep > 0 {
		timer = s.o.StepTimer
	}
	st, err := timer.Measure(op, sync)
	if err != nil {
		return err
	}
	sps := 1 / st.Median
	s.add(Result{Key: fmt.Sprintf("vae-step/b%d", batch), Group: GroupVAEStep,
		Label: fmt.Sprintf("VAE step b%d (784-400-%d, grey)", batch, m.LatentDim()),
		Batch: batch, Seconds: st, Value: sps, Unit: UnitSteps, ImagesPerS: sps * float64(batch)})
	return nil
}
