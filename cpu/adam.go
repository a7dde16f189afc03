package cpu

import (
	"math"

	"gan/nn"
)

// Adam applies one step of PyTorch's single-tensor Adam (no weight decay, no
// amsgrad) to the flat parameters p with gradients g and moments m, v, all of
// the same shape. The step constants are computed once, in float64:
//
//	bc1      = 1 − β1^step,  bc2 = 1 − β2^step          (math.Pow)
//	stepSize = float32(lr / bc1)
//	bc2sqrt  = float32(√bc2)
//	w1       = float32(1 − β1),  w2 = float32(1 − β2)
//
// and then, per element, every operation rounded to float32 in this order:
//
//	m     = m + w1·(g − m)                 // torch.lerp(m, g, 1−β1), weight < 0.5
//	v     = v·β2 + (w2·g)·g                // v.mul_(β2).addcmul_(g, g, value=1−β2)
//	denom = float32(√float64(v))/bc2sqrt + eps
//	p     = p − stepSize·(m/denom)         // p.addcdiv_(m, denom, value=−stepSize)
//
// The CUDA kernel copies this formula with every product rounded on its own
// (no fused multiply-add).
func (b *Backend) Adam(p, g, m, v nn.Mat, s nn.AdamStep) {
	const op = "Adam"
	if b.err != nil || !b.same(op, p, g, m, v) {
		return
	}
	c, err := s.Constants()
	if err != nil {
		b.failf(op, "%v", err)
		return
	}
	pd, gd, md, vd := b.get(op, p), b.get(op, g), b.get(op, m), b.get(op, v)
	if b.err != nil {
		return
	}
	j := &b.jAdam
	*j = adamJob{
		p: pd, g: gd, m: md, v: vd,
		w1: c.W1, beta2: c.Beta2, w2: c.W2, stepSize: c.StepSize, bc2sqrt: c.BC2Sqrt, eps: c.Eps,
	}
	b.parallel(len(pd), costTanh, j)
	*j = adamJob{}
}

// adamJob does elements [lo, hi) of Adam.
type adamJob struct {
	p, g, m, v             []float32
	w1, beta2, w2          float32
	stepSize, bc2sqrt, eps float32
}

func (j *adamJob) run(lo, hi int) {
	p, g, m, v := j.p[lo:hi], j.g[lo:hi], j.m[lo:hi], j.v[lo:hi]
	done := j.adamVector(p, g, m, v)
	j.scalar(p[done:], g[done:], m[done:], v[done:])
}

// scalar is the Adam update in Go, one element at a time: the definition
// that the vector kernel of adamVector reproduces bit for bit.
func (j *adamJob) scalar(p, g, m, v []float32) {
	p, m, v = p[:len(g)], m[:len(g)], v[:len(g)]
	for i, gi := range g {
		// The float32 conversions keep the compiler from fusing a product
		// into the following addition.
		mi := m[i] + float32(j.w1*(gi-m[i]))
		vi := float32(v[i]*j.beta2) + float32(float32(j.w2*gi)*gi)
		denom := float32(float32(math.Sqrt(float64(vi)))/j.bc2sqrt) + j.eps
		m[i], v[i] = mi, vi
		p[i] -= float32(j.stepSize * float32(mi/denom))
	}
}
