package nn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Known-answer vectors from Random123's kat_vectors for philox4x32_10.
func TestPhiloxKnownAnswers(t *testing.T) {
	cases := []struct {
		key  [2]uint32
		ctr  [4]uint32
		want [4]uint32
	}{
		{[2]uint32{0, 0}, [4]uint32{0, 0, 0, 0}, [4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[2]uint32{0xffffffff, 0xffffffff}, [4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[2]uint32{0xa4093822, 0x299f31d0}, [4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, Philox4x32(c.key, c.ctr))
	}
}

func TestDetMathMatchesLibm(t *testing.T) {
	key := RandKey{Seed: 7, Stream: 1}
	for i := uint64(0); i < 20000; i++ {
		w := key.Block(i)
		u1 := (float64(w[0]) + 1) / 4294967296.0
		u2 := float64(w[1]) / 4294967296.0
		require.InEpsilon(t, math.Log(u1), detLog(u1), 1e-14, "log(%v)", u1)
		s, c := detSinCos2Pi(u2)
		require.InDelta(t, math.Sin(2*math.Pi*u2), s, 1e-14, "sin(2π·%v)", u2)
		require.InDelta(t, math.Cos(2*math.Pi*u2), c, 1e-14, "cos(2π·%v)", u2)
	}
	assert.Equal(t, 0.0, detLog(1))
}

func TestUniformAndNormalMoments(t *testing.T) {
	key := RandKey{Seed: 42, Stream: StreamID(PurposeNoise, 3)}
	const n = 200000
	var su, sn, sn2, sn4 float64
	for i := uint64(0); i < n; i++ {
		u := key.Uniform(i)
		require.True(t, u >= 0 && u < 1)
		su += float64(u)
		z := float64(key.Normal(i))
		sn += z
		sn2 += z * z
		sn4 += z * z * z * z
	}
	// Standard errors: uniform mean 0.29/√n ≈ 6.5e-4; normal mean 2.2e-3,
	// variance √2/√n ≈ 3.2e-3, fourth moment √96/√n ≈ 2.2e-2. Bounds are 5σ.
	assert.InDelta(t, 0.5, su/n, 3.3e-3)
	assert.InDelta(t, 0.0, sn/n, 1.1e-2)
	assert.InDelta(t, 1.0, sn2/n, 1.6e-2)
	assert.InDelta(t, 3.0, sn4/n, 0.11)
}

func TestStreamsDiffer(t *testing.T) {
	a := RandKey{Seed: 1, Stream: StreamID(PurposeInit, 0)}
	b := RandKey{Seed: 1, Stream: StreamID(PurposeInit, 1)}
	c := RandKey{Seed: 2, Stream: StreamID(PurposeInit, 0)}
	assert.NotEqual(t, a.Block(0), b.Block(0))
	assert.NotEqual(t, a.Block(0), c.Block(0))
	assert.Equal(t, a.Block(5), a.Block(5))
}

func TestPermutation(t *testing.T) {
	p := make([]int32, 1000)
	Permutation(p, RandKey{Seed: 3, Stream: StreamID(PurposeShuffle, 0)})
	seen := make([]bool, len(p))
	moved := 0
	for i, v := range p {
		require.False(t, seen[v])
		seen[v] = true
		if int(v) != i {
			moved++
		}
	}
	assert.Greater(t, moved, 950)
	q := make([]int32, 1000)
	Permutation(q, RandKey{Seed: 3, Stream: StreamID(PurposeShuffle, 0)})
	assert.Equal(t, p, q)
}
