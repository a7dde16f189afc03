package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logSigmoid is log σ(x) in float64, computed without overflow.
func logSigmoid(x float64) float64 {
	if x >= 0 {
		return -math.Log1p(math.Exp(-x))
	}
	return x - math.Log1p(math.Exp(x))
}

// refBCE is the binary cross-entropy −(t·log σ(x) + (1−t)·log(1−σ(x))) in
// float64, written with log σ(−x) = log(1−σ(x)) rather than the stable form
// the backend uses, so that the two are independent.
func refBCE(x, t float64) float64 {
	return -(t*logSigmoid(x) + (1-t)*logSigmoid(-x))
}

// refSigmoid is σ(x) in float64.
func refSigmoid(x float64) float64 { return math.Exp(logSigmoid(x)) }

func TestSigmoidBCEMatchesFloat64Reference(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	b := newTestBackend(t, 2)
	const n = 3*reduceChunk + 77 // several chunks, the last one partial
	xv := randVals(rng, n, -100, 100)
	copy(xv, []float32{100, -100, 0, 20, -20, 1e-3, -1e-3, 40, -40, 88.7, -88.7, 99.99})
	tv := make([]float32, n)
	for i := range tv {
		tv[i] = []float32{0, 1, 0.3}[i%3]
	}
	x := matOf(t, b, n/7, 7, xv[:n/7*7])
	tm := matOf(t, b, n/7, 7, tv[:n/7*7])
	xv, tv = xv[:n/7*7], tv[:n/7*7]
	grad, err := b.Alloc(n/7, 7)
	require.NoError(t, err)
	stats, err := b.Alloc(1, 2)
	require.NoError(t, err)
	const scale = 0.25
	b.SigmoidBCE(grad, stats, x, tm, scale)
	require.NoError(t, b.Sync())

	wantGrad := make([]float64, len(xv))
	var loss, sig float64
	for i, v := range xv {
		s := refSigmoid(float64(v))
		wantGrad[i] = scale * (s - float64(tv[i]))
		loss += refBCE(float64(v), float64(tv[i]))
		sig += s
	}
	gotGrad := download(t, b, grad)
	requireClose(t, wantGrad, gotGrad, 1e-6, 1e-5, "grad") // also rejects Inf and NaN
	st := download(t, b, stats)
	requireClose(t, []float64{loss / float64(len(xv)), sig / float64(len(xv))}, st, 1e-6, 1e-5, "stats")
	assert.Greater(t, st[0], float32(10), "logits of ±100 with wrong targets give large losses")
}

// TestSigmoidBCEGradientFiniteDifferences checks that grad with scale 1/N is
// the gradient of the mean loss.
func TestSigmoidBCEGradientFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	b := newTestBackend(t, 1)
	const n = 40
	x, xv := randMat(t, b, rng, n, 1, -5, 5)
	tv := randVals(rng, n, 0, 1)
	for i := 0; i < n; i += 2 {
		tv[i] = float32(i / 2 % 2) // hard labels on even rows
	}
	tm := matOf(t, b, n, 1, tv)
	grad, err := b.Alloc(n, 1)
	require.NoError(t, err)
	stats, err := b.Alloc(1, 2)
	require.NoError(t, err)
	b.SigmoidBCE(grad, stats, x, tm, 1.0/n)
	require.NoError(t, b.Sync())
	meanLoss := func(x []float64) float64 {
		var s float64
		for i, v := range x {
			s += refBCE(v, float64(tv[i]))
		}
		return s / n
	}
	want := fdGrad(meanLoss, to64(xv))
	requireClose(t, want, download(t, b, grad), fdAtol, fdRtol, "grad")
	requireClose(t, []float64{meanLoss(to64(xv))}, download(t, b, stats)[:1], 1e-6, 1e-5, "loss")
}

// refSoftmax is the softmax of one row in float64.
func refSoftmax(x []float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, v)
	}
	var sum float64
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = math.Exp(v - mx)
		sum += y[i]
	}
	for i := range y {
		y[i] /= sum
	}
	return y
}

