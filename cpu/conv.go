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
	if isLayoutSwap(g) {
		// NCHW → NHWC: each image's C×HW matrix transposed.
		j := &b.jSwap
		*j = layoutSwapJob{dst: cd, src: id, rows: g.C, cols: g.H * g.W}
		b.parallel(g.N, g.C*g.H*g.W, j)
		*j = layoutSwapJob{}
		return
	}
	j := &b.jIm2Col
	*j = im2colJob{cols: cd, img: id, g: g}
	b.parallel(cols.Rows, cols.Cols, j)
	*j = im2colJob{}
}

// isLayoutSwap says whether the geometry is a layout conversion: 1×1
// patches of NCHW images at stride 1 without padding, whose patch matrix
// is the NHWC image (Im2Col converts NCHW → NHWC, Col2Im back).
func isLayoutSwap(g nn.ConvGeom) bool {
	return g.Layout == nn.NCHW && g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0
}

// layoutSwapJob transposes images [lo, hi): image n's rows×cols block of
// src into the cols×rows block of dst, four source rows at a time (four
// streams read in order, four adjacent destination elements written): a
// copy for Im2Col; for Col2Im (sum) the one-term sums of its gather,
// dst = 0 + src (−0 becoming +0 as there) or, with beta ≠ 0,
// dst = fl(beta·dst) + (0 + src).
type layoutSwapJob struct {
	dst, src   []float32
	rows, cols int
	sum        bool
	beta       float32
}

func (j *layoutSwapJob) run(lo, hi int) {
	r, c := j.rows, j.cols
	for n := lo; n < hi; n++ {
		src, dst := j.src[n*r*c:(n+1)*r*c], j.dst[n*r*c:(n+1)*r*c]
		i := 0
		if !j.sum {
			for ; i+4 <= r; i += 4 {
				s0, s1, s2, s3 := src[i*c:(i+1)*c], src[(i+1)*c:(i+2)*c], src[(i+2)*c:(i+3)*c], src[(i+3)*c:(i+4)*c]
				for k := range s0 {
					d := dst[k*r+i : k*r+i+4]
					d[0], d[1], d[2], d[3] = s0[k], s1[k], s2[k], s3[k]
				}
			}
			for ; i < r; i++ {
				for k, v := range src[i*c : (i+1)*c] {
					dst[k*r+i] = v
				}
			}
			continue
		}
		if j.beta == 0 {
			for ; i+4 <= r; i += 4 {
				s0, s1, s2, s3 := src[i*c:(i+1)*c], src[(i+1)*c:(i+2)*c], src[(i+2)*c:(i+3)*c], src[(i+3)*c:(i+4)*c]
				for k := range s0 {
					d := dst[k*r+i : k*r+i+4]
					d[0], d[1], d[2], d[3] = 0+s0[k], 0+s1[k], 0+s2[k], 0+s3[k]
				}
			}
			for ; i < r; i++ {
				for k, v := range src[i*c : (i+1)*c] {
					dst[k*r+i] = 0 + v
				}
			}
			continue
		}
		be := j.beta
		for ; i+4 <= r; i += 4 {
			s0, s1, s2, s3 := src[i*c:(i+1)*c], src[(i+1)*c:(i+2)*c], src[(i+2)*c:(i+3)*c], src[(i+3)*c:(i+4)*c]
			for k := range s0 {
				d := dst[k*r+i : k*r+i+4]
				// Explicit rounding: no fused multiply-add.
				d[0] = float32(be*d[0]) + (0 + s0[k])
				d[1] = float32(be*d[1]) + (0 + s1[k])
				d[2] = float32(be*d[2]) + (0 + s2[k])
				d[3] = float32(be*d[3]) + (0 + s3[k])
			}
		}
		for ; i < r; i++ {
			for k, v := range src[i*c : (i+1)*c] {
				d := &dst[k*r+i]
				*d = float32(be**d) + (0 + v)
			}
		}
	}
}

// im2colJob does patch rows [lo, hi) of Im2Col.
type im2colJob struct {
	cols, img []float32
	g         nn.ConvGeom
}

