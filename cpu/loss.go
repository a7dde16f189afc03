package cpu

import (
	"math"

	"gan/nn"
)

// reduceChunk is the number of elements behind each float64 partial sum of a
// scalar reduction. Partial sums are added in chunk order, so the result
// depends on the shape only, never on the number of workers.
const reduceChunk = 4096

// scratch returns b.partials resized to n zeroed values, growing it only
// when n exceeds every earlier request.
func (b *Backend) scratch(n int) []float64 {
	if cap(b.partials) < n {
		b.partials = make([]float64, n)
	}
	s := b.partials[:n]
	clear(s)
	return s
}

// sigmoid64 is the logistic function in float64, in a form that neither
// overflows nor loses the small tail: 1/(1+e^−x) for x ≥ 0, e^x/(1+e^x)
// for x < 0.
func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// sigmoidOfExp is sigmoid64(x) from e = e^−|x|, bit for bit: sigmoid64's
// e^−x (x ≥ 0) or e^x (x < 0) is e^−|x|, so one exponential serves σ and
// the loss's log1p term.
func sigmoidOfExp(x, e float64) float64 {
	if x >= 0 {
		return 1 / (1 + e)
	}
	return e / (1 + e)
}

// SigmoidBCE is the fused sigmoid and binary cross-entropy on logits x with
// targets t (see [nn.Backend]). Per element, with s = σ(x) in float64:
//
//	grad = scale·(float32(s) − t)                   (float32 operations)
//	loss = max(x, 0) − x·t + log1p(exp(−|x|))      (float64)
//
// stats[0] is the mean loss and stats[1] the mean s, both summed in float64
// over fixed chunks of [reduceChunk] elements, added in chunk order, and
// rounded to float32. grad may be x.
func (b *Backend) SigmoidBCE(grad, stats, x, t nn.Mat, scale float32) {
	const op = "SigmoidBCE"
	if b.err != nil {
		return
	}
	gd, sd, xd, td := b.get(op, grad), b.get(op, stats), b.get(op, x), b.get(op, t)
	if b.err != nil || !b.check(op, nn.CheckLoss(grad, stats, x, t)) {
		return
	}
	n := len(xd)
	chunks := (n + reduceChunk - 1) / reduceChunk
	j := &b.jBCE
	*j = sigmoidBCEJob{grad: gd, x: xd, t: td, scale: scale, part: b.scratch(2 * chunks)}
	b.parallel(chunks, min(n, reduceChunk)*costExp, j)
	var loss, sig float64
	for c := 0; c < chunks; c++ {
		loss += j.part[2*c]
		sig += j.part[2*c+1]
	}
	*j = sigmoidBCEJob{}
	sd[0] = float32(loss / float64(n))
	sd[1] = float32(sig / float64(n))
}

// sigmoidBCEJob does chunks [lo, hi) of SigmoidBCE, writing each chunk's
// loss and sigmoid sums to part[2c] and part[2c+1].
type sigmoidBCEJob struct {
	grad, x, t []float32
	scale      float32
	part       []float64
}

func (j *sigmoidBCEJob) run(lo, hi int) {
	// The exponentials e^−|x| and the log1p terms are computed a block at
	// a time (exp64Slice, log1pSlice: four at a time where they can,
	// math.Exp's and math.Log1p's values bit for bit), so each block goes
	// through four times: −|x|; its exponentials; σ, the gradient and the
	// loss's other terms (bceTerms, four at a time where it can; grad may be
	// x: x is not read after this pass); then the log1p terms and the two
	// sums, each in element order as before.
	const block = 256
	var rest, e, s, lg [block]float64
	for c := lo; c < hi; c++ {
		end := min((c+1)*reduceChunk, len(j.x))
		var loss, sig float64
		for b0 := c * reduceChunk; b0 < end; b0 += block {
			n := min(block, end-b0)
			x := j.x[b0 : b0+n]
			for i, v := range x {
				e[i] = -math.Abs(float64(v))
			}
			exp64Slice(e[:n], e[:n])
			bceTerms(x, j.t[b0:b0+n], e[:n], s[:n], rest[:n], j.grad[b0:b0+n], j.scale)
			log1pSlice(lg[:n], e[:n])
			for i := range n {
				sig += s[i]
				loss += rest[i] + lg[i]
			}
		}
		j.part[2*c] = loss
		j.part[2*c+1] = sig
	}
}

// bceTermsGo computes SigmoidBCE's per-element terms from e = e^−|x|, with
// x and t widened to float64: s = σ(x) (sigmoidOfExp), rest = max(x, 0) −
// x·t (the loss but for its log1p term) and grad = scale·(float32(s) − t)
// in float32. grad may be x.
func bceTermsGo(x, t []float32, e, s, rest []float64, grad []float32, scale float32) {
	for i, xv := range x {
		tv := t[i]
		xd := float64(xv)
		s[i] = sigmoidOfExp(xd, e[i])
		rest[i] = math.Max(xd, 0) - float64(xd*float64(tv))
		grad[i] = scale * (float32(s[i]) - tv)
	}
}

// Softmax computes y = softmax(x) for each row: with mx the row's maximum,
// y_j = exp(x_j − mx) / Σ_l exp(x_l − mx), in float64, rounded once. y may
// be x.
func (b *Backend) Softmax(y, x nn.Mat) {
	const op = "Softmax"
	if b.err != nil || !b.same(op, y, x) {
		return
	}
	yd, xd := b.get(op, y), b.get(op, x)
	if b.err != nil || x.Cols == 0 {
		return
	}
	j := &b.jSoftmax
	*j = softmaxJob{y: yd, x: xd, cols: x.Cols}
	b.parallel(x.Rows, x.Cols*costExp, j)
	*j = softmaxJob{}
}

