package backendtest

import (
	"fmt"
	"math"

	"gan/nn"
)

// The cases of the convolution ops Im2Col and Col2Im.
//
// Im2Col copies image elements or writes zeros, so it is compared bit for
// bit (tolExact), with the specials among the image values (their bits
// must survive the copy) and NaN in the old patches (every padding entry
// must be written).
//
// Col2Im adds each image element's patch entries in float32, from 0 in
// ascending (ky, kx) order, then, for beta ≠ 0, to fl(beta·img): the
// same documented sequence of float32 operations on every backend, so two
// float32 backends must agree bit for bit, and the float64 reference is
// met within the rounding bound of that sequence (tolRounded; see
// col2imUnits). A gather summing in another order, or atomics, would
// differ from the CPU in the last bits and fail the pair comparison.

// conv returns the geometry of N images C×H×W with a KH×KW kernel,
// strides SH, SW and paddings PH, PW, the grid computed by [nn.ConvOut];
// ok is false when the kernel does not fit the padded image.
func conv(layout nn.ImageLayout, n, c, h, w, kh, kw, sh, sw, ph, pw int) (nn.ConvGeom, bool) {
	oh, err1 := nn.ConvOut(h, kh, sh, ph)
	ow, err2 := nn.ConvOut(w, kw, sw, pw)
	g := nn.ConvGeom{N: n, C: c, H: h, W: w, KH: kh, KW: kw, SH: sh, SW: sw, PH: ph, PW: pw, OH: oh, OW: ow, Layout: layout}
	return g, err1 == nil && err2 == nil
}

// mustConv is conv for geometries known to be valid.
func mustConv(layout nn.ImageLayout, n, c, h, w, kh, kw, sh, sw, ph, pw int) nn.ConvGeom {
	g, ok := conv(layout, n, c, h, w, kh, kw, sh, sw, ph, pw)
	if !ok {
		panic(fmt.Sprintf("backendtest: invalid geometry %v", g))
	}
	return g
}

// geomName names a geometry in case titles.
func geomName(g nn.ConvGeom) string {
	s := fmt.Sprintf("%v/N%d C%d %dx%d/k%dx%d s%dx%d p%dx%d", g.Layout, g.N, g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW)
	if full, _ := conv(g.Layout, g.N, g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW); full.OH != g.OH || full.OW != g.OW {
		s += fmt.Sprintf(" cropped %dx%d", g.OH, g.OW)
	}
	if g.Taps != 0 {
		s += fmt.Sprintf(" taps %d", g.Taps)
	}
	return s
}

// convImageIndex is the index of image element (n, c, y, x) in g's
// layout, written out independently of the backends.
func convImageIndex(g nn.ConvGeom, n, c, y, x int) int {
	if g.Layout == nn.NCHW {
		return ((n*g.C+c)*g.H+y)*g.W + x
	}
	return ((n*g.H+y)*g.W+x)*g.C + c
}

// forEachPatchEntry calls f(col, img) for every entry of g's patch matrix
// that holds an image element: col indexes the row-major patch matrix,
// img the image in g's layout.
func forEachPatchEntry(g nn.ConvGeom, f func(col, img int)) {
	k := g.C * g.KernelTaps()
	for n := range g.N {
		for oy := range g.OH {
			for ox := range g.OW {
				row := ((n*g.OH+oy)*g.OW + ox) * k
				for c := range g.C {
					for ky := range g.KH {
						for kx := range g.KW {
							if ky*g.KW+kx >= g.KernelTaps() {
								continue
							}
							iy, ix := oy*g.SH-g.PH+ky, ox*g.SW-g.PW+kx
							if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
								f(row+convColIndex(g, c, ky, kx), convImageIndex(g, n, c, iy, ix))
							}
						}
					}
				}
			}
		}
	}
}

// convColIndex is the column of (c, ky, kx) in a patch row of g's layout:
// (c, t) for NCHW, (t, c) for NHWC, t = ky·KW + kx (see nn.Backend's
// Im2Col).
func convColIndex(g nn.ConvGeom, c, ky, kx int) int {
	t := ky*g.KW + kx
	if g.Layout == nn.NCHW {
		return c*g.KernelTaps() + t
	}
	return t*g.C + c
}

