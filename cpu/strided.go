package cpu

import (
	"fmt"
	"math"

	"gan/nn"
)

// grid holds up to three operands of one rows×cols shape for an
// elementwise op that takes strided matrices. When every operand is
// contiguous the op runs over one flat run of rows·cols elements (its units
// are elements, so that even a single row is split over the workers);
// otherwise its units are rows, row r of operand k being
// d[k][r·ld[k] : r·ld[k]+cols].
type grid struct {
	rows, cols int
	flat       bool
	d          [3][]float32
	ld         [3]int
}

// set fills g with the shape and the operands (storage as getStrided
// returns it, and the matrix); a nil storage marks an unused operand.
func (g *grid) set(rows, cols int, d0 []float32, m0 nn.Mat, d1 []float32, m1 nn.Mat, d2 []float32, m2 nn.Mat) {
	*g = grid{rows: rows, cols: cols, flat: true}
	for k, o := range [3]struct {
		d []float32
		m nn.Mat
	}{{d0, m0}, {d1, m1}, {d2, m2}} {
		g.d[k], g.ld[k] = o.d, o.m.LD()
		if o.d != nil && !o.m.Contiguous() {
			g.flat = false
		}
	}
}

// units is the number of units of work: elements when flat, else rows.
func (g *grid) units() int {
	if g.flat {
		return g.rows * g.cols
	}
	return g.rows
}

// cost is the cost of one unit for a per-element cost c.
func (g *grid) cost(c int) int {
	if g.flat {
		return c
	}
	return c * g.cols
}

// span returns operand k's elements [lo, hi) of the flat run (nil for an
// unused operand).
func (g *grid) span(k, lo, hi int) []float32 {
	if g.d[k] == nil {
		return nil
	}
	return g.d[k][lo:hi]
}

// row returns row r of operand k (nil for an unused operand).
func (g *grid) row(k, r int) []float32 {
	if g.d[k] == nil {
		return nil
	}
	o := r * g.ld[k]
	return g.d[k][o : o+g.cols]
}

// Axpby computes y = alpha·a + beta·b as fl(fl(alpha·a) + fl(beta·b)), each
// product and the sum rounded to float32 on its own (no fused
// multiply-add). With beta = 0, b is not read and may be the zero Mat, and
// y = fl(alpha·a). The operands may be strided; y may be a or b.
func (b *Backend) Axpby(y, a, bm nn.Mat, alpha, beta float32) {
	const op = "Axpby"
	if b.err != nil || !b.check(op, nn.CheckAxpby(y, a, bm, beta)) {
		return
	}
	yd, ad := b.getStrided(op, y), b.getStrided(op, a)
	var bd []float32
	if beta != 0 {
		bd = b.getStrided(op, bm)
	}
	if b.err != nil {
		return
	}
	j := &b.jAxpby
	j.g.set(y.Rows, y.Cols, yd, y, ad, a, bd, bm)
	j.alpha, j.beta = alpha, beta
	b.parallel(j.g.units(), j.g.cost(costCheap), j)
	*j = axpbyJob{}
}

// axpbyJob does units [lo, hi) of Axpby.
type axpbyJob struct {
	g           grid
	alpha, beta float32
}

func (j *axpbyJob) run(lo, hi int) {
	if j.g.flat {
		j.do(j.g.span(0, lo, hi), j.g.span(1, lo, hi), j.g.span(2, lo, hi))
		return
	}
	for r := lo; r < hi; r++ {
		j.do(j.g.row(0, r), j.g.row(1, r), j.g.row(2, r))
	}
}

// do computes one run of elements; b is nil when beta = 0.
func (j *axpbyJob) do(y, a, b []float32) { axpbySlice(y, a, b, j.alpha, j.beta) }

// axpbyGo sets y[i] = fl(fl(alpha·a[i]) + fl(beta·b[i])), or
// fl(alpha·a[i]) when b is nil, in Go.
func axpbyGo(y, a, b []float32, alpha, beta float32) {
	a = a[:len(y)]
	if b == nil {
		for i, v := range a {
			y[i] = alpha * v
		}
		return
	}
	b = b[:len(y)]
	for i, v := range a {
		// The conversions keep the compiler from fusing a product into
		// the addition.
		y[i] = float32(alpha*v) + float32(beta*b[i])
	}
}

// Mul computes the elementwise product y = a ⊙ b, each product rounded to
// float32. The operands may be strided; y may be a or b.
func (b *Backend) Mul(y, a, bm nn.Mat) {
	const op = "Mul"
	if b.err != nil || !b.same(op, y, a, bm) {
		return
	}
	yd, ad, bd := b.getStrided(op, y), b.getStrided(op, a), b.getStrided(op, bm)
	if b.err != nil {
		return
	}
	j := &b.jMul2
	j.g.set(y.Rows, y.Cols, yd, y, ad, a, bd, bm)
	b.parallel(j.g.units(), j.g.cost(costCheap), j)
	*j = stridedMulJob{}
}