// softmaxJob does rows [lo, hi) of Softmax.
type softmaxJob struct {
	y, x []float32
	cols int
}

func (j *softmaxJob) run(lo, hi int) {
	var buf [rowExpStack]float64
	for r := lo; r < hi; r++ {
		x := j.x[r*j.cols : (r+1)*j.cols]
		y := j.y[r*j.cols : (r+1)*j.cols]
		mx, sum, e := rowMaxSumExp(x, buf[:])
		for i, v := range x {
			y[i] = float32(rowExp(e, i, v, mx) / sum)
		}
	}
}

// rowExpStack is the longest row whose exponentials rowMaxSumExp keeps (on
// the caller's stack); a longer row's are computed again where needed.
const rowExpStack = 512

// rowMaxSumExp returns the maximum mx of x and Σ exp(x_i − mx), in float64,
// the terms added from the first. When x fits in buf (rowExpStack long) it
// also returns the terms, buf[:len(x)], computed four at a time by
// exp64Slice (math.Exp's values bit for bit), for rowExp.
func rowMaxSumExp(x []float32, buf []float64) (mx, sum float64, e []float64) {
	mx = math.Inf(-1)
	for _, v := range x {
		mx = maxOrNaN(mx, float64(v))
	}
	if len(x) <= len(buf) {
		e = buf[:len(x)]
		for i, v := range x {
			e[i] = float64(v) - mx
		}
		exp64Slice(e, e)
		for _, v := range e {
			sum += v
		}
		return mx, sum, e
	}
	for _, v := range x {
		sum += math.Exp(float64(v) - mx)
	}
	return mx, sum, nil
}

// rowExp is exp(v − mx) for element i of the row rowMaxSumExp returned e
// for: e[i], or math.Exp's value when e is nil.
func rowExp(e []float64, i int, v float32, mx float64) float64 {
	if e != nil {
		return e[i]
	}
	return math.Exp(float64(v) - mx)
}

// maxOrNaN is math.Max(m, z) for a softmax's running maximum, without
// math.Max's care for signed zeros (the maximum is only subtracted, where
// −0 and +0 give the same differences), which makes it several times
// slower: z when it is larger or NaN, so that a NaN stays, else m.
func maxOrNaN(m, z float64) float64 {
	if z > m || z != z {
		return z
	}
	return m
}

// argmax returns the index of the first largest element of x.
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// SoftmaxCE is the fused row softmax and cross-entropy on logits x (m×n)
// with target distributions t (see [nn.Backend]). Per row, in float64, with
// mx the row maximum and lse = mx + log Σ exp(x − mx):
//
//	grad_j = scale·(float32(exp(x_j − mx)/Σ) − t_j)   (the subtraction and product in float32)
//	loss   = −Σ_{j: t_j ≠ 0} t_j·(x_j − lse)
//
// Terms with t_j = 0 are skipped, so a −Inf logit with zero target adds 0,
// not NaN. stats[0] is the mean loss over rows and stats[1] the fraction of
// rows where argmax x = argmax t (first index wins ties), summed over fixed
// chunks of rows, added in chunk order, and rounded to float32.
func (b *Backend) SoftmaxCE(grad, stats, x, t nn.Mat, scale float32) {
	const op = "SoftmaxCE"
	if b.err != nil {
		return
	}
	gd, sd, xd, td := b.get(op, grad), b.get(op, stats), b.get(op, x), b.get(op, t)
	if b.err != nil || !b.check(op, nn.CheckSoftmaxCE(grad, stats, x, t)) {
		return
	}
	rows, cols := x.Rows, x.Cols
	per := max(1, reduceChunk/cols) // rows per chunk
	chunks := (rows + per - 1) / per
	j := &b.jSoftmaxCE
	*j = softmaxCEJob{grad: gd, x: xd, t: td, rows: rows, cols: cols, per: per, scale: scale, part: b.scratch(2 * chunks)}
	b.parallel(chunks, per*cols*costExp, j)
	var loss, correct float64
	for c := 0; c < chunks; c++ {
		loss += j.part[2*c]
		correct += j.part[2*c+1]
	}
	*j = softmaxCEJob{}
	sd[0] = float32(loss / float64(rows))
	sd[1] = float32(correct / float64(rows))
}

// softmaxCEJob does chunks [lo, hi) of SoftmaxCE (per rows each), writing
// each chunk's loss sum and correct-row count to part[2c] and part[2c+1].
type softmaxCEJob struct {
	grad, x, t []float32
	rows, cols int
	per        int
	scale      float32
	part       []float64
}

func (j *softmaxCEJob) run(lo, hi int) {
	var buf [rowExpStack]float64
	n := j.cols
	for c := lo; c < hi; c++ {
		var loss, correct float64
		for r := c * j.per; r < min((c+1)*j.per, j.rows); r++ {
			x := j.x[r*n : (r+1)*n]
			t := j.t[r*n : (r+1)*n]
			g := j.grad[r*n : (r+1)*n]
			if argmax(x) == argmax(t) {
				correct++
			}
			mx, sum, e := rowMaxSumExp(x, buf[:])
			lse := mx + math.Log(sum)
			for i, v := range x {
				tv := t[i]
				if tv != 0 {
					loss -= float64(float64(tv) * (float64(v) - lse))
				}
				p := rowExp(e, i, v, mx) / sum
				g[i] = j.scale * (float32(p) - tv)
			}
		}
		j.part[2*c] = loss
		j.part[2*c+1] = correct
	}
}
