package pixelcnn

import (
	"fmt"
	"math"

	"gan/cpu/sgemm"
	"gan/nn/models/made/autoreg"
)

// The fast sampler. Every activation of every layer at pixel (r, c) is
// final as soon as the pixel before it in raster order is drawn: the 7×7
// mask-A convolution reads rows r−3 … r−1 and the pixels left of c in row
// r, each mask-B 3×3 convolution reads the layer below at (r−1, c−1 … c+1),
// (r, c−1) and (r, c), all computed at earlier steps, and the 1×1 layers
// read their own pixel. So the sampler visits the 784 pixels once, in
// raster order, runs the whole network at that one pixel for the chunk of
// images (k rows per product), draws the pixel, and keeps only what later
// pixels read: the input to each block's 3×3 convolution at the current
// and the previous row (the image itself is the input conv's cache). That
// is one image's worth of network work per image, where rerunning the
// network at each step costs 784 images' worth.
//
// The gated stacks go the same way: the vertical stack at row r reads only
// rows above r, so all its layers are computed for the whole row when the
// row starts (stackRow), and the horizontal stack and the head then run
// at one pixel per step (stackLogit), caching each layer's vertical stack
// at rows r−1 and r and its horizontal stack along row r.
//
// The products are the CPU backend's own (package sgemm) on the same
// operands, in the same patch order, with the masked and padding taps kept
// as zeros, and package sgemm sums every element of a product in an order
// fixed by the inner dimension alone; the logits are therefore bit for bit
// those of the whole-image network on the CPU backend (TestFastSamplerIsExact).

// hostConv is a convolution on the host: the masked weight as the
// [out K] kernel matrix in the graph's patch order, and the bias.
type hostConv struct {
	out, k, in int
	w, b       []float32
}

// hostNet is the network's weights on the host.
type hostNet struct {
	h      int
	input  hostConv
	blocks []struct{ in, conv, out hostConv }
	head0  hostConv
	head1  hostConv
	gated  bool
	stack  []hostStack
}

// hostStack is a layer of the gated stacks on the host (out is empty for
// layer 0).
type hostStack struct{ vconv, hconv, link, out hostConv }

// download reads c's weight (times its mask) and bias into the patch
// order of the layout the graph uses: (ky, kx) for the one-channel input
// (NCHW), (ky, kx, channel) for the channels-last layers, over the top
// K/2+1 kernel rows that the graph's masked convolution uses.
func (m *PixelCNN) download(c *conv) (hostConv, error) {
	w := make([]float32, c.W.Len())
	b := make([]float32, c.B.Len())
	if err := m.B.Download(w, c.W.Value); err != nil {
		return hostConv{}, err
	}
	if err := m.B.Download(b, c.B.Value); err != nil {
		return hostConv{}, err
	}
	if c.M != nil {
		mk := make([]float32, len(w))
		if err := m.B.Download(mk, c.M.Value); err != nil {
			return hostConv{}, err
		}
		for i := range w {
			w[i] *= mk[i]
		}
	}
	kk := c.KH * c.K
	taps := kk
	if c.M != nil && c.KH == c.K {
		taps = (c.K/2 + 1) * c.K
	}
	hc := hostConv{out: c.Out, k: c.In * taps, in: c.In, w: make([]float32, c.Out*c.In*taps), b: b}
	for o := range c.Out {
		for ch := range c.In {
			for t := range taps {
				hc.w[o*hc.k+t*c.In+ch] = w[(o*c.In+ch)*kk+t]
			}
		}
	}
	return hc, nil
}

func (m *PixelCNN) hostNet() (*hostNet, error) {
	n := &hostNet{h: m.H, gated: m.gated}
	var err error
	get := func(c *conv) hostConv {
		if err != nil {
			return hostConv{}
		}
		var hc hostConv
		hc, err = m.download(c)
		return hc
	}
	if m.gated {
		for _, l := range m.stack {
			hs := hostStack{vconv: get(l.vconv), hconv: get(l.hconv), link: get(l.link)}
			if l.out != nil {
				hs.out = get(l.out)
			}
			n.stack = append(n.stack, hs)
		}
	} else {
		n.input = get(m.input)
	}
	for _, bl := range m.blocks {
		n.blocks = append(n.blocks, struct{ in, conv, out hostConv }{get(bl.in), get(bl.conv), get(bl.out)})
	}
	n.head0, n.head1 = get(m.head0), get(m.head1)
	if err != nil {
		return nil, fmt.Errorf("PixelCNN sampler: %w", err)
	}
	return n, nil
}

