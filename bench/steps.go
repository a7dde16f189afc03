package bench

import (
	"gan/nn"
	"gan/nn/model"
)

// stepWindows is the number of batches a timed training step cycles
// through, so that consecutive steps read different data.
const stepWindows = 4

// trainer is what the step timers drive: a model's training step.
type trainer interface {
	TrainStep(b *model.Batch) ([]float64, error)
}

// timeSteps times step(w), w = 0, 1, … mod stepWindows, with the step
// timer (the suite's timer when none is set); the first error stops the
// steps and is returned.
func (s *suite) timeSteps(step func(w int) error) (Stat, error) {
	i := 0
	var stepErr error
	op := func() {
		if stepErr != nil {
			return
		}
		w := i % stepWindows
		i++
		stepErr = step(w)
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
	return timer.Measure(op, sync)
}

// timeImageSteps times m.TrainStep at batch on random c×h×w images in
// [−1, 1) uploaded once (matrix stream first), stepWindows batches of a
// fixed permutation used in turn. The images exist only on the device; the
// Dataset describes them.
func (s *suite) timeImageSteps(m trainer, first uint64, batch, c, h, w int) (Stat, error) {
	rows := stepWindows * batch
	ms, release, err := s.mats(first, [2]int{rows, c * h * w})
	if err != nil {
		return Stat{}, err
	}
	defer release()
	set := &model.Dataset{Name: "uniform random [-1, 1)", N: rows, C: c, H: h, W: w}
	perm := make([]int32, rows)
	nn.Permutation(perm, nn.RandKey{Seed: 0xbe4c, Stream: nn.StreamID(nn.PurposeShuffle, 0)})
	return s.timeSteps(func(win int) error {
		_, err := m.TrainStep(&model.Batch{Data: set, Dev: ms[0], Idx: perm[win*batch : (win+1)*batch], Index: win})
		return err
	})
}
