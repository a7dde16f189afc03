package bench

import (
	"fmt"

	"gan/nn"
	"gan/nn/layer"
	"gan/nn/models/dcgan"
)

// The DCGAN group: the convolution products of the dcgan family's layers
// and its training step.
const (
	// GroupDCGAN selects the group in [Options.Groups] (`gan bench --what dcgan`).
	GroupDCGAN = "dcgan"
	// GroupConv holds the convolution products (Value in GFLOP/s).
	GroupConv = "conv"
	// GroupDCGANStep holds the DCGAN training step (Value in steps/s).
	GroupDCGANStep = "dcgan-step"
)

// DCGANSize is the image size the group measures unless
// [Options.DCGANSize] says another (the family's default, MNIST's 28×28,
// one channel; `gan train --model dcgan --size 32` trains on the digits
// padded to 32×32).
const DCGANSize = 28

// DCGANBatch is the batch of the group's products and step (the
// examples' 64).
const DCGANBatch = 64

// ConvLayer is one convolution of the DCGAN: a Conv2d (weight [Out In K K])
// or a ConvTranspose2d (weight [In Out K K]) on H×H input images.
type ConvLayer struct {
	Name       string // G1…, D1…, in forward order
	Transposed bool
	In, Out    int
	K, S, P    int
	H          int // input size
}

// OutSize is the layer's output size.
func (l ConvLayer) OutSize() int {
	if l.Transposed {
		return (l.H-1)*l.S - 2*l.P + l.K
	}
	return (l.H+2*l.P-l.K)/l.S + 1
}

// DCGANLayers lists the convolutions of the dcgan family's generator and
// discriminator for c×size×size images, read from the family's own
// networks (so the benchmark follows the model).
func DCGANLayers(c, size int) []ConvLayer {
	var out []ConvLayer
	walk := func(prefix string, s *layer.Sequential, h int) {
		i := 0
		for _, m := range s.Layers {
			var l ConvLayer
			switch m := m.(type) {
			case *layer.ConvTranspose2dLayer:
				l = ConvLayer{Transposed: true, In: m.In, Out: m.Out, K: m.K, S: m.Stride, P: m.Pad, H: h}
			case *layer.Conv2dLayer:
				l = ConvLayer{In: m.In, Out: m.Out, K: m.K, S: m.Stride, P: m.Pad, H: h}
			default:
				continue
			}
			i++
			l.Name = fmt.Sprintf("%s%d", prefix, i)
			h = l.OutSize()
			out = append(out, l)
		}
	}
	walk("G", dcgan.NewGenerator(nn.NewParamSet(0), c, size), 1)
	walk("D", dcgan.NewDiscriminator(nn.NewParamSet(0), c, size), size)
	return out
}

// ConvProduct is one product of a convolution layer's step with the data
// movement around it: Im2Col before, or Col2Im after, the matrix product.
type ConvProduct struct {
	Layer ConvLayer
	Pass  string // fwd, dx or dW
	MatMulShape
	// Im2Col / Col2Im: which of them the product includes (at most one).
	Im2Col, Col2Im bool
}

// geom is the geometry of the layer's patches: of its input images for a
// Conv2d, of its output images for a ConvTranspose2d (whose forward is
// Conv2d's input gradient), channels-last.
func (l ConvLayer) geom(batch int) nn.ConvGeom {
	if l.Transposed {
		o := l.OutSize()
		return nn.ConvGeom{N: batch, C: l.Out, H: o, W: o, KH: l.K, KW: l.K, SH: l.S, SW: l.S, PH: l.P, PW: l.P, OH: l.H, OW: l.H}
	}
	o := l.OutSize()
	return nn.ConvGeom{N: batch, C: l.In, H: l.H, W: l.H, KH: l.K, KW: l.K, SH: l.S, SW: l.S, PH: l.P, PW: l.P, OH: o, OW: o}
}

