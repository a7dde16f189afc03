package cpu

import "gan/nn"

// RandUniform fills dst with lo + (hi−lo)·u, u = nn.UniformFromWord of
// word i%4 of key.Block(i/4) for element i of the view (row-major), as
// key.Uniform(i); hi−lo and the product are each rounded to float32.
func (b *Backend) RandUniform(dst nn.Mat, lo, hi float32, key nn.RandKey) {
	const op = "RandUniform"
	if b.err != nil {
		return
	}
	d := b.get(op, dst)
	if b.err != nil {
		return
	}
	j := &b.jRandUniform
	*j = randUniformJob{dst: d, lo: lo, span: hi - lo, key: key}
	b.parallel(len(d), costRand, j)
	*j = randUniformJob{}
}

// randUniformJob does elements [lo, hi) of RandUniform.
type randUniformJob struct {
	dst      []float32
	lo, span float32
	key      nn.RandKey
}

func (j *randUniformJob) run(lo, hi int) {
	a, b := j.uniformFast(lo, hi)
	j.runGo(lo, a)
	j.runGo(b, hi)
}

// runGo does elements [lo, hi) of RandUniform in Go.
func (j *randUniformJob) runGo(lo, hi int) {
	for i := lo; i < hi; {
		w := j.key.Block(uint64(i) / 4)
		for q := i % 4; q < 4 && i < hi; q++ {
			j.dst[i] = j.lo + float32(j.span*nn.UniformFromWord(w[q]))
			i++
		}
	}
}

// RandNormal fills dst with mean + std·z, z = key.Normal(i) for element i of
// the view (row-major): Box–Muller on word pair (i%4)/2 of key.Block(i/4),
// the sine branch for odd i. The product is rounded to float32 before the
// addition.
func (b *Backend) RandNormal(dst nn.Mat, mean, std float32, key nn.RandKey) {
	const op = "RandNormal"
	if b.err != nil {
		return
	}
	d := b.get(op, dst)
	if b.err != nil {
		return
	}
	j := &b.jRandNormal
	*j = randNormalJob{dst: d, mean: mean, std: std, key: key}
	b.parallel(len(d), costRand*costTanh, j)
	*j = randNormalJob{}
}

// randNormalJob does elements [lo, hi) of RandNormal.
type randNormalJob struct {
	dst       []float32
	mean, std float32
	key       nn.RandKey
}

func (j *randNormalJob) run(lo, hi int) {
	i := lo
	for ; i < hi && i%4 != 0; i++ { // up to a block boundary
		j.dst[i] = j.mean + float32(j.std*j.key.Normal(uint64(i)))
	}
	for ; i+4 <= hi; i += 4 { // whole blocks: one Box–Muller per pair
		w := j.key.Block(uint64(i) / 4)
		z0, z1 := nn.NormalPairFromWords(w[0], w[1])
		z2, z3 := nn.NormalPairFromWords(w[2], w[3])
		d := j.dst[i : i+4]
		d[0] = j.mean + float32(j.std*z0)
		d[1] = j.mean + float32(j.std*z1)
		d[2] = j.mean + float32(j.std*z2)
		d[3] = j.mean + float32(j.std*z3)
	}
	for ; i < hi; i++ {
		j.dst[i] = j.mean + float32(j.std*j.key.Normal(uint64(i)))
	}
}
