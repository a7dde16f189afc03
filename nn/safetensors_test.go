package nn

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func sampleTensors() []byte {
	t := NewTensors()
	t.Meta["format"] = "test-format"
	t.Add("a", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	t.Add("b", []int{1}, []float32{-1})
	var buf bytes.Buffer
	if err := t.Encode(&buf); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func TestTensorsRoundTrip(t *testing.T) {
	got, err := DecodeTensors(sampleTensors())
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, got.Names)
	require.Equal(t, []float32{1, 2, 3, 4, 5, 6}, got.Data["a"])
	require.Equal(t, []int{2, 3}, got.Shapes["a"])
	require.Equal(t, "test-format", got.Meta["format"])
	// Every proper prefix is rejected.
	raw := sampleTensors()
	for n := 0; n < len(raw); n++ {
		_, err := DecodeTensors(raw[:n])
		require.Error(t, err, "prefix of %d bytes", n)
	}
}

// FuzzDecodeTensors: whatever the bytes, decoding returns an error or a
// consistent set (every tensor's data matches its shape), and never panics.
func FuzzDecodeTensors(f *testing.F) {
	raw := sampleTensors()
	f.Add(raw)
	f.Add(raw[:len(raw)-3])
	f.Add([]byte{})
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := DecodeTensors(b)
		if err != nil {
			return
		}
		for _, name := range ts.Names {
			n := 1
			for _, s := range ts.Shapes[name] {
				n *= s
			}
			if n != len(ts.Data[name]) {
				t.Fatalf("%s: shape %v but %d values", name, ts.Shapes[name], len(ts.Data[name]))
			}
		}
	})
}

// WriteFileAtomic leaves a readable file (not the temporary file's private
// mode), keeps an existing file's mode, and leaves nothing behind on error.
func TestWriteFileAtomicModeAndCleanup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.bin")
	write := func(w io.Writer) error { _, err := w.Write([]byte("x")); return err }
	require.NoError(t, WriteFileAtomic(path, write))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm())

	require.NoError(t, os.Chmod(path, 0o600))
	require.NoError(t, WriteFileAtomic(path, write))
	fi, err = os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	boom := errors.New("boom")
	require.ErrorIs(t, WriteFileAtomic(path, func(io.Writer) error { return boom }), boom)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only f.bin: the temporary file is removed")
}
