package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
)

// specials are inputs on which activations must match PyTorch bit for bit.
var specials = []float32{
	0, float32(math.Copysign(0, -1)), 1, -1, 0.5, -0.5, 3e38, -3e38,
	math.Float32frombits(1), math.Float32frombits(0x80000001), // ± smallest subnormal
	math.Float32frombits(0x007fffff), math.Float32frombits(0x807fffff), // ± largest subnormal
	float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), -float32(math.NaN()),
	1e-30, -1e-30, 20, -20,
}

// refLeaky is LeakyReLU in float64, rounded: exact, since x·slope is one
// float32 product and float64 holds it exactly before the rounding.
func refLeaky(x, slope float32) float32 {
	if x > 0 {
		return x
	}
	return float32(float64(x) * float64(slope))
}

func TestLeakyReLUBitExact(t *testing.T) {
	b := newTestBackend(t, 1)
	for _, slope := range []float32{0.2, 0, 0.01} {
		act := nn.Act{Kind: nn.ActLeakyReLU, Slope: slope}
		x := matOf(t, b, 1, len(specials), specials)
		y, err := b.Alloc(1, len(specials))
		require.NoError(t, err)
		b.Activate(y, x, act)
		want := make([]float32, len(specials))
		for i, v := range specials {
			want[i] = refLeaky(v, slope)
		}
		requireBits(t, want, download(t, b, y), "leaky")
		// In place, through BiasAct without a bias.
		b.BiasAct(x, nn.Mat{}, act)
		require.NoError(t, b.Sync())
		requireBits(t, want, download(t, b, x), "leaky in place")
		// The gradient from the output: dy where y > 0, else dy·slope.
		dy := matOf(t, b, 1, len(specials), specials)
		dx, err := b.Alloc(1, len(specials))
		require.NoError(t, err)
		b.ActBackward(dx, dy, y, act)
		require.NoError(t, b.Sync())
		for i := range want {
			if want[i] > 0 {
				want[i] = specials[i]
			} else {
				// dy·slope with dy = specials[i], where y ≤ 0 or NaN.
				want[i] = float32(float64(specials[i]) * float64(slope))
			}
		}
		requireBits(t, want, download(t, b, dx), "leaky backward")
	}
	assert.True(t, math.Signbit(float64(refLeaky(float32(math.Copysign(0, -1)), 0.2))), "−0 stays −0")
}

func TestTanhMatchesFloat64(t *testing.T) {
	b := newTestBackend(t, 1)
	rng := rand.New(rand.NewPCG(5, 6))
	vals := append(randVals(rng, 1000, -10, 10), specials...)
	x := matOf(t, b, 1, len(vals), vals)
	y, err := b.Alloc(1, len(vals))
	require.NoError(t, err)
	b.Activate(y, x, nn.Act{Kind: nn.ActTanh})
	require.NoError(t, b.Sync())
	got := download(t, b, y)
	for i, v := range vals {
		want := math.Tanh(float64(v))
		if math.IsNaN(want) {
			assert.True(t, math.IsNaN(float64(got[i])), "tanh(%v)", v)
			continue
		}
		// One float32 rounding of a float64 value: 2⁻²⁴ relative, plus the
		// subnormal spacing for tiny results.
		assert.LessOrEqual(t, math.Abs(float64(got[i])-want), 0x1p-24*math.Abs(want)+0x1p-149, "tanh(%v)", v)
	}
}

// TestActBackwardFiniteDifferences checks ActBackward against central
// differences of the float64 activation under L = Σ dy ⊙ act(x).
func TestActBackwardFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	b := newTestBackend(t, 1)
	for _, act := range []nn.Act{{Kind: nn.ActLeakyReLU, Slope: 0.2}, {Kind: nn.ActTanh}, {Kind: nn.ActNone}} {
		xv := randVals(rng, 60, -3, 3)
		for i, v := range xv { // stay off LeakyReLU's kink
			if math.Abs(float64(v)) < 1e-3 {
				xv[i] = 0.5
			}
		}
		x := matOf(t, b, 6, 10, xv)
		dy, dyv := randMat(t, b, rng, 6, 10, -1, 1)
		y, err := b.Alloc(6, 10)
		require.NoError(t, err)
		b.Activate(y, x, act)
		b.ActBackward(dy, dy, y, act) // in place
		require.NoError(t, b.Sync())
		f := func(x float64) float64 {
			switch act.Kind {
			case nn.ActLeakyReLU:
				if x > 0 {
					return x
				}
				return x * float64(act.Slope)
			case nn.ActTanh:
				return math.Tanh(x)
			}
			return x
		}
		dy64 := to64(dyv)
		want := fdGrad(func(x []float64) float64 {
			y := make([]float64, len(x))
			for i, v := range x {
				y[i] = f(v)
			}
			return dot(dy64, y)
		}, to64(xv))
		requireClose(t, want, download(t, b, dy), fdAtol, fdRtol, act.String())
	}
}

