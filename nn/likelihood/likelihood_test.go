package likelihood

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLogMeanExp: exact on small values, no overflow on large ones.
func TestLogMeanExp(t *testing.T) {
	assert.InDelta(t, math.Log((math.E+math.Exp(2))/2), LogMeanExp([]float32{1, 2}), 1e-12)
	assert.InDelta(t, 1000+math.Log((1+math.Exp(-1))/2), LogMeanExp([]float32{1000, 999}), 1e-9)
	assert.InDelta(t, -1000+math.Log((1+math.Exp(-1))/2), LogMeanExp([]float32{-1000, -1001}), 1e-9)
	assert.True(t, math.IsInf(LogMeanExp(nil), -1))
}

// TestAUROC against hand-counted cases, ties counting one half.
func TestAUROC(t *testing.T) {
	a, err := AUROC([]float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true})
	require.NoError(t, err)
	assert.Equal(t, 1.0, a)
	a, err = AUROC([]float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true})
	require.NoError(t, err)
	assert.Equal(t, 0.0, a)
	// Pairs (pos, neg): (0.5 vs 0.5) tie = ½, (0.5 vs 0.1) = 1, (0.3 vs 0.5) = 0, (0.3 vs 0.1) = 1.
	a, err = AUROC([]float64{0.5, 0.3, 0.5, 0.1}, []bool{true, true, false, false})
	require.NoError(t, err)
	assert.Equal(t, 2.5/4, a)
	_, err = AUROC([]float64{1, 2}, []bool{true, true})
	assert.Error(t, err)
	_, err = AUROC([]float64{1}, []bool{true, false})
	assert.Error(t, err)
	_, err = AUROC([]float64{math.NaN(), 1}, []bool{true, false})
	assert.Error(t, err)
}

// TestBinarize: fixed by the seed, exactly 0 or 1, 0 and 1 grey levels
// kept, and the frequency of ones is the grey level.
func TestBinarize(t *testing.T) {
	const n = 20000
	pix := make([]float32, 3*n)
	for i := range n {
		pix[3*i], pix[3*i+1], pix[3*i+2] = -1, 1, 2*0.3-1
	}
	a, b := Binarize(pix, 1), Binarize(pix, 1)
	assert.Equal(t, a, b, "same seed, same bits")
	c := Binarize(pix, 2)
	assert.NotEqual(t, a, c)
	ones := 0.0
	for i := range n {
		require.Equal(t, float32(0), a[3*i])
		require.Equal(t, float32(1), a[3*i+1])
		require.True(t, a[3*i+2] == 0 || a[3*i+2] == 1)
		ones += float64(a[3*i+2])
	}
	assert.InDelta(t, 0.3, ones/n, 4*math.Sqrt(0.3*0.7/n))
	assert.Equal(t, []float32{0, 0.5, 1}, Grey([]float32{-1, 0, 1}))
}

// fakeModel has log weights logw = −(x·c) − j/k for sample j: known
// answers for Evaluate's bookkeeping across blocks and chunks.
type fakeModel struct{ image int }

func (f fakeModel) Sizes() (int, int) { return f.image, 1 }

func (f fakeModel) LogWeights(x []float32, k int, seed, run uint64, logw, logpx, kl []float32) (uint64, error) {
	n := len(x) / f.image
	for i := range n {
		for j := range k {
			logw[i*k+j] = -x[i*f.image] - float32(j)/float32(k)
			logpx[i*k+j] = -x[i*f.image]
		}
		kl[i] = 0.5
	}
	return run + 1, nil
}

// TestEvaluateBookkeeping: per-image values land on their images.
func TestEvaluateBookkeeping(t *testing.T) {
	x := []float32{1, 0, 3, 0, 5, 0}
	r, err := Evaluate(fakeModel{image: 2}, x, 4, 1, nil)
	require.NoError(t, err)
	lme := LogMeanExp([]float32{0, -0.25, -0.5, -0.75})
	for i, v := range []float64{1, 3, 5} {
		assert.InDelta(t, v-lme, r.ImageNLL[i], 1e-6)
		assert.InDelta(t, v+0.5, r.ImageNegELBO[i], 1e-6)
	}
	assert.InDelta(t, 3.5, r.NegELBO, 1e-6)
	assert.InDelta(t, 0.5, r.KL, 1e-9)
	_, err = Evaluate(fakeModel{image: 2}, x[:3], 4, 1, nil)
	assert.Error(t, err)
}
