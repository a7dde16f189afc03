//go:build (gancuda || cudaemu) && cgo

package gpu

// The patch ops of 2-D convolutions (kernels/conv.cu).

import "gan/nn"

// convArgs adds g's sizes and layout to the parameters in a, in the order
// im2col and col2im take them.
func convArgs(a *argBuf, g nn.ConvGeom) *argBuf {
	return a.i(g.N).i(g.C).i(g.H).i(g.W).i(g.KH).i(g.KW).i(g.SH).i(g.SW).i(g.PH).i(g.PW).i(g.OH).i(g.OW).i(int(g.Layout)).
		i(g.KernelTaps())
}

// Im2Col gathers the patches of a 2-D convolution (see [nn.Backend]): one
// thread per patch element, each a copy of an image element or a zero.
// Both operands must be contiguous; the geometry and shapes are checked
// by [nn.CheckConv].
func (b *Backend) Im2Col(cols, img nn.Mat, g nn.ConvGeom) {
	const op = "Im2Col"
	if b.err != nil {
		return
	}
	cp, ip := b.get(op, cols), b.get(op, img)
	if b.err != nil {
		return
	}
	if err := nn.CheckConv(img, cols, g); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if cols.Len() == 0 {
		return
	}
	convArgs(b.args.reset(), g).p(cp).p(ip)
	b.launch(op, b.k.im2col, b.grid1(cols.Len()), 1, threads, 1)
}

// Col2Im is Im2Col's adjoint (see [nn.Backend]): one thread per image
// element gathers its patch entries and adds them from 0 in ascending
// (ky, kx) order, as the CPU backend does, so the two agree bit for bit;
// then img = s, or fl(fl(beta·img) + s) when beta ≠ 0. With beta = 0 the
// old img is not read.
func (b *Backend) Col2Im(img, cols nn.Mat, g nn.ConvGeom, beta float32) {
	const op = "Col2Im"
	if b.err != nil {
		return
	}
	ip, cp := b.get(op, img), b.get(op, cols)
	if b.err != nil {
		return
	}
	if err := nn.CheckConv(img, cols, g); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if img.Len() == 0 {
		return
	}
	convArgs(b.args.reset(), g).p(ip).p(cp).f(beta)
	b.launch(op, b.k.col2im, b.grid1(img.Len()), 1, threads, 1)
}
