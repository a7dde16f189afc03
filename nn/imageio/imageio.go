// Package imageio turns generator outputs into PNG files: single images and
// grids of images of any C×H×W shape with one (gray) or three (RGB)
// channels, pixel values in [−1, 1] mapped to 0…255, white digit on black
// for MNIST-style gray images.
package imageio

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"

	"gan/nn"
)

// Side is the width and height of an MNIST image.
const Side = 28

// Shape is the C×H×W of one image: C channels (1 for gray, 3 for RGB) of
// H rows of W values, channel-major as PyTorch lays out a tensor.
type Shape struct{ C, H, W int }

// MNIST is the shape of an MNIST image, 1×28×28.
var MNIST = Shape{C: 1, H: Side, W: Side}

// Size is the number of values of one image, C·H·W.
func (s Shape) Size() int { return s.C * s.H * s.W }

// String writes the shape as C×H×W.
func (s Shape) String() string { return fmt.Sprintf("%d×%d×%d", s.C, s.H, s.W) }

// Padded is the shape of MNIST's digits padded by 2 background pixels on
// every side, 1×32×32, as LeNet-5 read them: the size a generator that
// doubles from 4×4 makes (dcgan --size 32).
var Padded = Shape{C: 1, H: Side + 4, W: Side + 4}

// CropCentre writes the central to.H×to.W window of each of the n images
// pix (shape from, with the same channels as to and margins of equal
// width on opposite sides) to out, which holds n images of shape to.
func CropCentre(pix []float32, n int, from, to Shape, out []float32) error {
	dy, dx := (from.H-to.H)/2, (from.W-to.W)/2
	if from.C != to.C || dy < 0 || dx < 0 || from.H-to.H != 2*dy || from.W-to.W != 2*dx {
		return fmt.Errorf("crop: no central %s window in a %s image", to, from)
	}
	if len(pix) < n*from.Size() || len(out) < n*to.Size() {
		return fmt.Errorf("crop: %d values in and %d out for %d images of %s to %s", len(pix), len(out), n, from, to)
	}
	for i := range n * to.C {
		src, dst := pix[i*from.H*from.W:], out[i*to.H*to.W:]
		for y := range to.H {
			copy(dst[y*to.W:(y+1)*to.W], src[(y+dy)*from.W+dx:])
		}
	}
	return nil
}

// Check returns an error unless images of the shape can be written as PNG:
// one or three channels and a positive height and width.
func (s Shape) Check() error {
	if (s.C != 1 && s.C != 3) || s.H < 1 || s.W < 1 {
		return fmt.Errorf("images of shape %s cannot be written as PNG: want 1 (gray) or 3 (RGB) channels and a positive size", s)
	}
	return nil
}

// ToGray maps a [−1, 1] pixel (the generator's Tanh range) to 0…255:
// round((v+1)/2·255), clamped, NaN as 0.
func ToGray(v float32) uint8 {
	x := (float64(v) + 1) / 2 * 255
	switch {
	case !(x > 0): // also NaN
		return 0
	case x >= 255:
		return 255
	}
	// x+0.5 truncated is math.Round(x) here: x = (v+1)·127.5 is exact
	// or (v near 0) rounded to a double near 127.5, and in neither case
	// can x lie within half a float64 ulp below k+½, the one place where
	// the addition would round up (TestToGrayMatchesRound checks every
	// float32 in [−1, 1]).
	return uint8(x + 0.5)
}

// Image converts one flattened 784-value MNIST image to a grayscale image.
func Image(pix []float32) *image.Gray {
	return ImageOf(pix, MNIST).(*image.Gray)
}

// Grid lays out n MNIST images (n×784 values, row-major) in rows of cols
// images, with pad black pixels between and around them.
func Grid(pix []float32, n, cols, pad int) *image.Gray {
	return GridOf(pix, n, MNIST, cols, pad).(*image.Gray)
}

// ImageOf converts one image of shape s (s.Size() values) to an
// *image.Gray for one channel or an *image.RGBA for three. The shape must
// pass [Shape.Check].
func ImageOf(pix []float32, s Shape) image.Image {
	return GridOf(pix, 1, s, 1, 0)
}

// GridOf lays out n images of shape s (n·s.Size() values, image after
// image) in rows of cols images, with pad black pixels between and around
// them: an *image.Gray for one channel, an opaque *image.RGBA for three.
// The shape must pass [Shape.Check].
func GridOf(pix []float32, n int, s Shape, cols, pad int) image.Image {
	rows := (n + cols - 1) / cols
	r := image.Rect(0, 0, cols*(s.W+pad)+pad, rows*(s.H+pad)+pad)
	var gray *image.Gray
	var rgb *image.RGBA
	if s.C == 1 {
		gray = image.NewGray(r)
	} else {
		rgb = image.NewRGBA(r)
		for i := 3; i < len(rgb.Pix); i += 4 {
			rgb.Pix[i] = 255 // opaque black background
		}
	}
	plane := s.H * s.W
	for k := 0; k < n; k++ {
		img := pix[k*s.Size() : (k+1)*s.Size()]
		x0 := pad + (k%cols)*(s.W+pad)
		y0 := pad + (k/cols)*(s.H+pad)
		for y := 0; y < s.H; y++ {
			if gray != nil {
				row := gray.Pix[(y0+y)*gray.Stride+x0:][:s.W]
				for x, v := range img[y*s.W : (y+1)*s.W] {
					row[x] = ToGray(v)
				}
				continue
			}
			for x := 0; x < s.W; x++ {
				i := y*s.W + x
				rgb.SetRGBA(x0+x, y0+y, color.RGBA{R: ToGray(img[i]), G: ToGray(img[plane+i]), B: ToGray(img[2*plane+i]), A: 255})
			}
		}
	}
	if gray != nil {
		return gray
	}
	return rgb
}

// WritePNG encodes img as PNG to path atomically.
func WritePNG(path string, img image.Image) error {
	return nn.WriteFileAtomic(path, func(w io.Writer) error {
		if err := png.Encode(w, img); err != nil {
			return fmt.Errorf("encoding PNG: %w", err)
		}
		return nil
	})
}