// apply computes y = x·Wᵀ + b for the rows of x ([rows c.k]) into y
// ([rows c.out]), then ReLU when relu.
func (c *hostConv) apply(rows int, x, y []float32, relu bool) {
	sgemm.Sgemm(false, true, rows, c.out, c.k, x, c.k, c.w, c.k, 0, y, c.out)
	for r := range rows {
		row := y[r*c.out : (r+1)*c.out]
		for j, v := range c.b {
			row[j] += v
		}
		if relu {
			reluInPlace(row)
		}
	}
}

func reluInPlace(x []float32) {
	for i, v := range x {
		if !(v > 0) {
			x[i] = 0
		}
	}
}

// fastBufs are the sampler's host buffers for a chunk of rows images.
type fastBufs struct {
	rows                    int
	img, patch, y, a, t, t2 []float32
	o, hd, lg               []float32
	// cache holds, per block, the input of the 3×3 convolution at the
	// rows r−1 and r it reads: [rows 2 28 h], row y in slot y mod 2.
	cache [][]float32

	// The gated stacks': per layer, the vertical convolution's output at
	// the current row [rows 28 2h], the vertical stack at rows r−1 and r
	// [rows 2 28 h] (row y in slot y mod 2) and the horizontal stack at the
	// current row [rows 28 h]; and the row products' operands.
	vf, v, hrow       [][]float32
	rowPatch, rowGate []float32
	lk                []float32
}

func (n *hostNet) bufs(rows int) *fastBufs {
	h := n.h
	ch := h
	if n.gated {
		ch = 2 * h
	}
	b := &fastBufs{rows: rows, img: make([]float32, rows*D), patch: make([]float32, rows*max(28, 6*h)),
		y: make([]float32, rows*2*h), a: make([]float32, rows*2*h), t: make([]float32, rows*h),
		t2: make([]float32, rows*ch), o: make([]float32, rows*2*h), hd: make([]float32, rows*HeadChannels),
		lg: make([]float32, rows)}
	for range n.blocks {
		b.cache = append(b.cache, make([]float32, rows*2*Side*h))
	}
	if n.gated {
		b.patch = make([]float32, rows*max(7, 3*h))
		b.rowPatch = make([]float32, rows*Side*max(21, 6*h))
		b.rowGate = make([]float32, rows*Side*h)
		b.lk = make([]float32, rows*2*h)
		for range n.stack {
			b.vf = append(b.vf, make([]float32, rows*Side*2*h))
			b.v = append(b.v, make([]float32, rows*2*Side*h))
			b.hrow = append(b.hrow, make([]float32, rows*Side*h))
		}
	}
	return b
}

