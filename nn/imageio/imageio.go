// Package imageio turns generator outputs into PNG files: single 28×28
// 8-bit grayscale images and grids, white digit on black as in MNIST.
package imageio

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"gan/nn"
)

// Side is the width and height of an image.
const Side = 28

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
	return uint8(math.Round(x))
}

// Image converts one flattened 784-value image to a grayscale image.
func Image(pix []float32) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, Side, Side))
	for i, v := range pix[:Side*Side] {
		img.Pix[i] = ToGray(v)
	}
	return img
}

// Grid lays out n images (n×784 values, row-major) in rows of cols images,
// with pad black pixels between and around them.
func Grid(pix []float32, n, cols, pad int) *image.Gray {
	rows := (n + cols - 1) / cols
	w := cols*(Side+pad) + pad
	h := rows*(Side+pad) + pad
	img := image.NewGray(image.Rect(0, 0, w, h))
	for k := 0; k < n; k++ {
		x0 := pad + (k%cols)*(Side+pad)
		y0 := pad + (k/cols)*(Side+pad)
		for y := 0; y < Side; y++ {
			for x := 0; x < Side; x++ {
				img.SetGray(x0+x, y0+y, color.Gray{Y: ToGray(pix[k*nn.ImageDim+y*Side+x])})
			}
		}
	}
	return img
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
