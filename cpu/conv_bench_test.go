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