// logit runs the network at pixel p = (r, c) of the rows images of b,
// storing the 3×3 convolutions' inputs there, and leaves the logits in
// b.lg.
func (n *hostNet) logit(b *fastBufs, r, c int) {
	h, rows, p := n.h, b.rows, r*Side+c
	// The 7×7 mask-A convolution: the 4×7 patch of rows r−3 … r.
	patch := b.patch[:rows*28]
	for i := range rows {
		img := b.img[i*D : (i+1)*D]
		dst := patch[i*28 : (i+1)*28]
		for ky := range 4 {
			y := r + ky - 3
			for kx := range 7 {
				x := c + kx - 3
				v := float32(0)
				if y >= 0 && y < Side && x >= 0 && x < Side {
					v = img[y*Side+x]
				}
				dst[ky*7+kx] = v
			}
		}
	}
	n.input.apply(rows, patch, b.y, false)
	for l := range n.blocks {
		bl := &n.blocks[l]
		copy(b.a, b.y)
		reluInPlace(b.a)
		bl.in.apply(rows, b.a, b.t, true)
		cache := b.cache[l]
		slot := func(i, y, x int) []float32 {
			q := (i*2+y%2)*Side + x
			return cache[q*h : (q+1)*h]
		}
		for i := range rows {
			copy(slot(i, r, c), b.t[i*h:(i+1)*h])
		}
		patch := b.patch[:rows*6*h]
		for i := range rows {
			dst := patch[i*6*h : (i+1)*6*h]
			for ky := range 2 {
				y := r + ky - 1
				for kx := range 3 {
					x := c + kx - 1
					d := dst[(ky*3+kx)*h : (ky*3+kx+1)*h]
					// Taps after p are masked (zero weights); they read zeros.
					if y >= 0 && y < Side && x >= 0 && x < Side && y*Side+x <= p {
						copy(d, slot(i, y, x))
					} else {
						clear(d)
					}
				}
			}
		}
		if n.gated {
			bl.conv.apply(rows, patch, b.t2, false)
			gate(rows, h, b.t2, b.t)
			bl.out.apply(rows, b.t, b.o, false)
		} else {
			bl.conv.apply(rows, patch, b.t2, true)
			bl.out.apply(rows, b.t2, b.o, false)
		}
		for j, v := range b.o {
			b.y[j] += v
		}
	}
	copy(b.a, b.y)
	reluInPlace(b.a)
	n.head0.apply(rows, b.a, b.hd, true)
	n.head1.apply(rows, b.hd, b.lg, false)
}

// sample draws the n images of z (or completes them below the first rows
// rows of known) pixel by pixel on the host; logits, when not nil, gets
// the logit of every pixel (for the tests).
func (m *PixelCNN) sample(z, known []float32, rows int, out, logits []float32) error {
	n := len(z) / D
	if len(z) != n*D || len(out) != n*D {
		return fmt.Errorf("generate: %d noise values and %d outputs for %d-pixel images", len(z), len(out), D)
	}
	net, err := m.hostNet()
	if err != nil {
		return err
	}
	var b *fastBufs
	for lo := 0; lo < n; lo += sampleChunk {
		k := min(sampleChunk, n-lo)
		// At least two rows, so that the products take package sgemm's
		// matrix path, as the whole-image network's do (one row would
		// take its matrix-vector path, summed in another order).
		r := max(k, 2)
		if b == nil || b.rows != r {
			b = net.bufs(r)
		}
		clear(b.img)
		for p := range D {
			if net.gated {
				if p%Side == 0 {
					net.stackRow(b, p/Side)
				}
				net.stackLogit(b, p/Side, p%Side)
			} else {
				net.logit(b, p/Side, p%Side)
			}
			for i := range k {
				if logits != nil {
					logits[(lo+i)*D+p] = b.lg[i]
				}
				if known != nil && p < rows*Side {
					b.img[i*D+p] = known[(lo+i)*D+p]
				} else {
					b.img[i*D+p] = autoreg.Draw(z[(lo+i)*D+p], b.lg[i])
				}
			}
		}
		for i := range k {
			for j, v := range b.img[i*D : (i+1)*D] {
				out[(lo+i)*D+j] = 2*v - 1
			}
		}
	}
	return nil
}

// gate writes tanh(f) ⊙ σ(g) of the rows [f g] of fg ([rows 2h]) to t
// ([rows h]), as the CPU backend computes them: tanh and σ in float64,
// rounded once to float32 (its tanh is float32(math.Tanh) exactly), and
// the product in float32.
func gate(rows, h int, fg, t []float32) {
	for i := range rows {
		f, g := fg[i*2*h:i*2*h+h], fg[i*2*h+h:(i+1)*2*h]
		for j := range h {
			t[i*h+j] = float32(math.Tanh(float64(f[j]))) * float32(sigmoid64(float64(g[j])))
		}
	}
}

