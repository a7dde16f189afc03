package serve

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/eval"
	"gan/nn/model"
	"gan/nn/models/seedgan"
)

// seedModel returns a freshly initialised seed GAN on a CPU backend of
// its own (freed with the test).
func seedModel(t testing.TB, seed uint64) *seedgan.GAN {
	t.Helper()
	b := cpu.New()
	t.Cleanup(func() { b.Close() })
	cfg := seedgan.DefaultConfig()
	cfg.Seed = seed
	m, err := seedgan.New(b, cfg)
	require.NoError(t, err)
	return m
}

// condGAN is a conditional model for the tests: the seed GAN with the
// label added to the first noise value of each image.
type condGAN struct {
	*seedgan.GAN
	mu   sync.Mutex
	seen []int32
}

func (c *condGAN) Classes() int { return 10 }

func (c *condGAN) GenerateLabels(z []float32, labels []int32, out []float32) error {
	c.mu.Lock()
	c.seen = append(c.seen, labels...)
	c.mu.Unlock()
	return c.GAN.Generate(condNoise(z, labels), out)
}

// condNoise is what condGAN feeds its generator.
func condNoise(z []float32, labels []int32) []float32 {
	zz := append([]float32(nil), z...)
	for i, l := range labels {
		zz[i*seedgan.ZDim] += float32(l)
	}
	return zz
}

// The noise of seed S is that of gan sample --seed S: row i is row i%64
// of stream (PurposeSample, i/64), and row 0 is eval.SeedNoise.
func TestNoiseIsGanSampleNoise(t *testing.T) {
	const dim, n = 100, 130
	z := make([]float32, n*dim)
	Noise(z, dim, 42, 0)
	for i := 0; i < n; i++ {
		key := nn.RandKey{Seed: 42, Stream: nn.StreamID(nn.PurposeSample, uint64(i/64))}
		for j := 0; j < dim; j++ {
			require.Equal(t, key.Normal(uint64((i%64)*dim+j)), z[i*dim+j], "image %d value %d", i, j)
		}
	}
	assert.Equal(t, eval.SeedNoise(42, dim), z[:dim])

	// Truncation: every value within ±t; those already within unchanged;
	// the same seed gives the same noise.
	for _, tr := range []float64{0.1, 0.5, 1.5} {
		zt := make([]float32, n*dim)
		Noise(zt, dim, 42, tr)
		again := make([]float32, n*dim)
		Noise(again, dim, 42, tr)
		assert.Equal(t, zt, again)
		resampled := 0
		for i, v := range zt {
			require.LessOrEqual(t, math.Abs(float64(v)), tr, "value %d", i)
			if math.Abs(float64(z[i])) <= tr {
				require.Equal(t, z[i], v, "value %d within the truncation changed", i)
			} else {
				resampled++
			}
		}
		assert.Positive(t, resampled)
	}
}

