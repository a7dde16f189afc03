package imageio

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestToGray(t *testing.T) {
	for _, c := range []struct {
		v    float32
		want uint8
	}{{-1, 0}, {1, 255}, {0, 128}, {-2, 0}, {3, 255}, {float32(math.NaN()), 0}} {
		assert.Equal(t, c.want, ToGray(c.v), "%g", c.v)
	}
}

// A gray grid puts image k at column k%cols, row k/cols, pad pixels apart.
func TestGridGray(t *testing.T) {
	s := Shape{C: 1, H: 2, W: 3}
	pix := make([]float32, 3*s.Size())
	for i := range pix {
		pix[i] = -1 // black
	}
	for i := range pix[s.Size() : 2*s.Size()] {
		pix[s.Size()+i] = 1 // image 1 white
	}
	pix[2*s.Size()+s.W+2] = 1 // image 2: pixel (x 2, y 1) white
	img, ok := GridOf(pix, 3, s, 2, 1).(*image.Gray)
	require.True(t, ok)
	assert.Equal(t, image.Rect(0, 0, 2*(3+1)+1, 2*(2+1)+1), img.Bounds())
	assert.Equal(t, uint8(0), img.GrayAt(1, 1).Y)   // image 0
	assert.Equal(t, uint8(255), img.GrayAt(5, 1).Y) // image 1, top left
	assert.Equal(t, uint8(255), img.GrayAt(7, 2).Y) // image 1, bottom right
	assert.Equal(t, uint8(0), img.GrayAt(8, 2).Y)   // padding
	assert.Equal(t, uint8(255), img.GrayAt(1+2, 4+1).Y)
	assert.Equal(t, uint8(0), img.GrayAt(1+1, 4+1).Y)
}

// An RGB image reads its channels from three planes.
func TestImageRGB(t *testing.T) {
	s := Shape{C: 3, H: 1, W: 2}
	// R plane, G plane, B plane; pixel 0 red, pixel 1 blue.
	pix := []float32{1, -1, -1, -1, -1, 1}
	img, ok := ImageOf(pix, s).(*image.RGBA)
	require.True(t, ok)
	assert.Equal(t, color.RGBA{R: 255, A: 255}, img.RGBAAt(0, 0))
	assert.Equal(t, color.RGBA{B: 255, A: 255}, img.RGBAAt(1, 0))
	// Padding is opaque black.
	g := GridOf(pix, 1, s, 1, 1).(*image.RGBA)
	assert.Equal(t, color.RGBA{A: 255}, g.RGBAAt(0, 0))
}

func TestShapeCheck(t *testing.T) {
	assert.NoError(t, MNIST.Check())
	assert.NoError(t, Shape{3, 32, 32}.Check())
	err := Shape{2, 8, 8}.Check()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2×8×8")
	assert.Error(t, Shape{1, 0, 8}.Check())
	assert.Equal(t, 784, MNIST.Size())
}

// WritePNG writes a file that decodes to the same pixels, and the MNIST
// helpers keep their 28×28 layout.
func TestWritePNGRoundTrip(t *testing.T) {
	pix := make([]float32, 2*784)
	for i := range pix {
		pix[i] = float32(i%255)/127 - 1
	}
	path := filepath.Join(t.TempDir(), "g.png")
	want := Grid(pix, 2, 2, 2)
	require.NoError(t, WritePNG(path, want))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	got, err := png.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 2*30+2, 32), got.Bounds())
	assert.Equal(t, want.Pix, got.(*image.Gray).Pix)
	assert.Equal(t, Image(pix[784:]).Pix[:28], want.Pix[2*want.Stride+32:2*want.Stride+60])
}

// TestToGrayMatchesRound compares ToGray with the definition it documents,
// round((v+1)/2·255) by math.Round, clamped, on every float32 in [−1, 1]
// (about two billion values, on all CPUs) and on the values beside it.
func TestToGrayMatchesRound(t *testing.T) {
	ref := func(v float32) uint8 {
		x := (float64(v) + 1) / 2 * 255
		switch {
		case !(x > 0):
			return 0
		case x >= 255:
			return 255
		}
		return uint8(math.Round(x))
	}
	one := math.Float32bits(1)
	workers := runtime.GOMAXPROCS(0)
	bad := make([]uint32, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := uint32(w); b <= one; b += uint32(workers) {
				for _, v := range [2]float32{math.Float32frombits(b), -math.Float32frombits(b)} {
					if ToGray(v) != ref(v) {
						bad[w] = b | 1<<31
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, b := range bad {
		if b != 0 {
			v := math.Float32frombits(b &^ (1 << 31))
			t.Fatalf("ToGray(±%v) differs from math.Round's %d", v, ref(v))
		}
	}
	for _, v := range []float32{1.5, -1.5, 2, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())} {
		if ToGray(v) != ref(v) {
			t.Errorf("ToGray(%v) = %d, want %d", v, ToGray(v), ref(v))
		}
	}
}

// TestCropCentre: cropping 2 pixels off every side of 1×32×32 images
// returns their central 28×28, image by image; shapes without a central
// window are errors.
func TestCropCentre(t *testing.T) {
	const n = 3
	pix := make([]float32, n*Padded.Size())
	for i := range pix {
		pix[i] = float32(i)
	}
	out := make([]float32, n*MNIST.Size())
	require.NoError(t, CropCentre(pix, n, Padded, MNIST, out))
	for i := range n {
		for y := range Side {
			for x := range Side {
				assert.Equal(t, pix[i*32*32+(y+2)*32+x+2], out[i*Side*Side+y*Side+x], "image %d (%d, %d)", i, y, x)
			}
		}
	}
	assert.ErrorContains(t, CropCentre(pix, n, MNIST, Padded, out), "no central 1×32×32 window in a 1×28×28 image")
	assert.ErrorContains(t, CropCentre(pix, n, Shape{1, 31, 31}, MNIST, out), "no central")
	assert.ErrorContains(t, CropCentre(pix, n, Padded, Shape{3, 28, 28}, out), "no central")
	assert.ErrorContains(t, CropCentre(pix[:10], n, Padded, MNIST, out), "10 values in")
}
