package cpu

import (
	"math/rand/v2"
	"testing"
)

// TestCausalSoftmaxHeadsAtOnce checks that CausalSoftmax and its backward
// pass, which do four heads' segments of a row at once, give each head
// what it gets alone (a one-head matrix), bit for bit, in place and not,
// with 1, 4, 5 and 9 heads.
func TestCausalSoftmaxHeadsAtOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const T, batch = 13, 3
	for _, heads := range []int{1, 4, 5, 9} {
		cols := heads * T
		n := batch * T * cols
		x, dy := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], dy[i] = float32(r.NormFloat64()*3), float32(r.NormFloat64())
		}
		y, dx := make([]float32, n), make([]float32, n)
		(&causalSoftmaxJob{y: y, x: x, cols: cols, t: T, scale: 0.7}).run(0, batch*T)
		(&causalSoftmaxBackwardJob{dx: dx, dy: dy, y: y, cols: cols, t: T, scale: 0.7}).run(0, batch*T)
		inY := append([]float32(nil), x...)
		(&causalSoftmaxJob{y: inY, x: inY, cols: cols, t: T, scale: 0.7}).run(0, batch*T)
		sameSlices(t, "CausalSoftmax in place", inY, y)
		inDx := append([]float32(nil), dy...)
		(&causalSoftmaxBackwardJob{dx: inDx, dy: inDx, y: y, cols: cols, t: T, scale: 0.7}).run(0, batch*T)
		sameSlices(t, "CausalSoftmaxBackward in place", inDx, dx)
		for h := range heads {
			col := func(m []float32) []float32 {
				out := make([]float32, batch*T*T)
				for row := range batch * T {
					copy(out[row*T:(row+1)*T], m[row*cols+h*T:row*cols+(h+1)*T])
				}
				return out
			}
			hx, hdy := col(x), col(dy)
			hy, hdx := make([]float32, len(hx)), make([]float32, len(hx))
			(&causalSoftmaxJob{y: hy, x: hx, cols: T, t: T, scale: 0.7}).run(0, batch*T)
			(&causalSoftmaxBackwardJob{dx: hdx, dy: hdy, y: hy, cols: T, t: T, scale: 0.7}).run(0, batch*T)
			sameSlices(t, "CausalSoftmax", col(y), hy)
			sameSlices(t, "CausalSoftmaxBackward", col(dx), hdx)
		}
	}
}
