package eval

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/mnist"
)

// loadSets returns the embedded MNIST training and test sets, once.
var loadSets = func() func(t testing.TB) (train, test *mnist.Set) {
	var train, test *mnist.Set
	return func(t testing.TB) (*mnist.Set, *mnist.Set) {
		t.Helper()
		if train == nil {
			var err error
			train, err = mnist.Embedded(true)
			require.NoError(t, err)
			test, err = mnist.Embedded(false)
			require.NoError(t, err)
		}
		return train, test
	}
}()

// subset returns the first n images of s as a new set.
func subset(s *mnist.Set, n int) *mnist.Set {
	return &mnist.Set{Name: s.Name, N: n, Rows: 28, Cols: 28, Images: s.Images[:n*784], Labels: s.Labels[:n]}
}

// The shipped weights reach the accuracy they record (at least 98%) on the
// first 2000 test images, and record it themselves on all 10000.
func TestShippedClassifierAccuracy(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	_, test := loadSets(t)
	c, err := LoadClassifier(b, "mnist", "", 500)
	require.NoError(t, err)
	defer c.Free()
	assert.Equal(t, "mnist", c.Meta["dataset"])
	assert.GreaterOrEqual(t, c.TestAccuracy(), 0.98)
	sub := subset(test, 2000)
	out, err := c.Run(sub.Float32())
	require.NoError(t, err)
	acc := out.Accuracy(sub.Labels)
	t.Logf("accuracy on the first 2000 test images: %.4f (recorded on 10000: %.4f)", acc, c.TestAccuracy())
	assert.GreaterOrEqual(t, acc, 0.975) // the first 2000 are a little harder than the rest
	// Probabilities are distributions.
	for i := 0; i < 10; i++ {
		var s float64
		for _, p := range out.Probs[i*NumClasses : (i+1)*NumClasses] {
			s += p
		}
		assert.InDelta(t, 1, s, 1e-12)
	}
	// ReLU features are non-negative.
	assert.GreaterOrEqual(t, slices.Min(out.Features), float32(0))
}

func TestShippedFashionClassifier(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c, err := LoadClassifier(b, "fashion", "", 10)
	require.NoError(t, err)
	defer c.Free()
	assert.Equal(t, "fashion", c.Meta["dataset"])
	assert.Greater(t, c.TestAccuracy(), 0.85)
	_, err = LoadClassifier(b, "cifar", "", 10)
	assert.ErrorContains(t, err, "cifar")
}

// Weights survive a round trip through Tensors and Load bit for bit, and
// Load refuses files that are not classifier weights.
func TestClassifierLoadRoundTripAndRejects(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c, err := NewClassifier(b, 4)
	require.NoError(t, err)
	defer c.Free()
	require.NoError(t, c.Init(9))
	tens, err := c.Tensors(map[string]string{"dataset": "mnist"})
	require.NoError(t, err)
	assert.Equal(t, []string{"model.0.weight", "model.0.bias", "model.3.weight", "model.3.bias", "model.6.weight", "model.6.bias"}, tens.Names)
	assert.Equal(t, []int{512, 784}, tens.Shapes["model.0.weight"])
	assert.Equal(t, []int{10}, tens.Shapes["model.6.bias"])

	d, err := NewClassifier(b, 4)
	require.NoError(t, err)
	defer d.Free()
	require.NoError(t, d.Load(tens))
	back, err := d.Tensors(nil)
	require.NoError(t, err)
	for _, name := range tens.Names {
		assert.Equal(t, tens.Data[name], back.Data[name], name)
	}
	assert.Equal(t, "mnist", d.Meta["dataset"])

	bad := func(edit func(t *nn.Tensors)) error {
		cp := nn.NewTensors()
		for k, v := range tens.Meta {
			cp.Meta[k] = v
		}
		for _, n := range tens.Names {
			cp.Add(n, tens.Shapes[n], slices.Clone(tens.Data[n]))
		}
		edit(cp)
		return d.Load(cp)
	}
	assert.ErrorContains(t, bad(func(t *nn.Tensors) { t.Meta["format"] = "gan-checkpoint-v1" }), "not a classifier")
	assert.ErrorContains(t, bad(func(t *nn.Tensors) { t.Shapes["model.3.bias"] = []int{128} }), "shape")
	assert.ErrorContains(t, bad(func(t *nn.Tensors) { t.Data["model.0.bias"][3] = float32(math.NaN()) }), "non-finite")
	assert.ErrorContains(t, bad(func(t *nn.Tensors) { t.Add("extra", []int{1}, []float32{0}) }), "7 tensors")
	assert.ErrorContains(t, bad(func(t *nn.Tensors) {
		t.Data["renamed"] = t.Data["model.0.bias"]
		t.Shapes["renamed"] = t.Shapes["model.0.bias"]
		delete(t.Data, "model.0.bias")
		t.Names[1] = "renamed"
	}), "lacks tensor model.0.bias")
}