func TestSoftmaxMatchesFloat64Reference(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	b := newTestBackend(t, 2)
	const rows, cols = 300, 70
	x, xv := randMat(t, b, rng, rows, cols, -30, 30)
	Data(x)[0] = 1000 // max subtraction keeps this finite
	xv[0] = 1000
	y, err := b.Alloc(rows, cols)
	require.NoError(t, err)
	b.Softmax(y, x)
	require.NoError(t, b.Sync())
	want := make([]float64, 0, rows*cols)
	for r := 0; r < rows; r++ {
		want = append(want, refSoftmax(to64(xv[r*cols:(r+1)*cols]))...)
	}
	requireClose(t, want, download(t, b, y), 1e-30, 0x1p-23, "softmax")
	b.Softmax(x, x) // in place
	require.NoError(t, b.Sync())
	requireBits(t, download(t, b, y), download(t, b, x), "in place")
}

func TestSoftmaxCEMatchesReferenceAndFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	for _, tc := range []struct {
		rows, cols int
		workers    int
	}{{6, 5, 1}, {1000, 10, 2}, {3, 5000, 2}} { // one chunk; many chunks; a row wider than a chunk
		b := newTestBackend(t, tc.workers)
		rows, cols := tc.rows, tc.cols
		x, xv := randMat(t, b, rng, rows, cols, -4, 4)
		tv := make([]float32, rows*cols)
		labels := make([]int, rows)
		for r := range labels {
			labels[r] = rng.IntN(cols)
			if r%3 == 2 { // a soft target
				w := randVals(rng, cols, 0, 1)
				var s float32
				for _, v := range w {
					s += v
				}
				for c := range w {
					tv[r*cols+c] = w[c] / s
				}
				labels[r] = argmax(tv[r*cols : (r+1)*cols])
			} else {
				tv[r*cols+labels[r]] = 1
			}
		}
		tm := matOf(t, b, rows, cols, tv)
		grad, err := b.Alloc(rows, cols)
		require.NoError(t, err)
		stats, err := b.Alloc(1, 2)
		require.NoError(t, err)
		b.SoftmaxCE(grad, stats, x, tm, 1/float32(rows))
		require.NoError(t, b.Sync())

		meanLoss := func(x []float64) float64 {
			var s float64
			for r := 0; r < rows; r++ {
				p := refSoftmax(x[r*cols : (r+1)*cols])
				for c, q := range p {
					s -= float64(tv[r*cols+c]) * math.Log(q)
				}
			}
			return s / float64(rows)
		}
		correct := 0
		for r := 0; r < rows; r++ {
			best := 0
			for c := 0; c < cols; c++ {
				if xv[r*cols+c] > xv[r*cols+best] {
					best = c
				}
			}
			if best == labels[r] {
				correct++
			}
		}
		st := download(t, b, stats)
		requireClose(t, []float64{meanLoss(to64(xv))}, st[:1], 1e-6, 1e-5, "loss")
		assert.Equal(t, float32(float64(correct)/float64(rows)), st[1], "accuracy")

		// The gradient: finite differences on a small case, the closed form
		// (softmax − t)/rows on all.
		want := make([]float64, rows*cols)
		for r := 0; r < rows; r++ {
			p := refSoftmax(to64(xv[r*cols : (r+1)*cols]))
			for c := range p {
				want[r*cols+c] = (p[c] - float64(tv[r*cols+c])) / float64(rows)
			}
		}
		got := download(t, b, grad)
		requireClose(t, want, got, 1e-9, 1e-5, "grad")
		if rows*cols <= 100 {
			requireClose(t, fdGrad(meanLoss, to64(xv)), got, fdAtol, fdRtol, "grad vs finite differences")
		}
	}
}

func TestSoftmaxCEAccuracyTies(t *testing.T) {
	b := newTestBackend(t, 1)
	// Row 0: tie in x at 0 and 2, target 0: first index wins, correct.
	// Row 1: tie in x at 0 and 2, target 2: wrong. Row 2: a −Inf logit with zero target.
	x := matOf(t, b, 3, 3, []float32{1, 0, 1, 1, 0, 1, float32(math.Inf(-1)), 2, 1})
	tm := matOf(t, b, 3, 3, []float32{1, 0, 0, 0, 0, 1, 0, 1, 0})
	grad, _ := b.Alloc(3, 3)
	stats, _ := b.Alloc(1, 2)
	b.SoftmaxCE(grad, stats, x, tm, 1)
	require.NoError(t, b.Sync())
	st := download(t, b, stats)
	assert.Equal(t, float32(2.0/3.0), st[1])
	assert.False(t, math.IsNaN(float64(st[0])) || math.IsInf(float64(st[0]), 0), "loss %v", st[0])
}
