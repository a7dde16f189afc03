package mnist

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadImagesValid reads a small file raw and gzip-compressed and checks
// every pixel against the bytes that were written.
func TestReadImagesValid(t *testing.T) {
	raw := validImages(3)
	for _, tc := range []struct {
		name string
		data []byte
	}{{"raw", raw}, {"gzip", gz(t, raw)}} {
		t.Run(tc.name, func(t *testing.T) {
			n, rows, cols, pix, err := ReadImages("imgs", bytes.NewReader(tc.data))
			require.NoError(t, err)
			assert.Equal(t, 3, n)
			assert.Equal(t, 28, rows)
			assert.Equal(t, 28, cols)
			require.Len(t, pix, 3*784)
			assert.Equal(t, 3*784, cap(pix))
			assert.Equal(t, raw[16:], pix)
		})
	}
}

// TestReadImagesOneByteReads feeds the reader one byte per Read call, which
// exercises every short-read path of the gzip detection and io.ReadFull.
func TestReadImagesOneByteReads(t *testing.T) {
	raw := validImages(2)
	for _, data := range [][]byte{raw, gz(t, raw)} {
		n, _, _, pix, err := ReadImages("imgs", iotest.OneByteReader(bytes.NewReader(data)))
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		assert.Equal(t, raw[16:], pix)
	}
}

// TestReadImagesLarge crosses several buffer doublings (firstChunk is 1 MiB)
// and must still return exactly the bytes written, with exact capacity.
func TestReadImagesLarge(t *testing.T) {
	const n = 3000 // 2.35 MB of pixels: 1 MiB, 2 MiB, then the exact size
	raw := validImages(n)
	n2, _, _, pix, err := ReadImages("big", bytes.NewReader(raw))
	require.NoError(t, err)
	assert.Equal(t, n, n2)
	assert.Equal(t, n*784, cap(pix))
	assert.True(t, bytes.Equal(raw[16:], pix), "pixels differ from the file")
}

// TestReadImagesEmpty accepts a file with zero images; the header and the
// size agree.
func TestReadImagesEmpty(t *testing.T) {
	n, _, _, pix, err := ReadImages("empty", bytes.NewReader(validImages(0)))
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	assert.Empty(t, pix)
}

// TestReadLabelsValid reads labels raw and gzip-compressed.
func TestReadLabelsValid(t *testing.T) {
	raw := validLabels(25)
	for _, data := range [][]byte{raw, gz(t, raw)} {
		labels, err := ReadLabels("lbls", bytes.NewReader(data))
		require.NoError(t, err)
		assert.Equal(t, raw[8:], labels)
	}
}

// TestReadWrongMagic swaps image and label files and passes non-idx data.
func TestReadWrongMagic(t *testing.T) {
	_, _, _, _, err := ReadImages("train-labels-idx1-ubyte", bytes.NewReader(validLabels(784*2)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "train-labels-idx1-ubyte")
	assert.Contains(t, err.Error(), "magic 0x00000801 (an idx1 label file), want 0x00000803 (an idx3 image file)")

	_, err = ReadLabels("train-images-idx3-ubyte.gz", bytes.NewReader(gz(t, validImages(1))))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "train-images-idx3-ubyte.gz")
	assert.Contains(t, err.Error(), "magic 0x00000803 (an idx3 image file), want 0x00000801")

	// A float idx3 (type 0x0d) is not accepted either.
	_, _, _, _, err = ReadImages("floats", bytes.NewReader(idxImages(0x00000d03, 1, 28, 28)))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "floats: magic 0x00000d03 (not an MNIST idx file)")
}

// TestReadImagesWrongDims rejects images that are not 28×28.
func TestReadImagesWrongDims(t *testing.T) {
	for _, d := range [][2]int{{32, 32}, {28, 32}, {32, 28}, {0, 0}, {1, 784}} {
		_, _, _, _, err := ReadImages("odd", bytes.NewReader(idxImages(imagesMagic, 1, d[0], d[1])))
		require.Error(t, err, "dims %v", d)
		assert.Contains(t, err.Error(), fmt.Sprintf("odd: images are %d×%d, want 28×28", d[0], d[1]))
	}
}