// Concurrent callers get exactly the pixels that a direct call of the
// model's Generate gives their own noise, whatever the batch they landed
// in (padded, several callers per pass), and one pass serves many calls.
func TestConcurrentCallsMatchDirectGenerate(t *testing.T) {
	m := seedModel(t, 3)
	ref := seedModel(t, 3)
	g, err := New(m, Options{MaxBatch: 128, MaxWait: 5 * time.Millisecond})
	require.NoError(t, err)
	defer g.Close()
	var calls int
	counting := &countingLock{n: &calls}
	g.opt.DeviceLock = counting

	const clients = 24
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			r := Request{N: 1 + c%7*5, Seed: uint64(100 + c)}
			got := make([]float32, r.N*seedgan.ImageDim)
			if err := g.Sample(context.Background(), r, got); err != nil {
				errs <- err
				return
			}
			z := make([]float32, r.N*seedgan.ZDim)
			Noise(z, seedgan.ZDim, r.Seed, 0)
			want := make([]float32, r.N*seedgan.ImageDim)
			counting.Lock() // ref shares nothing with m, but keep its use serial
			err := ref.Generate(z, want)
			counting.Unlock()
			if err != nil {
				errs <- err
				return
			}
			for i := range want {
				if got[i] != want[i] {
					errs <- fmt.Errorf("client %d (n=%d): pixel %d is %g, a direct Generate gives %g", c, r.N, i, got[i], want[i])
					return
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d calls, %d locks (forward passes plus the reference's)", clients, calls)
	assert.Less(t, calls, 2*clients, "requests were coalesced")
}

// countingLock counts its locks.
type countingLock struct {
	sync.Mutex
	n *int
}

func (c *countingLock) Lock() { c.Mutex.Lock(); *c.n++ }

func TestPadded(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 4, 16: 16, 17: 32, 64: 64, 65: 128, 129: 192, 256: 256, 257: 320, 600: 640} {
		assert.Equal(t, want, padded(n), "n=%d", n)
	}
}

// Images are image.Gray of the model's shape; interpolation ends on image
// 0 of each seed; directions move the images.
func TestImagesInterpolationDirections(t *testing.T) {
	g, err := New(seedModel(t, 1), Options{})
	require.NoError(t, err)
	defer g.Close()
	ctx := context.Background()
	imgs, err := g.Images(ctx, Request{N: 3, Seed: 5})
	require.NoError(t, err)
	require.Len(t, imgs, 3)
	assert.Equal(t, image.Rect(0, 0, 28, 28), imgs[0].Bounds())
	assert.IsType(t, &image.Gray{}, imgs[0])

	size := g.Shape().Size()
	one := func(r Request) []float32 {
		out := make([]float32, r.N*size)
		require.NoError(t, g.Sample(ctx, r, out))
		return out
	}
	to := uint64(9)
	walk := one(Request{N: 5, Seed: 5, InterpolateTo: &to})
	// Slerp's ends are the seeds' noise up to rounding.
	assert.InDeltaSlice(t, one(Request{N: 2, Seed: 5})[:size], walk[:size], 1e-4)
	assert.InDeltaSlice(t, one(Request{N: 2, Seed: 9})[:size], walk[4*size:], 1e-4)
	moved := one(Request{N: 1, Seed: 5, Directions: []float64{0, 3}})
	assert.NotEqual(t, walk[:size], moved)

	dirs := Directions(100)
	require.Len(t, dirs, NumDirections)
	for k := range dirs {
		var s, dot float64
		for i := range dirs[k] {
			s += float64(dirs[k][i]) * float64(dirs[k][i])
			dot += float64(dirs[k][i]) * float64(dirs[(k+1)%NumDirections][i])
		}
		assert.InDelta(t, 1, s, 1e-5, "unit length")
		assert.Less(t, math.Abs(dot), 0.5, "nearly orthogonal")
	}

	_, err = g.Images(ctx, Request{N: 2, Seed: 1, Directions: make([]float64, NumDirections+1)})
	assert.ErrorContains(t, err, "directions")
	err = g.Generate(ctx, make([]float32, 99), nil, make([]float32, 784))
	assert.ErrorContains(t, err, "99 noise values")
	_, err = g.Images(ctx, Request{N: 2, Labels: []int32{1, 2}})
	assert.ErrorContains(t, err, "not conditional")
}

// A conditional model gets its labels (the callers' or i mod Classes),
// and a label out of range is refused before it reaches the model.
func TestConditionalLabels(t *testing.T) {
	c := &condGAN{GAN: seedModel(t, 1)}
	ref := seedModel(t, 1)
	g, err := New(c, Options{})
	require.NoError(t, err)
	defer g.Close()
	assert.Equal(t, 10, g.Classes())
	assert.Equal(t, 10, g.Info().Classes)
	ctx := context.Background()
	out := make([]float32, 3*784)
	require.NoError(t, g.Sample(ctx, Request{N: 3, Seed: 2, Labels: []int32{7, 7, 7}}, out))
	z := make([]float32, 3*100)
	Noise(z, 100, 2, 0)
	want := make([]float32, 3*784)
	require.NoError(t, ref.Generate(condNoise(z, []int32{7, 7, 7}), want))
	assert.Equal(t, want, out)
	c.seen = nil
	require.NoError(t, g.Sample(ctx, Request{N: 3, Seed: 2}, out))
	assert.Equal(t, []int32{0, 1, 2, 0}, c.seen, "i mod 10, padded to 4 rows")
	c.seen = nil
	to := uint64(3)
	require.NoError(t, g.Sample(ctx, Request{N: 3, Seed: 2, InterpolateTo: &to}, out))
	assert.Equal(t, []int32{0, 0, 0, 0}, c.seen, "a walk stays in class 0")
	err = g.Sample(ctx, Request{N: 3, Seed: 2, Labels: []int32{1, 10, 1}}, out)
	assert.ErrorContains(t, err, "label: 10 is out of range")
}

// Close lets the batch in progress finish; later calls get ErrClosed.
func TestCloseStopsTheBatcher(t *testing.T) {
	g, err := New(seedModel(t, 1), Options{})
	require.NoError(t, err)
	require.NoError(t, g.Close())
	require.NoError(t, g.Close(), "twice is fine")
	err = g.Sample(context.Background(), Request{N: 1}, make([]float32, 784))
	assert.True(t, errors.Is(err, ErrClosed), "%v", err)
}

var _ model.Generator = (*seedgan.GAN)(nil)
