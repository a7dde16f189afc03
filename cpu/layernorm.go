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
	n := j.cols
	for r := lo; r < hi; r++ {
		x, y := j.x[r*n:(r+1)*n], j.y[r*n:(r+1)*n]
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
		mf, rf := float32(mu), float32(1/math.Sqrt(q/float64(n)+j.eps))
		j.mean[r], j.rstd[r] = mf, rf
		for i, v := range x {
			o := float32(v-mf) * rf
			if j.gamma != nil {
				o = float32(o * j.gamma[i])
			}
			if j.beta != nil {
				o += j.beta[i]
			}
			y[i] = o
		}
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
	n := j.cols
	for r := lo; r < hi; r++ {
		x, dy, dx := j.x[r*n:(r+1)*n], j.dy[r*n:(r+1)*n], j.dx[r*n:(r+1)*n]
		mf, rf := j.mean[r], j.rstd[r]
		var sg, sgx float64
		for i, v := range x {
			xh := float32(v-mf) * rf
			g := float64(j.g(dy, i))
			sg += g
			sgx += float64(g * float64(xh))
		}
		a, c, rr := sg/float64(n), sgx/float64(n), float64(rf)
		for i, v := range x {
			xh := float32(v-mf) * rf
			g := float64(j.g(dy, i))
			dx[i] = float32(rr * ((g - a) - float64(float64(xh)*c)))
		}
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
		for r := 0; r < j.rows; r++ {
			mf, rf := j.mean[r], j.rstd[r]
			dy := j.dy[r*n+c0 : r*n+c0+w]
			x := j.x[r*n+c0 : r*n+c0+w]
			for i, d := range dy {
				xh := float32(x[i]-mf) * rf
				sg[i] += float64(d) * float64(xh)
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