// TestReadTruncatedEveryPrefix rejects every proper prefix of a small valid
// image file and of a label file, raw and gzip-compressed.
func TestReadTruncatedEveryPrefix(t *testing.T) {
	rawImg, rawLbl := validImages(2), validLabels(9)
	cases := []struct {
		name   string
		data   []byte
		images bool
	}{
		{"images-raw", rawImg, true},
		{"images-gzip", gz(t, rawImg), true},
		{"labels-raw", rawLbl, false},
		{"labels-gzip", gz(t, rawLbl), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k := range len(tc.data) {
				var err error
				if tc.images {
					_, _, _, _, err = ReadImages("cut.idx", bytes.NewReader(tc.data[:k]))
				} else {
					_, err = ReadLabels("cut.idx", bytes.NewReader(tc.data[:k]))
				}
				require.Error(t, err, "prefix of %d of %d bytes accepted", k, len(tc.data))
				require.Contains(t, err.Error(), "cut.idx", "prefix %d", k)
			}
		})
	}
}

// TestReadTruncatedMessage checks the wording of a truncated-data error.
func TestReadTruncatedMessage(t *testing.T) {
	raw := validImages(3)
	_, _, _, _, err := ReadImages("train-images-idx3-ubyte", bytes.NewReader(raw[:1016]))
	require.Error(t, err)
	assert.Equal(t, "mnist: train-images-idx3-ubyte: truncated: header says 3 images (16+2352 bytes), file has 1016 bytes", err.Error())

	_, _, _, _, err = ReadImages("short", bytes.NewReader(raw[:7]))
	require.Error(t, err)
	assert.Equal(t, "mnist: short: truncated: file has 7 bytes, an idx image header needs 16", err.Error())

	_, err = ReadLabels("lbl.gz", bytes.NewReader(gz(t, validLabels(100)[:50])))
	require.Error(t, err)
	assert.Equal(t, "mnist: lbl.gz: truncated: header says 100 labels (8+100 bytes), file has 50 bytes", err.Error())
}

// TestReadTrailingGarbage rejects bytes after the declared data: inside the
// decompressed stream, after a gzip member, and in a raw file.
func TestReadTrailingGarbage(t *testing.T) {
	img, lbl := validImages(2), validLabels(5)
	withByte := func(b []byte) []byte { return append(append([]byte(nil), b...), 0) }
	imgCases := map[string][]byte{
		"raw":              withByte(img),
		"gzip-inside":      gz(t, withByte(img)),
		"gzip-after":       withByte(gz(t, img)),
		"gzip-two-members": append(gz(t, img), gz(t, []byte{1})...),
	}
	for name, data := range imgCases {
		_, _, _, _, err := ReadImages("extra.idx", bytes.NewReader(data))
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "extra.idx", name)
	}
	_, _, _, _, err := ReadImages("extra.idx", bytes.NewReader(imgCases["raw"]))
	require.Error(t, err)
	assert.Equal(t, "mnist: extra.idx: trailing data: header says 2 images (16+1568 bytes), file is longer", err.Error())

	for name, data := range map[string][]byte{"raw": withByte(lbl), "gzip": gz(t, withByte(lbl))} {
		_, err := ReadLabels("extra-labels", bytes.NewReader(data))
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "extra-labels: trailing data", name)
	}
}

// TestReadLabelOutOfRange rejects a label of 10 and names its index.
func TestReadLabelOutOfRange(t *testing.T) {
	_, err := ReadLabels("bad-labels", bytes.NewReader(idxLabels(labelsMagic, []byte{0, 9, 3, 10, 1})))
	require.Error(t, err)
	assert.Equal(t, "mnist: bad-labels: label 3 is 10, want 0-9", err.Error())

	_, err = ReadLabels("bad-labels", bytes.NewReader(idxLabels(labelsMagic, []byte{255})))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "label 0 is 255")
}

