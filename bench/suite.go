package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gan/nn"
	"gan/nn/models/seedgan"
)

// Layer is one Linear layer of the seed model.
type Layer struct {
	Name    string // G1…G4, D1…D4, in forward order
	In, Out int
}

// SeedLayers are the Linear layers of the seed generator and discriminator.
var SeedLayers = []Layer{
	{"G1", seedgan.ZDim, 256}, {"G2", 256, 512}, {"G3", 512, 1024}, {"G4", 1024, seedgan.ImageDim},
	{"D1", seedgan.ImageDim, 1024}, {"D2", 1024, 512}, {"D3", 512, 256}, {"D4", 256, 1},
}

// ParamCount is the number of parameters (weights and biases) of the layers
// whose names start with prefix ("G" or "D").
func ParamCount(prefix string) int {
	n := 0
	for _, l := range SeedLayers {
		if strings.HasPrefix(l.Name, prefix) {
			n += l.In*l.Out + l.Out
		}
	}
	return n
}

// MatMulShape is one matrix product C (m×n) = op(A)·op(B).
type MatMulShape struct {
	Key, Label     string
	M, N, K        int
	TransA, TransB bool
	Batch          int
}

// Flops is 2·m·n·k.
func (s MatMulShape) Flops() float64 { return 2 * float64(s.M) * float64(s.N) * float64(s.K) }

// LayerProducts returns the three products of layer l at batch rows: the
// forward y = x·Wᵀ, the input gradient dx = dz·W and the weight gradient
// dW = dzᵀ·x.
func LayerProducts(l Layer, batch int) []MatMulShape {
	key := func(p string) string { return fmt.Sprintf("matmul/b%d/%s.%s", batch, l.Name, p) }
	label := func(p string) string { return fmt.Sprintf("b%d %s %s", batch, l.Name, p) }
	return []MatMulShape{
		{Key: key("fwd"), Label: label("fwd"), M: batch, N: l.Out, K: l.In, TransB: true, Batch: batch},
		{Key: key("dx"), Label: label("dx"), M: batch, N: l.In, K: l.Out, Batch: batch},
		{Key: key("dW"), Label: label("dW"), M: l.Out, N: l.In, K: batch, TransA: true, Batch: batch},
	}
}

// SquareProduct is the n×n×n product without transposes.
func SquareProduct(n int) MatMulShape {
	return MatMulShape{Key: fmt.Sprintf("matmul/square%d", n), Label: fmt.Sprintf("square %d", n), M: n, N: n, K: n}
}

// MatMulShapes lists every product of the seed model at each batch, then
// the squares.
func MatMulShapes(batches, squares []int) []MatMulShape {
	var out []MatMulShape
	for _, b := range batches {
		for _, l := range SeedLayers {
			out = append(out, LayerProducts(l, b)...)
		}
	}
	for _, n := range squares {
		out = append(out, SquareProduct(n))
	}
	return out
}

// Benchmark groups that [Options.Groups] can select.
var Groups = []string{GroupMatMul, GroupElementwise, GroupStep, GroupDCGAN, GroupText, GroupPixelCNN, GroupVAE}

// SeedEpochImages is the size of the MNIST training set, the seed's epoch.
const SeedEpochImages = 60000

// ActWidth is the width of the elementwise benchmarks: the seed model's
// widest hidden activation.
const ActWidth = 1024

// Options say what [RunDevice] measures.
type Options struct {
	// Timer times the kernels; StepTimer (when its MinRep is set) the
	// training steps, whose repetitions are longer so that one slow
	// moment of a shared machine weighs less in a rep of a few steps.
	Timer, StepTimer Timer
	// KernelBatches are the batch sizes of the matrix products and the
	// elementwise ops; StepBatches those of the training step; Squares the
	// sizes of the square products.
	KernelBatches, StepBatches, Squares []int
	// Groups selects matmul, elementwise, step, dcgan, text, pixelcnn and vae (empty: all).
	Groups []string
	// Progress, when set, gets one line per measurement.
	Progress io.Writer
	// PeakGFLOPS, when positive, is the device's fp32 peak (PeakSource says
	// how it was obtained), recorded in the run for the convolution
	// products' share of it; otherwise the run's best square product
	// stands in for it (a lower bound of the peak).
	PeakGFLOPS float64
	PeakSource string
	// DCGANSize is the image size of the dcgan group's network (0:
	// [DCGANSize], MNIST's 28; 32 for the padded digits of `--size 32`).
	DCGANSize int
}

