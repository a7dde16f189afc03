package cpu

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/nn"
)

// rangeJob records the ranges it is asked to run.
type rangeJob struct {
	mu     sync.Mutex
	ranges [][2]int
}

func (j *rangeJob) run(lo, hi int) {
	j.mu.Lock()
	j.ranges = append(j.ranges, [2]int{lo, hi})
	j.mu.Unlock()
}

func TestParallelCoversEveryUnitOnce(t *testing.T) {
	for _, tc := range []struct {
		workers, n, cost, pieces int
	}{
		{1, 100000, 1, 1},
		{3, 100000, 1, 3},
		{3, 100, 1, 1},    // too small to split
		{3, 2, 100000, 2}, // no more pieces than units
		{4, 2000, 10, 2},  // 20000 elements of work: two pieces of ≥ 8192
	} {
		b := newTestBackend(t, tc.workers)
		j := &rangeJob{}
		b.parallel(tc.n, tc.cost, j)
		sort.Slice(j.ranges, func(a, c int) bool { return j.ranges[a][0] < j.ranges[c][0] })
		require.Len(t, j.ranges, tc.pieces, "%+v", tc)
		next := 0
		for _, r := range j.ranges {
			require.Equal(t, next, r[0], "%+v: ranges %v", tc, j.ranges)
			require.Less(t, r[0], r[1])
			next = r[1]
		}
		require.Equal(t, tc.n, next)
	}
}

