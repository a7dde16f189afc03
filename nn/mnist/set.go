// Package mnist reads the MNIST and Fashion-MNIST image sets that the GAN
// trains on. It has its own strict reader of the idx file format (gzip or
// raw), the four original MNIST files embedded in the binary, and [Load],
// which resolves the command line's --dataset and --data flags.
package mnist

import (
	"fmt"
	"os"
)

// Set is a labelled image set: N images of Rows×Cols uint8 pixels, row-major,
// white digit on black.
type Set struct {
	// Name describes where the set came from, for logs and errors.
	Name string
	// N is the number of images; Rows and Cols are their height and width.
	N, Rows, Cols int
	// Images holds the N·Rows·Cols pixels, image after image.
	Images []uint8
	// Labels holds the N class labels, each 0–9.
	Labels []uint8
}

// Pixels is the number of pixels of one image, Rows·Cols (784).
func (s *Set) Pixels() int { return s.Rows * s.Cols }

// Image returns a view of the pixels of image i; it shares storage with
// s.Images and its capacity ends at the image's last pixel.
func (s *Set) Image(i int) []uint8 {
	p := s.Pixels()
	return s.Images[i*p : (i+1)*p : (i+1)*p]
}

// Float32 returns all images as an N×784 row-major float32 array scaled
// exactly as PyTorch's ToTensor() followed by Normalize((0.5,), (0.5,)):
// v := float32(p)/255, then (v-0.5)/0.5, computed in float32 in that order.
// Pixel 0 maps to -1 and pixel 255 to 1.
func (s *Set) Float32() []float32 {
	out := make([]float32, len(s.Images))
	table := scaleTable()
	for i, p := range s.Images {
		out[i] = table[p]
	}
	return out
}

// scaleTable returns the float32 value of each of the 256 pixel values.
func scaleTable() *[256]float32 {
	var t [256]float32
	for p := range t {
		v := float32(p) / 255
		t[p] = (v - 0.5) / 0.5
	}
	return &t
}

// LoadFiles reads an idx3 image file and an idx1 label file (each gzip or
// raw) and checks that they hold the same number of entries. The set's Name
// is imagesPath.
func LoadFiles(imagesPath, labelsPath string) (*Set, error) {
	n, rows, cols, pix, err := readImagesFile(imagesPath)
	if err != nil {
		return nil, err
	}
	labels, err := readLabelsFile(labelsPath)
	if err != nil {
		return nil, err
	}
	return newSet(imagesPath, n, rows, cols, pix, labels, imagesPath, labelsPath)
}

// newSet assembles a Set after checking that images and labels match and
// that the set is not empty.
func newSet(name string, n, rows, cols int, pix, labels []uint8, imagesName, labelsName string) (*Set, error) {
	if n != len(labels) {
		return nil, fmt.Errorf("mnist: %s has %d images but %s has %d labels", imagesName, n, labelsName, len(labels))
	}
	if n == 0 {
		return nil, fmt.Errorf("mnist: %s: the set is empty", imagesName)
	}
	return &Set{Name: name, N: n, Rows: rows, Cols: cols, Images: pix, Labels: labels}, nil
}

// readImagesFile opens path and reads it with [ReadImages].
func readImagesFile(path string) (n, rows, cols int, pix []uint8, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, nil, fmt.Errorf("mnist: %w", err)
	}
	defer f.Close()
	return ReadImages(path, f)
}

// readLabelsFile opens path and reads it with [ReadLabels].
func readLabelsFile(path string) ([]uint8, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	defer f.Close()
	return ReadLabels(path, f)
}