// DefaultOptions returns the measurements of `gan bench` on device: on the
// GPU everything (kernel batches 64, 256, 1024; squares 1024 and 4096;
// steps at batch 64 to 4096); on the CPU the same without the 4096 square
// and the 4096 batch unless full. Quick is a seconds-long subset for tests.
// Notes say what was left out.
func DefaultOptions(device string, quick, full bool) (Options, []string) {
	o := Options{
		Timer:         Timer{Reps: 5, MinRep: 50 * time.Millisecond},
		StepTimer:     Timer{Reps: 5, MinRep: time.Second},
		KernelBatches: []int{64, 256, 1024},
		StepBatches:   []int{64, 256, 1024, 4096},
		Squares:       []int{1024, 4096},
	}
	var notes []string
	switch {
	case quick:
		o.Timer = Timer{Reps: 3, MinRep: time.Millisecond}
		o.StepTimer = o.Timer
		o.KernelBatches, o.StepBatches, o.Squares = []int{64}, []int{64, 128}, nil
		notes = append(notes, "--quick: a small subset with short repetitions, to check that everything runs (not for comparisons)")
	case device == "cpu" && !full:
		o.StepBatches, o.Squares = []int{64, 256, 1024}, []int{1024}
		notes = append(notes, "cpu without --full: the 4096 square product and the batch-4096 step are left out")
	}
	return o, notes
}

func (o Options) wants(group string) bool {
	return len(o.Groups) == 0 || slices.Contains(o.Groups, group)
}

// RunDevice runs the selected benchmarks on b and returns their results,
// with Device set to b.Name(). A failure stops the run; the error is also
// recorded in the returned Run, with the results measured before it.
func RunDevice(b nn.Backend, o Options) (Run, error) {
	s := &suite{b: b, o: o, run: Run{Device: b.Name(), Impl: "gan"}}
	err := s.all()
	if err != nil {
		s.run.Error = err.Error()
	}
	s.peak()
	return s.run, err
}

// peak records the fp32 peak of the run: the one given, or the best
// repetition of the largest square product measured.
func (s *suite) peak() {
	if s.o.PeakGFLOPS > 0 {
		s.run.PeakGFLOPS, s.run.PeakSource = s.o.PeakGFLOPS, s.o.PeakSource
		return
	}
	var best Result
	for _, r := range s.run.Results {
		if r.Group == GroupMatMul && r.Batch == 0 && r.M >= best.M && r.Seconds.Min > 0 {
			best = r
		}
	}
	if best.M > 0 {
		s.run.PeakGFLOPS = best.Flops / best.Seconds.Min / 1e9
		s.run.PeakSource = fmt.Sprintf("best repetition of our %s product (a lower bound of the peak)", best.Label)
	}
}

type suite struct {
	b   nn.Backend
	o   Options
	run Run
}

func (s *suite) all() error {
	if s.o.wants(GroupMatMul) {
		for _, sh := range MatMulShapes(s.o.KernelBatches, s.o.Squares) {
			if err := s.matmul(sh); err != nil {
				return fmt.Errorf("%s: %w", sh.Label, err)
			}
		}
	}
	if s.o.wants(GroupElementwise) {
		if err := s.elementwise(); err != nil {
			return err
		}
	}
	if s.o.wants(GroupStep) {
		for _, batch := range s.o.StepBatches {
			if err := s.step(batch); err != nil {
				return fmt.Errorf("training step at batch %d: %w", batch, err)
			}
		}
		s.epoch()
	}
	if s.o.wants(GroupDCGAN) {
		if err := s.dcgan(); err != nil {
			return err
		}
	}
	if s.o.wants(GroupText) {
		if err := s.textStep(); err != nil {
			return fmt.Errorf("char-gpt training step: %w", err)
		}
	}
	if s.o.wants(GroupPixelCNN) {
		if err := s.pixelcnnStep(); err != nil {
			return fmt.Errorf("PixelCNN training step: %w", err)
		}
	}
	if s.o.wants(GroupVAE) {
		if err := s.vaeStep(); err != nil {
			return fmt.Errorf("VAE training step: %w", err)
		}
	}
	return nil
}