// ConvProducts returns the three products of each DCGAN convolution at
// batch, as the graph computes them (images channels-last):
//
//	Conv2d:          fwd  y = Im2Col(x)·Wᵀ      dx = Col2Im(dy·W)     dW = dyᵀ·Im2Col(x)
//	ConvTranspose2d: fwd  y = Col2Im(x·W)       dx = Im2Col(dy)·Wᵀ    dW = xᵀ·Im2Col(dy)
//
// A product's time includes its Im2Col or Col2Im (the dW products reuse
// the patches of the forward or input-gradient pass, as the graph does);
// its GFLOP/s counts the product's 2·m·n·k.
func ConvProducts(layers []ConvLayer, batch int) []ConvProduct {
	var out []ConvProduct
	for _, l := range layers {
		o := l.OutSize()
		key := func(p string) string { return fmt.Sprintf("conv/b%d/%s.%s", batch, l.Name, p) }
		kind := "conv"
		if l.Transposed {
			kind = "convT"
		}
		label := func(p string) string {
			return fmt.Sprintf("b%d %s %s %d→%d k%d s%d %d→%d %s", batch, l.Name, kind, l.In, l.Out, l.K, l.S, l.H, o, p)
		}
		mk := func(p string, m, n, k int, ta, tb, i2c, c2i bool) ConvProduct {
			return ConvProduct{Layer: l, Pass: p, Im2Col: i2c, Col2Im: c2i,
				MatMulShape: MatMulShape{Key: key(p), Label: label(p), M: m, N: n, K: k, TransA: ta, TransB: tb, Batch: batch}}
		}
		if l.Transposed {
			pix, kk := batch*l.H*l.H, l.Out*l.K*l.K
			out = append(out,
				mk("fwd", pix, kk, l.In, false, false, false, true),
				mk("dx", pix, l.In, kk, false, true, true, false),
				mk("dW", l.In, kk, pix, true, false, false, false))
		} else {
			pix, kk := batch*o*o, l.In*l.K*l.K
			out = append(out,
				mk("fwd", pix, l.Out, kk, false, true, true, false),
				mk("dx", pix, kk, l.Out, false, false, false, true),
				mk("dW", l.Out, kk, pix, true, false, false, false))
		}
	}
	return out
}

// DCGANFlops is the floating-point work of the products of one DCGAN
// training step at batch: G forward once; D forward three times (real,
// fake, fake for G's loss); D's dW and dx in the D step's two passes (dx
// not for D's first layer, whose input needs no gradient); D's dx in the G
// step; G's dx and dW.
func DCGANFlops(layers []ConvLayer, batch int) float64 {
	var f float64
	for _, p := range ConvProducts(layers, batch) {
		w := p.Flops()
		isG := p.Layer.Name[0] == 'G'
		first := p.Layer.Name == "D1" || p.Layer.Name == "G1"
		switch {
		case isG && (p.Pass == "fwd" || p.Pass == "dW"):
			f += w
		case isG && p.Pass == "dx" && !first:
			f += w
		case !isG && p.Pass == "fwd":
			f += 3 * w
		case !isG && p.Pass == "dW":
			f += 2 * w
		case !isG && p.Pass == "dx":
			f += 3 * w // two passes of the D step and the G step (D1's input is G's output there)
			if first {
				f -= 2 * w
			}
		}
	}
	return f
}

// dcganSizeOr is a recorded or asked-for DCGAN image size n, or DCGANSize
// where n is 0 (not given, or a run written before the size was recorded,
// when 28 was the only one).
func dcganSizeOr(n int) int {
	if n > 0 {
		return n
	}
	return DCGANSize
}

// dcgan runs the group: every product at DCGANBatch, then the step.
func (s *suite) dcgan() error {
	size := dcganSizeOr(s.o.DCGANSize)
	s.run.DCGANSize = size
	layers := DCGANLayers(1, size)
	for _, p := range ConvProducts(layers, DCGANBatch) {
		if err := s.convProduct(p); err != nil {
			return fmt.Errorf("%s: %w", p.Label, err)
		}
	}
	if err := s.dcganStep(DCGANBatch, size); err != nil {
		return fmt.Errorf("DCGAN training step at batch %d: %w", DCGANBatch, err)
	}
	return nil
}

