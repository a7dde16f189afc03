package text

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
)

// TestDistinct: distinct-n counts the different n-grams inside each
// sample over all of them.
func TestDistinct(t *testing.T) {
	abab := []int32{0, 1, 0, 1}
	assert.Equal(t, 0.5, Distinct([][]int32{abab}, 1))   // a b a b: {a, b} of 4
	assert.Equal(t, 2.0/3, Distinct([][]int32{abab}, 2)) // ab ba ab
	assert.Equal(t, 1.0, Distinct([][]int32{abab}, 3))   // aba bab
	assert.Equal(t, 0.0, Distinct([][]int32{abab}, 5))   // none
	// No n-gram spans two samples: "ab" and "ab" have one bigram type of 2.
	assert.Equal(t, 0.5, Distinct([][]int32{{0, 1}, {0, 1}}, 2))
	assert.Equal(t, 1.0/6, Distinct([][]int32{{2, 2, 2, 2, 2, 2}}, 1))
}

// TestNGramSumsToOne: for seen, partly seen and unseen contexts, the
// model's probabilities over the vocabulary sum to 1, each positive.
func TestNGramSumsToOne(t *testing.T) {
	c, err := New("t", strings.Repeat("the cat sat on the mat. ", 5)+"xyz")
	require.NoError(t, err)
	v := c.Vocab.Size() + 3 // three characters the samples never show
	m, err := FitNGram([][]int32{c.Train, c.Val}, 4, v, KNDiscount)
	require.NoError(t, err)
	ids, err := c.Vocab.Encode("the cat")
	require.NoError(t, err)
	for _, ctx := range [][]int32{nil, ids[:1], ids[:3], ids, {ids[0], int32(v - 1), ids[2]}, {int32(v - 1), int32(v - 2), int32(v - 3)}} {
		sum := 0.0
		for w := range int32(v) {
			p := m.Prob(ctx, w)
			assert.Greater(t, p, 0.0)
			sum += p
		}
		assert.InDelta(t, 1, sum, 1e-12, "context %v", ctx)
	}
	// After "the ca" the model has learnt 't'.
	assert.Greater(t, m.Prob(ids[:6], ids[6]), 0.5)
}

// TestNGramNLLIsFiniteForUnseenCharacters: smoothing gives a character the
// samples never show a finite cost, higher than a seen one's.
func TestNGramNLLIsFiniteForUnseenCharacters(t *testing.T) {
	m, err := FitNGram([][]int32{{0, 1, 0, 1, 0, 1, 0, 1}}, 3, 4, KNDiscount)
	require.NoError(t, err)
	seen, err := m.NLL([]int32{0, 1, 0, 1, 0})
	require.NoError(t, err)
	unseen, err := m.NLL([]int32{0, 1, 3, 2, 3})
	require.NoError(t, err)
	assert.False(t, math.IsInf(unseen, 0) || math.IsNaN(unseen))
	assert.Greater(t, unseen, seen)
	assert.Less(t, seen, math.Log(4)/2)
	_, err = m.NLL([]int32{0, 1})
	require.Error(t, err, "too short for one prediction")
	_, err = m.NLL([]int32{0, 1, 7})
	require.Error(t, err, "outside the vocabulary")
	_, err = FitNGram(nil, 0, 4, KNDiscount)
	require.Error(t, err)
	_, err = FitNGram([][]int32{{9}}, 2, 4, KNDiscount)
	require.Error(t, err)
}

// english is a few paragraphs of plain English: real text for the
// measures.
const english = `A language model is judged by the text it writes. The simplest judge
counts how often the same short strings come back: a model that repeats
itself writes few different words, and a model that writes noise writes
nothing but different strings. A better judge asks whether the text the
model wrote could teach someone the language. Fit a small model of
characters to the samples, then ask it to predict text that a person wrote.
If the samples cover the language, the small model predicts the real text
well; if they are noise or a few phrases over and over, it predicts the
real text badly. The measure needs no knowledge of the model that wrote
the samples, so it serves for a network that predicts the next character
and for a generator trained against a critic alike. It is not the whole
story: a model that copies its training text would score well, and the
samples of a good model at a low temperature are dull but still look like
the language. Read the samples as well as the numbers.
`

// heldOut is other English, the validation text of the test.
const heldOut = `The cat sat on the mat and looked at the door. When the door opened, the
cat walked out into the garden, where the sun was warm and the grass was
long. It sat there until the evening came and the light went away.
`

// TestMeasuresOrderRealAndShuffledText: real text has fewer distinct
// 3- and 4-grams than its characters shuffled, and its n-gram model
// predicts held-out English better.
func TestMeasuresOrderRealAndShuffledText(t *testing.T) {
	c, err := New("english", english+heldOut)
	require.NoError(t, err)
	real, err := c.Vocab.Encode(english)
	require.NoError(t, err)
	val, err := c.Vocab.Encode(heldOut)
	require.NoError(t, err)
	shuffled := make([]int32, len(real))
	perm := make([]int32, len(real))
	nn.Permutation(perm, nn.RandKey{Seed: 7, Stream: nn.StreamID(nn.PurposeShuffle, 0)})
	for i, j := range perm {
		shuffled[i] = real[j]
	}
	a, err := Measure([][]int32{real}, val, c.Vocab.Size(), DefaultNGramOrder)
	require.NoError(t, err)
	b, err := Measure([][]int32{shuffled}, val, c.Vocab.Size(), DefaultNGramOrder)
	require.NoError(t, err)
	assert.Equal(t, a.Distinct[0], b.Distinct[0], "the same characters")
	assert.Less(t, a.Distinct[2], b.Distinct[2])
	assert.Less(t, a.Distinct[3], b.Distinct[3])
	assert.Less(t, a.NGramNLL, b.NGramNLL-0.3)
	assert.Equal(t, len(real), a.Chars)
	t.Logf("real: distinct %.3f, NLL %.3f; shuffled: distinct %.3f, NLL %.3f", a.Distinct, a.NGramNLL, b.Distinct, b.NGramNLL)
}