// add records r and prints its progress line.
func (s *suite) add(r Result) {
	s.run.Results = append(s.run.Results, r)
	if s.o.Progress != nil {
		fmt.Fprintf(s.o.Progress, "%s: %-28s %10s  %s\n", s.run.Device, r.Label, FormatDuration(r.Seconds.Median), FormatValue(r.Value, r.Unit))
	}
}

// mats allocates matrices of the given shapes filled with uniform values in
// [−1, 1), from streams first, first+1, …
func (s *suite) mats(first uint64, shapes ...[2]int) ([]nn.Mat, func(), error) {
	var ms []nn.Mat
	release := func() {
		for _, m := range ms {
			s.b.Free(m)
		}
	}
	for i, sh := range shapes {
		m, err := s.b.Alloc(sh[0], sh[1])
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("allocating %dx%d: %w", sh[0], sh[1], err)
		}
		ms = append(ms, m)
		s.b.RandUniform(m, -1, 1, nn.RandKey{Seed: 0xbe4c, Stream: first + uint64(i)})
	}
	if err := s.b.Sync(); err != nil {
		release()
		return nil, nil, err
	}
	return ms, release, nil
}

func (s *suite) matmul(sh MatMulShape) error {
	ar, ac := sh.M, sh.K
	if sh.TransA {
		ar, ac = ac, ar
	}
	br, bc := sh.K, sh.N
	if sh.TransB {
		br, bc = bc, br
	}
	ms, release, err := s.mats(1, [2]int{ar, ac}, [2]int{br, bc}, [2]int{sh.M, sh.N})
	if err != nil {
		return err
	}
	defer release()
	a, bm, c := ms[0], ms[1], ms[2]
	st, err := s.o.Timer.Measure(func() { s.b.MatMul(c, a, bm, sh.TransA, sh.TransB, 0) }, s.b.Sync)
	if err != nil {
		return err
	}
	s.add(Result{Key: sh.Key, Group: GroupMatMul, Label: sh.Label, M: sh.M, N: sh.N, K: sh.K,
		TransA: sh.TransA, TransB: sh.TransB, Batch: sh.Batch, Flops: sh.Flops(),
		Seconds: st, Value: sh.Flops() / st.Median / 1e9, Unit: UnitGFLOPS})
	return nil
}

// Bytes per element that each elementwise op must read and write once.
const (
	BytesLeakyFwd = 8  // LeakyReLU y = act(x): read x, write y
	BytesLeakyBwd = 12 // dx = dy·act'(y): read dy and y, write dx
	BytesBiasAct  = 8  // y = act(y + b) in place: read and write y (+ the bias row)
	BytesBCE      = 12 // fused sigmoid + BCE: read logit and target, write gradient
	BytesAdam     = 28 // read p, g, m, v; write p, m, v
)

// BytesConvention states the byte counts of the GB/s figures.
const BytesConvention = "GB/s counts the bytes each op must read and write once: LeakyReLU forward 8 B/element " +
	"(read x, write y), backward 12 (read dy and y, write dx), bias+LeakyReLU in place 8 (+ the bias row), " +
	"sigmoid+BCE 12 (read logit and target, write gradient), Adam 28 B/parameter (read p, g, m, v; write p, m, v)"