// allOps runs every op of the backend on inputs large enough to be split
// over several workers and returns every output.
func allOps(t *testing.T, b *Backend) map[string][]float32 {
	rng := rand.New(rand.NewPCG(31, 32))
	const rows, cols = 130, 1030
	out := map[string][]float32{}
	mat := func(r, c int, lo, hi float32) nn.Mat {
		m, _ := randMat(t, b, rng, r, c, lo, hi)
		return m
	}
	zeros := func(r, c int) nn.Mat {
		m, err := b.Alloc(r, c)
		require.NoError(t, err)
		return m
	}
	save := func(name string, m nn.Mat) { out[name] = download(t, b, m) }

	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		for _, s := range [][3]int{{130, 300, 257}, {300, 130, 64}, {3000, 1, 300}, {1, 3000, 70}} {
			m, n, k := s[0], s[1], s[2]
			ar, ac, br, bc := m, k, k, n
			if tr[0] {
				ar, ac = k, m
			}
			if tr[1] {
				br, bc = n, k
			}
			c := mat(m, n, -1, 1)
			b.MatMul(c, mat(ar, ac, -1, 1), mat(br, bc, -1, 1), tr[0], tr[1], 0.5)
			save(fmt.Sprintf("MatMul %v %v", s, tr), c)
		}
	}
	leaky := nn.Act{Kind: nn.ActLeakyReLU, Slope: 0.2}
	for _, act := range []nn.Act{leaky, {Kind: nn.ActTanh}} {
		y := mat(rows, cols, -2, 2)
		b.BiasAct(y, mat(1, cols, -1, 1), act)
		save("BiasAct "+act.String(), y)
		z := zeros(rows, cols)
		b.Activate(z, y, act)
		save("Activate "+act.String(), z)
		dx := zeros(rows, cols)
		b.ActBackward(dx, mat(rows, cols, -1, 1), z, act)
		save("ActBackward "+act.String(), dx)
	}
	y := mat(rows, cols, -2, 2)
	b.AddBias(y, mat(1, cols, -1, 1))
	save("AddBias", y)
	db := mat(1, cols, -1, 1)
	b.ColSum(db, mat(rows, cols, -1, 1), 1)
	save("ColSum", db)
	dy, mask, x := zeros(rows, cols), zeros(rows, cols), mat(rows, cols, -1, 1)
	b.Dropout(dy, mask, x, 0.3, nn.RandKey{Seed: 5, Stream: 6})
	save("Dropout y", dy)
	save("Dropout mask", mask)
	dx := zeros(rows, cols)
	b.DropoutBackward(dx, mat(rows, cols, -1, 1), mask)
	save("DropoutBackward", dx)
	grad, stats := zeros(rows, cols), zeros(1, 2)
	b.SigmoidBCE(grad, stats, mat(rows, cols, -30, 30), mat(rows, cols, 0, 1), 0.01)
	save("SigmoidBCE grad", grad)
	save("SigmoidBCE stats", stats)
	sm := zeros(rows, cols)
	b.Softmax(sm, mat(rows, cols, -5, 5))
	save("Softmax", sm)
	b.SoftmaxCE(grad, stats, mat(rows, cols, -5, 5), mat(rows, cols, 0, 0.002), 0.01)
	save("SoftmaxCE grad", grad)
	save("SoftmaxCE stats", stats)
	p, g, m, v := mat(rows, cols, -1, 1), mat(rows, cols, -1, 1), mat(rows, cols, -1, 1), mat(rows, cols, 0, 1)
	b.Adam(p, g, m, v, nn.AdamStep{LR: 2e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 3})
	save("Adam p", p)
	save("Adam m", m)
	save("Adam v", v)
	cp := zeros(cols, rows)
	b.Copy(cp, p)
	save("Copy", cp)
	b.Fill(cp, 3)
	save("Fill", cp)
	b.RandUniform(cp, -1, 1, nn.RandKey{Seed: 7, Stream: 8})
	save("RandUniform", cp)
	b.RandNormal(cp, 0, 1, nn.RandKey{Seed: 7, Stream: 8})
	save("RandNormal", cp)
	gd := zeros(rows, cols)
	idx := make([]int32, rows)
	for i := range idx {
		idx[i] = int32(rng.IntN(rows))
	}
	b.GatherRows(gd, p, idx)
	save("GatherRows", gd)
	sq := zeros(rows, 1)
	b.RowSumSq(sq, mat(rows, cols, -3, 3))
	save("RowSumSq", sq)
	const srcRows = 3000 // scattered into 130 rows: many repeats
	sidx := make([]int32, srcRows)
	for i := range sidx {
		sidx[i] = int32(rng.IntN(rows))
	}
	sc := mat(rows, 10, -1, 1)
	b.ScatterAddRows(sc, mat(srcRows, 10, -1, 1), sidx, 0.5)
	save("ScatterAddRows", sc)

	// The strided ops, on column blocks of wider matrices; saveStrided
	// copies a block out first.
	wide := func() nn.Mat { return mat(rows, cols+7, -2, 2).ColView(3, cols) }
	saveStrided := func(name string, m nn.Mat) {
		d := zeros(m.Rows, m.Cols)
		b.Copy(d, m)
		save(name, d)
	}
	ys := wide()
	b.Axpby(ys, wide(), wide(), 0.3, -1.5)
	saveStrided("Axpby", ys)
	b.Mul(ys, wide(), ys)
	saveStrided("Mul", ys)
	b.ScaleRows(ys, wide(), mat(rows, 2, -1, 1).ColView(1, 1))
	saveStrided("ScaleRows", ys)
	for f := nn.MapFn(0); f < nn.NumMapFns; f++ {
		b.Map(ys, wide(), f, 0.7)
		saveStrided("Map "+f.String(), ys)
	}

	ln, mean, rstd := zeros(rows, cols), zeros(rows, 1), zeros(rows, 1)
	lx, gamma := mat(rows, cols, -3, 5), mat(1, cols, 0.5, 1.5)
	b.LayerNorm(ln, mean, rstd, lx, gamma, mat(1, cols, -1, 1), 1e-5)
	save("LayerNorm y", ln)
	save("LayerNorm mean", mean)
	save("LayerNorm rstd", rstd)
	ldx, dgamma, dbeta := zeros(rows, cols), zeros(1, cols), zeros(1, cols)
	b.LayerNormBackward(ldx, dgamma, dbeta, mat(rows, cols, -1, 1), lx, mean, rstd, gamma)
	save("LayerNormBackward dx", ldx)
	save("LayerNormBackward dgamma", dgamma)
	save("LayerNormBackward dbeta", dbeta)

	bn, bmean, bvar := zeros(rows, cols), zeros(1, cols), zeros(1, cols)
	b.BatchNorm(bn, bmean, bvar, lx, gamma, mat(1, cols, -1, 1), 1e-5)
	save("BatchNorm y", bn)
	save("BatchNorm mean", bmean)
	save("BatchNorm variance", bvar)
	bdx, bdg, bdb := zeros(rows, cols), zeros(1, cols), zeros(1, cols)
	b.BatchNormBackward(bdx, bdg, bdb, mat(rows, cols, -1, 1), lx, bmean, bvar, gamma, 1e-5)
	save("BatchNormBackward dx", bdx)
	save("BatchNormBackward dgamma", bdg)
	save("BatchNormBackward dbeta", bdb)
	require.NoError(t, b.Sync())
	return out
}

func TestResultsDoNotDependOnWorkers(t *testing.T) {
	one := allOps(t, newTestBackend(t, 1))
	three := allOps(t, newTestBackend(t, 3))
	require.Len(t, three, len(one))
	assert.Greater(t, len(one), 50)
	for name, want := range one {
		requireBits(t, want, three[name], name)
	}
}
