package eval

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
)

// TestConditionalOnRealData: real training digits "requested" with their
// true labels are recognised about as often as the classifier is right on
// the test set, class by class, and their per-class FIDs are near the
// real baseline's; the same digits requested with the wrong label are
// almost never recognised; classes without samples give no figures (null
// in JSON); bad input is an error.
func TestConditionalOnRealData(t *testing.T) {
	train, test := loadSets(t)
	b := cpu.New()
	defer b.Close()
	c, err := LoadClassifier(b, "mnist", "", 500)
	require.NoError(t, err)
	defer c.Free()
	e, err := NewEvaluator(b, c, train, test, Options{NNRef: 1000})
	require.NoError(t, err)
	defer e.Free()
	const n = 3000
	images := train.Float32()[30000*784 : (30000+n)*784]
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(train.Labels[30000+i])
	}
	cm, err := e.Conditional(images, labels)
	require.NoError(t, err)
	assert.Greater(t, cm.Recognised, 0.97)
	assert.Greater(t, cm.MinRecognised, 0.9)
	assert.InDelta(t, 0.986, cm.RealRecognised, 0.01, "the classifier's test accuracy")
	require.Len(t, cm.Classes, NumClasses)
	total := 0
	for _, m := range cm.Classes {
		total += m.N
		assert.Equal(t, m.N, m.RealN, "class %d: as many real images as samples", m.Label)
		assert.Greater(t, m.Recognised, 0.9, "class %d", m.Label)
		assert.Less(t, m.FID, 3*m.RealFID, "class %d: real digits are as close as real digits", m.Label)
		assert.Less(t, m.RealFID, 3*m.FID, "class %d", m.Label)
	}
	assert.Equal(t, n, total)
	t.Logf("recognised %.4f (lowest %.4f), mean class FID %.3f; class 0: %+v", cm.Recognised, cm.MinRecognised, cm.MeanFID, cm.Classes[0])

	wrong := make([]int32, n)
	for i, y := range labels {
		wrong[i] = (y + 1) % NumClasses
	}
	cw, err := e.Conditional(images, wrong)
	require.NoError(t, err)
	assert.Less(t, cw.Recognised, 0.05)
	assert.Greater(t, cw.MeanFID, 5*cm.MeanFID, "digits of the wrong class are far from the class")

	// Only classes 0 and 1 requested, one image of class 1.
	few, err := e.Conditional(images[:3*784], []int32{0, 0, 1})
	require.NoError(t, err)
	assert.Equal(t, 2, few.Classes[0].N)
	assert.True(t, math.IsNaN(few.Classes[1].FID), "one sample has no covariance")
	assert.True(t, math.IsNaN(few.Classes[5].Recognised), "no samples of class 5")
	var buf bytes.Buffer
	require.NoError(t, json.NewEncoder(&buf).Encode(few), "NaN is written as null")
	assert.Contains(t, buf.String(), `"recognised":null`)
	res := &Result{Samples: &Metrics{Histogram: make([]int, NumClasses)}, Real: &Metrics{Histogram: make([]int, NumClasses)}, Conditional: few}
	buf.Reset()
	require.NoError(t, res.WriteText(&buf))
	assert.Contains(t, buf.String(), "conditional: the classifier recognises the requested label in")

	_, err = e.Conditional(images[:784], []int32{10})
	assert.ErrorContains(t, err, "label 10")
	_, err = e.Conditional(images[:784], []int32{1, 2})
	assert.Error(t, err)
}