// sigmoid64 is σ(x) in float64, in the CPU backend's form.
func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// stackRow computes the vertical stack of every layer at row r, for all
// columns: it reads only rows above r of the image (layer 0) and the
// vertical stack below it at rows r−1 and r, all final.
func (n *hostNet) stackRow(b *fastBufs, r int) {
	h, rows := n.h, b.rows
	for l := range n.stack {
		st := &n.stack[l]
		k := st.vconv.k
		patch := b.rowPatch[:rows*Side*k]
		for i := range rows {
			for x := range Side {
				dst := patch[(i*Side+x)*k : (i*Side+x+1)*k]
				if l == 0 {
					img := b.img[i*D : (i+1)*D]
					for ky := range 3 {
						y := r + ky - 3
						for kx := range 7 {
							xx := x + kx - 3
							v := float32(0)
							if y >= 0 && xx >= 0 && xx < Side {
								v = img[y*Side+xx]
							}
							dst[ky*7+kx] = v
						}
					}
					continue
				}
				v := b.v[l-1]
				for ky := range 2 {
					y := r + ky - 1
					for kx := range 3 {
						xx := x + kx - 1
						d := dst[(ky*3+kx)*h : (ky*3+kx+1)*h]
						if y >= 0 && xx >= 0 && xx < Side {
							q := (i*2+y%2)*Side + xx
							copy(d, v[q*h:(q+1)*h])
						} else {
							clear(d)
						}
					}
				}
			}
		}
		st.vconv.apply(rows*Side, patch, b.vf[l], false)
		if l+1 < len(n.stack) {
			gate(rows*Side, h, b.vf[l], b.rowGate)
			for i := range rows {
				copy(b.v[l][(i*2+r%2)*Side*h:(i*2+r%2+1)*Side*h], b.rowGate[i*Side*h:(i+1)*Side*h])
			}
		}
	}
}

// stackLogit runs the horizontal stack and the head at pixel (r, c) (the
// vertical stack's row r done by stackRow) and leaves the logits in b.lg.
func (n *hostNet) stackLogit(b *fastBufs, r, c int) {
	h, rows := n.h, b.rows
	hs := b.t[:rows*h]
	for l := range n.stack {
		st := &n.stack[l]
		k := st.hconv.k
		patch := b.patch[:rows*k]
		for i := range rows {
			dst := patch[i*k : (i+1)*k]
			if l == 0 {
				img := b.img[i*D+r*Side : i*D+(r+1)*Side]
				for kx := range 7 {
					xx := c + kx - 3
					v := float32(0)
					if xx >= 0 && xx < c { // the taps from c on are masked
						v = img[xx]
					}
					dst[kx] = v
				}
				continue
			}
			prev := b.hrow[l-1][i*Side*h : (i+1)*Side*h]
			for kx := range 3 {
				xx := c + kx - 1
				d := dst[kx*h : (kx+1)*h]
				if xx >= 0 && xx <= c { // c+1 is masked (not computed yet)
					copy(d, prev[xx*h:(xx+1)*h])
				} else {
					clear(d)
				}
			}
		}
		a := b.a[:rows*2*h]
		st.hconv.apply(rows, patch, a, false)
		lin := b.o[:rows*2*h]
		for i := range rows {
			copy(lin[i*2*h:(i+1)*2*h], b.vf[l][(i*Side+c)*2*h:(i*Side+c+1)*2*h])
		}
		st.link.apply(rows, lin, b.lk, false)
		for j, v := range b.lk {
			a[j] += v
		}
		if l == 0 {
			gate(rows, h, a, hs)
		} else {
			gt := b.t2[:rows*h]
			gate(rows, h, a, gt)
			out := b.y[:rows*h]
			st.out.apply(rows, gt, out, false)
			for j, v := range out {
				hs[j] += v
			}
		}
		for i := range rows {
			copy(b.hrow[l][(i*Side+c)*h:(i*Side+c+1)*h], hs[i*h:(i+1)*h])
		}
	}
	a := b.a[:rows*h]
	copy(a, hs)
	reluInPlace(a)
	n.head0.apply(rows, a, b.hd, true)
	n.head1.apply(rows, b.hd, b.lg, false)
}
