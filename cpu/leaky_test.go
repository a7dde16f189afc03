package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLeakySlices checks LeakyReLU's forward and backward slices (AVX where
// the machine has it) against their Go loops bit for bit, with zeros of
// both signs, NaN, infinities and subnormals among the values, for lengths
// that leave every tail and in place.
func TestLeakySlices(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-40, -1e-40}
	draw := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
			if i%5 == 0 {
				v[i] = specials[r.IntN(len(specials))]
			}
		}
		return v
	}
	bits := func(v []float32) []uint32 {
		b := make([]uint32, len(v))
		for i, x := range v {
			b[i] = math.Float32bits(x)
		}
		return b
	}
	for _, slope := range []float32{0, 0.2, 1.5} {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 64, 1000} {
			x, dy := draw(n), draw(n)
			want, got := make([]float32, n), make([]float32, n)
			leakySliceGo(want, x, slope)
			leakySlice(got, x, slope)
			require.Equal(t, bits(want), bits(got), "forward slope %v n %d", slope, n)
			in := append([]float32(nil), x...)
			leakySlice(in, in, slope)
			require.Equal(t, bits(want), bits(in), "forward in place slope %v n %d", slope, n)

			leakyBackSliceGo(want, dy, x, slope)
			leakyBackSlice(got, dy, x, slope)
			require.Equal(t, bits(want), bits(got), "backward slope %v n %d", slope, n)
			in = append([]float32(nil), dy...)
			leakyBackSlice(in, in, x, slope)
			require.Equal(t, bits(want), bits(in), "backward in place slope %v n %d", slope, n)
		}
	}
}
