package mnist

import (
	"bytes"
	"strings"
	"testing"
)

// seedTruncations adds data and a spread of its prefixes to the corpus.
func seedTruncations(f *testing.F, data []byte) {
	f.Add(data)
	for _, k := range []int{0, 1, 2, 3, 4, 7, 8, 12, 15, 16, 17, len(data) / 2, len(data) - 1} {
		if k >= 0 && k < len(data) {
			f.Add(data[:k])
		}
	}
}

// FuzzReadImages checks that ReadImages never panics and that whatever it
// accepts agrees with its header: 28×28 images and n·rows·cols pixels.
func FuzzReadImages(f *testing.F) {
	img := validImages(2)
	seedTruncations(f, img)
	seedTruncations(f, gz(f, img))
	f.Add(append(append([]byte(nil), img...), 0))
	f.Add(validLabels(1568))
	f.Add(idxImages(imagesMagic, 1, 32, 32))
	huge := validImages(1)
	huge[4] = 0xff
	f.Add(huge)
	f.Fuzz(func(t *testing.T, data []byte) {
		n, rows, cols, pix, err := ReadImages("fuzz.idx", bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "mnist: fuzz.idx: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			if n != 0 || rows != 0 || cols != 0 || pix != nil {
				t.Fatalf("error %v with results n=%d %d×%d len=%d", err, n, rows, cols, len(pix))
			}
			return
		}
		if rows != Side || cols != Side || n < 0 || n > MaxN || n*rows*cols != len(pix) {
			t.Fatalf("accepted n=%d %d×%d with %d pixels", n, rows, cols, len(pix))
		}
		// A raw file must be exactly header + pixels.
		if !isGzip(data) && len(data) != imagesHeader+len(pix) {
			t.Fatalf("accepted %d raw bytes for %d pixels", len(data), len(pix))
		}
	})
}

// FuzzReadLabels checks that ReadLabels never panics and that whatever it
// accepts agrees with its header and holds only labels 0–9.
func FuzzReadLabels(f *testing.F) {
	lbl := validLabels(20)
	seedTruncations(f, lbl)
	seedTruncations(f, gz(f, lbl))
	f.Add(append(append([]byte(nil), lbl...), 0))
	f.Add(idxLabels(labelsMagic, []byte{10}))
	f.Add(validImages(1))
	f.Fuzz(func(t *testing.T, data []byte) {
		labels, err := ReadLabels("fuzz.idx", bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "mnist: fuzz.idx: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			if labels != nil {
				t.Fatalf("error %v with %d labels", err, len(labels))
			}
			return
		}
		for i, l := range labels {
			if l > 9 {
				t.Fatalf("accepted label %d = %d", i, l)
			}
		}
		if !isGzip(data) && len(data) != labelsHeader+len(labels) {
			t.Fatalf("accepted %d raw bytes for %d labels", len(data), len(labels))
		}
	})
}

// isGzip reports whether data starts with the gzip magic.
func isGzip(data []byte) bool { return len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b }
