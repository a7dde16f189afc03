package eval

import (
	"fmt"
	"math"

	"gan/nn"
)

// Warning is one event of the divergence watch.
type Warning struct {
	Step    int     `json:"step"`  // training step at which it was raised
	Epoch   int     `json:"epoch"` // 1-based epoch of that step
	Kind    string  `json:"kind"`  // one of the Warn* kinds
	Value   float64 `json:"value"` // the value that crossed the limit
	Message string  `json:"message"`
}

// String is the warning's log line.
func (w Warning) String() string {
	return fmt.Sprintf("warning: step %d (epoch %d): %s", w.Step, w.Epoch, w.Message)
}

// Kinds of [Warning].
const (
	WarnDLossFloor    = "d_loss_floor"   // D's loss stayed below the floor
	WarnClassCollapse = "class_collapse" // the fixed-noise batch covers too few classes
	WarnGradNormG     = "grad_norm_G"    // G's gradient norm exceeded the limit
	WarnGradNormD     = "grad_norm_D"    // D's gradient norm exceeded the limit
)

// WatchConfig holds the divergence watch's limits.
type WatchConfig struct {
	// DLossFloor and DLossSteps: warn when D's loss stays below DLossFloor
	// for DLossSteps consecutive steps (D wins outright, G gets no signal).
	DLossFloor float64
	DLossSteps int
	// MinClasses: warn when the fixed-noise batch's samples cover fewer
	// classes than this (classes holding at least 2% of the batch).
	MinClasses int
	// MaxGradNorm: warn when the L2 norm of G's or D's whole gradient
	// exceeds it.
	MaxGradNorm float64
	// Cooldown is the number of steps during which a repeated gradient-norm
	// warning of the same model is suppressed.
	Cooldown int
}

// DefaultWatchConfig is the watch of the training loop: D's loss below
// 1e-3 for 100 steps, fewer than 5 classes in the fixed-noise batch, or a
// gradient norm above 100.
func DefaultWatchConfig() WatchConfig {
	return WatchConfig{DLossFloor: 1e-3, DLossSteps: 100, MinClasses: 5, MaxGradNorm: 100, Cooldown: 100}
}

// Watch follows a training run and raises [Warning]s when it shows signs of
// divergence. It keeps only a little state and no history.
type Watch struct {
	Cfg WatchConfig

	streak   int            // consecutive steps with D's loss below the floor
	lastGrad map[string]int // step of the last gradient warning per kind
}

// NewWatch returns a watch with the given limits.
func NewWatch(cfg WatchConfig) *Watch { return &Watch{Cfg: cfg, lastGrad: map[string]int{}} }

// Step checks one training step: D's loss (a NaN counts as not below the
// floor) and the gradient norms of G and D (NaN: not measured).
func (w *Watch) Step(step, epoch int, dLoss, gradG, gradD float64) []Warning {
	var out []Warning
	if dLoss < w.Cfg.DLossFloor {
		w.streak++
		if w.streak == w.Cfg.DLossSteps {
			out = append(out, Warning{Step: step, Epoch: epoch, Kind: WarnDLossFloor, Value: dLoss,
				Message: fmt.Sprintf("D's loss has stayed below %g for %d steps (now %.3g): D wins outright and G learns nothing", w.Cfg.DLossFloor, w.Cfg.DLossSteps, dLoss)})
		}
	} else {
		w.streak = 0
	}
	for _, g := range []struct {
		kind, model string
		v           float64
	}{{WarnGradNormG, "G", gradG}, {WarnGradNormD, "D", gradD}} {
		if !(g.v > w.Cfg.MaxGradNorm) {
			continue
		}
		if last, ok := w.lastGrad[g.kind]; ok && step-last < w.Cfg.Cooldown {
			continue
		}
		w.lastGrad[g.kind] = step
		out = append(out, Warning{Step: step, Epoch: epoch, Kind: g.kind, Value: g.v,
			Message: fmt.Sprintf("%s's gradient norm %.4g exceeds %g", g.model, g.v, w.Cfg.MaxGradNorm)})
	}
	return out
}

// Classes checks the class histogram of the fixed-noise batch.
func (w *Watch) Classes(step, epoch int, hist []int) []Warning {
	covered := Covered(Shares(hist))
	if covered >= w.Cfg.MinClasses {
		return nil
	}
	return []Warning{{Step: step, Epoch: epoch, Kind: WarnClassCollapse, Value: float64(covered),
		Message: fmt.Sprintf("the fixed-noise samples cover only %d of %d classes (fewer than %d): mode collapse (class histogram %v)", covered, len(hist), w.Cfg.MinClasses, hist)}}
}

// normCols is the row width in which GradNorms folds a gradient arena.
const normCols = 1024

// GradNorms computes the L2 norms of whole gradient arenas on the device:
// each arena is seen as rows of 1024 (and a shorter last row), the backend's
// RowSumSq squares and sums each row in one pass, and only those per-row
// sums (about 1,500 per model of the seed GAN) come back to the host, where
// they are added in float64.
type GradNorms struct {
	b    nn.Backend
	sets []*nn.ParamSet
	sums nn.Mat // (Σ rows per set)×1: each row's sum of squares
	host []float32
	out  []float64
}

// normRows returns how many rows of normCols (the last one shorter) an
// arena of n elements folds into.
func normRows(n int) int { return (n + normCols - 1) / normCols }

// NewGradNorms allocates the buffers to measure the gradients of sets.
func NewGradNorms(b nn.Backend, sets ...*nn.ParamSet) (*GradNorms, error) {
	rows := 0
	for _, s := range sets {
		rows += normRows(s.Size())
	}
	g := &GradNorms{b: b, sets: sets, out: make([]float64, len(sets))}
	var err error
	if g.sums, err = b.Alloc(max(rows, 1), 1); err != nil {
		return nil, fmt.Errorf("gradient norms: %w", err)
	}
	g.host = make([]float32, g.sums.Len())
	return g, nil
}

// Compute returns the L2 norm of each set's gradient arena, in the order
// the sets were given. The slice is reused by the next call.
func (g *GradNorms) Compute() ([]float64, error) {
	at := 0
	for _, s := range g.sets {
		n := s.Size()
		full, rem := n/normCols, n%normCols
		flat := s.Grad.Reshape(1, n)
		if full > 0 {
			g.b.RowSumSq(g.sums.Slice(at, full, 1), flat.Slice(0, full, normCols))
		}
		if rem > 0 {
			g.b.RowSumSq(g.sums.Slice(at+full, 1, 1), flat.Slice(full*normCols, 1, rem))
		}
		at += normRows(n)
	}
	if err := g.b.Download(g.host, g.sums); err != nil {
		return nil, fmt.Errorf("gradient norms: %w", err)
	}
	at = 0
	for i, set := range g.sets {
		rows := normRows(set.Size())
		var s float64
		for _, v := range g.host[at : at+rows] {
			s += float64(v)
		}
		g.out[i] = math.Sqrt(s)
		at += rows
	}
	return g.out, nil
}

// Free releases the buffers.
func (g *GradNorms) Free() {
	g.b.Free(g.sums)
}
