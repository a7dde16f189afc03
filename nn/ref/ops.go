package ref

import (
	"fmt"
	"math"

	"gan/nn"
)

// same records an error for op unless all matrices have the same shape.
func (b *Backend) same(op string, ms ...nn.Mat) bool {
	if err := nn.CheckSameShape(op, ms...); err != nil {
		b.fail(fmt.Errorf("ref: %w", err))
		return false
	}
	return true
}

// MatMul computes C = op(A)·op(B) + beta·C in float64. With beta = 0 the
// old C is not read. A, B and C may be strided.
func (b *Backend) MatMul(c, a, bm nn.Mat, transA, transB bool, beta float32) {
	const op = "MatMul"
	if b.err != nil {
		return
	}
	cv, av, bv := b.getStrided(op, c), b.getStrided(op, a), b.getStrided(op, bm)
	if b.err != nil {
		return
	}
	m, n, k, err := nn.MatMulDims(c, a, bm, transA, transB)
	if !b.check(op, err) {
		return
	}
	// opA is element (i, p) of op(A).
	opA := func(i, p int) float64 {
		if transA {
			return av.data[av.at(p, i)]
		}
		return av.data[av.at(i, p)]
	}
	for i := 0; i < m; i++ {
		if transB {
			// Row j of B is column j of op(B): dot products.
			for j := 0; j < n; j++ {
				var s float64
				for p := 0; p < k; p++ {
					s += opA(i, p) * bv.data[bv.at(j, p)]
				}
				ci := cv.at(i, j)
				if beta != 0 {
					s += float64(beta) * cv.data[ci]
				}
				cv.data[ci] = s
			}
			continue
		}
		// Row i of C accumulates rows of B, which are contiguous.
		crow := cv.data[cv.at(i, 0):cv.at(i, n)]
		for j := range crow {
			if beta == 0 {
				crow[j] = 0
			} else {
				crow[j] *= float64(beta)
			}
		}
		for p := 0; p < k; p++ {
			x := opA(i, p)
			brow := bv.data[bv.at(p, 0):bv.at(p, n)]
			for j, y := range brow {
				crow[j] += x * y
			}
		}
	}
}

// act returns act(x) in float64.
func act(x float64, a nn.Act) float64 {
	switch a.Kind {
	case nn.ActLeakyReLU:
		if x > 0 {
			return x
		}
		return x * float64(a.Slope)
	case nn.ActTanh:
		return math.Tanh(x)
	case nn.ActSigmoid:
		return sigmoid(x)
	}
	return x
}

// sigmoid is σ(x) = 1/(1 + e^−x), in a form that does not overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// AddBias adds the 1×n row bias to every row of the m×n y.
func (b *Backend) AddBias(y, bias nn.Mat) { b.biasAct("AddBias", y, bias, nn.Act{}) }

// BiasAct computes y = act(y + bias) in place; bias is a 1×n row or the
// zero Mat.
func (b *Backend) BiasAct(y, bias nn.Mat, a nn.Act) { b.biasAct("BiasAct", y, bias, a) }

// biasAct is AddBias and BiasAct, reporting errors as op.
func (b *Backend) biasAct(op string, y, bias nn.Mat, a nn.Act) {
	if b.err != nil || !b.check(op, nn.CheckAct(a)) {
		return
	}
	yv := b.get(op, y)
	var bv view
	withBias := !bias.Empty() || op == "AddBias"
	if withBias {
		bv = b.get(op, bias)
		if b.err == nil {
			b.check(op, nn.CheckBias(bias, y))
		}
	}
	if b.err != nil {
		return
	}
	for i := range yv.data {
		v := yv.data[i]
		if withBias {
			v += bv.data[i%y.Cols]
		}
		yv.data[i] = act(v, a)
	}
}

// ColSum computes db = beta·db + Σ_rows dy; with beta = 0 the old db is
// not read.
func (b *Backend) ColSum(db, dy nn.Mat, beta float32) {
	const op = "ColSum"
	if b.err != nil {
		return
	}
	dbv, dyv := b.get(op, db), b.get(op, dy)
	if b.err != nil || !b.check(op, nn.CheckColSum(db, dy)) {
		return
	}
	for j := 0; j < dy.Cols; j++ {
		var s float64
		for i := 0; i < dy.Rows; i++ {
			s += dyv.data[i*dy.Cols+j]
		}
		if beta != 0 {
			s += float64(beta) * dbv.data[j]
		}
		dbv.data[j] = s
	}
}

