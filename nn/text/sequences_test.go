package text

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSequencesAndNextChars(t *testing.T) {
	// Two sequences of 3+1 ids.
	tokens := []int32{1, 2, 3, 4, 5, 6, 7, 8}
	n, err := Sequences("m", tokens, 3, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for _, bad := range [][]int32{nil, tokens[:7], append(tokens, tokens...)} {
		_, err := Sequences("m", bad, 3, 2)
		assert.ErrorContains(t, err, "m: ")
	}
	in, tg := make([]int32, 6), make([]int32, 6)
	require.NoError(t, NextChars("m", tokens, 3, 9, false, in, tg))
	assert.Equal(t, []int32{1, 2, 3, 5, 6, 7}, in, "sequence-major inputs")
	assert.Equal(t, []int32{2, 3, 4, 6, 7, 8}, tg, "sequence-major targets")
	require.NoError(t, NextChars("m", tokens, 3, 9, true, in, tg))
	assert.Equal(t, []int32{1, 5, 2, 6, 3, 7}, in, "time-major inputs")
	assert.Equal(t, []int32{2, 6, 3, 7, 4, 8}, tg, "time-major targets")
	assert.ErrorContains(t, NextChars("m", tokens, 3, 8, false, in, tg), "outside the vocabulary of 8")
}
