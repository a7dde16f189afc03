package cpu

import (
	"math/rand/v2"
	"testing"

	"gan/nn"
)

// convBenchGeoms are DCGAN-like convolutions at batch 64, each named after
// what it is: the discriminator's first layer on 28×28 MNIST images (NCHW,
// one channel), its middle layers on 28×28 and 64×64 images (NHWC, 4×4
// kernels of stride 2), its last 4×4 layer (512 channels to a 1×1 grid),
// and a 1×1 layout conversion.
var convBenchGeoms = []struct {
	name string
	g    nn.ConvGeom
}{
	{"mnist-d1/C1-28x28-k4s2p1-NCHW", nn.ConvGeom{N: 64, C: 1, H: 28, W: 28, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1, OH: 14, OW: 14, Layout: nn.NCHW}},
	{"mnist-d2/C64-14x14-k4s2p1", nn.ConvGeom{N: 64, C: 64, H: 14, W: 14, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1, OH: 7, OW: 7}},
	{"dcgan64-d3/C128-16x16-k4s2p1", nn.ConvGeom{N: 64, C: 128, H: 16, W: 16, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1, OH: 8, OW: 8}},
	{"dcgan64-d4/C256-8x8-k4s2p1", nn.ConvGeom{N: 64, C: 256, H: 8, W: 8, KH: 4, KW: 4, SH: 2, SW: 2, PH: 1, PW: 1, OH: 4, OW: 4}},
	{"dcgan64-d5/C512-4x4-k4s1p0", nn.ConvGeom{N: 64, C: 512, H: 4, W: 4, KH: 4, KW: 4, SH: 1, SW: 1, OH: 1, OW: 1}},
	{"1x1-layout/C64-14x14-NCHW", nn.ConvGeom{N: 64, C: 64, H: 14, W: 14, KH: 1, KW: 1, SH: 1, SW: 1, OH: 14, OW: 14, Layout: nn.NCHW}},
}

// benchConv runs f on each geometry's operands (images and patches of
// values in [−1, 1)) and reports GB/s: the bytes of both operands, each
// read or written once, per call (Col2Im with beta ≠ 0 also reads the
// image: counted, as beta = 0 is what Conv2d's backward uses, it is not
// run here).
func benchConv(b *testing.B, f func(be *Backend, img, cols nn.Mat, g nn.ConvGeom)) {
	rng := rand.New(rand.NewPCG(3, 3))
	be := New()
	defer be.Close()
	for _, c := range convBenchGeoms {
		ir, ic := c.g.ImageShape()
		cr, cc := c.g.ColsShape()
		img, cols := benchMat(b, be, rng, ir, ic), benchMat(b, be, rng, cr, cc)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(4 * int64(img.Len()+cols.Len()))
			for b.Loop() {
				f(be, img, cols, c.g)
			}
		})
		be.Free(img)
		be.Free(cols)
	}
	if err := be.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIm2Col times Im2Col at DCGAN sizes (see convBenchGeoms); the
// MB/s column counts the image read and the patches written.
func BenchmarkIm2Col(b *testing.B) {
	benchConv(b, func(be *Backend, img, cols nn.Mat, g nn.ConvGeom) { be.Im2Col(cols, img, g) })
}

// BenchmarkCol2Im times Col2Im (beta = 0, Conv2d's input gradient) at
// DCGAN sizes; the MB/s column counts the patches read and the image
// written.
func BenchmarkCol2Im(b *testing.B) {
	benchConv(b, func(be *Backend, img, cols nn.Mat, g nn.ConvGeom) { be.Col2Im(img, cols, g, 0) })
}
