package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// idxImages builds a raw idx3 file with the given header fields and n·rows·cols
// pixels where pixel k of the data is byte(k·7 + 3).
func idxImages(magic uint32, n, rows, cols int) []byte {
	b := make([]byte, 16, 16+n*rows*cols)
	binary.BigEndian.PutUint32(b[0:], magic)
	binary.BigEndian.PutUint32(b[4:], uint32(n))
	binary.BigEndian.PutUint32(b[8:], uint32(rows))
	binary.BigEndian.PutUint32(b[12:], uint32(cols))
	for k := range n * rows * cols {
		b = append(b, byte(k*7+3))
	}
	return b
}

// validImages is a small valid idx3 file of n 28×28 images.
func validImages(n int) []byte { return idxImages(imagesMagic, n, Side, Side) }

// idxLabels builds a raw idx1 file holding labels.
func idxLabels(magic uint32, labels []byte) []byte {
	b := make([]byte, 8, 8+len(labels))
	binary.BigEndian.PutUint32(b[0:], magic)
	binary.BigEndian.PutUint32(b[4:], uint32(len(labels)))
	return append(b, labels...)
}

// validLabels is a small valid idx1 file of n labels, label i being i mod 10.
func validLabels(n int) []byte {
	l := make([]byte, n)
	for i := range l {
		l[i] = byte(i % 10)
	}
	return idxLabels(labelsMagic, l)
}

// gz compresses b into one gzip member.
func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, err := w.Write(b)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return buf.Bytes()
}

// writeFile writes b to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}