// Training is reproducible: the same config gives the same weights bit for
// bit, and a different seed different ones. A few steps on a small subset
// keep it fast; the loss must fall.
func TestTrainReproducible(t *testing.T) {
	train, test := loadSets(t)
	tr, te := subset(train, 512), subset(test, 200)
	cfg := TrainConfig{Epochs: 2, Batch: 64, LR: 1e-3, Decay: 0.5, Seed: 3, Shift: 2}
	run := func(cfg TrainConfig) (*nn.Tensors, []EpochStats) {
		b := cpu.New()
		defer b.Close()
		var stats []EpochStats
		c, err := Train(b, tr, te, "mnist", cfg, func(s EpochStats) error { stats = append(stats, s); return nil })
		require.NoError(t, err)
		defer c.Free()
		tens, err := c.Tensors(c.Meta)
		require.NoError(t, err)
		return tens, stats
	}
	a, sa := run(cfg)
	b, _ := run(cfg)
	for _, name := range a.Names {
		require.Equal(t, a.Data[name], b.Data[name], name)
	}
	require.Len(t, sa, 2)
	assert.Equal(t, 16, sa[1].Steps)
	assert.InDelta(t, 5e-4, sa[1].LR, 1e-9)
	assert.Less(t, sa[1].Loss, sa[0].Loss)
	assert.Greater(t, sa[1].TestAcc, 0.5) // 16 steps on 512 images already beat chance
	assert.Equal(t, "3", a.Meta["seed"])
	assert.Equal(t, ClassifierFormat, a.Meta["format"])

	cfg.Seed = 4
	cfg.Steps = 3
	c, sc := run(cfg)
	assert.NotEqual(t, a.Data["model.0.weight"], c.Data["model.0.weight"])
	require.Len(t, sc, 1)
	assert.Equal(t, 3, sc[0].Steps)
}

func TestTrainConfigValidate(t *testing.T) {
	assert.NoError(t, DefaultTrainConfig().Validate())
	for _, edit := range []func(c *TrainConfig){
		func(c *TrainConfig) { c.Epochs = 0 },
		func(c *TrainConfig) { c.Batch = 0 },
		func(c *TrainConfig) { c.LR = float32(math.NaN()) },
		func(c *TrainConfig) { c.Decay = 0 },
		func(c *TrainConfig) { c.Shift = 9 },
		func(c *TrainConfig) { c.Steps = -1 },
	} {
		c := DefaultTrainConfig()
		edit(&c)
		assert.Error(t, c.Validate(), "%+v", c)
	}
}

func TestShift(t *testing.T) {
	src := make([]float32, 784)
	for i := range src {
		src[i] = float32(i%97)/97*2 - 1
	}
	dst := make([]float32, 784)
	Shift(dst, src, 0, 0)
	assert.Equal(t, src, dst)
	Shift(dst, src, 2, -1) // right 2, up 1
	for y := 0; y < 28; y++ {
		for x := 0; x < 28; x++ {
			sx, sy := x-2, y+1
			want := float32(-1)
			if sx >= 0 && sy < 28 {
				want = src[sy*28+sx]
			}
			require.Equal(t, want, dst[y*28+x], "(%d,%d)", x, y)
		}
	}
	// Every shift stays within ±max and all values occur.
	seen := map[[2]int]bool{}
	key := nn.RandKey{Seed: 1, Stream: 2}
	for i := 0; i < 500; i++ {
		dx, dy := shiftOf(key, i, 2)
		require.True(t, dx >= -2 && dx <= 2 && dy >= -2 && dy <= 2)
		seen[[2]int{dx, dy}] = true
	}
	assert.Len(t, seen, 25)
}

