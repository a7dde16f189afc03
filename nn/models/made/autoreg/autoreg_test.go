package autoreg

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
)

// TestLogSigmoid: log σ(l) in float64 agrees with the direct formula where
// that is accurate and stays finite far out.
func TestLogSigmoid(t *testing.T) {
	for _, l := range []float64{-30, -2, -0.5, 0, 0.5, 2, 30} {
		assert.InDelta(t, math.Log(1/(1+math.Exp(-l))), LogSigmoid(l), 1e-12)
	}
	assert.InDelta(t, -1000, LogSigmoid(-1000), 1e-9)
	assert.Equal(t, 0.0, LogSigmoid(1000))
}

// TestFixedBinarize: black stays 0, white becomes 1, grey 0.5 gives
// about half ones, and the draw is the same every time.
func TestFixedBinarize(t *testing.T) {
	pix := make([]float32, 3000)
	for i := range pix {
		pix[i] = float32(i%3) - 1 // −1, 0, 1
	}
	a, b := FixedBinarize(pix), FixedBinarize(pix)
	require.Equal(t, a, b)
	ones := 0
	for i, v := range a {
		switch i % 3 {
		case 0:
			require.Zero(t, v)
		case 2:
			require.Equal(t, float32(1), v)
		default:
			ones += int(v)
		}
	}
	assert.InDelta(t, 500, ones, 60)
}

// TestDraw: the draw is 1 with probability σ(l) over normals.
func TestDraw(t *testing.T) {
	key := nn.RandKey{Seed: 3, Stream: 9}
	for _, l := range []float32{-2, 0, 1.5} {
		n, ones := 20000, 0
		for i := range n {
			ones += int(Draw(key.Normal(uint64(i)), l))
		}
		p := 1 / (1 + math.Exp(-float64(l)))
		assert.InDelta(t, p, float64(ones)/float64(n), 4*math.Sqrt(p*(1-p)/float64(n)))
	}
}
