package cpu

import (
	"math"

	"gan/nn"
)

// LayerNorm normalises each row of the m×n x (see [nn.Backend]). Per row,
// in float64: μ = Σx/n from the first column to the last, σ² = Σ(x − μ)²/n
// (a second pass) and r = 1/√(σ² + eps); μ and r are rounded to float32
// once and stored in mean and rstd. Then, per element, each operation
// rounded to float32 on its own and using the rounded μ and r:
//
//	x̂ = fl(fl(x − μ)·r),  y = fl(fl(x̂·γ) + β)
//
// (without gamma or beta, when they are zero Mats, the step is left out).
// y may be x.
func (b *Backend) LayerNorm(y, mean, rstd, x, gamma, beta nn.Mat, eps float32) {
	const op = "LayerNorm"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yd, md, rd, xd := b.get(op, y), b.get(op, mean), b.get(op, rstd), b.get(op, x)
	var gd, bd []float32
	if !gamma.Empty() {
		gd = b.get(op, gamma)
	}
	if !beta.Empty() {
		bd = b.get(op, beta)
	}
	if b.err != nil || !b.check(op, nn.CheckLayerNorm(x, mean, rstd, gamma, beta, eps)) {
		return
	}
	j := &b.jLayerNorm
	*j = layerNormJob{y: yd, mean: md, rstd: rd, x: xd, gamma: gd, beta: bd, cols: x.Cols, eps: float64(eps)}
	b.parallel(x.Rows, 4*x.Cols, j)
	*j = layerNormJob{}
}

// layerNormJob does rows [lo, hi) of LayerNorm.
type layerNormJob struct {
	y, mean, rstd, x []float32
	gamma, beta      []float32 // nil: none
	cols             int
	eps              float64
}

func (j *layerNormJob) run(lo, hi int) {
	r := lo
	for ; r+4 <= hi; r += 4 {
		j.rows4(r)
	}
	for ; r < hi; r++ {
		j.row(r)
	}
}

// row normalises row r.
func (j *layerNormJob) row(r int) {
	n := j.cols
	x := j.x[r*n : (r+1)*n]
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	mu := s / float64(n)
	var q float64
	for _, v := range x {
		d := float64(v) - mu
		q += float64(d * d)
	}
	j.finish(r, mu, q)
}

// rows4 normalises rows r … r+3 as row does, bit for bit: the same sums in
// the same order, the four rows' additions interleaved so that they do
// not wait on one another.
func (j *layerNormJob) rows4(r int) {
	n := j.cols
	x0 := j.x[r*n : (r+1)*n]
	x1 := j.x[(r+1)*n : (r+2)*n][:len(x0)]
	x2 := j.x[(r+2)*n : (r+3)*n][:len(x0)]
	x3 := j.x[(r+3)*n : (r+4)*n][:len(x0)]
	var s0, s1, s2, s3 float64
	for i, v := range x0 {
		s0 += float64(v)
		s1 += float64(x1[i])
		s2 += float64(x2[i])
		s3 += float64(x3[i])
	}
	fn := float64(n)
	m0, m1, m2, m3 := s0/fn, s1/fn, s2/fn, s3/fn
	var q0, q1, q2, q3 float64
	for i, v := range x0 {
		d0 := float64(v) - m0
		d1 := float64(x1[i]) - m1
		d2 := float64(x2[i]) - m2
		d3 := float64(x3[i]) - m3
		q0 += float64(d0 * d0)
		q1 += float64(d1 * d1)
		q2 += float64(d2 * d2)
		q3 += float64(d3 * d3)
	}
	j.finish(r, m0, q0)
	j.finish(r+1, m1, q1)
	j.finish(r+2, m2, q2)
	j.finish(r+3, m3, q3)
}