func (s *suite) elementwise() error {
	leaky := nn.Act{Kind: nn.ActLeakyReLU, Slope: seedgan.LeakySlope}
	for _, batch := range s.o.KernelBatches {
		n := batch * ActWidth
		ms, release, err := s.mats(10, [2]int{batch, ActWidth}, [2]int{batch, ActWidth}, [2]int{batch, ActWidth}, [2]int{1, ActWidth})
		if err != nil {
			return fmt.Errorf("elementwise at batch %d: %w", batch, err)
		}
		x, y, dx, bias := ms[0], ms[1], ms[2], ms[3]
		for _, op := range []struct {
			key, label string
			bytes      float64
			f          func()
		}{
			{"leaky_relu.fwd", "LeakyReLU fwd", BytesLeakyFwd * float64(n), func() { s.b.Activate(y, x, leaky) }},
			{"leaky_relu.bwd", "LeakyReLU bwd", BytesLeakyBwd * float64(n), func() { s.b.ActBackward(dx, x, y, leaky) }},
			{"bias_leaky_relu", "bias+LeakyReLU", BytesBiasAct*float64(n) + 4*ActWidth, func() { s.b.BiasAct(y, bias, leaky) }},
		} {
			if err := s.bandwidth(fmt.Sprintf("%s/b%d", op.key, batch), fmt.Sprintf("b%d %s %d×%d", batch, op.label, batch, ActWidth), batch, n, op.bytes, op.f); err != nil {
				release()
				return err
			}
		}
		release()

		// The loss of the D step: 2·batch logits, one column.
		rows := 2 * batch
		ms, release, err = s.mats(20, [2]int{rows, 1}, [2]int{rows, 1}, [2]int{rows, 1}, [2]int{1, 2})
		if err != nil {
			return fmt.Errorf("BCE at batch %d: %w", batch, err)
		}
		logit, target, grad, stats := ms[0], ms[1], ms[2], ms[3]
		s.b.Fill(target, 1)
		err = s.bandwidth(fmt.Sprintf("bce/b%d", batch), fmt.Sprintf("b%d sigmoid+BCE %d×1", batch, rows), batch, rows, BytesBCE*float64(rows),
			func() { s.b.SigmoidBCE(grad, stats, logit, target, 1/float32(batch)) })
		release()
		if err != nil {
			return err
		}
	}
	for _, model := range []string{"G", "D"} {
		n := ParamCount(model)
		ms, release, err := s.mats(30, [2]int{1, n}, [2]int{1, n}, [2]int{1, n}, [2]int{1, n})
		if err != nil {
			return fmt.Errorf("Adam on %s: %w", model, err)
		}
		p, g, m, v := ms[0], ms[1], ms[2], ms[3]
		s.b.Fill(m, 0)
		s.b.Fill(v, 0)
		step := nn.AdamStep{LR: 2e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
		err = s.bandwidth("adam/"+model, fmt.Sprintf("Adam %s (%d params)", model, n), 0, n, BytesAdam*float64(n),
			func() { step.Step++; s.b.Adam(p, g, m, v, step) })
		release()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *suite) bandwidth(key, label string, batch, elements int, bytes float64, f func()) error {
	st, err := s.o.Timer.Measure(f, s.b.Sync)
	if err != nil {
		return fmt.Errorf("%s: %w", label, err)
	}
	s.add(Result{Key: key, Group: GroupElementwise, Label: label, Batch: batch, Elements: elements,
		Bytes: bytes, Seconds: st, Value: bytes / st.Median / 1e9, Unit: UnitGBps})
	return nil
}

// step times the seed-mlp-gan training step ([seedgan.GAN.TrainStep]) at
// batch on random images uploaded once. The first, untimed call of the
// timer's warm-up compiles the step's program.
func (s *suite) step(batch int) error {
	cfg := seedgan.DefaultConfig()
	cfg.Batch = batch
	g, err := seedgan.New(s.b, cfg)
	if err != nil {
		return err
	}
	defer g.Free()
	st, err := s.timeImageSteps(g, 40, batch, 1, 28, 28)
	if err != nil {
		return err
	}
	sps := 1 / st.Median
	s.add(Result{Key: fmt.Sprintf("step/b%d", batch), Group: GroupStep, Label: fmt.Sprintf("train step b%d", batch),
		Batch: batch, Seconds: st, Value: sps, Unit: UnitSteps, ImagesPerS: sps * float64(batch)})
	return nil
}

// epoch derives the seconds per epoch of the seed configuration (batch 64,
// ⌈60000/64⌉ = 938 steps) from the batch-64 step time.
func (s *suite) epoch() {
	if r, ok := s.run.Find("step/b64"); ok {
		s.add(EpochResult(r))
	}
}

// EpochResult derives seconds per epoch from a training-step result:
// ⌈60000/batch⌉ steps at the median step time.
func EpochResult(step Result) Result {
	steps := float64((SeedEpochImages + step.Batch - 1) / step.Batch)
	st := step.Seconds
	st.Median, st.Min, st.Max = st.Median*steps, st.Min*steps, st.Max*steps
	return Result{Key: fmt.Sprintf("epoch/b%d", step.Batch), Group: GroupEpoch,
		Label: fmt.Sprintf("epoch b%d (%.0f steps, derived)", step.Batch, steps), Batch: step.Batch,
		Seconds: st, Value: st.Median, Unit: UnitSecEpoch, Derived: true}
}
