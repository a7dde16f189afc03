package nn

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStreamPurposesAreDistinct: two purposes with one number would make
// two consumers draw the same random numbers.
func TestStreamPurposesAreDistinct(t *testing.T) {
	seen := map[uint64]string{}
	purposes := map[string]uint64{
		"init": PurposeInit, "noise": PurposeNoise, "dropout": PurposeDropout, "shuffle": PurposeShuffle,
		"fixed": PurposeFixed, "sample": PurposeSample, "random": PurposeRandom, "augment": PurposeAugment,
		"eval subset": PurposeEvalSubset, "label": PurposeLabel, "likelihood": PurposeLikelihood,
		"binarize": PurposeBinarize, "text blocks": PurposeTextBlocks,
	}
	// Every purpose the table declares is in the map above.
	src, err := os.ReadFile("streams.go")
	require.NoError(t, err)
	declared := regexp.MustCompile(`(?m)^\tPurpose(\w+)\s*=`).FindAllSubmatch(src, -1)
	require.Len(t, purposes, len(declared), "a purpose in streams.go is missing from this test's list")
	for name, p := range purposes {
		require.NotContains(t, seen, p, "purposes %s and %s", name, seen[p])
		require.Less(t, p, uint64(1<<16), name)
		seen[p] = name
	}
}

// TestStreamIDsDoNotCollide checks the packing and the two allocators: slots
// and init numbers are never handed out twice, init numbers start above
// the legacy bases (0, 1000, 2000 plus a few tensors), and a graph op's
// index step<<16 | slot is unique per (step, slot).
func TestStreamIDsDoNotCollide(t *testing.T) {
	assert.NotEqual(t, StreamID(PurposeNoise, 5), StreamID(PurposeDropout, 5))
	assert.Equal(t, StreamID(PurposeInit, 1<<48|7), StreamID(PurposeInit, 7), "the index has 48 bits")

	var slots StreamSlots
	seen := map[uint64]bool{}
	for range 100 {
		s := slots.Next()
		require.False(t, seen[s])
		seen[s] = true
	}
	var init InitStreams
	first := init.Next()
	assert.GreaterOrEqual(t, first, uint64(1<<32))
	assert.Equal(t, first+1, init.Next())

	ids := map[uint64]bool{}
	for step := uint64(0); step < 50; step++ {
		for slot := uint64(0); slot < 50; slot++ {
			id := StreamID(PurposeRandom, step<<StepShift|slot)
			require.False(t, ids[id], "step %d slot %d", step, slot)
			ids[id] = true
		}
	}
	var full StreamSlots
	full.next = 1<<StepShift - 1
	full.Next()
	assert.Panics(t, func() { full.Next() }, "slot 65536 would spill into the step bits")
}
