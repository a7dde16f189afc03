package ref

import (
	"math"

	"gan/nn"
)

// The ops of attention and transformer MLPs: BatchMatMul, CausalSoftmax
// and its backward, GELU and its backward, in float64.

// BatchMatMul computes C_i = op(A_i)·op(B_i) + beta·C_i for every block
// (s, h) of the operands (see [nn.Backend]) with MatMul on block views.
// With beta = 0 the old C is not read. A, B and C may be strided.
func (b *Backend) BatchMatMul(c, a, bm nn.Mat, batch, heads int, transA, transB bool, beta float32) {
	const op = "BatchMatMul"
	if b.err != nil {
		return
	}
	b.getStrided(op, c)
	b.getStrided(op, a)
	b.getStrided(op, bm)
	if b.err != nil {
		return
	}
	if _, _, _, err := nn.BatchMatMulDims(c, a, bm, batch, heads, transA, transB); !b.check(op, err) {
		return
	}
	for s := 0; s < batch; s++ {
		for h := 0; h < heads; h++ {
			b.MatMul(block(c, batch, heads, s, h), block(a, batch, heads, s, h), block(bm, batch, heads, s, h), transA, transB, beta)
		}
	}
}

// block returns block (s, h) of x cut into batch×heads blocks.
func block(x nn.Mat, batch, heads, s, h int) nn.Mat {
	r, w := x.Rows/batch, x.Cols/heads
	if r == 0 || w == 0 {
		return nn.Mat{Rows: r, Cols: w, Off: x.Off, Buf: x.Buf} // empty: no offset to fall outside
	}
	return nn.Mat{Rows: r, Cols: w, Off: x.Off + s*r*x.LD() + h*w, Stride: x.LD(), Buf: x.Buf}
}

// CausalSoftmax computes the causal row softmax of scale·x in t×t blocks
// (see [nn.Backend]) in float64; masked entries are 0 and never read.
func (b *Backend) CausalSoftmax(y, x nn.Mat, t int, scale float32) {
	const op = "CausalSoftmax"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yv, xv := b.get(op, y), b.get(op, x)
	if b.err != nil || !b.check(op, nn.CheckCausalSoftmax(x, t, scale)) {
		return
	}
	sc := float64(scale)
	for r := 0; r < x.Rows; r++ {
		i := r % t
		for c0 := 0; c0 < x.Cols; c0 += t {
			xr := xv.data[r*x.Cols+c0 : r*x.Cols+c0+t]
			yr := yv.data[r*x.Cols+c0 : r*x.Cols+c0+t]
			m := math.Inf(-1)
			for _, v := range xr[:i+1] {
				m = math.Max(m, sc*v)
			}
			var s float64
			for _, v := range xr[:i+1] {
				s += math.Exp(sc*v - m)
			}
			for j := range yr {
				if j <= i {
					yr[j] = math.Exp(sc*xr[j]-m) / s
				} else {
					yr[j] = 0
				}
			}
		}
	}
}

// CausalSoftmaxBackward computes dx = scale·y ⊙ (dy − Σ_{k≤i} y_k·dy_k)
// in the kept entries and 0 in the masked ones, in float64. dx may be dy.
func (b *Backend) CausalSoftmaxBackward(dx, dy, y nn.Mat, t int, scale float32) {
	const op = "CausalSoftmaxBackward"
	if b.err != nil || !b.same(op, dx, dy, y) {
		return
	}
	dxv, dyv, yv := b.get(op, dx), b.get(op, dy), b.get(op, y)
	if b.err != nil || !b.check(op, nn.CheckCausalSoftmax(y, t, scale)) {
		return
	}
	for r := 0; r < y.Rows; r++ {
		i := r % t
		for c0 := 0; c0 < y.Cols; c0 += t {
			o := r*y.Cols + c0
			yr, dyr, dxr := yv.data[o:o+t], dyv.data[o:o+t], dxv.data[o:o+t]
			var d float64
			for k := 0; k <= i; k++ {
				d += yr[k] * dyr[k]
			}
			for j := range dxr {
				if j <= i {
					dxr[j] = float64(scale) * yr[j] * (dyr[j] - d)
				} else {
					dxr[j] = 0
				}
			}
		}
	}
}

// geluPhi is Φ(x), the standard normal CDF, as 0.5·erfc(−x/√2).
func geluPhi(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// GELU computes y = x·Φ(x) in float64; GELU(−Inf) = −0. y may be x.
func (b *Backend) GELU(y, x nn.Mat) {
	const op = "GELU"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yv, xv := b.get(op, y), b.get(op, x)
	if b.err != nil {
		return
	}
	for i, v := range xv.data {
		yv.data[i] = geluValue(v)
	}
}

// geluValue and geluDeriv are GELU(v) = v·Φ(v) (−0 at −Inf) and GELU′(v)
// = Φ(v) + v·φ(v) (with v·φ(v) = 0 at ±Inf) in float64.
func geluValue(v float64) float64 {
	if math.IsInf(v, -1) {
		return math.Copysign(0, -1)
	}
	return v * geluPhi(v)
}

func geluDeriv(v float64) float64 {
	d := geluPhi(v)
	if !math.IsInf(v, 0) {
		d += v * math.Exp(-v*v/2) / math.Sqrt(2*math.Pi)
	}
	return d
}

// GELUAndGrad computes y = GELU(x) and d = GELU′(x) in float64. y or d may
// be x.
func (b *Backend) GELUAndGrad(y, d, x nn.Mat) {
	const op = "GELUAndGrad"
	if b.err != nil || !b.same(op, y, d, x) {
		return
	}
	yv, dv, xv := b.get(op, y), b.get(op, d), b.get(op, x)
	if b.err != nil {
		return
	}
	for i, v := range xv.data {
		yv.data[i], dv.data[i] = geluValue(v), geluDeriv(v)
	}
}

// GELUBackward computes dx = dy·(Φ(x) + x·φ(x)) in float64, with x·φ(x) =
// 0 at ±Inf. dx may be dy.
func (b *Backend) GELUBackward(dx, dy, x nn.Mat) {
	const op = "GELUBackward"
	if b.err != nil || !b.same(op, dx, dy, x) {
		return
	}
	dxv, dyv, xv := b.get(op, dx), b.get(op, dy), b.get(op, x)
	if b.err != nil {
		return
	}
	for i, v := range xv.data {
		dxv.data[i] = dyv.data[i] * geluDeriv(v)
	}
}