// finish stores row r's mean and rstd from its float64 mean mu and sum of
// squared deviations q, and writes its y.
func (j *layerNormJob) finish(r int, mu, q float64) {
	n := j.cols
	x, y := j.x[r*n:(r+1)*n], j.y[r*n:(r+1)*n]
	mf, rf := float32(mu), float32(1/math.Sqrt(q/float64(n)+j.eps))
	j.mean[r], j.rstd[r] = mf, rf
	i := 0
	if j.gamma != nil && j.beta != nil {
		i = lnApply(y, x, j.gamma, j.beta, mf, rf) // the multiple of 8, with AVX
	}
	for ; i < len(x); i++ {
		o := float32(x[i]-mf) * rf
		if j.gamma != nil {
			o = float32(o * j.gamma[i])
		}
		if j.beta != nil {
			o += j.beta[i]
		}
		y[i] = o
	}
}

// LayerNormBackward computes the gradients of LayerNorm (see [nn.Backend])
// from dy and the forward pass's x, mean, rstd and gamma. With μ and r the
// stored float32 mean and rstd, per element
//
//	x̂ = fl(fl(x − μ)·r)  and  g = fl(dy·γ)  (g = dy without gamma)
//
// as in the forward pass; per row, in float64 from the first column to the
// last, a = Σg/n and c = Σ g·x̂/n; and then
//
//	dx = float32(r·((g − a) − x̂·c))  computed in float64, rounded once.
//
// dgamma = Σ_rows dy·x̂ and dbeta = Σ_rows dy (each written when it is not
// the zero Mat) are summed in float64 from the first row to the last and
// rounded once. They are computed before dx, so dx may be dy.
func (b *Backend) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma nn.Mat) {
	const op = "LayerNormBackward"
	if b.err != nil {
		return
	}
	dxd, dyd, xd, md, rd := b.get(op, dx), b.get(op, dy), b.get(op, x), b.get(op, mean), b.get(op, rstd)
	var gd, dgd, dbd []float32
	if !gamma.Empty() {
		gd = b.get(op, gamma)
	}
	if !dgamma.Empty() {
		dgd = b.get(op, dgamma)
	}
	if !dbeta.Empty() {
		dbd = b.get(op, dbeta)
	}
	if b.err != nil || !b.check(op, nn.CheckLayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma)) {
		return
	}
	if dgd != nil || dbd != nil {
		j := &b.jLNParams
		*j = layerNormParamsJob{dgamma: dgd, dbeta: dbd, dy: dyd, x: xd, mean: md, rstd: rd, rows: x.Rows, cols: x.Cols}
		b.parallel(x.Cols, 2*x.Rows, j)
		*j = layerNormParamsJob{}
	}
	j := &b.jLNBack
	*j = layerNormBackwardJob{dx: dxd, dy: dyd, x: xd, mean: md, rstd: rd, gamma: gd, cols: x.Cols}
	b.parallel(x.Rows, 4*x.Cols, j)
	*j = layerNormBackwardJob{}
}

// layerNormBackwardJob does rows [lo, hi) of LayerNormBackward's dx.
type layerNormBackwardJob struct {
	dx, dy, x, mean, rstd []float32
	gamma                 []float32 // nil: none
	cols                  int
}

// g is element i of row r's g = fl(dy·γ).
func (j *layerNormBackwardJob) g(dy []float32, i int) float32 {
	if j.gamma != nil {
		return dy[i] * j.gamma[i]
	}
	return dy[i]
}

func (j *layerNormBackwardJob) run(lo, hi int) {
	r := lo
	if j.gamma != nil {
		for ; r+4 <= hi; r += 4 {
			j.rows4(r)
		}
	}
	for ; r < hi; r++ {
		j.row(r)
	}
}

// row does row r.
func (j *layerNormBackwardJob) row(r int) {
	n := j.cols
	x, dy := j.x[r*n:(r+1)*n], j.dy[r*n:(r+1)*n]
	mf, rf := j.mean[r], j.rstd[r]
	var sg, sgx float64
	for i, v := range x {
		xh := float32(v-mf) * rf
		g := float64(j.g(dy, i))
		sg += g
		sgx += float64(g * float64(xh))
	}
	j.finish(r, sg, sgx)
}

