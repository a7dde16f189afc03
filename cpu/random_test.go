package cpu

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
)

func TestRandUniformMatchesSharedGenerator(t *testing.T) {
	key := nn.RandKey{Seed: 0x0123456789abcdef, Stream: nn.StreamID(nn.PurposeInit, 3)}
	for _, workers := range []int{1, 3} {
		b := newTestBackend(t, workers)
		big, err := b.Alloc(101, 97) // odd sizes: pieces start and end mid-block
		require.NoError(t, err)
		dst := big.RowView(1, 100) // element i of the view uses Uniform(key, i)
		n := dst.Len()

		b.RandUniform(dst, 0, 1, key)
		require.NoError(t, b.Sync())
		got := download(t, b, dst)
		for i := 0; i < n; i++ {
			if got[i] != key.Uniform(uint64(i)) {
				require.Failf(t, "uniform differs", "element %d: %v, want %v", i, got[i], key.Uniform(uint64(i)))
			}
		}

		// A power-of-two span makes the product exact, so the float64
		// reference rounded once is bit-exact too.
		b.RandUniform(dst, -1, 1, key)
		require.NoError(t, b.Sync())
		want := make([]float32, n)
		for i := range want {
			want[i] = float32(-1 + 2*float64(key.Uniform(uint64(i))))
		}
		requireBits(t, want, download(t, b, dst), "uniform [-1, 1)")

		// Any span: within two float32 roundings of the float64 value.
		const lo, hi = -0.0625, 0.3
		b.RandUniform(dst, lo, hi, key)
		require.NoError(t, b.Sync())
		got = download(t, b, dst)
		for i, g := range got {
			w := float64(lo) + float64(float32(hi-lo))*float64(key.Uniform(uint64(i)))
			if !(math.Abs(float64(g)-w) <= 0x1p-23*math.Max(math.Abs(w), 0.3)) || g < lo || g > hi {
				require.Failf(t, "uniform out of tolerance", "element %d: %v, want %v", i, g, w)
			}
		}
	}
}

func TestRandNormalMatchesSharedGenerator(t *testing.T) {
	key := nn.RandKey{Seed: 99, Stream: nn.StreamID(nn.PurposeNoise, 12)}
	for _, workers := range []int{1, 3} {
		b := newTestBackend(t, workers)
		big, err := b.Alloc(65, 101)
		require.NoError(t, err)
		dst := big.RowView(1, 64)
		n := dst.Len()

		b.RandNormal(dst, 0, 1, key)
		require.NoError(t, b.Sync())
		want := make([]float32, n)
		var sum, sq float64
		for i := range want {
			want[i] = key.Normal(uint64(i))
			sum += float64(want[i])
			sq += float64(want[i]) * float64(want[i])
		}
		requireBits(t, want, download(t, b, dst), "normal")
		assert.InDelta(t, 0, sum/float64(n), 0.03, "mean")
		assert.InDelta(t, 1, sq/float64(n), 0.05, "variance")

		// A power-of-two std and zero mean keep the scaling exact.
		b.RandNormal(dst, 0, 0.125, key)
		require.NoError(t, b.Sync())
		for i := range want {
			want[i] = float32(0.125 * float64(key.Normal(uint64(i))))
		}
		requireBits(t, want, download(t, b, dst), "normal, std 1/8")

		b.RandNormal(dst, 0.5, 0.02, key)
		require.NoError(t, b.Sync())
		got := download(t, b, dst)
		for i, g := range got {
			w := 0.5 + float64(float32(0.02))*float64(key.Normal(uint64(i)))
			if !(math.Abs(float64(g)-w) <= 0x1p-23) {
				require.Failf(t, "normal out of tolerance", "element %d: %v, want %v", i, g, w)
			}
		}
	}
}
