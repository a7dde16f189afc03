package cpu

import (
	"fmt"
	"testing"

	"gan/nn"
)

// BenchmarkLayoutSwap times the layout conversions of a DCGAN weight
// ([256 128 4 4], NCHW ↔ NHWC as 1×1 Im2Col and Col2Im) that every step
// makes for the kernel matrix and its gradient.
func BenchmarkLayoutSwap(b *testing.B) {
	be := New()
	defer be.Close()
	g := nn.ConvGeom{N: 256, C: 128, H: 4, W: 4, KH: 1, KW: 1, SH: 1, SW: 1, OH: 4, OW: 4, Layout: nn.NCHW}
	img, _ := be.Alloc(256, 128*16)
	cols, _ := be.Alloc(256*16, 128)
	b.Run("im2col", func(b *testing.B) {
		for range b.N {
			be.Im2Col(cols, img, g)
		}
	})
	for _, beta := range []float32{0, 1} {
		b.Run(fmt.Sprintf("col2im/beta=%v", beta), func(b *testing.B) {
			for range b.N {
				be.Col2Im(img, cols, g, beta)
			}
		})
	}
}

// BenchmarkConvGather times Im2Col and Col2Im for the 32×32 DCGAN's second
// discriminator layer (64 images of 16×16×64, k4 s2 p1: 4096×1024
// patches), channels-last.
func BenchmarkConvGather(b *testing.B) {
	be := New()
	defer be.Close()
	g := nn.ConvGeom{N: 64, C: 64, H: 16, W: 16, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1, OH: 8, OW: 8, Layout: nn.NHWC}
	img, _ := be.Alloc(64*16*16, 64)
	cols, _ := be.Alloc(64*8*8, 64*16)
	b.Run("im2col", func(b *testing.B) {
		for range b.N {
			be.Im2Col(cols, img, g)
		}
	})
	b.Run("col2im", func(b *testing.B) {
		for range b.N {
			be.Col2Im(img, cols, g, 0)
		}
	})
}
