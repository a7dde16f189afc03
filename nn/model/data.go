package model

import (
	"fmt"

	"gan/nn"
	"gan/nn/mnist"
)

// Dataset is a labelled set of images: N images of C×H×W values in
// [−1, 1], image after image, channel-major within an image (PyTorch's
// layout after ToTensor and Normalize(0.5, 0.5)).
type Dataset struct {
	// Name describes where the images came from.
	Name string
	// N is the number of images, C×H×W the shape of one.
	N, C, H, W int
	// Classes is the number of labels (0 for an unlabelled set).
	Classes int
	// Pixels holds the N·C·H·W values.
	Pixels []float32
	// Labels holds the N labels (nil for an unlabelled set).
	Labels []uint8
}

// Dim is the number of values of one image, C·H·W.
func (d *Dataset) Dim() int { return d.C * d.H * d.W }

// FromMNIST converts an MNIST-style set to [−1, 1] (as ToTensor followed
// by Normalize((0.5,), (0.5,))).
func FromMNIST(s *mnist.Set) *Dataset {
	return &Dataset{Name: s.Name, N: s.N, C: 1, H: s.Rows, W: s.Cols, Classes: 10, Pixels: s.Float32(), Labels: s.Labels}
}

// Pad returns the images with margin pixels of background (−1, black in
// [−1, 1]) added on every side: MNIST's 28×28 digits padded to 32×32 for
// a generator of 4·2ᵏ sides. The labels are shared.
func (d *Dataset) Pad(margin int) *Dataset {
	h, w := d.H+2*margin, d.W+2*margin
	p := &Dataset{Name: fmt.Sprintf("%s, padded to %d×%d", d.Name, h, w), N: d.N, C: d.C, H: h, W: w,
		Classes: d.Classes, Labels: d.Labels, Pixels: make([]float32, d.N*d.C*h*w)}
	for i := range p.Pixels {
		p.Pixels[i] = -1
	}
	for i := range d.N * d.C {
		src, dst := d.Pixels[i*d.H*d.W:], p.Pixels[i*h*w:]
		for y := range d.H {
			copy(dst[(y+margin)*w+margin:], src[y*d.W:(y+1)*d.W])
		}
	}
	return p
}

// Upload copies the images to b as an N×Dim matrix, which the caller
// frees.
func (d *Dataset) Upload(b nn.Backend) (nn.Mat, error) {
	m, err := b.Alloc(d.N, d.Dim())
	if err != nil {
		return nn.Mat{}, fmt.Errorf("copying the training set to %s: %w", b.Name(), err)
	}
	if err := b.Upload(m, d.Pixels); err != nil {
		b.Free(m)
		return nn.Mat{}, fmt.Errorf("copying the training set to %s: %w", b.Name(), err)
	}
	return m, nil
}

// Batch is one training step's data.
type Batch struct {
	// Data is the whole training set, and Dev its copy on the model's
	// backend (N×Dim).
	Data *Dataset
	Dev  nn.Mat
	// Idx lists the batch's images (rows of Data); the last batch of an
	// epoch may be smaller than the configured size.
	Idx []int32
	// Epoch (0-based) and Index (the batch within its epoch) say where
	// the run is.
	Epoch, Index int
	// Tokens is a text model's batch instead of images (Data, Dev and Idx
	// unused): Config.Batch sequences of Config.Context+1 token ids, the
	// first Context the input and the last Context the next-character
	// targets (see [TrainText]).
	Tokens []int32
}