func TestAddBiasAndBiasAct(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	b := newTestBackend(t, 1)
	const rows, cols = 5, 9
	for _, act := range []nn.Act{{Kind: nn.ActNone}, {Kind: nn.ActLeakyReLU, Slope: 0.2}, {Kind: nn.ActTanh}} {
		y, yv := randMat(t, b, rng, rows, cols, -2, 2)
		bias, bv := randMat(t, b, rng, 1, cols, -2, 2)
		b.BiasAct(y, bias, act)
		require.NoError(t, b.Sync())
		want := make([]float64, rows*cols)
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				s := float64(yv[r*cols+c] + bv[c]) // the float32 sum, then the activation
				switch act.Kind {
				case nn.ActLeakyReLU:
					if s <= 0 {
						s *= float64(act.Slope)
					}
				case nn.ActTanh:
					s = math.Tanh(s)
				}
				want[r*cols+c] = s
			}
		}
		requireClose(t, want, download(t, b, y), 0, 0x1p-24, act.String())
	}
	y, yv := randMat(t, b, rng, rows, cols, -2, 2)
	bias, bv := randMat(t, b, rng, 1, cols, -2, 2)
	b.AddBias(y, bias)
	require.NoError(t, b.Sync())
	want := make([]float64, rows*cols)
	for i := range want {
		want[i] = float64(yv[i]) + float64(bv[i%cols])
	}
	requireClose(t, want, download(t, b, y), 0, 0x1p-24, "AddBias")
}

// TestColSumIsTheBiasGradient checks ColSum against a float64 reference and
// against finite differences of L = Σ w ⊙ (x + 1·bᵀ) with respect to b.
func TestColSumIsTheBiasGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	b := newTestBackend(t, 1)
	const rows, cols = 37, 150 // more than one block of columns
	w, wv := randMat(t, b, rng, rows, cols, -1, 1)
	db := matOf(t, b, 1, cols, append([]float32{float32(math.NaN())}, make([]float32, cols-1)...))
	b.ColSum(db, w, 0)
	require.NoError(t, b.Sync())

	xv := to64(randVals(rng, rows*cols, -1, 1))
	w64 := to64(wv)
	want := fdGrad(func(bias []float64) float64 {
		y := make([]float64, rows*cols)
		for i := range y {
			y[i] = xv[i] + bias[i%cols]
		}
		return dot(w64, y)
	}, to64(randVals(rng, cols, -1, 1)))
	requireClose(t, want, download(t, b, db), fdAtol, fdRtol, "ColSum vs finite differences")

	exact := make([]float64, cols)
	for i, v := range wv {
		exact[i%cols] += float64(v)
	}
	requireClose(t, exact, download(t, b, db), 0, 0x1p-24, "ColSum, beta 0")

	// beta = 1 accumulates.
	prev := download(t, b, db)
	b.ColSum(db, w, 1)
	require.NoError(t, b.Sync())
	for i := range exact {
		exact[i] += float64(prev[i])
	}
	requireClose(t, exact, download(t, b, db), 0, 0x1p-23, "ColSum, beta 1")
}

func TestRowSumSq(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, workers := range []int{1, 2, 3} {
		b := newTestBackend(t, workers)
		for _, sh := range [][2]int{{1, 1}, {7, 33}, {37, 1500}, {1460, 1024}} {
			rows, cols := sh[0], sh[1]
			x, xv := randMat(t, b, rng, rows, cols, -3, 3)
			dst := matOf(t, b, rows, 1, make([]float32, rows))
			b.RowSumSq(dst, x)
			require.NoError(t, b.Sync())
			want := make([]float64, rows)
			for i, v := range xv {
				want[i/cols] += float64(v) * float64(v)
			}
			// A float64 sum of at most 1.5M terms of [0, 9] errs by far less
			// than half a float32 ulp, so only the final rounding remains.
			requireClose(t, want, download(t, b, dst), 0, 0x1p-24, fmt.Sprintf("RowSumSq %dx%d, %d workers", rows, cols, workers))
		}
	}
}

// refDropoutMask is the mask from nn.RandKey.Uniform, element by element.
func refDropoutMask(n int, p float32, key nn.RandKey) []float32 {
	m := make([]float32, n)
	scale := float32(1.0 / (1.0 - float64(p)))
	for i := range m {
		if key.Uniform(uint64(i)) < 1-p {
			m[i] = scale
		}
	}
	return m
}