// run walks the patch rows (n, oy, ox) in order, stepping ox, oy and n
// without dividing. With NHWC images a row is (ky, kx, c): each kernel
// position copies one pixel's C contiguous channels; with NCHW images it
// is (c, ky, kx), (c, ky) selecting an image row and kx stepping along it.
// Only the first T kernel positions are gathered: kernel row ky has
// rowTaps(ky) of them.
func (j *im2colJob) run(lo, hi int) {
	g := &j.g
	kk := g.KernelTaps()
	k := g.C * kk
	grid := g.OH * g.OW
	n, oy, ox := lo/grid, lo%grid/g.OW, lo%g.OW
	hw := g.H * g.W
	for r := lo; r < hi; r++ {
		row := j.cols[r*k : (r+1)*k]
		y0, x0 := oy*g.SH-g.PH, ox*g.SW-g.PW
		if g.Layout == nn.NHWC && g.C == 1 {
			// One channel: each kernel position is one element (no copy
			// call per element).
			for ky := range g.KH {
				iy := y0 + ky
				kw := rowTaps(g, ky)
				if kw == 0 {
					break
				}
				dst := row[ky*g.KW : ky*g.KW+kw]
				if iy < 0 || iy >= g.H {
					clear(dst)
					continue
				}
				src := j.img[(n*g.H+iy)*g.W : (n*g.H+iy+1)*g.W]
				for kx := range dst {
					if ix := x0 + kx; ix >= 0 && ix < g.W {
						dst[kx] = src[ix]
					} else {
						dst[kx] = 0
					}
				}
			}
		} else if g.Layout == nn.NHWC {
			// A kernel row's positions inside the image, kx in [kxLo,
			// kxHi), are adjacent pixels there and adjacent taps here: one
			// copy of (kxHi − kxLo)·C elements, zeros around it.
			for ky := range g.KH {
				iy := y0 + ky
				kw := rowTaps(g, ky)
				if kw == 0 {
					break
				}
				kxLo, kxHi := min(kw, max(0, -x0)), min(kw, g.W-x0)
				dst := row[ky*g.KW*g.C : (ky*g.KW+kw)*g.C]
				if iy < 0 || iy >= g.H || kxLo >= kxHi {
					clear(dst)
					continue
				}
				clear(dst[:kxLo*g.C])
				clear(dst[kxHi*g.C:])
				copy(dst[kxLo*g.C:kxHi*g.C], j.img[((n*g.H+iy)*g.W+x0+kxLo)*g.C:])
			}
		} else if kk == 1 { // a 1×1 kernel: the layout conversion NCHW → NHWC
			if y0 < 0 || y0 >= g.H || x0 < 0 || x0 >= g.W {
				clear(row)
			} else {
				i := n*g.C*hw + y0*g.W + x0
				for c := range row {
					row[c] = j.img[i]
					i += hw
				}
			}
		} else {
			d := 0
			for c := range g.C {
				pb := (n*g.C + c) * hw
				for ky := range g.KH {
					iy := y0 + ky
					kw := rowTaps(g, ky)
					if kw == 0 {
						break
					}
					if iy < 0 || iy >= g.H {
						clear(row[d : d+kw])
						d += kw
						continue
					}
					rb := pb + iy*g.W
					for kx := range kw {
						if ix := x0 + kx; ix >= 0 && ix < g.W {
							row[d] = j.img[rb+ix]
						} else {
							row[d] = 0
						}
						d++
					}
				}
			}
		}
		if ox++; ox == g.OW {
			ox = 0
			if oy++; oy == g.OH {
				oy = 0
				n++
			}
		}
	}
}