// col2imUnits bounds Col2Im's float32 result against the exact sum, in
// units of 2⁻²⁴, for an image element with m patch entries t₁ … t_m:
// the sum from 0 makes m − 1 roundings (the first addition is exact),
// each at most one unit of Σ|t|; for beta ≠ 0, fl(beta·img) and the final
// addition add one rounding each of |beta·img| + Σ|t|. So (m + 2)·(|beta·
// img| + Σ|t|) covers it (one more than needed when beta = 0). A wrong
// index or a missed entry errs by a whole term, of order 2²⁴ units.
func col2imUnits(g nn.ConvGeom, beta float32) func(e *env) []float64 {
	return func(e *env) []float64 {
		img, cols := e.in[0], e.in[1]
		u := make([]float64, len(img))
		cnt := make([]float64, len(img))
		if beta != 0 {
			for i, v := range img {
				u[i] = math.Abs(float64(beta) * v)
			}
		}
		forEachPatchEntry(g, func(col, i int) {
			u[i] += math.Abs(cols[col])
			cnt[i]++
		})
		for i := range u {
			u[i] *= cnt[i] + 2
		}
		return u
	}
}

// im2colCase is Im2Col on g: the old patches are NaN (every entry must be
// written) and the images hold every special value (copies keep bits).
func im2colCase(name string, g nn.ConvGeom) *testCase {
	ir, ic := g.ImageShape()
	cr, cc := g.ColsShape()
	return &testCase{
		op: "Im2Col", name: name + geomName(g),
		args: []arg{out("cols", cr, cc, garbage, tolExact), in("img", ir, ic, withSpecials(uniform(-1, 1), specials))},
		call: func(b nn.Backend, m []nn.Mat) { b.Im2Col(m[0], m[1], g) },
	}
}

// col2imCase is Col2Im on g with beta: with beta = 0 the old images are
// NaN (they must be ignored), else values with specials (no ±MaxFloat32:
// a float32 sum could overflow where the exact one does not).
func col2imCase(name string, g nn.ConvGeom, beta float32) *testCase {
	ir, ic := g.ImageShape()
	cr, cc := g.ColsShape()
	img0 := garbage
	if beta != 0 {
		img0 = withSpecials(uniform(-1, 1), boundedSpecials)
	}
	return &testCase{
		op: "Col2Im", name: fmt.Sprintf("%s%s/beta=%v", name, geomName(g), beta),
		args: []arg{out("img", ir, ic, img0, tolRounded(col2imUnits(g, beta))),
			in("cols", cr, cc, withSpecials(uniform(-1, 1), boundedSpecials))},
		call: func(b nn.Backend, m []nn.Mat) { b.Col2Im(m[0], m[1], g, beta) },
	}
}

// convSweepImages are the image sizes of the sweep, taken in turn: none
// square but one, every one at least 5 (the largest kernel) on each side.
var convSweepImages = [][2]int{{5, 7}, {8, 5}, {6, 6}, {7, 9}, {9, 6}}