func TestDropoutMatchesSharedGenerator(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	b := newTestBackend(t, 2)
	key := nn.RandKey{Seed: 42, Stream: nn.StreamID(nn.PurposeDropout, 7)}
	const rows, cols = 129, 255 // large enough to split; an odd length ends mid-block
	for _, p := range []float32{0.3, 0.5, 0} {
		x, xv := randMat(t, b, rng, rows, cols, -1, 1)
		y, err := b.Alloc(rows, cols)
		require.NoError(t, err)
		mask, err := b.Alloc(rows, cols)
		require.NoError(t, err)
		b.Dropout(y, mask, x, p, key)
		require.NoError(t, b.Sync())
		wantMask := refDropoutMask(rows*cols, p, key)
		gotMask := download(t, b, mask)
		requireBits(t, wantMask, gotMask, "mask")
		wantY := make([]float32, len(xv))
		kept := 0
		for i, v := range xv {
			wantY[i] = float32(float64(v) * float64(wantMask[i]))
			if wantMask[i] != 0 {
				kept++
			}
		}
		requireBits(t, wantY, download(t, b, y), "y")
		frac := float64(kept) / float64(len(xv))
		assert.InDelta(t, 1-float64(p), frac, 0.01, "kept fraction for p=%v", p)
		if p == 0 {
			assert.Equal(t, float32(1), gotMask[0])
		}
	}
	// The index is within the view: a view at an offset uses elements 0, 1, …
	x, _ := randMat(t, b, rng, 3, 5, -1, 1)
	big, err := b.Alloc(4, 5)
	require.NoError(t, err)
	y := big.RowView(1, 3)
	mask, err := b.Alloc(3, 5)
	require.NoError(t, err)
	b.Dropout(y, mask, x, 0.5, key)
	require.NoError(t, b.Sync())
	requireBits(t, refDropoutMask(15, 0.5, key), download(t, b, mask), "mask of a view")
}

// TestDropoutBackwardFiniteDifferences checks dx = dy ⊙ mask against central
// differences of L = Σ dy ⊙ (x ⊙ mask) with the mask Dropout drew.
func TestDropoutBackwardFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	b := newTestBackend(t, 1)
	x, xv := randMat(t, b, rng, 4, 8, -1, 1)
	y, err := b.Alloc(4, 8)
	require.NoError(t, err)
	mask, err := b.Alloc(4, 8)
	require.NoError(t, err)
	b.Dropout(y, mask, x, 0.3, nn.RandKey{Seed: 1, Stream: 2})
	dy, dyv := randMat(t, b, rng, 4, 8, -1, 1)
	dx, err := b.Alloc(4, 8)
	require.NoError(t, err)
	b.DropoutBackward(dx, dy, mask)
	require.NoError(t, b.Sync())
	m64, dy64 := to64(download(t, b, mask)), to64(dyv)
	want := fdGrad(func(x []float64) float64 {
		y := make([]float64, len(x))
		for i, v := range x {
			y[i] = v * m64[i]
		}
		return dot(dy64, y)
	}, to64(xv))
	requireClose(t, want, download(t, b, dx), fdAtol, fdRtol, "dx")
	// In place.
	b.DropoutBackward(dy, dy, mask)
	require.NoError(t, b.Sync())
	requireBits(t, download(t, b, dx), download(t, b, dy), "in place")
}

func TestCopyFillGather(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	b := newTestBackend(t, 1)
	src, sv := randMat(t, b, rng, 6, 4, -1, 1)
	dst, err := b.Alloc(4, 6) // same count, other shape
	require.NoError(t, err)
	b.Copy(dst, src)
	require.NoError(t, b.Sync())
	requireBits(t, sv, download(t, b, dst), "Copy")

	b.Fill(dst.RowView(1, 2), 2.5)
	require.NoError(t, b.Sync())
	got := download(t, b, dst)
	for i, v := range got {
		if i >= 6 && i < 18 {
			assert.Equal(t, float32(2.5), v)
		} else {
			assert.Equal(t, sv[i], v)
		}
	}

	g, err := b.Alloc(3, 4)
	require.NoError(t, err)
	idx := []int32{5, 0, 5, 99} // only the first g.Rows are used
	b.GatherRows(g, src, idx)
	require.NoError(t, b.Sync())
	got = download(t, b, g)
	for i := 0; i < 3; i++ {
		r := int(idx[i])
		assert.Equal(t, sv[r*4:(r+1)*4], got[i*4:(i+1)*4], "row %d", i)
	}
}