// The nearest-neighbour distances from the backend's products equal a
// brute-force float64 search.
func TestNearestTrainDistances(t *testing.T) {
	train, test := loadSets(t)
	b := cpu.New()
	defer b.Close()
	c, err := LoadClassifier(b, "mnist", "", 100)
	require.NoError(t, err)
	defer c.Free()
	tr := subset(train, 300)
	e, err := NewEvaluator(b, c, tr, subset(test, 50), Options{NNRef: 250, Chunk: 7})
	require.NoError(t, err)
	defer e.Free()
	assert.Equal(t, 250, e.NNRef)
	q := test.Float32()[:20*784]
	// One query is an exact copy of a reference image: distance 0.
	copy(q[5*784:6*784], pixels(tr, e.trainOrder[17:18]))
	got, err := e.NearestTrainDistances(q)
	require.NoError(t, err)
	ref := pixels(tr, e.trainOrder[:250])
	for i := 0; i < 20; i++ {
		best := math.Inf(1)
		for j := 0; j < 250; j++ {
			var d float64
			for k := 0; k < 784; k++ {
				x := float64(q[i*784+k]) - float64(ref[j*784+k])
				d += x * x
			}
			best = math.Min(best, d)
		}
		// ‖a‖²+‖b‖²−2a·b loses digits to cancellation: ‖a‖² ≈ 600, float32
		// products carry ~1e-4 of absolute error in d².
		assert.InDelta(t, math.Sqrt(best), got[i], 2e-2, "query %d", i)
	}
	assert.Less(t, got[5], 2e-2)
}

// Evaluate on real test images gives the metrics a good generator would
// approach, and the real baseline is computed by the same code.
func TestEvaluatorOnRealData(t *testing.T) {
	train, test := loadSets(t)
	b := cpu.New()
	defer b.Close()
	c, err := LoadClassifier(b, "mnist", "", 500)
	require.NoError(t, err)
	defer c.Free()
	e, err := NewEvaluator(b, c, train, test, Options{NNRef: 1000})
	require.NoError(t, err)
	defer e.Free()
	n := 1000
	// Samples: training images 20000… (not in the NN reference).
	samples := train.Float32()[20000*784 : (20000+n)*784]
	res, err := e.Run("test", "mnist", samples)
	require.NoError(t, err)
	s, r := res.Samples, res.Real
	t.Logf("samples %+v", *s)
	t.Logf("real %+v", *r)
	assert.Equal(t, n, s.N)
	assert.Equal(t, 10, s.Covered)
	assert.Equal(t, 10, r.Covered)
	assert.Less(t, s.ClassKL, 0.02)
	assert.Greater(t, s.InceptionScore, 9.0)
	assert.Greater(t, r.InceptionScore, 9.0)
	assert.Greater(t, s.Confident, 0.9)
	// Two real sets of the same size are about as far from the test set
	// (at n = 1000 in 256 dimensions the estimate's bias and spread are
	// large: subsets give 3 to 6 here).
	assert.Less(t, s.FID, 3*r.FID)
	assert.Less(t, r.FID, 3*s.FID)
	assert.InDelta(t, r.NNDist, s.NNDist, 0.1*r.NNDist)
	assert.Empty(t, res.Flags)
	// Histogram of the real column: the first n test labels, up to the
	// classifier's errors.
	labels := make([]int, 10)
	for _, i := range e.testOrder[:n] {
		labels[test.Labels[i]]++
	}
	for k := range labels {
		assert.InDelta(t, labels[k], r.Histogram[k], 8, "class %d", k)
	}
	// Input checks.
	_, err = e.Evaluate(samples[:784])
	assert.ErrorContains(t, err, "at least two")
	bad := slices.Clone(samples[:4*784])
	bad[100] = float32(math.Inf(1))
	_, err = e.Evaluate(bad)
	assert.ErrorContains(t, err, "non-finite")
}
