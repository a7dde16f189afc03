package likelihood

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestComplexityIsACode: the adaptive model assigns every image a
// probability exp(−L), and over all 2⁹ binary 3×3 images (and all 2¹² of
// 4×3) these sum to 1 (Kraft's equality for a sequential probability
// assignment), so L is the code length of a real lossless code.
func TestComplexityIsACode(t *testing.T) {
	for _, sz := range [][2]int{{3, 3}, {4, 3}} {
		w, h := sz[0], sz[1]
		bits := make([]float32, w*h)
		sum := 0.0
		for v := range 1 << (w * h) {
			for j := range bits {
				bits[j] = float32(v >> j & 1)
			}
			l, err := Complexity(bits, w, h)
			require.NoError(t, err)
			require.Greater(t, l, 0.0)
			sum += math.Exp(-l)
		}
		assert.InDelta(t, 1, sum, 1e-12, "%d×%d", w, h)
	}
}

// TestComplexityClosedForm: the Krichevsky–Trofimov probability of a
// context's sequence with n₀ zeros and n₁ ones does not depend on their
// order, Γ(n₀+½)Γ(n₁+½)/(π·Γ(n₀+n₁+1)); so L is the sum over the contexts of
// minus its logarithm, computed here from the context counts alone.
func TestComplexityClosedForm(t *testing.T) {
	const w, h = 28, 28
	bits := make([]float32, w*h)
	for r := range h {
		for c := range w {
			// A ring and a bar: some contexts see long runs, some mixed.
			d := math.Hypot(float64(r)-13.5, float64(c)-13.5)
			if (d > 7 && d < 10) || (c >= 12 && c < 15 && r > 4 && r < 24) {
				bits[r*w+c] = 1
			}
		}
	}
	got, err := Complexity(bits, w, h)
	require.NoError(t, err)
	var n [ComplexityContexts][2]int
	at := func(r, c int) int {
		if r < 0 || c < 0 || c >= w {
			return 0
		}
		return int(bits[r*w+c])
	}
	for r := range h {
		for c := range w {
			n[at(r, c-1)<<3|at(r-1, c-1)<<2|at(r-1, c)<<1|at(r-1, c+1)][int(bits[r*w+c])]++
		}
	}
	want := 0.0
	for _, cnt := range n {
		a, b := float64(cnt[0]), float64(cnt[1])
		la, _ := math.Lgamma(a + 0.5)
		lb, _ := math.Lgamma(b + 0.5)
		lab, _ := math.Lgamma(a + b + 1)
		want -= la + lb - math.Log(math.Pi) - lab
	}
	assert.InDelta(t, want, got, 1e-9*want)
	// A blank image costs far less than the ring: about ½·log n per
	// context used, not n·log 2.
	blank, err := Complexity(make([]float32, w*h), w, h)
	require.NoError(t, err)
	assert.Less(t, blank, 10.0)
	assert.Greater(t, got, 5*blank)
}

// TestComplexityErrors: a grey value or a wrong size is an error that says
// which.
func TestComplexityErrors(t *testing.T) {
	_, err := Complexity([]float32{0, 1, 0.5, 1}, 2, 2)
	assert.ErrorContains(t, err, "pixel (1, 0) is 0.5")
	_, err = Complexity([]float32{0, 1, 0}, 2, 2)
	assert.ErrorContains(t, err, "3 values for a 2×2 image")
	_, err = Complexities([]float32{0, 1, 0, 1, 1}, 2, 2)
	assert.ErrorContains(t, err, "not whole 2×2 images")
	_, err = Complexities([]float32{0, 1, 0, 1, 1, 1, 2, 0}, 2, 2)
	assert.ErrorContains(t, err, "image 1")
	l, err := Complexities([]float32{0, 0, 0, 0, 1, 1, 1, 1}, 2, 2)
	require.NoError(t, err)
	assert.Len(t, l, 2)
}
