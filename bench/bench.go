// Package bench measures the seed GAN's kernels and training step on any
// [nn.Backend] and compares the results with other implementations.
//
// [Timer] runs an operation back to back, waits for the device once per
// repetition and summarises the repetitions by their median and range;
// [RunDevice] times the suite (every matrix product of the seed model,
// LeakyReLU, the fused sigmoid + BCE, Adam, the whole training step) on one
// backend. A [Report] holds the results of several devices; it is written as
// a text table, as JSON (the format that bench/pytorch writes too) and as a
// plot of training steps per second against the batch size. [Compare]
// merges reports of our backends, of PyTorch and of `go test -bench` runs
// into one markdown table with ratios.
//
// The Go benchmarks in this package's tests compare our CPU matrix product
// with gonum's Sgemm and our CPU training step with Gorgonia's.
package bench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Stat summarises the repetitions of one measurement in seconds per op.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Reps is the number of timed repetitions, Iters the number of ops in
	// each (run back to back, then one wait for the device).
	Reps  int `json:"reps"`
	Iters int `json:"iters"`
}

// Spread is the range of the repetitions relative to their median,
// (max − min) / median.
func (s Stat) Spread() float64 {
	if s.Median <= 0 {
		return 0
	}
	return (s.Max - s.Min) / s.Median
}

// Summarize returns the median, minimum and maximum of per-op times.
func Summarize(perOp []float64, iters int) Stat {
	if len(perOp) == 0 {
		return Stat{}
	}
	s := slices.Clone(perOp)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Stat{Median: med, Min: s[0], Max: s[n-1], Reps: n, Iters: iters}
}

// Timer times an operation: after one untimed call, it finds how many
// back-to-back calls take at least MinRep, runs that many once more as a
// warm-up, then Reps timed repetitions of that many calls, each followed by
// one call of sync (for a GPU, the wait for the queued work; there is no
// wait between the calls).
type Timer struct {
	Reps     int
	MinRep   time.Duration
	MaxIters int // upper bound of calls per repetition (0: 1<<20)

	// now is the clock; tests replace it.
	now func() time.Time
}

// Measure times op and returns seconds per call. It returns sync's first
// error, wrapped.
func (t Timer) Measure(op func(), sync func() error) (Stat, error) {
	now := t.now
	if now == nil {
		now = time.Now
	}
	reps := max(t.Reps, 1)
	maxIters := t.MaxIters
	if maxIters <= 0 {
		maxIters = 1 << 20
	}
	timeRun := func(n int) (float64, error) {
		start := now()
		for range n {
			op()
		}
		if err := sync(); err != nil {
			return 0, err
		}
		return now().Sub(start).Seconds(), nil
	}
	// The first call takes whatever lazy set-up the op has (kernel loading,
	// allocation); it is not timed.
	if _, err := timeRun(1); err != nil {
		return Stat{}, fmt.Errorf("warm-up: %w", err)
	}
	// Calibrate: grow the call count until one repetition takes MinRep.
	iters := 1
	target := t.MinRep.Seconds()
	for {
		el, err := timeRun(iters)
		if err != nil {
			return Stat{}, fmt.Errorf("warm-up: %w", err)
		}
		if el >= target || iters >= maxIters {
			break
		}
		next := 2 * iters
		if el > 0 {
			next = max(next, int(math.Ceil(float64(iters)*1.2*target/el)))
		}
		iters = min(next, 100*iters, maxIters)
	}
	if _, err := timeRun(iters); err != nil { // warm-up at the final count
		return Stat{}, fmt.Errorf("warm-up: %w", err)
	}
	perOp := make([]float64, reps)
	for r := range perOp {
		el, err := timeRun(iters)
		if err != nil {
			return Stat{}, fmt.Errorf("repetition %d: %w", r+1, err)
		}
		perOp[r] = el / float64(iters)
	}
	return Summarize(perOp, iters), nil
}