// RowSumSq computes dst[i] = Σ_j x[i][j]².
func (b *Backend) RowSumSq(dst, x nn.Mat) {
	const op = "RowSumSq"
	if b.err != nil {
		return
	}
	dv, xv := b.get(op, dst), b.get(op, x)
	if b.err != nil || !b.check(op, nn.CheckRowSumSq(dst, x)) {
		return
	}
	for i := 0; i < x.Rows; i++ {
		var s float64
		for _, v := range xv.data[i*x.Cols : (i+1)*x.Cols] {
			s += v * v
		}
		dv.data[i] = s
	}
}

// Activate computes y = act(x); y may be x.
func (b *Backend) Activate(y, x nn.Mat, a nn.Act) {
	const op = "Activate"
	if b.err != nil || !b.check(op, nn.CheckAct(a)) || !b.same(op, y, x) {
		return
	}
	yv, xv := b.get(op, y), b.get(op, x)
	if b.err != nil {
		return
	}
	for i, v := range xv.data {
		yv.data[i] = act(v, a)
	}
}

// ActBackward computes dx = dy ⊙ act'(·) from the activation's output y:
// dy where y > 0 else dy·slope (LeakyReLU), dy·(1 − y²) (Tanh),
// dy·y·(1 − y) (Sigmoid). dx may be dy.
func (b *Backend) ActBackward(dx, dy, y nn.Mat, a nn.Act) {
	const op = "ActBackward"
	if b.err != nil || !b.check(op, nn.CheckAct(a)) || !b.same(op, dx, dy, y) {
		return
	}
	dxv, dyv, yv := b.get(op, dx), b.get(op, dy), b.get(op, y)
	if b.err != nil {
		return
	}
	for i, g := range dyv.data {
		v := yv.data[i]
		switch a.Kind {
		case nn.ActLeakyReLU:
			if !(v > 0) {
				g *= float64(a.Slope)
			}
		case nn.ActTanh:
			g *= 1 - v*v
		case nn.ActSigmoid:
			g *= v * (1 - v)
		}
		dxv.data[i] = g
	}
}

// Dropout keeps element i of x (row-major within the view) when
// nn.RandKey.Uniform(i) < float32(1 − p), the CPU backend's decision; the
// mask is then 1/(1 − p) in float64, else 0, and y = x·mask.
func (b *Backend) Dropout(y, mask, x nn.Mat, p float32, key nn.RandKey) {
	const op = "Dropout"
	if b.err != nil || !b.same(op, y, mask, x) || !b.check(op, nn.CheckDropout(p)) {
		return
	}
	yv, mv, xv := b.get(op, y), b.get(op, mask), b.get(op, x)
	if b.err != nil {
		return
	}
	keep := 1 - p // float32, as the float32 backends compare
	scale := 1 / (1 - float64(p))
	for i, v := range xv.data {
		var m float64
		if key.Uniform(uint64(i)) < keep {
			m = scale
		}
		mv.data[i] = m
		yv.data[i] = v * m
	}
}

// DropoutBackward computes dx = dy ⊙ mask; dx may be dy.
func (b *Backend) DropoutBackward(dx, dy, mask nn.Mat) {
	const op = "DropoutBackward"
	if b.err != nil || !b.same(op, dx, dy, mask) {
		return
	}
	dxv, dyv, mv := b.get(op, dx), b.get(op, dy), b.get(op, mask)
	if b.err != nil {
		return
	}
	for i, g := range dyv.data {
		dxv.data[i] = g * mv.data[i]
	}
}

// SigmoidBCE writes grad = scale·(σ(x) − t) and, into stats, the mean of
// max(x,0) − x·t + log1p(exp(−|x|)) and the mean σ(x), summed in element
// order. grad may be x.
func (b *Backend) SigmoidBCE(grad, stats, x, t nn.Mat, scale float32) {
	const op = "SigmoidBCE"
	if b.err != nil {
		return
	}
	gv, sv, xv, tv := b.get(op, grad), b.get(op, stats), b.get(op, x), b.get(op, t)
	if b.err != nil || !b.check(op, nn.CheckLoss(grad, stats, x, t)) {
		return
	}
	var loss, sig float64
	for i, v := range xv.data {
		tt := tv.data[i]
		s := sigmoid(v)
		loss += math.Max(v, 0) - v*tt + math.Log1p(math.Exp(-math.Abs(v)))
		sig += s
		gv.data[i] = float64(scale) * (s - tt)
	}
	n := float64(len(xv.data))
	sv.data[0], sv.data[1] = loss/n, sig/n
}

