package text

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCorpusSplitAndVocab: the vocabulary is the sorted distinct
// characters (multi-byte ones included), the first 90% of the characters
// train and the rest validate, and decoding gives the text back.
func TestCorpusSplitAndVocab(t *testing.T) {
	s := strings.Repeat("abcé ", 20) // 100 characters, 120 bytes
	c, err := New("t", s)
	require.NoError(t, err)
	assert.Equal(t, " abcé", c.Vocab.String())
	assert.Len(t, c.Train, 90)
	assert.Len(t, c.Val, 10)
	assert.Equal(t, s, c.Vocab.Decode(append(slices.Clone(c.Train), c.Val...)))
	ids, err := c.Vocab.Encode("é a")
	require.NoError(t, err)
	assert.Equal(t, []int32{4, 0, 1}, ids)
	_, err = c.Vocab.Encode("abz")
	require.ErrorContains(t, err, `character 'z' at byte 2`)

	v, err := NewVocab(c.Vocab.String())
	require.NoError(t, err)
	assert.Equal(t, c.Vocab.String(), v.String())
	_, err = NewVocab("aba")
	require.Error(t, err)
}

// TestCorpusErrors: an empty file, invalid UTF-8, a missing file and a
// text too short to split are one-line errors naming the file.
func TestCorpusErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	for _, tc := range []struct{ path, want string }{
		{write("empty.txt", ""), "empty text"},
		{write("bad.txt", "ab\xffcd"), "not valid UTF-8 (byte 2)"},
		{write("short.txt", "abc"), "too short"},
		{filepath.Join(dir, "none.txt"), "no such file"},
	} {
		_, err := Load(tc.path)
		require.Error(t, err, tc.path)
		assert.Contains(t, err.Error(), tc.want)
		assert.Contains(t, err.Error(), "--text")
		assert.NotContains(t, err.Error(), "\n")
	}
}

// TestDefaultCorpusMissing: without the fortunes package the error names
// the package and the --text flag.
func TestDefaultCorpusMissing(t *testing.T) {
	old := DefaultDir
	DefaultDir = filepath.Join(t.TempDir(), "none")
	defer func() { DefaultDir = old }()
	_, err := Load(DefaultName)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "fortunes")
	assert.Contains(t, err.Error(), "--text")
}

// TestDefaultCorpusFiles: the plain-text files are concatenated in sorted
// order; .dat indexes, .u8 files and links are left out.
func TestDefaultCorpusFiles(t *testing.T) {
	dir := t.TempDir()
	old := DefaultDir
	DefaultDir = dir
	defer func() { DefaultDir = old }()
	for name, s := range map[string]string{"b": "bbbbbbbbbb\n%\n", "a": "aaaaaaaaaa\n%\n", "a.dat": "\x00\x01", "x.u8": "zzzz"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644))
	}
	require.NoError(t, os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "c")))
	c, err := Load(DefaultName)
	require.NoError(t, err)
	assert.Equal(t, "aaaaaaaaaa\n%\nbbbbbbbbbb\n%\n", c.Vocab.Decode(append(slices.Clone(c.Train), c.Val...)))
}

// TestBlocksAreReproducible: the blocks of a step are a function of the
// seed and step alone, are consecutive runs of the text, differ between
// steps, and a block longer than the text is an error.
func TestBlocksAreReproducible(t *testing.T) {
	ids := make([]int32, 1000)
	for i := range ids {
		ids[i] = int32(i)
	}
	const n, block = 8, 16
	a, b, c := make([]int32, n*(block+1)), make([]int32, n*(block+1)), make([]int32, n*(block+1))
	require.NoError(t, Blocks(a, ids, n, block, BlocksKey(1, 3, false)))
	require.NoError(t, Blocks(b, ids, n, block, BlocksKey(1, 3, false)))
	require.NoError(t, Blocks(c, ids, n, block, BlocksKey(1, 4, false)))
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
	for i := range n {
		for j := 1; j <= block; j++ {
			assert.Equal(t, a[i*(block+1)]+int32(j), a[i*(block+1)+j])
		}
	}
	v := make([]int32, n*(block+1))
	require.NoError(t, Blocks(v, ids, n, block, BlocksKey(1, 3, true)))
	assert.NotEqual(t, a, v, "validation batches draw from their own stream")
	err := Blocks(make([]int32, 2*11), ids[:10], 2, 10, BlocksKey(1, 0, false))
	require.ErrorContains(t, err, "--block 10")
}
