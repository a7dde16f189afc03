package eval

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
	"gan/nn/models/seedgan"
)

func TestWatchDLossFloor(t *testing.T) {
	w := NewWatch(DefaultWatchConfig())
	nan := math.NaN()
	// 99 low steps, then one normal step: no warning.
	for s := 1; s <= 99; s++ {
		assert.Empty(t, w.Step(s, 1, 1e-4, nan, nan))
	}
	assert.Empty(t, w.Step(100, 1, 0.5, nan, nan))
	// 100 low steps in a row: one warning at the 100th, none after.
	var got []Warning
	for s := 101; s <= 300; s++ {
		got = append(got, w.Step(s, 2, 5e-4, nan, nan)...)
	}
	require.Len(t, got, 1)
	assert.Equal(t, WarnDLossFloor, got[0].Kind)
	assert.Equal(t, 200, got[0].Step)
	assert.Equal(t, 2, got[0].Epoch)
	assert.Contains(t, got[0].String(), "step 200 (epoch 2)")
	// The streak breaks and forms again: a second warning.
	w.Step(301, 2, 0.7, nan, nan)
	got = nil
	for s := 302; s <= 401; s++ {
		got = append(got, w.Step(s, 2, 0, nan, nan)...)
	}
	require.Len(t, got, 1)
	// NaN is not below the floor.
	w2 := NewWatch(DefaultWatchConfig())
	for s := 1; s <= 200; s++ {
		assert.Empty(t, w2.Step(s, 1, nan, nan, nan))
	}
}

func TestWatchGradNorm(t *testing.T) {
	w := NewWatch(DefaultWatchConfig())
	assert.Empty(t, w.Step(1, 1, 1, 99, 100)) // at the limit: fine
	got := w.Step(2, 1, 1, 150, 1)
	require.Len(t, got, 1)
	assert.Equal(t, WarnGradNormG, got[0].Kind)
	assert.InDelta(t, 150, got[0].Value, 0)
	// Repeats within the cooldown are suppressed, per model.
	assert.Empty(t, w.Step(50, 1, 1, 500, 1))
	got = w.Step(51, 1, 1, 500, 101)
	require.Len(t, got, 1)
	assert.Equal(t, WarnGradNormD, got[0].Kind)
	assert.Len(t, w.Step(102, 1, 1, 500, 1), 1)
	assert.Empty(t, w.Step(103, 1, 1, math.Inf(-1), math.NaN()))
}

func TestWatchClasses(t *testing.T) {
	w := NewWatch(DefaultWatchConfig())
	// 64 samples over 5 classes (≥ 2 each): fine.
	assert.Empty(t, w.Classes(10, 1, []int{20, 20, 10, 10, 4, 0, 0, 0, 0, 0}))
	// Four classes with ≥ 2% and one stray sample in a fifth: collapse.
	got := w.Classes(20, 2, []int{30, 20, 10, 3, 1, 0, 0, 0, 0, 0})
	require.Len(t, got, 1)
	assert.Equal(t, WarnClassCollapse, got[0].Kind)
	assert.InDelta(t, 4, got[0].Value, 0)
	assert.Contains(t, got[0].Message, "only 4 of 10 classes")
}

// GradNorms matches the norm of the downloaded gradients, for arenas that
// do and do not fill whole rows of the fold.
func TestGradNorms(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	gp, dp := nn.NewParamSet(0), nn.NewParamSet(1000)
	seedgan.NewGenerator(gp)
	seedgan.NewDiscriminator(dp)
	require.NoError(t, gp.Alloc(b))
	defer gp.Free(b)
	require.NoError(t, dp.Alloc(b))
	defer dp.Free(b)
	small := nn.NewParamSet(0)
	small.Add("w", 3, 5) // 15 values: tail only
	require.NoError(t, small.Alloc(b))
	defer small.Free(b)
	want := make([]float64, 3)
	for i, ps := range []*nn.ParamSet{gp, dp, small} {
		b.RandNormal(ps.Grad, 0, float32(i+1), nn.RandKey{Seed: 1, Stream: uint64(i)})
		v := make([]float32, ps.Size())
		require.NoError(t, b.Download(v, ps.Grad))
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		want[i] = math.Sqrt(s)
	}
	gn, err := NewGradNorms(b, gp, dp, small)
	require.NoError(t, err)
	defer gn.Free()
	for rep := 0; rep < 2; rep++ { // buffers are reused
		got, err := gn.Compute()
		require.NoError(t, err)
		for i := range want {
			assert.InDelta(t, want[i], got[i], 1e-5*want[i], "set %d", i)
		}
	}
	assert.Equal(t, 1486352, gp.Size()) // not a multiple of 1024: the tail is used
}

// SeedNoise is row 0 of the noise gan sample draws for that seed.
func TestSeedNoiseMatchesDevice(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	z, err := b.Alloc(2, zdim)
	require.NoError(t, err)
	b.RandNormal(z, 0, 1, nn.RandKey{Seed: 42, Stream: nn.StreamID(nn.PurposeSample, 0)})
	host := make([]float32, 2*zdim)
	require.NoError(t, b.Download(host, z))
	assert.Equal(t, host[:zdim], SeedNoise(42, zdim))
	assert.NotEqual(t, SeedNoise(42, zdim), SeedNoise(43, zdim))
}

func TestSlerp(t *testing.T) {
	a, c := SeedNoise(1, zdim), SeedNoise(2, zdim)
	assert.Equal(t, a, Slerp(a, c, 0))
	end := Slerp(a, c, 1)
	for i := range c {
		assert.InDelta(t, c[i], end[i], 1e-5)
	}
	// Orthogonal unit vectors: the midpoint is (a+b)/√2, of norm 1.
	mid := Slerp([]float32{1, 0}, []float32{0, 1}, 0.5)
	assert.InDelta(t, math.Sqrt(0.5), mid[0], 1e-7)
	assert.InDelta(t, math.Sqrt(0.5), mid[1], 1e-7)
	// Norms interpolate linearly: |a| = 2, |b| = 4 → 3 at the midpoint.
	mid = Slerp([]float32{2, 0}, []float32{0, 4}, 0.5)
	assert.InDelta(t, 3, math.Hypot(float64(mid[0]), float64(mid[1])), 1e-6)
	// Parallel vectors fall back to a straight line.
	assert.Equal(t, []float32{2, 2}, Slerp([]float32{1, 1}, []float32{3, 3}, 0.5))
}

func TestLatentWalk(t *testing.T) {
	z, err := LatentWalk([]uint64{1, 2, 3}, 4, zdim)
	require.NoError(t, err)
	require.Len(t, z, 2*5*zdim)
	row := func(i int) []float32 { return z[i*zdim : (i+1)*zdim] }
	assert.Equal(t, SeedNoise(1, zdim), row(0))
	assert.Equal(t, SeedNoise(2, zdim), row(5)) // the second leg starts at seed 2
	for i, v := range row(4) {
		assert.InDelta(t, SeedNoise(2, zdim)[i], v, 1e-5)
	}
	_, err = LatentWalk([]uint64{1}, 4, zdim)
	assert.Error(t, err)
	_, err = LatentWalk([]uint64{1, 2}, 0, zdim)
	assert.Error(t, err)
}

// zdim is the seed generator's noise width.
const zdim = seedgan.ZDim