// rowMaxSumExp returns the maximum of x and Σ exp(x_j − max).
func rowMaxSumExp(x []float64) (mx, sum float64) {
	mx = math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, v)
	}
	for _, v := range x {
		sum += math.Exp(v - mx)
	}
	return mx, sum
}

// argmax returns the index of the first largest element of x.
func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// Softmax computes y = softmax(x) for each row (max-subtracted); y may be x.
func (b *Backend) Softmax(y, x nn.Mat) {
	const op = "Softmax"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yv, xv := b.get(op, y), b.get(op, x)
	if b.err != nil || x.Cols == 0 {
		return
	}
	for i := 0; i < x.Rows; i++ {
		xr := xv.data[i*x.Cols : (i+1)*x.Cols]
		yr := yv.data[i*x.Cols : (i+1)*x.Cols]
		mx, sum := rowMaxSumExp(xr)
		for j, v := range xr {
			yr[j] = math.Exp(v-mx) / sum
		}
	}
}

// SoftmaxCE writes grad = scale·(softmax(x) − t) and, into stats, the mean
// over rows of −Σ_{t≠0} t·log softmax(x) and the fraction of rows whose
// first arg max of x is the first arg max of t. grad may be x.
func (b *Backend) SoftmaxCE(grad, stats, x, t nn.Mat, scale float32) {
	const op = "SoftmaxCE"
	if b.err != nil {
		return
	}
	gv, sv, xv, tv := b.get(op, grad), b.get(op, stats), b.get(op, x), b.get(op, t)
	if b.err != nil || !b.check(op, nn.CheckSoftmaxCE(grad, stats, x, t)) {
		return
	}
	var loss, correct float64
	n := x.Cols
	for i := 0; i < x.Rows; i++ {
		xr, tr, gr := xv.data[i*n:(i+1)*n], tv.data[i*n:(i+1)*n], gv.data[i*n:(i+1)*n]
		if argmax(xr) == argmax(tr) {
			correct++
		}
		mx, sum := rowMaxSumExp(xr)
		lse := mx + math.Log(sum)
		for j, v := range xr {
			tt := tr[j]
			if tt != 0 {
				loss -= tt * (v - lse)
			}
			gr[j] = float64(scale) * (math.Exp(v-mx)/sum - tt)
		}
	}
	rows := float64(x.Rows)
	sv.data[0], sv.data[1] = loss/rows, correct/rows
}

// Adam applies one step of PyTorch's Adam (no weight decay) in float64:
//
//	m = β1·m + (1 − β1)·g,  v = β2·v + (1 − β2)·g²
//	p = p − lr/(1 − β1^step) · m / (√v/√(1 − β2^step) + eps)
func (b *Backend) Adam(p, g, m, v nn.Mat, s nn.AdamStep) {
	const op = "Adam"
	if b.err != nil || !b.same(op, p, g, m, v) {
		return
	}
	if _, err := s.Constants(); !b.check(op, err) {
		return
	}
	pv, gv, mv, vv := b.get(op, p), b.get(op, g), b.get(op, m), b.get(op, v)
	if b.err != nil {
		return
	}
	b1, b2 := float64(s.Beta1), float64(s.Beta2)
	bc1 := 1 - math.Pow(b1, float64(s.Step))
	bc2 := 1 - math.Pow(b2, float64(s.Step))
	stepSize := float64(s.LR) / bc1
	for i, gi := range gv.data {
		mi := b1*mv.data[i] + (1-b1)*gi
		vi := b2*vv.data[i] + (1-b2)*gi*gi
		mv.data[i], vv.data[i] = mi, vi
		pv.data[i] -= stepSize * mi / (math.Sqrt(vi)/math.Sqrt(bc2) + float64(s.Eps))
	}
}

