package chargpt

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn"
)

// TestGELUApproximation: the sampler's rational-erf GELU is within 3e-7
// plus half a float32 ulp of the exact x·erfc(−x/√2)/2 in float64 on
// [−12, 12], and within 5e-8 of it in the tails.
func TestGELUApproximation(t *testing.T) {
	worst := 0.0
	for i := -120000; i <= 120000; i++ {
		x := float32(i) / 10000
		want := float64(x) * 0.5 * math.Erfc(-float64(x)/math.Sqrt2)
		worst = max(worst, math.Abs(float64(gelu(x))-want)-math.Abs(want)*0x1p-24)
	}
	assert.Less(t, worst, 3e-7)
	assert.InDelta(t, 0, gelu(-40), 5e-8)
	assert.InDelta(t, 0, gelu(-5.7), 5e-8)
	assert.Equal(t, float32(40), gelu(40))
}

// TestPushAllMatchesPush: running a window as one batch (the prompt, a
// restart) gives the logits of pushing its tokens one by one, and the
// caches agree.
func TestPushAllMatchesPush(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	m, err := New(b, smallConfig(c.Vocab.String()))
	require.NoError(t, err)
	defer m.Free()
	ids := c.Val[:m.T]
	one, err := newHostGPT(m)
	require.NoError(t, err)
	var want []float32
	for _, id := range ids {
		want = one.push(id)
	}
	all, err := newHostGPT(m)
	require.NoError(t, err)
	all.pushAll(ids[:5])
	got := all.pushAll(ids[5:])
	assert.Equal(t, m.T, all.n)
	assert.InDeltaSlice(t, want, got, 1e-5)
	assert.InDeltaSlice(t, one.k[1], all.k[1], 1e-5)
	assert.InDeltaSlice(t, one.v[1], all.v[1], 1e-5)
}

// TestPushDoesNotAllocate: after the sampler is made, a token's forward
// pass allocates nothing.
func TestPushDoesNotAllocate(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	m, err := New(b, smallConfig(c.Vocab.String()))
	require.NoError(t, err)
	defer m.Free()
	hg, err := newHostGPT(m)
	require.NoError(t, err)
	one := []int32{1}
	hg.pushAll(one)
	assert.Zero(t, testing.AllocsPerRun(5, func() {
		if hg.n == m.T {
			hg.reset()
		}
		hg.pushAll(one)
	}))
}

// TestSamplingRestartsTheWindow: a text longer than the context runs
// through several restarts of the cache and stays deterministic.
func TestSamplingRestartsTheWindow(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	c := tinyCorpus(t)
	m, err := New(b, smallConfig(c.Vocab.String()))
	require.NoError(t, err)
	defer m.Free()
	key := nn.RandKey{Seed: 5, Stream: nn.StreamID(nn.PurposeSample, 0)}
	a := sample(t, m, "the ", 5*m.T, 1, key)
	assert.Len(t, []rune(a), 5*m.T)
	assert.Equal(t, a, sample(t, m, "the ", 5*m.T, 1, key))
}