func (s *suite) convProduct(p ConvProduct) error {
	ar, ac := p.M, p.K
	if p.TransA {
		ar, ac = ac, ar
	}
	br, bc := p.K, p.N
	if p.TransB {
		br, bc = bc, br
	}
	g := p.Layer.geom(p.Batch)
	cr, cc := g.ColsShape()
	shapes := [][2]int{{ar, ac}, {br, bc}, {p.M, p.N}}
	switch {
	case p.Im2Col: // the product's A is the patches of an image
		shapes = append(shapes, [2]int{g.N * g.H * g.W, g.C})
	case p.Col2Im: // the product's C is the patches of an image
		shapes = append(shapes, [2]int{g.N * g.H * g.W, g.C})
	}
	ms, release, err := s.mats(50, shapes...)
	if err != nil {
		return err
	}
	defer release()
	a, bm, c := ms[0], ms[1], ms[2]
	var f func()
	switch {
	case p.Im2Col:
		if a.Rows != cr || a.Cols != cc {
			return fmt.Errorf("patches %dx%d, product's A %dx%d", cr, cc, a.Rows, a.Cols)
		}
		img := ms[3]
		f = func() { s.b.Im2Col(a, img, g); s.b.MatMul(c, a, bm, p.TransA, p.TransB, 0) }
		if g.WholeImage() { // the graph multiplies the images as they are
			f = func() { s.b.MatMul(c, img.Reshape(cr, cc), bm, p.TransA, p.TransB, 0) }
		}
	case p.Col2Im:
		if c.Rows != cr || c.Cols != cc {
			return fmt.Errorf("patches %dx%d, product's C %dx%d", cr, cc, c.Rows, c.Cols)
		}
		img := ms[3]
		f = func() { s.b.MatMul(c, a, bm, p.TransA, p.TransB, 0); s.b.Col2Im(img, c, g, 0) }
		if g.WholeImage() { // the graph writes the product into the images
			f = func() { s.b.MatMul(img.Reshape(cr, cc), a, bm, p.TransA, p.TransB, 0) }
		}
	default:
		f = func() { s.b.MatMul(c, a, bm, p.TransA, p.TransB, 0) }
	}
	st, err := s.o.Timer.Measure(f, s.b.Sync)
	if err != nil {
		return err
	}
	s.add(Result{Key: p.Key, Group: GroupConv, Label: p.Label, M: p.M, N: p.N, K: p.K,
		TransA: p.TransA, TransB: p.TransB, Batch: p.Batch, Flops: p.Flops(),
		Seconds: st, Value: p.Flops() / st.Median / 1e9, Unit: UnitGFLOPS})
	return nil
}

// dcganStep times the dcgan family's training step ([dcgan.GAN.TrainStep])
// at batch on random size×size images uploaded once.
func (s *suite) dcganStep(batch, size int) error {
	cfg := dcgan.DefaultConfig()
	cfg.Batch, cfg.Size = batch, size
	g, err := dcgan.New(s.b, cfg)
	if err != nil {
		return err
	}
	defer g.Free()
	st, err := s.timeImageSteps(g, 60, batch, 1, size, size)
	if err != nil {
		return err
	}
	sps := 1 / st.Median
	flops := DCGANFlops(DCGANLayers(1, size), batch)
	s.add(Result{Key: fmt.Sprintf("dcgan-step/b%d", batch), Group: GroupDCGANStep, Label: fmt.Sprintf("DCGAN train step b%d", batch),
		Batch: batch, Flops: flops, Seconds: st, Value: sps, Unit: UnitSteps, ImagesPerS: sps * float64(batch)})
	return nil
}