// Copy copies src into dst: the same number of elements when both are
// contiguous, the same shape when either is strided.
func (b *Backend) Copy(dst, src nn.Mat) {
	const op = "Copy"
	if b.err != nil {
		return
	}
	dv, sv := b.getStrided(op, dst), b.getStrided(op, src)
	if b.err != nil || !b.check(op, nn.CheckCopy(dst, src)) {
		return
	}
	if dst.Contiguous() && src.Contiguous() {
		copy(dv.data, sv.data)
		return
	}
	for i := 0; i < dst.Rows; i++ {
		copy(dv.data[dv.at(i, 0):dv.at(i, dst.Cols)], sv.data[sv.at(i, 0):sv.at(i, dst.Cols)])
	}
}

// Fill sets every element of dst to value.
func (b *Backend) Fill(dst nn.Mat, value float32) {
	const op = "Fill"
	if b.err != nil {
		return
	}
	dv := b.get(op, dst)
	if b.err != nil {
		return
	}
	for i := range dv.data {
		dv.data[i] = float64(value)
	}
}

// RandUniform fills dst with lo + (hi − lo)·u, u = key.Uniform(i) for
// element i of the view, in float64.
func (b *Backend) RandUniform(dst nn.Mat, lo, hi float32, key nn.RandKey) {
	const op = "RandUniform"
	if b.err != nil {
		return
	}
	dv := b.get(op, dst)
	if b.err != nil {
		return
	}
	span := float64(hi) - float64(lo)
	for i := range dv.data {
		dv.data[i] = float64(lo) + span*float64(key.Uniform(uint64(i)))
	}
}

// RandNormal fills dst with mean + std·z, z = key.Normal(i) for element i
// of the view, in float64.
func (b *Backend) RandNormal(dst nn.Mat, mean, std float32, key nn.RandKey) {
	const op = "RandNormal"
	if b.err != nil {
		return
	}
	dv := b.get(op, dst)
	if b.err != nil {
		return
	}
	for i := range dv.data {
		dv.data[i] = float64(mean) + float64(std)*float64(key.Normal(uint64(i)))
	}
}

// GatherRows copies row idx[i] of src into row i of dst for i < dst.Rows,
// after checking every index.
func (b *Backend) GatherRows(dst, src nn.Mat, idx []int32) {
	const op = "GatherRows"
	if b.err != nil {
		return
	}
	dv, sv := b.get(op, dst), b.get(op, src)
	if b.err != nil || !b.check(op, nn.CheckGatherRows(dst, src, idx)) {
		return
	}
	c := dst.Cols
	for i, r := range idx[:dst.Rows] {
		copy(dv.data[i*c:(i+1)*c], sv.data[int(r)*c:int(r+1)*c])
	}
}

// Axpby computes y = alpha·a + beta·b; with beta = 0, b is not read and
// may be the zero Mat. The operands may be strided; y may be a or b.
func (b *Backend) Axpby(y, a, bm nn.Mat, alpha, beta float32) {
	const op = "Axpby"
	if b.err != nil || !b.check(op, nn.CheckAxpby(y, a, bm, beta)) {
		return
	}
	yv, av := b.getStrided(op, y), b.getStrided(op, a)
	var bv view
	if beta != 0 {
		bv = b.getStrided(op, bm)
	}
	if b.err != nil {
		return
	}
	for i := 0; i < y.Rows; i++ {
		for j := 0; j < y.Cols; j++ {
			v := float64(alpha) * av.data[av.at(i, j)]
			if beta != 0 {
				v += float64(beta) * bv.data[bv.at(i, j)]
			}
			yv.data[yv.at(i, j)] = v
		}
	}
}

// Mul computes y = a ⊙ b. The operands may be strided; y may be a or b.
func (b *Backend) Mul(y, a, bm nn.Mat) {
	const op = "Mul"
	if b.err != nil || !b.same(op, y, a, bm) {
		return
	}
	yv, av, bv := b.getStrided(op, y), b.getStrided(op, a), b.getStrided(op, bm)
	if b.err != nil {
		return
	}
	for i := 0; i < y.Rows; i++ {
		for j := 0; j < y.Cols; j++ {
			yv.data[yv.at(i, j)] = av.data[av.at(i, j)] * bv.data[bv.at(i, j)]
		}
	}
}

