package cpu

import (
	"math"

	"gan/nn"
)

// Per-element costs, relative to a copy, that decide when an op is worth
// splitting over the workers.
const (
	costCheap = 1
	costTanh  = 8
	costRand  = 4 // a Philox block serves four elements
	costExp   = 8
)

// leakyFactor is 1 where x > 0, else slope, chosen without a branch (the
// compiler emits a conditional move): with random signs a branch would be
// mispredicted half the time. LeakyReLU as PyTorch computes it is
// x·leakyFactor(x): x where x > 0 (x·1 = x for every float32), else x·slope,
// so NaN and −0 pass through.
func leakyFactor(x float32, oneBits, slopeBits uint32) float32 {
	f := slopeBits
	if x > 0 {
		f = oneBits
	}
	return math.Float32frombits(f)
}

// leakySliceGo is leakySlice in Go: y[i] = x[i]·leakyFactor(x[i]).
func leakySliceGo(y, x []float32, slope float32) {
	x = x[:len(y)]
	one, sb := math.Float32bits(1), math.Float32bits(slope)
	for i, v := range x {
		y[i] = v * leakyFactor(v, one, sb)
	}
}

// leakyBackSliceGo is leakyBackSlice in Go: dx[i] = dy[i]·leakyFactor(y[i]).
func leakyBackSliceGo(dx, dy, y []float32, slope float32) {
	dy, y = dy[:len(dx)], y[:len(dx)]
	one, sb := math.Float32bits(1), math.Float32bits(slope)
	for i, g := range dy {
		dx[i] = g * leakyFactor(y[i], one, sb)
	}
}

// applyAct does y[i] = act(x[i]); y may be x.
func applyAct(y, x []float32, act nn.Act) {
	x = x[:len(y)]
	switch act.Kind {
	case nn.ActLeakyReLU:
		leakySlice(y, x, act.Slope)
	case nn.ActTanh:
		tanhSlice(y, x)
	case nn.ActSigmoid:
		sigmoidSlice(y, x)
	default:
		copy(y, x)
	}
}

// actCost is the per-element cost of act.
func actCost(act nn.Act) int {
	switch act.Kind {
	case nn.ActTanh:
		return costTanh
	case nn.ActSigmoid:
		return costExp
	}
	return costCheap
}

// AddBias adds the 1×n row bias to every row of the m×n matrix y.
func (b *Backend) AddBias(y, bias nn.Mat) {
	b.biasAct("AddBias", y, bias, nn.Act{})
}

// BiasAct computes y = act(y + bias) in place; bias is a 1×n row or the
// zero Mat (no bias).
func (b *Backend) BiasAct(y, bias nn.Mat, act nn.Act) {
	b.biasAct("BiasAct", y, bias, act)
}

// biasAct is AddBias and BiasAct, reporting errors as op.
func (b *Backend) biasAct(op string, y, bias nn.Mat, act nn.Act) {
	if b.err != nil || !b.checkAct(op, act) {
		return
	}
	yd := b.get(op, y)
	var bd []float32
	if !bias.Empty() || op == "AddBias" {
		bd = b.get(op, bias)
		if err := nn.CheckBias(bias, y); b.err == nil && err != nil {
			b.failf(op, "%v", err)
		}
	}
	if b.err != nil {
		return
	}
	if bd == nil && act.Kind == nn.ActNone {
		return
	}
	j := &b.jBiasAct
	*j = biasActJob{y: yd, bias: bd, cols: y.Cols, act: act}
	b.parallel(y.Rows, y.Cols*actCost(act), j)
	*j = biasActJob{}
}

// biasActJob does rows [lo, hi) of BiasAct.
type biasActJob struct {
	y, bias []float32
	cols    int
	act     nn.Act
}

func (j *biasActJob) run(lo, hi int) {
	for r := lo; r < hi; r++ {
		row := j.y[r*j.cols : (r+1)*j.cols]
		if j.bias != nil {
			addTo(row, j.bias)
		}
		applyAct(row, row, j.act)
	}
}

// Activate computes y = act(x); y may be x. Tanh and Sigmoid (see
// sigmoid64) are computed in float64 and rounded once.
func (b *Backend) Activate(y, x nn.Mat, act nn.Act) {
	const op = "Activate"
	if b.err != nil || !b.checkAct(op, act) || !b.same(op, y, x) {
		return
	}
	yd, xd := b.get(op, y), b.get(op, x)
	if b.err != nil {
		return
	}
	j := &b.jAct
	*j = actJob{y: yd, x: xd, act: act}
	b.parallel(len(yd), actCost(act), j)
	*j = actJob{}
}

// actJob does elements [lo, hi) of Activate.
type actJob struct {
	y, x []float32
	act  nn.Act
}

func (j *actJob) run(lo, hi int) { applyAct(j.y[lo:hi], j.x[lo:hi], j.act) }