// rowTaps is the number of kernel positions of row ky that g keeps: KW,
// fewer in the row where g.Taps cuts the kernel, 0 past it.
func rowTaps(g *nn.ConvGeom, ky int) int {
	return max(0, min(g.KW, g.KernelTaps()-ky*g.KW))
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
	if isLayoutSwap(g) {
		// NHWC → NCHW: each image's HW×C matrix transposed.
		j := &b.jSwap
		*j = layoutSwapJob{dst: id, src: cd, rows: g.H * g.W, cols: g.C, sum: true, beta: beta}
		b.parallel(g.N, g.C*g.H*g.W, j)
		*j = layoutSwapJob{}
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

// col2imBlock is the number of channels whose sums a pixel accumulates at
// a time, in an array on the stack; col2imTaps the most taps per pixel
// that pixel sums with sumRows.
const (
	col2imBlock = 256
	col2imTaps  = 64
)

// taps lists the kernel offsets k (ky or kx) that reach image coordinate
// i along one axis, ascending, with the grid coordinate o each comes from
// (i = o·stride − pad + k): k starts at (i + pad) mod stride and steps by
// stride while o = (i + pad − k)/stride, which falls by 1 per step, stays
// in [0, grid). It returns the first k, its o and the number of taps
// (the k with o ≥ grid are skipped first).
func taps(i, pad, stride, kernel, grid int) (k0, o0, n int) {
	k0 = (i + pad) % stride
	o0 = (i + pad - k0) / stride
	if o0 >= grid { // skip the taps whose patch lies past the grid
		skip := o0 - grid + 1
		k0 += skip * stride
		o0 -= skip
	}
	if k0 >= kernel || o0 < 0 {
		return 0, 0, 0
	}
	n = min((kernel-1-k0)/stride, o0) + 1
	return k0, o0, n
}

// col2imTapCache is the widest image whose column taps a col2imJob keeps
// on the stack (wider images find them pixel by pixel).
const col2imTapCache = 512

// run gathers each pixel's patch entries: the kernel rows and columns
// that reach it are found with taps (the columns' once per image column,
// the rows' once per image row), then for each block of channels the
// entries are added, tap by tap in ascending (ky, kx) order, into float32
// sums that start at 0, so that each element's sum is the documented one;
// the sums are then stored, with fl(beta·img) added when beta ≠ 0. Taps
// past g.KernelTaps() are skipped (kx grows with e, so a row's walk stops
// at the first).
func (j *col2imJob) run(lo, hi int) {
	g := &j.g
	kt := g.KernelTaps()
	hw := g.H * g.W
	n, y, x := lo/hw, lo%hw/g.W, lo%g.W
	var xt [col2imTapCache][3]int32
	cached := g.W <= col2imTapCache
	if cached {
		for i := range g.W {
			k0, o0, nk := taps(i, g.PW, g.SW, g.KW, g.OW)
			xt[i] = [3]int32{int32(k0), int32(o0), int32(nk)}
		}
	}
	var acc [col2imBlock]float32
	var offs [col2imTaps]int
	ky0, oy0, nky := taps(y, g.PH, g.SH, g.KH, g.OH)
	for p := lo; p < hi; p++ {
		var kx0, ox0, nkx int
		if cached {
			kx0, ox0, nkx = int(xt[x][0]), int(xt[x][1]), int(xt[x][2])
		} else {
			kx0, ox0, nkx = taps(x, g.PW, g.SW, g.KW, g.OW)
		}
		if g.C == 1 {
			// One channel (NHWC and NCHW alike): a scalar sum.
			var s float32
			for a := range nky {
				ky, oy := ky0+a*g.SH, oy0-a
				rb := (n*g.OH+oy)*g.OW*kt + ky*g.KW
				for e := range nkx {
					if kx := kx0 + e*g.SW; ky*g.KW+kx >= kt {
						break
					}
					s += j.cols[rb+(ox0-e)*kt+kx0+e*g.SW]
				}
			}
			i := (n*g.H+y)*g.W + x
			if j.beta == 0 {
				j.img[i] = s
			} else {
				j.img[i] = float32(j.beta*j.img[i]) + s // explicit rounding: no fused multiply-add
			}
		} else {
			j.pixel(acc[:], offs[:], n, y, x, ky0, oy0, nky, kx0, ox0, nkx)
		}
		if x++; x == g.W {
			x = 0
			if y++; y == g.H {
				y = 0
				n++
			}
			ky0, oy0, nky = taps(y, g.PH, g.SH, g.KH, g.OH)
		}
	}
}

// pixel gathers the patch entries of pixel (n, y, x) of a multi-channel
// image, col2imBlock channels at a time in acc, from the kernel rows and
// columns that taps found for it.
func (j *col2imJob) pixel(acc []float32, offs []int, n, y, x, ky0, oy0, nky, kx0, ox0, nkx int) {
	g := &j.g
	kk := g.KernelTaps()
	k := g.C * kk
	hw := g.H * g.W
	// NHWC: a row holds (ky, kx, c), channels contiguous; NCHW: (c, ky,
	// kx), a channel every kk entries.
	base, cs, tapStride, chanStride := ((n*g.H+y)*g.W+x)*g.C, 1, g.C, 1
	if g.Layout == nn.NCHW {
		base, cs, tapStride, chanStride = n*g.C*hw+y*g.W+x, hw, 1, kk
	}
	if chanStride == 1 && nky*nkx <= len(offs) && g.C <= len(acc) {
		// Channels-last: all the taps' rows summed at once by sumRows,
		// in the same order, straight into img when beta is 0.
		t := 0
		for a := range nky {
			ky, oy := ky0+a*g.SH, oy0-a
			for e := range nkx {
				kx, ox := kx0+e*g.SW, ox0-e
				if ky*g.KW+kx >= kk {
					break
				}
				offs[t] = ((n*g.OH+oy)*g.OW+ox)*k + (ky*g.KW+kx)*tapStride
				t++
			}
		}
		if j.beta == 0 {
			if sumRows(j.img[base:base+g.C], j.cols, offs[:t]) {
				return
			}
		} else if s := acc[:g.C]; sumRows(s, j.cols, offs[:t]) {
			for c, v := range s {
				j.img[base+c] = float32(j.beta*j.img[base+c]) + v // explicit rounding: no fused multiply-add
			}
			return
		}
	}
	for c0 := 0; c0 < g.C; c0 += col2imBlock {
		s := acc[:min(col2imBlock, g.C-c0)]
		clear(s)
		for a := range nky {
			ky, oy := ky0+a*g.SH, oy0-a
			for e := range nkx {
				kx, ox := kx0+e*g.SW, ox0-e
				if ky*g.KW+kx >= kk {
					break
				}
				src := j.cols[((n*g.OH+oy)*g.OW+ox)*k+c0*chanStride+(ky*g.KW+kx)*tapStride:]
				if chanStride == 1 {
					addTo(s, src)
					continue
				}
				for c := range s {
					s[c] += src[c*kk]
				}
			}
		}
		i := base + c0*cs
		if j.beta == 0 {
			if cs == 1 {
				copy(j.img[i:i+len(s)], s)
			} else {
				for _, v := range s {
					j.img[i] = v
					i += cs
				}
			}
			continue
		}
		for _, v := range s {
			j.img[i] = float32(j.beta*j.img[i]) + v // explicit rounding: no fused multiply-add
			i += cs
		}
	}
}
