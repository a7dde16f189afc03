package mnist

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Magic numbers of the idx format: two zero bytes, the element type (0x08,
// unsigned byte) and the number of dimensions.
const (
	imagesMagic = 0x00000803
	labelsMagic = 0x00000801
)

// Header sizes in bytes: the magic and one 32-bit big-endian size per dimension.
const (
	imagesHeader = 16
	labelsHeader = 8
)

// Side is the height and width of every MNIST image.
const Side = 28

// MaxN is the largest image or label count a header may declare. It bounds
// a hostile header before any data is read; MNIST has 60000 images, EMNIST
// at most about 700000.
const MaxN = 10_000_000

// firstChunk is the size of the first buffer the pixel or label data is read
// into. The buffer then doubles, up to the exact size the header declares, as
// data actually arrives, so a header that claims far more than the file holds
// never causes a large allocation.
const firstChunk = 1 << 20

// ReadImages reads an idx3 image file (gzip-compressed or raw, detected from
// the gzip magic 1f 8b) from r and returns the image count, the rows and
// columns (always 28×28) and the n·rows·cols pixels, row-major.
//
// The reader is strict: the magic must be 0x00000803, the dimensions 28×28,
// and the (decompressed) data must be exactly 16 + n·784 bytes long, with no
// trailing bytes and, for gzip, an intact checksum. Every error starts with
// "mnist: name:", where name identifies the file for the user.
func ReadImages(name string, r io.Reader) (n, rows, cols int, pix []uint8, err error) {
	src, err := decompress(name, r)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	var hdr [imagesHeader]byte
	if err := readHeader(name, src, hdr[:], imagesMagic, "image"); err != nil {
		return 0, 0, 0, nil, err
	}
	count := binary.BigEndian.Uint32(hdr[4:])
	r32, c32 := binary.BigEndian.Uint32(hdr[8:]), binary.BigEndian.Uint32(hdr[12:])
	if r32 != Side || c32 != Side {
		return 0, 0, 0, nil, fmt.Errorf("mnist: %s: images are %d×%d, want %d×%d", name, r32, c32, Side, Side)
	}
	if err := checkCount(name, count, "images"); err != nil {
		return 0, 0, 0, nil, err
	}
	n, rows, cols = int(count), Side, Side
	pix, err = readBody(name, src, imagesHeader, n, rows*cols, "images")
	if err != nil {
		return 0, 0, 0, nil, err
	}
	return n, rows, cols, pix, nil
}

// ReadLabels reads an idx1 label file (gzip-compressed or raw) from r and
// returns its labels. The magic must be 0x00000801, every label must be in
// 0–9 and the (decompressed) data must be exactly 8 + n bytes long. Every
// error starts with "mnist: name:".
func ReadLabels(name string, r io.Reader) ([]uint8, error) {
	src, err := decompress(name, r)
	if err != nil {
		return nil, err
	}
	var hdr [labelsHeader]byte
	if err := readHeader(name, src, hdr[:], labelsMagic, "label"); err != nil {
		return nil, err
	}
	count := binary.BigEndian.Uint32(hdr[4:])
	if err := checkCount(name, count, "labels"); err != nil {
		return nil, err
	}
	labels, err := readBody(name, src, labelsHeader, int(count), 1, "labels")
	if err != nil {
		return nil, err
	}
	for i, l := range labels {
		if l > 9 {
			return nil, fmt.Errorf("mnist: %s: label %d is %d, want 0-9", name, i, l)
		}
	}
	return labels, nil
}

// decompress returns a reader of the file's idx bytes: r itself (buffered)
// for a raw file, or a gzip reader when r starts with the gzip magic.
func decompress(name string, r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("mnist: %s: %w", name, err)
	}
	if len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("mnist: %s: gzip: %w", name, err)
	}
	return zr, nil
}

// readHeader fills hdr from r and checks its magic number. A wrong magic is
// reported even when the file is too short for a whole header, so that a
// small label file passed as images is named for what it is.
func readHeader(name string, r io.Reader, hdr []byte, magic uint32, kind string) error {
	got, err := io.ReadFull(r, hdr)
	if got >= 4 {
		if err := checkMagic(name, binary.BigEndian.Uint32(hdr), magic); err != nil {
			return err
		}
	}
	if err != nil {
		if isShort(err) {
			return fmt.Errorf("mnist: %s: truncated: file has %d bytes, an idx %s header needs %d", name, got, kind, len(hdr))
		}
		return fmt.Errorf("mnist: %s: reading header: %w", name, err)
	}
	return nil
}

// checkMagic compares a file's magic number with the one wanted and explains
// the common mistake of swapping the image and label files.
func checkMagic(name string, got, want uint32) error {
	if got == want {
		return nil
	}
	what := func(m uint32) string {
		switch m {
		case imagesMagic:
			return "an idx3 image file"
		case labelsMagic:
			return "an idx1 label file"
		}
		return "not an MNIST idx file"
	}
	return fmt.Errorf("mnist: %s: magic 0x%08x (%s), want 0x%08x (%s)", name, got, what(got), want, what(want))
}

// checkCount bounds the count a header declares.
func checkCount(name string, count uint32, what string) error {
	if count > MaxN {
		return fmt.Errorf("mnist: %s: header says %d %s, more than the limit of %d", name, count, what, MaxN)
	}
	if uint64(count)*Side*Side > math.MaxInt {
		return fmt.Errorf("mnist: %s: header says %d %s, too many for this platform", name, count, what)
	}
	return nil
}

// readBody reads exactly n·size data bytes that follow a header of hdrLen
// bytes, then checks that the file ends there. The buffer grows only as data
// arrives (see firstChunk) and ends with length and capacity n·size.
func readBody(name string, r io.Reader, hdrLen, n, size int, what string) ([]byte, error) {
	total := n * size
	buf := make([]byte, 0, min(total, firstChunk))
	for len(buf) < total {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), total))
			copy(grown, buf)
			buf = grown
		}
		got, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+got]
		if err != nil {
			if isShort(err) {
				return nil, fmt.Errorf("mnist: %s: truncated: header says %d %s (%d+%d bytes), file has %d bytes",
					name, n, what, hdrLen, total, hdrLen+len(buf))
			}
			return nil, fmt.Errorf("mnist: %s: reading %s: %w", name, what, err)
		}
	}
	if err := expectEOF(r); err != nil {
		if errors.Is(err, errTrailing) {
			return nil, fmt.Errorf("mnist: %s: trailing data: header says %d %s (%d+%d bytes), file is longer",
				name, n, what, hdrLen, total)
		}
		if isShort(err) {
			return nil, fmt.Errorf("mnist: %s: truncated gzip stream after the data: %w", name, err)
		}
		return nil, fmt.Errorf("mnist: %s: after the %s: %w", name, what, err)
	}
	return buf, nil
}

// errTrailing reports bytes after the declared end of the data.
var errTrailing = errors.New("trailing data")

// expectEOF succeeds only if r has nothing more to give and ends cleanly. For
// a gzip reader this final read is also where a checksum error surfaces.
func expectEOF(r io.Reader) error {
	var one [1]byte
	for range 100 {
		got, err := r.Read(one[:])
		switch {
		case got > 0:
			return errTrailing
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
	return io.ErrNoProgress
}

// isShort reports whether err means the input ended early.
func isShort(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