// TestReadAbsurdCount rejects a header count above MaxN before reading on.
func TestReadAbsurdCount(t *testing.T) {
	hdr := idxImages(imagesMagic, 0, 28, 28)
	hdr[4], hdr[5], hdr[6], hdr[7] = 0xff, 0xff, 0xff, 0xff
	_, _, _, _, err := ReadImages("huge", bytes.NewReader(hdr))
	require.Error(t, err)
	assert.Equal(t, "mnist: huge: header says 4294967295 images, more than the limit of 10000000", err.Error())

	lh := idxLabels(labelsMagic, nil)
	lh[4], lh[5], lh[6], lh[7] = 0xff, 0xff, 0xff, 0xff
	_, err = ReadLabels("huge-labels", bytes.NewReader(lh))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "huge-labels: header says 4294967295 labels")
}

// TestReadLyingHeaderAllocatesLittle reads a file whose header claims the
// maximum of 10,000,000 images (7.84 GB) but that holds one image: the reader
// must fail with a truncation error after allocating about one chunk, not the
// size the header claims.
func TestReadLyingHeaderAllocatesLittle(t *testing.T) {
	data := validImages(1)
	data[4], data[5], data[6], data[7] = 0x00, 0x98, 0x96, 0x80 // 10,000,000
	for _, in := range [][]byte{data, gz(t, data)} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, _, _, err := ReadImages("liar", bytes.NewReader(in))
		runtime.ReadMemStats(&after)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "liar: truncated: header says 10000000 images (16+7840000000 bytes), file has 800 bytes")
		assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(4<<20), "bytes allocated")
	}
}

// TestReadCorruptGzip flips each byte of a gzip stream after its 10-byte
// header (the deflate data and the CRC-32/size trailer): every corruption
// must be reported, by the decompressor, the checksum or the size checks.
func TestReadCorruptGzip(t *testing.T) {
	imgs, lbls := gz(t, validImages(2)), gz(t, validLabels(40))
	for i := 10; i < len(imgs); i++ {
		bad := append([]byte(nil), imgs...)
		bad[i] ^= 0xff
		_, _, _, _, err := ReadImages("corrupt.gz", bytes.NewReader(bad))
		require.Error(t, err, "flipped byte %d of %d", i, len(imgs))
		require.Contains(t, err.Error(), "corrupt.gz")
	}
	for i := 10; i < len(lbls); i++ {
		bad := append([]byte(nil), lbls...)
		bad[i] ^= 0x01
		_, err := ReadLabels("corrupt-labels.gz", bytes.NewReader(bad))
		require.Error(t, err, "flipped byte %d of %d", i, len(lbls))
		require.Contains(t, err.Error(), "corrupt-labels.gz")
	}
	// A flip in the CRC-32 specifically surfaces as gzip's checksum error on
	// the read after the data.
	bad := append([]byte(nil), imgs...)
	bad[len(bad)-8] ^= 0x01
	_, _, _, _, err := ReadImages("crc.gz", bytes.NewReader(bad))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "crc.gz: after the images: gzip: invalid checksum")
}

// errReader fails every read with its error.
type errReader struct{ err error }

// Read returns the reader's error.
func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestReadIOError wraps an I/O error from the underlying reader.
func TestReadIOError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, _, _, _, err := ReadImages("broken", errReader{boom})
	require.Error(t, err)
	assert.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "broken")

	// An error in the middle of the data.
	r := io.MultiReader(bytes.NewReader(validImages(1)[:100]), errReader{boom})
	_, _, _, _, err = ReadImages("broken", r)
	require.Error(t, err)
	assert.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "broken: reading images")
}
