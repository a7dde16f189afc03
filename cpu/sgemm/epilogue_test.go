package sgemm

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// countingEpilogue applies x → fl(fl(x·x) − 0.25) to each block it is
// given and counts how often each element of C was finished.
type countingEpilogue struct {
	mu    sync.Mutex
	n     int
	count []int
}

func (e *countingEpilogue) Finish(c []float32, ldc, i0, i1, j0, j1 int) {
	for i := i0; i < i1; i++ {
		row := c[i*ldc+j0 : i*ldc+j1]
		for j, v := range row {
			row[j] = float32(v*v) - 0.25
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := i0; i < i1; i++ {
		for j := j0; j < j1; j++ {
			e.count[i*e.n+j]++
		}
	}
}

// TestEpilogueFinishesEachElementOnce checks that SgemmEpilogue gives every
// element of C to the epilogue exactly once, after its sum is complete:
// the result is Sgemm's with the function applied after, bit for bit, on
// every path (packed, direct A, matrix-vector, weight gradient, K = 0),
// kernel set and worker count.
func TestEpilogueFinishesEachElementOnce(t *testing.T) {
	withKernels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		ss := [][3]int{{131, 157, 300}, {1000, 32, 192}, {300, 45, 600}, {1, 700, 300}, {700, 1, 300},
			{32, 64, 5000}, {7, 7, 0}, {33, 129, 1000}, {6, 16, 8}}
		for _, s := range ss {
			for tr := 0; tr < 4; tr++ {
				g := newCase(rng, tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], 1)
				want := g.run(0.5, g.c)
				for i := 0; i < g.m; i++ {
					for j := 0; j < g.n; j++ {
						v := want[i*g.ldc+j]
						want[i*g.ldc+j] = float32(v*v) - 0.25
					}
				}
				for _, w := range []int{1, 2, 3} {
					e := &countingEpilogue{n: g.n, count: make([]int, g.m*g.n)}
					got := append([]float32(nil), g.c...)
					SgemmEpilogue(w, g.transA, g.transB, g.m, g.n, g.k, g.a, g.lda, g.b, g.ldb, 0.5, got, g.ldc, e)
					for i, c := range e.count {
						require.Equal(t, 1, c, "shape %v trans %d workers %d: element (%d, %d) finished %d times", s, tr, w, i/g.n, i%g.n, c)
					}
					require.Equal(t, bitsOf(want), bitsOf(got), "shape %v trans %d workers %d", s, tr, w)
				}
			}
		}
	})
}
