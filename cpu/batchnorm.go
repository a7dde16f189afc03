package cpu

import (
	"math"

	"gan/nn"
)

// BatchNorm normalises each column of the m×n x (see [nn.Backend]). Per
// column, in float64 from the first row to the last: μ = Σx/m, then
// σ² = Σ(x − μ)²/m (a second pass); μ and σ² are rounded to float32 once
// and stored in mean and variance, and r = 1/√(σ̃² + eps) is computed in
// float64 from the stored σ̃² and rounded once. Then, per element, each
// operation rounded to float32 on its own and using the stored μ̃ and r:
//
//	x̂ = fl(fl(x − μ̃)·r),  y = fl(fl(x̂·γ) + β)
//
// (without gamma or beta, when they are zero Mats, the step is left out).
// y may be x. The work is split by columns, each summed by one worker, so
// the result is the same for every number of workers.
func (b *Backend) BatchNorm(y, mean, variance, x, gamma, beta nn.Mat, eps float32) {
	const op = "BatchNorm"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yd, md, vd, xd := b.get(op, y), b.get(op, mean), b.get(op, variance), b.get(op, x)
	var gd, bd []float32
	if !gamma.Empty() {
		gd = b.get(op, gamma)
	}
	if !beta.Empty() {
		bd = b.get(op, beta)
	}
	if b.err != nil || !b.check(op, nn.CheckBatchNorm(x, mean, variance, gamma, beta, eps)) {
		return
	}
	j := &b.jBatchNorm
	*j = batchNormJob{y: yd, mean: md, variance: vd, x: xd, gamma: gd, beta: bd, rows: x.Rows, cols: x.Cols, eps: float64(eps)}
	b.parallel(x.Cols, 4*x.Rows, j)
	*j = batchNormJob{}
}

// bnRstd is r = 1/√(σ̃² + eps) in float64, rounded once: BatchNorm's and
// BatchNormBackward's from the stored variance.
func bnRstd(v float32, eps float64) float32 { return float32(1 / math.Sqrt(float64(v)+eps)) }

// batchNormJob does columns [lo, hi) of BatchNorm, colSumBlock at a time.
type batchNormJob struct {
	y, mean, variance, x []float32
	gamma, beta          []float32 // nil: none
	rows, cols           int
	eps                  float64
}

func (j *batchNormJob) run(lo, hi int) {
	var s, mu [colSumBlock]float64
	var mf, rf, gf, bf [colSumBlock]float32
	n, m := j.cols, float64(j.rows)
	for c0 := lo; c0 < hi; c0 += colSumBlock {
		w := min(colSumBlock, hi-c0)
		colSums(s[:w], j.x, j.rows, n, c0)
		for i, v := range s[:w] {
			mu[i] = v / m
		}
		colSqDevs(s[:w], j.x, mu[:w], j.rows, n, c0)
		for i, v := range s[:w] {
			mf[i] = float32(mu[i])
			vf := float32(v / m)
			j.mean[c0+i], j.variance[c0+i] = mf[i], vf
			rf[i] = bnRstd(vf, j.eps)
			// Without gamma or beta, γ = 1 and β = −0 leave every float32
			// as it is (−0 included).
			gf[i], bf[i] = 1, negZero
			if j.gamma != nil {
				gf[i] = j.gamma[c0+i]
			}
			if j.beta != nil {
				bf[i] = j.beta[c0+i]
			}
		}
		bnApply(j.y, j.x, mf[:w], rf[:w], gf[:w], bf[:w], j.rows, n, c0)
	}
}

// negZero is the float32 −0.
var negZero = float32(math.Copysign(0, -1))

// BatchNormBackward computes the gradients of BatchNorm (see [nn.Backend])
// from dy and the forward pass's x, mean, variance and gamma: with r and
// x̂ = fl(fl(x − μ̃)·r) as in BatchNorm and g = fl(dy·γ) (g = dy without
// gamma), per column in float64 from the first row to the last a = Σg/m,
// c = Σ g·x̂/m, Σ dy·x̂ (dgamma) and Σ dy (dbeta), and then per element
//
//	dx = float32(r·((g − a) − x̂·c))  computed in float64, rounded once.
//
// A column's sums are complete before its dx is written, so dx may be dy.
func (b *Backend) BatchNormBackward(dx, dgamma, dbeta, dy, x, mean, variance, gamma nn.Mat, eps float32) {
	const op = "BatchNormBackward"
	if b.err != nil {
		return
	}
	dxd, dyd, xd, md, vd := b.get(op, dx), b.get(op, dy), b.get(op, x), b.get(op, mean), b.get(op, variance)
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
	if b.err != nil || !b.check(op, nn.CheckBatchNormBackward(dx, dgamma, dbeta, dy, x, mean, variance, gamma, eps)) {
		return
	}
	j := &b.jBNBack
	*j = batchNormBackwardJob{dx: dxd, dgamma: dgd, dbeta: dbd, dy: dyd, x: xd, mean: md, variance: vd, gamma: gd,
		rows: x.Rows, cols: x.Cols, eps: float64(eps)}
	b.parallel(x.Cols, 6*x.Rows, j)
	*j = batchNormBackwardJob{}
}

// batchNormBackwardJob does columns [lo, hi) of BatchNormBackward,
// colSumBlock at a time.
type batchNormBackwardJob struct {
	dx, dgamma, dbeta, dy, x []float32 // dgamma, dbeta nil: not wanted
	mean, variance, gamma    []float32 // gamma nil: none
	rows, cols               int
	eps                      float64
}

func (j *batchNormBackwardJob) run(lo, hi int) {
	var sd, sdx, sg, sgx, a, k, rr [colSumBlock]float64
	var mf, rf, gf [colSumBlock]float32
	n, m := j.cols, float64(j.rows)
	for c0 := lo; c0 < hi; c0 += colSumBlock {
		w := min(colSumBlock, hi-c0)
		for i := range w {
			mf[i], rf[i] = j.mean[c0+i], bnRstd(j.variance[c0+i], j.eps)
			gf[i] = 1 // without gamma g = dy·1 = dy
			if j.gamma != nil {
				gf[i] = j.gamma[c0+i]
			}
		}
		bnSums(sd[:w], sdx[:w], sg[:w], sgx[:w], j.dy, j.x, mf[:w], rf[:w], gf[:w], j.rows, n, c0)
		for i := range w {
			if j.dgamma != nil {
				j.dgamma[c0+i] = float32(sdx[i])
			}
			if j.dbeta != nil {
				j.dbeta[c0+i] = float32(sd[i])
			}
			a[i], k[i], rr[i] = sg[i]/m, sgx[i]/m, float64(rf[i])
		}
		bnDx(j.dx, j.dy, j.x, mf[:w], rf[:w], gf[:w], a[:w], k[:w], rr[:w], j.rows, n, c0)
	}
}