// ScaleRows computes y[i][j] = x[i][j]·s[i]. The operands may be strided;
// y may be x.
func (b *Backend) ScaleRows(y, x, s nn.Mat) {
	const op = "ScaleRows"
	if b.err != nil {
		return
	}
	if err := nn.CheckScaleRows(y, x, s); err != nil {
		b.fail(fmt.Errorf("ref: %w", err)) // the error names the op
		return
	}
	yv, xv, sv := b.getStrided(op, y), b.getStrided(op, x), b.getStrided(op, s)
	if b.err != nil {
		return
	}
	for i := 0; i < y.Rows; i++ {
		si := sv.data[sv.at(i, 0)]
		for j := 0; j < y.Cols; j++ {
			yv.data[yv.at(i, j)] = xv.data[xv.at(i, j)] * si
		}
	}
}

// mapFn returns f(x) in float64.
func mapFn(f nn.MapFn, x, c float64) float64 {
	switch f {
	case nn.MapScale:
		return c * x
	case nn.MapAddConst:
		return x + c
	case nn.MapSquare:
		return x * x
	case nn.MapSqrt:
		return math.Sqrt(x)
	case nn.MapRecip:
		return 1 / x
	case nn.MapExp:
		return math.Exp(x)
	}
	return math.Log(x)
}

// Map computes y = f(x) elementwise. The operands may be strided; y may be
// x.
func (b *Backend) Map(y, x nn.Mat, f nn.MapFn, c float32) {
	const op = "Map"
	if b.err != nil || !b.check(op, nn.CheckMapFn(f)) || !b.same(op, y, x) {
		return
	}
	yv, xv := b.getStrided(op, y), b.getStrided(op, x)
	if b.err != nil {
		return
	}
	for i := 0; i < y.Rows; i++ {
		for j := 0; j < y.Cols; j++ {
			yv.data[yv.at(i, j)] = mapFn(f, xv.data[xv.at(i, j)], float64(c))
		}
	}
}

// ScatterAddRows computes dst = beta·dst (0 when beta = 0, whatever dst
// held), then adds row i of src into row idx[i] of dst for i = 0, 1, …,
// after checking every index.
func (b *Backend) ScatterAddRows(dst, src nn.Mat, idx []int32, beta float32) {
	const op = "ScatterAddRows"
	if b.err != nil {
		return
	}
	dv, sv := b.get(op, dst), b.get(op, src)
	if b.err != nil || !b.check(op, nn.CheckScatterAddRows(dst, src, idx)) {
		return
	}
	for i := range dv.data {
		if beta == 0 {
			dv.data[i] = 0
		} else {
			dv.data[i] *= float64(beta)
		}
	}
	c := dst.Cols
	for i, r := range idx[:src.Rows] {
		d, s := dv.data[int(r)*c:int(r+1)*c], sv.data[i*c:(i+1)*c]
		for j, v := range s {
			d[j] += v
		}
	}
}

// LayerNorm normalises each row of x: with μ the row's mean, σ² its biased
// variance (both from two passes) and r = 1/√(σ² + eps), it stores μ and r
// in mean and rstd and writes y = (x − μ)·r·γ + β (γ and β when not zero
// Mats). y may be x.
func (b *Backend) LayerNorm(y, mean, rstd, x, gamma, beta nn.Mat, eps float32) {
	const op = "LayerNorm"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yv, mv, rv, xv := b.get(op, y), b.get(op, mean), b.get(op, rstd), b.get(op, x)
	var gv, bv view
	if !gamma.Empty() {
		gv = b.get(op, gamma)
	}
	if !beta.Empty() {
		bv = b.get(op, beta)
	}
	if b.err != nil || !b.check(op, nn.CheckLayerNorm(x, mean, rstd, gamma, beta, eps)) {
		return
	}
	n := x.Cols
	for i := 0; i < x.Rows; i++ {
		xr, yr := xv.data[i*n:(i+1)*n], yv.data[i*n:(i+1)*n]
		var s float64
		for _, v := range xr {
			s += v
		}
		mu := s / float64(n)
		var q float64
		for _, v := range xr {
			q += (v - mu) * (v - mu)
		}
		r := 1 / math.Sqrt(q/float64(n)+float64(eps))
		mv.data[i], rv.data[i] = mu, r
		for j, v := range xr {
			o := (v - mu) * r
			if gv.data != nil {
				o *= gv.data[j]
			}
			if bv.data != nil {
				o += bv.data[j]
			}
			yr[j] = o
		}
	}
}