// convGeoms returns the geometries of the cases: every layout, square
// kernel 1…5, stride 1…2 and padding 0…2 on non-square images (sizes in
// turn from convSweepImages) of N = 2 images with C = 1 and C = 3; then
// kernels, strides and paddings that differ per axis, grids that leave
// image rows and columns uncovered (what a ConvTranspose2d's
// output_padding adds), a kernel larger than the unpadded image, N = 1 and
// N = 0, the DCGAN's layers (a ConvTranspose2d from a 1×1 grid, 4×4
// kernels of stride 2 on 28×28 and 14×14 images, the last large enough to
// take a parallel CPU path), and 300 channels.
func convGeoms() []nn.ConvGeom {
	var gs []nn.ConvGeom
	i := 0
	for _, layout := range []nn.ImageLayout{nn.NHWC, nn.NCHW} {
		for k := 1; k <= 5; k++ {
			for s := 1; s <= 2; s++ {
				for p := 0; p <= 2; p++ {
					for _, c := range []int{1, 3} {
						hw := convSweepImages[i%len(convSweepImages)]
						i++
						gs = append(gs, mustConv(layout, 2, c, hw[0], hw[1], k, k, s, s, p, p))
					}
				}
			}
		}
		gs = append(gs,
			mustConv(layout, 2, 2, 6, 5, 3, 1, 2, 1, 1, 0),
			mustConv(layout, 3, 4, 4, 7, 1, 4, 1, 2, 0, 2),
			mustConv(layout, 1, 5, 7, 8, 2, 5, 2, 3, 0, 1),
			mustConv(layout, 2, 3, 6, 7, 3, 3, 2, 2, 0, 0),   // last row uncovered
			mustConv(layout, 2, 2, 8, 8, 2, 2, 3, 3, 0, 0),   // stride > kernel: gaps
			mustConv(layout, 2, 2, 3, 2, 5, 4, 1, 1, 1, 1),   // kernel larger than the image
			mustConv(layout, 0, 3, 5, 5, 3, 3, 1, 1, 1, 1),   // no images
			mustConv(layout, 4, 8, 4, 4, 4, 4, 1, 1, 0, 0),   // ConvTranspose2d 1×1 → 4×4
			mustConv(layout, 4, 1, 28, 28, 4, 4, 2, 2, 1, 1), // MNIST into the first layer
		)
	}
	gs = append(gs,
		mustConv(nn.NHWC, 4, 32, 14, 14, 4, 4, 2, 2, 1, 1), // 196×512 patches
		// More channels than a CPU pixel sums at a time (cpu's col2imBlock).
		mustConv(nn.NHWC, 1, 300, 5, 6, 3, 3, 2, 2, 1, 1),
		mustConv(nn.NCHW, 1, 300, 6, 5, 3, 3, 2, 2, 1, 1),
		// Layout conversions (1×1, stride 1, no padding) larger than
		// cpu's transposition tiles, and a DCGAN weight's.
		mustConv(nn.NCHW, 3, 40, 5, 7, 1, 1, 1, 1, 0, 0),
		mustConv(nn.NCHW, 128, 64, 4, 4, 1, 1, 1, 1, 0, 0),
		// Wider than the column taps cpu's Col2Im keeps (col2imTapCache).
		mustConv(nn.NHWC, 1, 1, 3, 600, 4, 4, 2, 2, 1, 1),
		mustConv(nn.NHWC, 1, 2, 2, 530, 3, 3, 1, 1, 1, 1))
	// Cropped grids (PixelCNN's masked convolutions: the kernel's top rows
	// over images padded on top only), and one cropped on the right; the
	// first ones again with the kernel cut to its first taps (mask B's and
	// mask A's), and a cut in the middle of a row, in the first row and at
	// every tap.
	for _, layout := range []nn.ImageLayout{nn.NHWC, nn.NCHW} {
		b := cropped(mustConv(layout, 2, 3, 6, 5, 2, 3, 1, 1, 1, 1), 6, 5)
		a := cropped(mustConv(layout, 2, 1, 7, 7, 4, 7, 1, 1, 3, 3), 7, 7)
		gs = append(gs, b, a, cropped(mustConv(layout, 2, 4, 5, 6, 3, 3, 2, 2, 1, 1), 2, 2),
			withTaps(b, 5), withTaps(a, 24),
			withTaps(mustConv(layout, 2, 3, 5, 6, 3, 3, 2, 2, 1, 1), 4),
			withTaps(mustConv(layout, 1, 2, 4, 4, 3, 3, 1, 1, 1, 1), 1),
			withTaps(mustConv(layout, 1, 2, 4, 4, 3, 3, 1, 1, 1, 1), 9),
			withTaps(mustConv(nn.NHWC, 2, 300, 3, 4, 2, 2, 1, 1, 1, 1), 3))
	}
	return gs
}

// withTaps is g with its kernel cut to the first taps positions.
func withTaps(g nn.ConvGeom, taps int) nn.ConvGeom {
	g.Taps = taps
	return g
}

// cropped is g with its grid cropped to oh×ow.
func cropped(g nn.ConvGeom, oh, ow int) nn.ConvGeom {
	if oh > g.OH || ow > g.OW {
		panic(fmt.Sprintf("backendtest: %v cannot be cropped to %dx%d", g, oh, ow))
	}
	g.OH, g.OW = oh, ow
	return g
}

func convCases() []*testCase {
	var cs []*testCase
	for k, g := range convGeoms() {
		cs = append(cs, im2colCase("", g), col2imCase("", g, 0))
		// beta ≠ 0: 0.5 everywhere, 1 and −2 in turn.
		cs = append(cs, col2imCase("", g, 0.5), col2imCase("", g, []float32{1, -2}[k%2]))
	}
	return cs
}

