package cpu

import "gan/nn"

// Im2Col gathers the patches of a 2-D convolution (see [nn.Backend]): rows
// of cols in parallel, each a copy or a zero.
func (b *Backend) Im2Col(cols, img nn.Mat, g nn.ConvGeom) {
	const op = "Im2Col"
	if b.err != nil {
		return
	}
	cd, id := b.get(op, cols), b.get(op, img)
	if b.err != nil {
		return
	}
	if err := nn.CheckConv(img, cols, g); err != nil {
		b.failf(op, "%v", err)
		return
	}
	j := &b.jIm2Col
	*j = im2colJob{cols: cd, img: id, g: g}
	b.parallel(cols.Rows, cols.Cols, j)
	*j = im2colJob{}
}

// pixelIndex returns the index of element (n, c, y, x) in g's layout, and
// the distance between channels.
func pixelIndex(g *nn.ConvGeom, n, y, x int) (base, cstride int) {
	if g.Layout == nn.NCHW {
		return n*g.C*g.H*g.W + y*g.W + x, g.H * g.W
	}
	return ((n*g.H+y)*g.W + x) * g.C, 1
}

// im2colJob does patch rows [lo, hi) of Im2Col.
type im2colJob struct {
	cols, img []float32
	g         nn.ConvGeom
}

func (j *im2colJob) run(lo, hi int) {
	g := &j.g
	k := g.C * g.KH * g.KW
	for r := lo; r < hi; r++ {
		n, rest := r/(g.OH*g.OW), r%(g.OH*g.OW)
		oy, ox := rest/g.OW, rest%g.OW
		row := j.cols[r*k : (r+1)*k]
		for ky := range g.KH {
			iy := oy*g.SH - g.PH + ky
			for kx := range g.KW {
				ix := ox*g.SW - g.PW + kx
				col := ky*g.KW + kx
				if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
					for c := range g.C {
						row[c*g.KH*g.KW+col] = 0
					}
					continue
				}
				base, cs := pixelIndex(g, n, iy, ix)
				for c := range g.C {
					row[c*g.KH*g.KW+col] = j.img[base+c*cs]
				}
			}
		}
	}
}

// Col2Im is Im2Col's adjoint (see [nn.Backend]): each image element sums
// its patch entries in ascending (ky, kx) order, pixels in parallel, so
// the result does not depend on the number of workers.
func (b *Backend) Col2Im(img, cols nn.Mat, g nn.ConvGeom, beta float32) {
	const op = "Col2Im"
	if b.err != nil {
		return
	}
	id, cd := b.get(op, img), b.get(op, cols)
	if b.err != nil {
		return
	}
	if err := nn.CheckConv(img, cols, g); err != nil {
		b.failf(op, "%v", err)
		return
	}
	j := &b.jCol2Im
	*j = col2imJob{img: id, cols: cd, g: g, beta: beta}
	b.parallel(g.N*g.H*g.W, g.C*g.KH*g.KW, j)
	*j = col2imJob{}
}

// col2imJob does pixels [lo, hi) of Col2Im (pixel = (n, y, x), all
// channels).
type col2imJob struct {
	img, cols []float32
	g         nn.ConvGeom
	beta      float32
}

func (j *col2imJob) run(lo, hi int) {
	g := &j.g
	k := g.C * g.KH * g.KW
	for p := lo; p < hi; p++ {
		n, rest := p/(g.H*g.W), p%(g.H*g.W)
		y, x := rest/g.W, rest%g.W
		base, cs := pixelIndex(g, n, y, x)
		for c := range g.C {
			var s float32
			for ky := range g.KH {
				oy := y + g.PH - ky
				if oy < 0 || oy%g.SH != 0 || oy/g.SH >= g.OH {
					continue
				}
				oy /= g.SH
				for kx := range g.KW {
					ox := x + g.PW - kx
					if ox < 0 || ox%g.SW != 0 || ox/g.SW >= g.OW {
						continue
					}
					ox /= g.SW
					s += j.cols[((n*g.OH+oy)*g.OW+ox)*k+(c*g.KH+ky)*g.KW+kx]
				}
			}
			i := base + c*cs
			if j.beta != 0 {
				s = float32(j.beta*j.img[i]) + s // explicit rounding: no fused multiply-add
			}
			j.img[i] = s
		}
	}
}