// stridedMulJob does units [lo, hi) of Mul.
type stridedMulJob struct {
	g grid
}

func (j *stridedMulJob) run(lo, hi int) {
	if j.g.flat {
		mulRun(j.g.span(0, lo, hi), j.g.span(1, lo, hi), j.g.span(2, lo, hi))
		return
	}
	for r := lo; r < hi; r++ {
		mulRun(j.g.row(0, r), j.g.row(1, r), j.g.row(2, r))
	}
}

// mulRun sets z[i] = x[i]·y[i].
func mulRun(z, x, y []float32) {
	x, y = x[:len(z)], y[:len(z)]
	for i, v := range x {
		z[i] = v * y[i]
	}
}

// ScaleRows computes y[i][j] = x[i][j]·s[i] for the m×n x and the m×1
// column s, each product rounded to float32. The operands may be strided
// (s too: element i of the column is at i·s.LD()); y may be x.
func (b *Backend) ScaleRows(y, x, s nn.Mat) {
	const op = "ScaleRows"
	if b.err != nil {
		return
	}
	if err := nn.CheckScaleRows(y, x, s); err != nil {
		b.fail(fmt.Errorf("cpu: %w", err)) // the error names the op
		return
	}
	yd, xd, sd := b.getStrided(op, y), b.getStrided(op, x), b.getStrided(op, s)
	if b.err != nil {
		return
	}
	j := &b.jScaleRows
	j.g.set(y.Rows, y.Cols, yd, y, xd, x, nil, nn.Mat{})
	j.g.flat = false // each row has its own scale
	j.s, j.lds = sd, s.LD()
	b.parallel(y.Rows, y.Cols, j)
	*j = scaleRowsJob{}
}

// scaleRowsJob does rows [lo, hi) of ScaleRows.
type scaleRowsJob struct {
	g   grid
	s   []float32
	lds int
}

func (j *scaleRowsJob) run(lo, hi int) {
	for r := lo; r < hi; r++ {
		y, x := j.g.row(0, r), j.g.row(1, r)
		x = x[:len(y)]
		f := j.s[r*j.lds]
		for i, v := range x {
			y[i] = v * f
		}
	}
}

// Map computes y = f(x) elementwise: MapScale fl(c·x), MapAddConst
// fl(x + c), MapSquare fl(x·x), MapSqrt and MapRecip IEEE-rounded in
// float32, MapExp and MapLog computed in float64 and rounded once. The
// operands may be strided; y may be x.
func (b *Backend) Map(y, x nn.Mat, f nn.MapFn, c float32) {
	const op = "Map"
	if b.err != nil || !b.check(op, nn.CheckMapFn(f)) || !b.same(op, y, x) {
		return
	}
	yd, xd := b.getStrided(op, y), b.getStrided(op, x)
	if b.err != nil {
		return
	}
	j := &b.jMap
	j.g.set(y.Rows, y.Cols, yd, y, xd, x, nil, nn.Mat{})
	j.f, j.c = f, c
	cost := costCheap
	if f == nn.MapExp || f == nn.MapLog {
		cost = costExp
	}
	b.parallel(j.g.units(), j.g.cost(cost), j)
	*j = mapJob{}
}

// mapJob does units [lo, hi) of Map.
type mapJob struct {
	g grid
	f nn.MapFn
	c float32
}

func (j *mapJob) run(lo, hi int) {
	if j.g.flat {
		j.do(j.g.span(0, lo, hi), j.g.span(1, lo, hi))
		return
	}
	for r := lo; r < hi; r++ {
		j.do(j.g.row(0, r), j.g.row(1, r))
	}
}

// do computes one run of elements.
func (j *mapJob) do(y, x []float32) {
	x = x[:len(y)]
	c := j.c
	switch j.f {
	case nn.MapScale:
		for i, v := range x {
			y[i] = c * v
		}
	case nn.MapAddConst:
		for i, v := range x {
			y[i] = v + c
		}
	case nn.MapSquare:
		for i, v := range x {
			y[i] = v * v
		}
	case nn.MapSqrt:
		for i, v := range x {
			// The float64 square root rounded to float32 is the correctly
			// rounded float32 square root (the compiler emits SQRTSS).
			y[i] = float32(math.Sqrt(float64(v)))
		}
	case nn.MapRecip:
		for i, v := range x {
			y[i] = 1 / v
		}
	case nn.MapExp:
		for i, v := range x {
			y[i] = float32(math.Exp(float64(v)))
		}
	case nn.MapLog:
		for i, v := range x {
			y[i] = float32(math.Log(float64(v)))
		}
	}
}

// stridedCopyJob does rows [lo, hi) of a Copy with a strided operand.
type stridedCopyJob struct {
	g grid
}

func (j *stridedCopyJob) run(lo, hi int) {
	for r := lo; r < hi; r++ {
		copy(j.g.row(0, r), j.g.row(1, r))
	}
}