// ActBackward computes dx = dy ⊙ act'(·) from the activation's output y:
// LeakyReLU: dx = dy where y > 0, else dy·slope; Tanh: dx = dy·(1 − y·y);
// Sigmoid: dx = dy·(y·(1 − y)); each operation rounded to float32 on its
// own, in the order the parentheses give. dx may be dy.
func (b *Backend) ActBackward(dx, dy, y nn.Mat, act nn.Act) {
	const op = "ActBackward"
	if b.err != nil || !b.checkAct(op, act) || !b.same(op, dx, dy, y) {
		return
	}
	dxd, dyd, yd := b.get(op, dx), b.get(op, dy), b.get(op, y)
	if b.err != nil {
		return
	}
	j := &b.jActBack
	*j = actBackwardJob{dx: dxd, dy: dyd, y: yd, act: act}
	b.parallel(len(dxd), costCheap, j)
	*j = actBackwardJob{}
}

// actBackwardJob does elements [lo, hi) of ActBackward.
type actBackwardJob struct {
	dx, dy, y []float32
	act       nn.Act
}

func (j *actBackwardJob) run(lo, hi int) {
	actBackSlice(j.dx[lo:hi], j.dy[lo:hi], j.y[lo:hi], j.act)
}

// actBackSlice sets dx[i] = dy[i]·act′ from the output y[i] (see
// ActBackward); dx may be dy.
func actBackSlice(dx, dy, y []float32, act nn.Act) {
	dy, y = dy[:len(dx)], y[:len(dx)]
	switch act.Kind {
	case nn.ActLeakyReLU:
		leakyBackSlice(dx, dy, y, act.Slope)
	case nn.ActTanh:
		for i, g := range dy {
			dx[i] = g * float32(1-float32(y[i]*y[i]))
		}
	case nn.ActSigmoid:
		for i, g := range dy {
			dx[i] = g * float32(y[i]*float32(1-y[i]))
		}
	default:
		copy(dx, dy)
	}
}

// ColSum computes db = beta·db + Σ_rows dy, where dy is m×n and db is 1×n.
// Each column is summed in float64 from the first row to the last (in
// blocks of colSumRowBlock rows for taller matrices, the blocks' sums then
// added in order), rounded to float32, then added to beta·db (rounded to
// float32); with beta = 0 the old db is ignored, NaNs included.
func (b *Backend) ColSum(db, dy nn.Mat, beta float32) {
	const op = "ColSum"
	if b.err != nil {
		return
	}
	dbd, dyd := b.get(op, db), b.get(op, dy)
	if b.err != nil {
		return
	}
	if err := nn.CheckColSum(db, dy); err != nil {
		b.failf(op, "%v", err)
		return
	}
	if dy.Rows > colSumRowBlock {
		j := &b.jRowSums
		*j = rowBlockSumJob{out: dyd, rows: dy.Rows, cols: dy.Cols}
		b.rowBlockSums(j, dbd, beta)
		*j = rowBlockSumJob{}
		return
	}
	j := &b.jColSum
	*j = colSumJob{db: dbd, dy: dyd, rows: dy.Rows, cols: dy.Cols, beta: beta}
	b.parallel(dy.Cols, dy.Rows, j)
	*j = colSumJob{}
}

// colSumBlock is the number of columns whose float64 sums ColSum keeps on
// the stack while it streams through the rows.
const colSumBlock = 64

// colSumRows is the number of rows ColSum sums over all of a block's
// columns before moving on.
const colSumRows = 128

// colSumJob does columns [lo, hi) of ColSum.
type colSumJob struct {
	db, dy     []float32
	rows, cols int
	beta       float32
}

func (j *colSumJob) run(lo, hi int) {
	var acc [colSumBlock]float64
	for c0 := lo; c0 < hi; c0 += colSumBlock {
		w := min(colSumBlock, hi-c0)
		s := acc[:w]
		clear(s)
		// colSumRows rows at a time: the 16-column strips of a block of
		// rows then share its cache lines (a strip alone would stream
		// through memory for a quarter of each line).
		for r0 := 0; r0 < j.rows; r0 += colSumRows {
			addColSums(s, j.dy[r0*j.cols:], min(colSumRows, j.rows-r0), j.cols, c0)
		}
		db := j.db[c0 : c0+w]
		for i, v := range s {
			if j.beta == 0 {
				db[i] = float32(v)
			} else {
				db[i] = float32(j.beta*db[i]) + float32(v)
			}
		}
	}
}

// colSumsGo is colSums in Go: s[i] = Σ_r dy[r·stride + c0 + i], the rows
// added in order.
func colSumsGo(s []float64, dy []float32, rows, stride, c0 int) {
	clear(s)
	addColSumsGo(s, dy, rows, stride, c0)
}

