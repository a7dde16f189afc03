package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
)

// TestRunDeviceText: the text group times the char-gpt training step and
// the table shows it with characters/s.
func TestRunDeviceText(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	o := quickOptions()
	o.Groups = []string{GroupText}
	run, err := RunDevice(b, o)
	require.NoError(t, err)
	require.Len(t, run.Results, 1)
	r := run.Results[0]
	assert.Equal(t, "char-gpt-step/b12", r.Key)
	assert.Equal(t, GroupTextStep, r.Group)
	assert.Positive(t, r.Value)
	assert.InDelta(t, 12*64*r.Value, r.ImagesPerS, 1e-9*r.ImagesPerS)
	var table bytes.Buffer
	require.NoError(t, WriteTable(&table, Report{Schema: Schema, Tool: "gan", Runs: []Run{run}}))
	assert.True(t, strings.Contains(table.String(), "char-gpt training step"), table.String())
	assert.Len(t, []rune(TextVocabFallback), 97)
}