// LayerNormBackward computes, with x̂ = (x − μ)·r from the stored mean and
// rstd and g = dy·γ (dy without gamma), dx = r·(g − mean(g) − x̂·mean(g·x̂))
// per row and, for those that are not zero Mats, dgamma = Σ_rows dy·x̂ and
// dbeta = Σ_rows dy. dx may be dy.
func (b *Backend) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma nn.Mat) {
	const op = "LayerNormBackward"
	if b.err != nil {
		return
	}
	dxv, dyv, xv, mv, rv := b.get(op, dx), b.get(op, dy), b.get(op, x), b.get(op, mean), b.get(op, rstd)
	var gv, dgv, dbv view
	if !gamma.Empty() {
		gv = b.get(op, gamma)
	}
	if !dgamma.Empty() {
		dgv = b.get(op, dgamma)
	}
	if !dbeta.Empty() {
		dbv = b.get(op, dbeta)
	}
	if b.err != nil || !b.check(op, nn.CheckLayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma)) {
		return
	}
	n := x.Cols
	xhat := func(i, j int) float64 { return (xv.data[i*n+j] - mv.data[i]) * rv.data[i] }
	// The parameter gradients first, so that dx may overwrite dy.
	for j := 0; j < n; j++ {
		var sg, sb float64
		for i := 0; i < x.Rows; i++ {
			d := dyv.data[i*n+j]
			sg += d * xhat(i, j)
			sb += d
		}
		if dgv.data != nil {
			dgv.data[j] = sg
		}
		if dbv.data != nil {
			dbv.data[j] = sb
		}
	}
	g := func(i, j int) float64 {
		if gv.data != nil {
			return dyv.data[i*n+j] * gv.data[j]
		}
		return dyv.data[i*n+j]
	}
	for i := 0; i < x.Rows; i++ {
		var sg, sgx float64
		for j := 0; j < n; j++ {
			sg += g(i, j)
			sgx += g(i, j) * xhat(i, j)
		}
		mg, mgx := sg/float64(n), sgx/float64(n)
		for j := 0; j < n; j++ {
			dxv.data[i*n+j] = rv.data[i] * (g(i, j) - mg - xhat(i, j)*mgx)
		}
	}
}

// BatchNorm normalises each column of x: with μ the column's mean and σ²
// its biased variance (both from two passes), it stores μ and σ² in mean
// and variance and writes y = (x − μ)·r·γ + β with r = 1/√(σ² + eps) (γ
// and β when not zero Mats). y may be x.
func (b *Backend) BatchNorm(y, mean, variance, x, gamma, beta nn.Mat, eps float32) {
	const op = "BatchNorm"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yv, mv, vv, xv := b.get(op, y), b.get(op, mean), b.get(op, variance), b.get(op, x)
	var gv, bv view
	if !gamma.Empty() {
		gv = b.get(op, gamma)
	}
	if !beta.Empty() {
		bv = b.get(op, beta)
	}
	if b.err != nil || !b.check(op, nn.CheckBatchNorm(x, mean, variance, gamma, beta, eps)) {
		return
	}
	m, n := x.Rows, x.Cols
	for j := 0; j < n; j++ {
		var s float64
		for i := 0; i < m; i++ {
			s += xv.data[i*n+j]
		}
		mu := s / float64(m)
		var q float64
		for i := 0; i < m; i++ {
			d := xv.data[i*n+j] - mu
			q += d * d
		}
		v := q / float64(m)
		r := 1 / math.Sqrt(v+float64(eps))
		mv.data[j], vv.data[j] = mu, v
		for i := 0; i < m; i++ {
			o := (xv.data[i*n+j] - mu) * r
			if gv.data != nil {
				o *= gv.data[j]
			}
			if bv.data != nil {
				o += bv.data[j]
			}
			yv.data[i*n+j] = o
		}
	}
}