// convErrorCases are the argument errors of Im2Col and Col2Im: a grid
// inconsistent with the kernel, stride and padding (operands shaped for
// that grid), operands of the wrong shape or layout, and geometries that
// are invalid in themselves. Strided and foreign operands come from
// derivedErrorCases.
func convErrorCases() []errCase {
	base := mustConv(nn.NHWC, 2, 3, 5, 6, 3, 3, 2, 2, 1, 1) // 3×3 grid
	type variant struct {
		what     string
		g        nn.ConvGeom
		img, col [2]int // operand shapes; zero: those of g
	}
	edit := func(f func(g *nn.ConvGeom)) nn.ConvGeom {
		g := base
		f(&g)
		return g
	}
	vs := []variant{
		{what: "OH one more than the grid", g: edit(func(g *nn.ConvGeom) { g.OH++ })},
		{what: "OW one more than the grid", g: edit(func(g *nn.ConvGeom) { g.OW++ })},
		{what: "OH 0", g: edit(func(g *nn.ConvGeom) { g.OH = 0 }), col: [2]int{1, 3 * 3 * 3}},
		{what: "taps past the kernel", g: edit(func(g *nn.ConvGeom) { g.Taps = 10 }), col: [2]int{2 * 3 * 3, 3 * 3 * 3}},
		{what: "negative taps", g: edit(func(g *nn.ConvGeom) { g.Taps = -1 }), col: [2]int{2 * 3 * 3, 3 * 3 * 3}},
		{what: "images one row short", g: base, img: [2]int{2*5*6 - 1, 3}},
		{what: "images in the NCHW shape", g: base, img: [2]int{2, 3 * 5 * 6}},
		{what: "patches one column short", g: base, col: [2]int{2 * 3 * 3, 3*3*3 - 1}},
		{what: "patches one row long", g: base, col: [2]int{2*3*3 + 1, 3 * 3 * 3}},
		{what: "unknown layout", g: edit(func(g *nn.ConvGeom) { g.Layout = nn.NCHW + 1 })},
		{what: "stride 0", g: edit(func(g *nn.ConvGeom) { g.SH = 0 })},
		{what: "negative padding", g: edit(func(g *nn.ConvGeom) { g.PW = -1 })},
		{what: "kernel larger than the padded image", g: edit(func(g *nn.ConvGeom) { g.KW = 9 })},
		{what: "no channels", g: edit(func(g *nn.ConvGeom) { g.C = 0 }), img: [2]int{60, 1}, col: [2]int{18, 1}},
		{what: "negative N", g: edit(func(g *nn.ConvGeom) { g.N = -1 }), img: [2]int{60, 3}, col: [2]int{18, 27}},
	}
	var out []errCase
	for _, v := range vs {
		g := v.g
		ir, ic := g.ImageShape()
		if v.img != [2]int{} {
			ir, ic = v.img[0], v.img[1]
		}
		cr, cc := g.ColsShape()
		if v.col != [2]int{} {
			cr, cc = v.col[0], v.col[1]
		}
		out = append(out,
			errCase{"Im2Col", v.what, ms(small(cr, cc), small(ir, ic)), func(b nn.Backend, x []nn.Mat) { b.Im2Col(x[0], x[1], g) }},
			errCase{"Col2Im", v.what + ", beta=0", ms(small(ir, ic), small(cr, cc)), func(b nn.Backend, x []nn.Mat) { b.Col2Im(x[0], x[1], g, 0) }},
			errCase{"Col2Im", v.what + ", beta=0.5", ms(small(ir, ic), small(cr, cc)), func(b nn.Backend, x []nn.Mat) { b.Col2Im(x[0], x[1], g, 0.5) }})
	}
	return out
}