// addColSumsGo is colSumsGo adding to the sums in s.
func addColSumsGo(s []float64, dy []float32, rows, stride, c0 int) {
	for r := range rows {
		row := dy[r*stride+c0 : r*stride+c0+len(s)]
		for i, v := range row {
			s[i] += float64(v)
		}
	}
}

// RowSumSq computes dst[i] = Σ_j x[i][j]² for the m×n x into the m×1 dst:
// each row summed in float64 from its first column to its last (an order
// fixed by the shape), then rounded to float32.
func (b *Backend) RowSumSq(dst, x nn.Mat) {
	const op = "RowSumSq"
	if b.err != nil {
		return
	}
	dd, xd := b.get(op, dst), b.get(op, x)
	if b.err != nil {
		return
	}
	if err := nn.CheckRowSumSq(dst, x); err != nil {
		b.failf(op, "%v", err)
		return
	}
	j := &b.jRowSumSq
	*j = rowSumSqJob{dst: dd, x: xd, cols: x.Cols}
	b.parallel(x.Rows, x.Cols, j)
	*j = rowSumSqJob{}
}

// rowSumSqJob does rows [lo, hi) of RowSumSq.
type rowSumSqJob struct {
	dst, x []float32
	cols   int
}

func (j *rowSumSqJob) run(lo, hi int) {
	for i := lo; i < hi; i++ {
		var s float64
		for _, v := range j.x[i*j.cols : (i+1)*j.cols] {
			s += float64(v) * float64(v)
		}
		j.dst[i] = float32(s)
	}
}

// Dropout draws the keep mask of PyTorch's training-mode dropout from the
// shared generator and applies it: element i of the view (row-major) is kept
// when nn.UniformFromWord(key.Block(i/4)[i%4]) < 1 − p (float32); mask[i] is
// then float32(1/(1−p)) (computed in float64), else 0, and y = x·mask. p must
// lie in [0, 1]; with p = 0 the mask is all ones and y = x.
func (b *Backend) Dropout(y, mask, x nn.Mat, p float32, key nn.RandKey) {
	const op = "Dropout"
	if b.err != nil || !b.same(op, y, mask, x) || !b.check(op, nn.CheckDropout(p)) {
		return
	}
	yd, md, xd := b.get(op, y), b.get(op, mask), b.get(op, x)
	if b.err != nil {
		return
	}
	j := &b.jDropout
	*j = dropoutJob{y: yd, mask: md, x: xd, key: key, keep: 1 - p, scale: float32(1.0 / (1.0 - float64(p))), all: p == 0}
	cost := costRand
	if j.all {
		cost = costCheap
	}
	b.parallel(len(yd), cost, j)
	*j = dropoutJob{}
}

// dropoutJob does elements [lo, hi) of Dropout.
type dropoutJob struct {
	y, mask, x []float32
	key        nn.RandKey
	keep       float32 // 1 − p
	scale      float32 // 1/(1 − p)
	all        bool    // p = 0: keep everything without drawing
}

func (j *dropoutJob) run(lo, hi int) {
	if j.all {
		for i := lo; i < hi; i++ {
			j.mask[i] = 1
		}
		copy(j.y[lo:hi], j.x[lo:hi])
		return
	}
	// The mask value is picked by a conditional move, not a branch: with
	// keep probability 0.7 a branch would be mispredicted often, and each
	// miss also stalls the next Philox block.
	scaleBits := math.Float32bits(j.scale)
	for i := lo; i < hi; {
		w := j.key.Block(uint64(i) / 4)
		for q := i % 4; q < 4 && i < hi; q++ {
			var mb uint32
			if nn.UniformFromWord(w[q]) < j.keep {
				mb = scaleBits
			}
			m := math.Float32frombits(mb)
			j.mask[i] = m
			j.y[i] = j.x[i] * m
			i++
		}
	}
}

// DropoutBackward computes dx = dy ⊙ mask; dx may be dy.
func (b *Backend) DropoutBackward(dx, dy, mask nn.Mat) {
	const op = "DropoutBackward"
	if b.err != nil || !b.same(op, dx, dy, mask) {
		return
	}
	dxd, dyd, md := b.get(op, dx), b.get(op, dy), b.get(op, mask)
	if b.err != nil {
		return
	}
	j := &b.jMul
	*j = mulJob{z: dxd, x: dyd, y: md}
	b.parallel(len(dxd), costCheap, j)
	*j = mulJob{}
}

// mulJob does elements [lo, hi) of z = x ⊙ y.
type mulJob struct {
	z, x, y []float32
}

func (j *mulJob) run(lo, hi int) { mulSlice(j.z[lo:hi], j.x[lo:hi], j.y[lo:hi]) }

