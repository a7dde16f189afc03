package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTextEvalMeasuresSamples: gan eval of a text model prints and writes
// as JSON the distinct-n and n-gram measures of its samples beside those
// of real training text; the same seed gives the same figures; --chars is
// checked.
func TestTextEvalMeasuresSamples(t *testing.T) {
	dir := t.TempDir()
	txt := tinyText(t, dir)
	run := filepath.Join(dir, "run")
	code, _, errs := gan(append([]string{"train", "--text", txt, "--steps", "3", "--out", run}, smallGPT...)...)
	require.Equal(t, 0, code, errs)
	ck := filepath.Join(run, "checkpoint.safetensors")

	code, out, errs := gan("eval", "--checkpoint", ck, "--eval-iters", "2", "--chars", "500", "--json", filepath.Join(dir, "e.json"))
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "dist-4")
	assert.Contains(t, out, "training text (same n)")

	code, out, errs = gan("eval", "--checkpoint", ck, "--eval-iters", "2", "--chars", "500", "--json", "-")
	require.Equal(t, 0, code, errs)
	var r textEvalResult
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
	assert.Equal(t, 500, r.Samples.Chars)
	assert.Equal(t, 500, r.Real.Chars)
	assert.Equal(t, 4, r.Samples.NGramOrder)
	assert.Equal(t, uint64(1), r.Seed)
	assert.Positive(t, r.ValLoss)
	for i := range 4 {
		assert.True(t, r.Samples.Distinct[i] > 0 && r.Samples.Distinct[i] <= 1, "distinct-%d %g", i+1, r.Samples.Distinct[i])
	}
	// The repetitive training text predicts its validation text better
	// than a 3-step model's samples do.
	assert.Less(t, r.Real.NGramNLL, r.Samples.NGramNLL)
	code, out2, _ := gan("eval", "--checkpoint", ck, "--eval-iters", "2", "--chars", "500", "--json", "-")
	require.Equal(t, 0, code)
	assert.Equal(t, out, out2)

	code, _, errs = gan("eval", "--checkpoint", ck, "--chars", "5")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--chars 5")
}