// rows4 does rows r … r+3 with gamma as run does one row, bit for bit: the
// same sums in the same order, the four rows' additions interleaved.
func (j *layerNormBackwardJob) rows4(r int) {
	n := j.cols
	gm := j.gamma[:n]
	x0, d0 := j.x[r*n:(r+1)*n], j.dy[r*n:(r+1)*n]
	x1, d1 := j.x[(r+1)*n:(r+2)*n], j.dy[(r+1)*n:(r+2)*n]
	x2, d2 := j.x[(r+2)*n:(r+3)*n], j.dy[(r+2)*n:(r+3)*n]
	x3, d3 := j.x[(r+3)*n:(r+4)*n], j.dy[(r+3)*n:(r+4)*n]
	m0, m1, m2, m3 := j.mean[r], j.mean[r+1], j.mean[r+2], j.mean[r+3]
	r0, r1, r2, r3 := j.rstd[r], j.rstd[r+1], j.rstd[r+2], j.rstd[r+3]
	var sg0, sg1, sg2, sg3, sx0, sx1, sx2, sx3 float64
	for i, gi := range gm {
		h0 := float32(x0[i]-m0) * r0
		h1 := float32(x1[i]-m1) * r1
		h2 := float32(x2[i]-m2) * r2
		h3 := float32(x3[i]-m3) * r3
		g0 := float64(d0[i] * gi)
		g1 := float64(d1[i] * gi)
		g2 := float64(d2[i] * gi)
		g3 := float64(d3[i] * gi)
		sg0 += g0
		sg1 += g1
		sg2 += g2
		sg3 += g3
		sx0 += float64(g0 * float64(h0))
		sx1 += float64(g1 * float64(h1))
		sx2 += float64(g2 * float64(h2))
		sx3 += float64(g3 * float64(h3))
	}
	j.finish(r, sg0, sx0)
	j.finish(r+1, sg1, sx1)
	j.finish(r+2, sg2, sx2)
	j.finish(r+3, sg3, sx3)
}

// finish writes row r's dx from its sums Σg and Σg·x̂.
func (j *layerNormBackwardJob) finish(r int, sg, sgx float64) {
	n := j.cols
	x, dy, dx := j.x[r*n:(r+1)*n], j.dy[r*n:(r+1)*n], j.dx[r*n:(r+1)*n]
	mf, rf := j.mean[r], j.rstd[r]
	a, c, rr := sg/float64(n), sgx/float64(n), float64(rf)
	i := 0
	if j.gamma != nil {
		i = lnDx(dx, dy, x, j.gamma, mf, rf, a, c)
	}
	for ; i < len(x); i++ {
		xh := float32(x[i]-mf) * rf
		g := float64(j.g(dy, i))
		dx[i] = float32(rr * ((g - a) - float64(float64(xh)*c)))
	}
}

// layerNormParamsJob does columns [lo, hi) of LayerNormBackward's dgamma and
// dbeta.
type layerNormParamsJob struct {
	dgamma, dbeta     []float32 // nil: not wanted
	dy, x, mean, rstd []float32
	rows, cols        int
}

func (j *layerNormParamsJob) run(lo, hi int) {
	var accG, accB [colSumBlock]float64
	n := j.cols
	for c0 := lo; c0 < hi; c0 += colSumBlock {
		w := min(colSumBlock, hi-c0)
		sg, sb := accG[:w], accB[:w]
		clear(sg)
		clear(sb)
		done := 0
		for ; done+16 <= w && lnParams16(sg[done:], sb[done:], j.dy, j.x, j.mean, j.rstd, j.rows, n, c0+done); done += 16 {
		}
		for r := 0; r < j.rows && done < w; r++ {
			mf, rf := j.mean[r], j.rstd[r]
			dy := j.dy[r*n+c0+done : r*n+c0+w]
			x := j.x[r*n+c0+done : r*n+c0+w]
			sg, sb := sg[done:], sb[done:]
			for i, d := range dy {
				xh := float32(x[i]-mf) * rf
				sg[i] += float64(float64(d) * float64(xh))
				sb[i] += float64(d)
			}
		}
		if j.dgamma != nil {
			for i, v := range sg {
				j.dgamma[c0+i] = float32(v)
			}
		}
		if j.dbeta != nil {
			for i, v := range sb {
				j.dbeta[c0+i] = float32(v)
			}
		}
	}
}