// Copy copies src into dst: the same number of elements when both are
// contiguous (the copy may reshape), the same shape when either is strided
// (copied row by row).
func (b *Backend) Copy(dst, src nn.Mat) {
	const op = "Copy"
	if b.err != nil {
		return
	}
	dd, sd := b.getStrided(op, dst), b.getStrided(op, src)
	if b.err != nil || !b.check(op, nn.CheckCopy(dst, src)) {
		return
	}
	if !dst.Contiguous() || !src.Contiguous() {
		j := &b.jCopy2
		j.g.set(dst.Rows, dst.Cols, dd, dst, sd, src, nil, nn.Mat{})
		b.parallel(j.g.units(), j.g.cost(costCheap), j)
		*j = stridedCopyJob{}
		return
	}
	j := &b.jCopy
	*j = copyJob{dst: dd, src: sd}
	b.parallel(len(dd), costCheap, j)
	*j = copyJob{}
}

// copyJob does elements [lo, hi) of Copy.
type copyJob struct {
	dst, src []float32
}

func (j *copyJob) run(lo, hi int) { copy(j.dst[lo:hi], j.src[lo:hi]) }

// Fill sets every element of dst to value.
func (b *Backend) Fill(dst nn.Mat, value float32) {
	const op = "Fill"
	if b.err != nil {
		return
	}
	dd := b.get(op, dst)
	if b.err != nil {
		return
	}
	j := &b.jFill
	*j = fillJob{dst: dd, v: value}
	b.parallel(len(dd), costCheap, j)
	*j = fillJob{}
}

// fillJob does elements [lo, hi) of Fill.
type fillJob struct {
	dst []float32
	v   float32
}

func (j *fillJob) run(lo, hi int) {
	d := j.dst[lo:hi]
	for i := range d {
		d[i] = j.v
	}
}

// GatherRows copies row idx[i] of src into row i of dst for i < dst.Rows.
// Every index is checked before anything is copied: one outside
// [0, src.Rows) records an error and leaves dst untouched.
func (b *Backend) GatherRows(dst, src nn.Mat, idx []int32) {
	const op = "GatherRows"
	if b.err != nil {
		return
	}
	dd, sd := b.get(op, dst), b.get(op, src)
	if b.err != nil {
		return
	}
	if err := nn.CheckGatherRows(dst, src, idx); err != nil {
		b.failf(op, "%v", err)
		return
	}
	idx = idx[:dst.Rows]
	j := &b.jGather
	*j = gatherJob{dst: dd, src: sd, idx: idx, cols: dst.Cols}
	b.parallel(dst.Rows, dst.Cols, j)
	*j = gatherJob{}
}

// gatherJob does rows [lo, hi) of GatherRows.
type gatherJob struct {
	dst, src []float32
	idx      []int32
	cols     int
}

func (j *gatherJob) run(lo, hi int) {
	c := j.cols
	for i := lo; i < hi; i++ {
		r := int(j.idx[i])
		copy(j.dst[i*c:(i+1)*c], j.src[r*c:(r+1)*c])
	}
}

// ScatterAddRows computes dst = beta·dst (each product rounded to float32;
// with beta = 0 dst is cleared, NaNs included), then adds row i of src into
// row idx[i] of dst for i = 0, 1, … src.Rows−1 in that order, one float32
// addition per element. Every index is checked before anything is written:
// one outside [0, dst.Rows) records an error and leaves dst untouched. The
// work is split over columns, so repeated indices sum in the same order
// whatever the worker count.
func (b *Backend) ScatterAddRows(dst, src nn.Mat, idx []int32, beta float32) {
	const op = "ScatterAddRows"
	if b.err != nil {
		return
	}
	dd, sd := b.get(op, dst), b.get(op, src)
	if b.err != nil || !b.check(op, nn.CheckScatterAddRows(dst, src, idx)) {
		return
	}
	j := &b.jScatter
	*j = scatterJob{dst: dd, src: sd, idx: idx[:src.Rows], rows: dst.Rows, cols: dst.Cols, beta: beta}
	b.parallel(dst.Cols, dst.Rows+src.Rows, j)
	*j = scatterJob{}
}

// scatterJob does columns [lo, hi) of ScatterAddRows.
type scatterJob struct {
	dst, src   []float32
	idx        []int32
	rows, cols int
	beta       float32
}

func (j *scatterJob) run(lo, hi int) {
	c := j.cols
	for r := 0; r < j.rows; r++ {
		row := j.dst[r*c+lo : r*c+hi]
		if j.beta == 0 {
			clear(row)
			continue
		}
		for i, v := range row {
			row[i] = j.beta * v
		}
	}
	for i, r := range j.idx {
		d := j.dst[int(r)*c+lo : int(r)*c+hi]
		s := j.src[i*c+lo : i*c+hi]
		s = s[:len(d)]
		for k, v := range s {
			d[k] += v
		}
	}
}
