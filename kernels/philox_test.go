package kernels

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn"
)

func requireHost(t *testing.T) {
	t.Helper()
	if !hostAvailable {
		t.Skip("cgo is disabled: the host build of philox.cuh cannot be tested")
	}
}

// The keys cover zero, all-ones and values whose high and low halves differ,
// so that a swapped half of the key or counter changes the words.
var testKeys = []nn.RandKey{
	{Seed: 0, Stream: 0},
	{Seed: 1, Stream: nn.StreamID(nn.PurposeNoise, 7)},
	{Seed: 0xDEADBEEF12345678, Stream: nn.StreamID(nn.PurposeDropout, 3<<8|1<<4|2)},
	{Seed: math.MaxUint64, Stream: math.MaxUint64},
	{Seed: 42, Stream: nn.StreamID(nn.PurposeInit, 1000)},
}

func TestPhiloxBlockMatchesGo(t *testing.T) {
	requireHost(t)
	blocks := []uint64{0, 1, 2, 3, 1000, 1<<32 - 1, 1 << 32, 1<<32 + 5, math.MaxUint64}
	for _, k := range testKeys {
		for _, b := range blocks {
			require.Equal(t, k.Block(b), hostBlock(k.Seed, k.Stream, b), "key %+v block %d", k, b)
		}
		for b := uint64(0); b < 2000; b++ {
			require.Equal(t, k.Block(b), hostBlock(k.Seed, k.Stream, b), "key %+v block %d", k, b)
		}
	}
}

// edgeWords are the words where the Box–Muller branches change: u1 at its
// ends, u2 at quadrant boundaries and at the fold to [0, π/4].
var edgeWords = []uint32{
	0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF,
	0x20000000 - 1, 0x20000000, 0x20000000 + 1, // u2 = 1/8: the fold
	0x40000000 - 1, 0x40000000, 0x40000000 + 1, // u2 = 1/4: quadrant 1
	0x60000000, 0xA0000000, 0xC0000000 - 1, 0xC0000000, 0xE0000000,
	0xB504F333, 0x6A09E667, // u1 near √½ and ½√½: the frexp fold of detLog
}

func TestPhiloxUniformMatchesGo(t *testing.T) {
	requireHost(t)
	for _, w := range edgeWords {
		require.Equal(t, math.Float32bits(nn.UniformFromWord(w)), math.Float32bits(hostUniform(w)), "word %#x", w)
	}
	k := testKeys[2]
	for i := uint64(0); i < 20000; i++ {
		w := k.Uint32(i)
		require.Equal(t, math.Float32bits(k.Uniform(i)), math.Float32bits(hostUniform(w)), "element %d", i)
	}
}

func TestPhiloxNormalMatchesGo(t *testing.T) {
	requireHost(t)
	check := func(w0, w1 uint32) {
		c, s := hostNormalPair(w0, w1)
		require.Equal(t, math.Float32bits(nn.NormalFromWords(w0, w1, false)), math.Float32bits(c), "cos branch of %#x %#x", w0, w1)
		require.Equal(t, math.Float32bits(nn.NormalFromWords(w0, w1, true)), math.Float32bits(s), "sin branch of %#x %#x", w0, w1)
	}
	for _, w0 := range edgeWords {
		for _, w1 := range edgeWords {
			check(w0, w1)
		}
	}
	// 200,000 pairs of a stream, and the elements exactly as nn.Normal
	// addresses them.
	k := testKeys[1]
	for b := uint64(0); b < 50000; b++ {
		w := k.Block(b)
		check(w[0], w[1])
		check(w[2], w[3])
	}
	for i := uint64(0); i < 1000; i++ {
		w := hostBlock(k.Seed, k.Stream, i/4)
		p := (i % 4) / 2
		c, s := hostNormalPair(w[2*p], w[2*p+1])
		want := c
		if i%2 == 1 {
			want = s
		}
		require.Equal(t, math.Float32bits(k.Normal(i)), math.Float32bits(want), "element %d", i)
	}
}