// convGradChecks check the two ops as each other's derivative on the
// reference backend, which is what Conv2d's backward (Col2Im of the
// patch gradient) and ConvTranspose2d's backward (Im2Col of the output
// gradient) rely on: finite differences of L = Σ w ⊙ Im2Col(x) in x must
// be Col2Im(w), and of L = Σ w ⊙ Col2Im(y, beta) in y and in the old
// image must be Im2Col(w) and beta·w, on one small geometry per layout;
// then the adjoint identity ⟨Im2Col(x), y⟩ = ⟨x, Col2Im(y)⟩ on every
// geometry of the conformance cases.
func convGradChecks() []gradCheck {
	var gc []gradCheck
	for _, layout := range []nn.ImageLayout{nn.NHWC, nn.NCHW} {
		g := mustConv(layout, 2, 2, 5, 4, 3, 2, 2, 1, 1, 0)
		ir, ic := g.ImageShape()
		cr, cc := g.ColsShape()
		gc = append(gc, gradCheck{"Col2Im as Im2Col's gradient/" + geomName(g), func(gr *grad) error {
			xv, wv := gr.vals(ir*ic, -1, 1), gr.vals(cr*cc, -1, 1)
			x, cols, w, dx := gr.mat(ir, ic, xv), gr.zeros(cr, cc), gr.mat(cr, cc, wv), gr.zeros(ir, ic)
			want := fd(func(xs []float64) float64 {
				gr.set(x, xs)
				gr.b.Im2Col(cols, x, g)
				return dot(wv, gr.get(cols))
			}, xv)
			gr.b.Col2Im(dx, w, g, 0)
			return gr.compare("dx", want, gr.get(dx))
		}}, gradCheck{"Im2Col as Col2Im's gradient/" + geomName(g), func(gr *grad) error {
			const beta = 0.75
			yv, img0, wv := gr.vals(cr*cc, -1, 1), gr.vals(ir*ic, -1, 1), gr.vals(ir*ic, -1, 1)
			y, img, w, dy := gr.mat(cr, cc, yv), gr.zeros(ir, ic), gr.mat(ir, ic, wv), gr.zeros(cr, cc)
			loss := func(ys, i0 []float64) float64 {
				gr.set(y, ys)
				gr.set(img, i0)
				gr.b.Col2Im(img, y, g, beta)
				return dot(wv, gr.get(img))
			}
			wantY := fd(func(ys []float64) float64 { return loss(ys, img0) }, yv)
			wantImg := fd(func(i0 []float64) float64 { return loss(yv, i0) }, img0)
			gr.b.Im2Col(dy, w, g)
			if err := gr.compare("dy", wantY, gr.get(dy)); err != nil {
				return err
			}
			dimg := make([]float64, len(wv))
			for i, v := range wv {
				dimg[i] = beta * v
			}
			return gr.compare("dimg", wantImg, dimg)
		}})
	}
	gc = append(gc, gradCheck{"Im2Col and Col2Im adjoint on every conformance geometry", func(gr *grad) error {
		for _, g := range convGeoms() {
			if err := adjoint(gr, g); err != nil {
				return fmt.Errorf("%s: %w", geomName(g), err)
			}
		}
		return nil
	}})
	return gc
}

// adjoint checks ⟨Im2Col(x), y⟩ = ⟨x, Col2Im(y)⟩ for random x and y on g,
// in float64. Both sides sum the same n products x_i·y_j in two orders,
// so they differ by at most 2·n·2⁻⁵³·Σ|x_i·y_j| (recursive summation,
// twice); a missed, extra or misplaced entry changes the sum by a whole
// product, of order Σ|x·y|/n.
func adjoint(gr *grad, g nn.ConvGeom) error {
	ir, ic := g.ImageShape()
	cr, cc := g.ColsShape()
	xv, yv := gr.vals(ir*ic, -1, 1), gr.vals(cr*cc, -1, 1)
	x, y, cols, img := gr.mat(ir, ic, xv), gr.mat(cr, cc, yv), gr.zeros(cr, cc), gr.zeros(ir, ic)
	defer func() {
		for _, m := range []nn.Mat{x, y, cols, img} {
			gr.b.Free(m)
		}
	}()
	gr.b.Im2Col(cols, x, g)
	gr.b.Col2Im(img, y, g, 0)
	pc := gr.get(cols)
	lhs, rhs := dot(pc, yv), dot(xv, gr.get(img))
	var mag float64
	n := 0
	for i, v := range pc {
		mag += math.Abs(v * yv[i])
		if v != 0 {
			n++
		}
	}
	lim := 2*float64(n+1)*0x1p-53*mag + 1e-300
	if !(math.Abs(lhs-rhs) <= lim) {
		return fmt.Errorf("⟨Im2Col(x), y⟩ = %v, ⟨x, Col2Im(y)⟩ = %v: differ by %.3g, allowed %.3g", lhs, rhs, math.Abs(lhs-rhs), lim)
	}
	gr.worst = max(gr.worst, math.Abs(lhs-rhs)/lim)
	if g.N > 0 && n == 0 {
		return fmt.Errorf("Im2Col copied nothing")
	}
	return nil
}