// BatchNormBackward computes, with r = 1/√(σ² + eps) and x̂ = (x − μ)·r
// from the stored mean and variance and g = dy·γ (dy without gamma), dx =
// r·(g − mean(g) − x̂·mean(g·x̂)) per column and, for those that are not
// zero Mats, dgamma = Σ dy·x̂ and dbeta = Σ dy over each column. dx may be
// dy.
func (b *Backend) BatchNormBackward(dx, dgamma, dbeta, dy, x, mean, variance, gamma nn.Mat, eps float32) {
	const op = "BatchNormBackward"
	if b.err != nil {
		return
	}
	dxv, dyv, xv, mv, vv := b.get(op, dx), b.get(op, dy), b.get(op, x), b.get(op, mean), b.get(op, variance)
	var gv, dgv, dbv view
	if !gamma.Empty() {
		gv = b.get(op, gamma)
	}
	if !dgamma.Empty() {
		dgv = b.get(op, dgamma)
	}
	if !dbeta.Empty() {
		dbv = b.get(op, dbeta)
	}
	if b.err != nil || !b.check(op, nn.CheckBatchNormBackward(dx, dgamma, dbeta, dy, x, mean, variance, gamma, eps)) {
		return
	}
	m, n := x.Rows, x.Cols
	for j := 0; j < n; j++ {
		r := 1 / math.Sqrt(vv.data[j]+float64(eps))
		xhat := func(i int) float64 { return (xv.data[i*n+j] - mv.data[j]) * r }
		g := func(i int) float64 {
			if gv.data != nil {
				return dyv.data[i*n+j] * gv.data[j]
			}
			return dyv.data[i*n+j]
		}
		var sd, sdx, sg, sgx float64
		for i := 0; i < m; i++ {
			sd += dyv.data[i*n+j]
			sdx += dyv.data[i*n+j] * xhat(i)
			sg += g(i)
			sgx += g(i) * xhat(i)
		}
		if dgv.data != nil {
			dgv.data[j] = sdx
		}
		if dbv.data != nil {
			dbv.data[j] = sd
		}
		mg, mgx := sg/float64(m), sgx/float64(m)
		for i := 0; i < m; i++ {
			dxv.data[i*n+j] = r * (g(i) - mg - xhat(i)*mgx)
		}
	}
}

// Im2Col gathers the patches of a 2-D convolution (see [nn.Backend]).
func (b *Backend) Im2Col(cols, img nn.Mat, g nn.ConvGeom) {
	const op = "Im2Col"
	if b.err != nil {
		return
	}
	cv, iv := b.get(op, cols), b.get(op, img)
	if b.err != nil || !b.check(op, nn.CheckConv(img, cols, g)) {
		return
	}
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
							v := 0.0
							if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
								v = iv.data[imageIndex(g, n, c, iy, ix)]
							}
							cv.data[row+colIndex(g, c, ky, kx)] = v
						}
					}
				}
			}
		}
	}
}

// imageIndex is the index of element (n, c, y, x) in g's layout.
func imageIndex(g nn.ConvGeom, n, c, y, x int) int {
	if g.Layout == nn.NCHW {
		return ((n*g.C+c)*g.H+y)*g.W + x
	}
	return ((n*g.H+y)*g.W+x)*g.C + c
}

// colIndex is the column of (c, ky, kx) in a patch row of g's layout:
// (c, t) for NCHW, (t, c) for NHWC, t = ky·KW + kx < g.KernelTaps().
func colIndex(g nn.ConvGeom, c, ky, kx int) int {
	t := ky*g.KW + kx
	if g.Layout == nn.NCHW {
		return c*g.KernelTaps() + t
	}
	return t*g.C + c
}

// Col2Im is Im2Col's adjoint (see [nn.Backend]), summed in float64.
func (b *Backend) Col2Im(img, cols nn.Mat, g nn.ConvGeom, beta float32) {
	const op = "Col2Im"
	if b.err != nil {
		return
	}
	iv, cv := b.get(op, img), b.get(op, cols)
	if b.err != nil || !b.check(op, nn.CheckConv(img, cols, g)) {
		return
	}
	for i := range iv.data {
		if beta == 0 {
			iv.data[i] = 0
		} else {
			iv.data[i] *= float64(beta)
		}
	}
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
								iv.data[imageIndex(g, n, c, iy, ix)] += cv.data[row+colIndex(g, c, ky, kx)]
							}
						}
					}
				}
			}
		}
	}
}
